"""The pages under load, over real HTTP, beside the Django admin and the SQL floor.

``python -m benchmarks.load [--users 1,20] [--duration 20] [--runs 3]
[--out docs/performance-load.json]`` reads the PostgreSQL database in ``DATABASE_URL``,
which must already hold benchmark data (``benchmarks.generate`` or ``benchmarks.reports``).

What it measures, for each page at each number of concurrent users (connections):

- **Latency and throughput over HTTP.** The app runs as deployed: gunicorn (three sync
  workers, see below) on PostgreSQL and the machine's Redis, DEBUG off, on a free loopback
  port, stopped with its whole process group at the end, whatever happened. The load
  comes from another process, ``wrk``, with ``benchmarks/wrk_report.lua``, which prints
  p50/p95/p99 and requests per second as JSON. Each page runs ``--runs`` times for
  ``--duration`` seconds at each user count, the runs interleaved across pages so the
  machine's noise spreads over all of them; the table shows the medians.
- **The pages**: the team's queue (default view; filtered by status, library and date; page
  200), a member library's request list, a request page, ``GET /api/v1/requests/``, a
  workflow action (``POST /api/v1/requests/<id>/max-cost/`` on open requests drawn at
  random, setting each to the max cost it already has, so only the timeline grows), and
  the Django admin's change list of requests, by default and with the queue's filter.
- **The SQL floor.** Each page is requested once in this process (Django's test client, as
  the same person), its SQL captured, and each statement run again under
  ``EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`` in a transaction that is rolled back; the
  floor is the median over ``--explain-runs`` rounds of the page's summed planning and
  execution times. The table's ratio is the app's p50 over that floor. It also records
  each page's query count, any sequential scan of the requests table and any COUNT of it
  with no WHERE and no LIMIT.
- **Memory**: the peak RSS of each gunicorn worker (VmHWM), and VmRSS sampled every 0.5 s.
- **Noise.** The machine is shared: during each run it reads how much CPU went to the app
  (gunicorn and its database's PostgreSQL backends), to wrk, to every other process and
  to the hypervisor (steal), and names the runs where others took more than 10 %.

People: the team account (``bench-team`` when there is one), the staff of the busiest
library that has a staff account, and a superuser for the admin (``bench-admin``, made one
when the database has none). Each gets the password ``illdesk-bench`` (set only when it
differs) and signs in over HTTP through the login form, once per simulated user, so the
connections take turns over as many sessions as the most users asked for; the API uses the
team's token from ``/api/v1/auth/token/``.

Settings of the run, and why:

- ``ILLDESK_PRODUCTION`` stays off: its secure cookies would not be sent back over plain
  HTTP and it redirects to HTTPS. What it adds (security headers, hashed static file names,
  the admin's second factor) costs next to nothing on these pages.
- ``API_RATE_PER_USER`` is raised to ``1000000/minute`` so the throttle never answers 429;
  its count is still read and written in Redis on each call, as in production.
- gunicorn: as ``gunicorn.conf.py`` deploys it (gthread workers of four threads, the
  access log on), with
  three workers as docker-compose.yml runs it (``WEB_CONCURRENCY`` defaults to 3).
  ``--threads N`` and ``--sync`` try other shapes (and ``GUNICORN_CMD_ARGS`` any other
  setting); docs/performance.md, "Workers", has three of them side by side. The pages are
  CPU-bound in Python, so more workers than cores and one only add memory.
- wrk keeps its connections open and sends the next call the moment an answer arrives:
  20 users are 20 calls always in flight, so at 20 users the latency is mostly waiting
  for a core (about users / throughput). ``--think-ms`` makes each connection wait between
  calls, as a person reading the page would.

wrk, gunicorn and PostgreSQL share the machine's cores: the figures at 20 users include
that contention. The action writes rows (a timeline event per call) in the database.
"""

import argparse
import datetime as dt
import http.cookiejar
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WRK_SCRIPT = Path(__file__).with_name("wrk_report.lua")
PASSWORD = "illdesk-bench"  # noqa: S105 - the benchmark accounts' known password
REQUESTS_TABLE = "requests_app_borrowingrequest"
API_RATE_FOR_THE_RUN = "1000000/minute"
#: wrk drops a call slower than this from its latency figures and counts it as a timeout.
WRK_TIMEOUT = "30s"
#: Open requests the workflow action draws from, so concurrent calls rarely wait on one row.
ACTION_TARGETS = 200
ACTION_REASON = "Load benchmark (benchmarks.load): the max cost stays as it was."
#: Transaction control, which the page's query count leaves out (as the tests count).
TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK", "BEGIN", "COMMIT")
#: Tables whose statements carry a session key or an API token, kept out of the report.
SECRET_TABLES = ('"django_session"', '"members_apitoken"')
#: The queue's page size; the deep page is page 200 of it.
QUEUE_PAGE_SIZE = 50
DEEP_PAGE = 200
#: Above this share of the CPU taken by other processes, a run is reported as disturbed.
NOISY_SHARE = 0.10
#: The admin pages and the queue pages they stand beside.
ADMIN_BESIDE_QUEUE = {"admin_filtered": "queue_filtered", "admin_default": "queue_default"}


@dataclass
class Person:
    role: str  # "team", "staff" or "admin"
    username: str
    cookies: list[str] = field(default_factory=list)
    token: str = ""


@dataclass
class Page:
    key: str
    label: str
    path: str
    person: str
    method: str = "GET"
    uses_token: bool = False
    #: For a write: (request id, JSON body) pairs; ``{id}`` in the path is the id.
    targets: list[tuple[int, str]] = field(default_factory=list)
    note: str = ""

    def first_path(self) -> str:
        return self.path.replace("{id}", str(self.targets[0][0])) if self.targets else self.path


# --- Django, in this process: the people, the pages and the SQL floor ---------------------


def setup_django(api_rate: str) -> None:
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        raise SystemExit("Set DATABASE_URL to the PostgreSQL database holding benchmark data.")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "illdesk.settings")
    # The test client's host; gunicorn gets its own ALLOWED_HOSTS.
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ["API_RATE_PER_USER"] = api_rate
    # WhiteNoise looks for collected static files, which these pages do not need.
    warnings.filterwarnings("ignore", message="No directory at")
    import django

    django.setup()


def describe_data() -> dict:
    from django.db import connection
    from django.db.models import Count

    from lenders.models import Lender
    from members.models import MemberLibrary
    from requests_app.models import BorrowingRequest

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        postgres = cursor.fetchone()[0]
    by_status = dict(
        BorrowingRequest.objects.order_by().values_list("status").annotate(n=Count("id"))
    )
    return {
        "database": connection.settings_dict["NAME"],
        "postgres": postgres,
        "requests": sum(by_status.values()),
        "requests_by_status": by_status,
        "libraries": MemberLibrary.objects.count(),
        "lenders": Lender.objects.count(),
    }


def requests_by_library() -> dict[int, int]:
    from django.db.models import Count

    from requests_app.models import BorrowingRequest

    rows = BorrowingRequest.objects.order_by().values_list("library_id").annotate(n=Count("id"))
    return dict(rows)


def choose_people(library_sizes: dict[int, int]) -> dict[str, object]:
    """The team account, the busiest library's staff and an admin, with a known password."""
    from axes.utils import reset as reset_lockout

    from members.models import User

    active = User.objects.filter(is_active=True).order_by("id")
    team = active.filter(role=User.Role.TEAM, username="bench-team").first()
    team = team or active.filter(role=User.Role.TEAM).first()
    staff_accounts = active.filter(role=User.Role.LIBRARY_STAFF, library__isnull=False)
    staff = max(
        staff_accounts, key=lambda user: library_sizes.get(user.library_id, 0), default=None
    )
    superusers = active.filter(is_superuser=True, is_staff=True)
    admin = superusers.filter(username="bench-admin").first() or superusers.first()
    if admin is None:
        admin, _ = User.objects.get_or_create(username="bench-admin", defaults={"role": "admin"})
        admin.is_staff = admin.is_superuser = admin.is_active = True
        admin.role = User.Role.ADMIN
        admin.save()
        print("made bench-admin a superuser for the admin pages (the database had none)")
    if team is None or staff is None:
        raise SystemExit("The database needs an active team account and a library staff account.")
    people = {"team": team, "staff": staff, "admin": admin}
    for user in people.values():
        if not user.check_password(PASSWORD):
            user.set_password(PASSWORD)
            user.save(update_fields=["password"])
        reset_lockout(username=user.username)
    return people


def choose_pages(people, library_sizes: dict[int, int], args) -> list[Page]:
    from django.contrib import admin
    from django.utils import timezone

    from members.models import MemberLibrary
    from requests_app.models import BorrowingRequest
    from requests_app.selectors import OPEN_STATUSES

    busiest = MemberLibrary.objects.get(pk=max(library_sizes, key=library_sizes.get))
    open_requests = BorrowingRequest.objects.filter(status__in=OPEN_STATUSES)
    detail = open_requests.filter(library=busiest).order_by("-id").first()
    detail = detail or BorrowingRequest.objects.filter(library=busiest).order_by("-id").first()
    targets = [
        (pk, json.dumps({"max_cost": str(max_cost), "reason": ACTION_REASON}))
        for pk, max_cost in open_requests.exclude(pk=detail.pk)
        .order_by("-id")
        .values_list("pk", "max_cost")[:ACTION_TARGETS]
    ]
    if not targets:
        raise SystemExit("The workflow action needs open requests; the database has none.")
    deep_rows_needed = QUEUE_PAGE_SIZE * (DEEP_PAGE - 1) + 1
    deep_path, deep_note = f"/queue/?page={DEEP_PAGE}", ""
    if open_requests.order_by()[:deep_rows_needed].count() < deep_rows_needed:
        deep_path = f"/queue/?status=all&page={DEEP_PAGE}"
        deep_note = "too few open requests for page 200 of the default view: every status"
    cutoff = timezone.now() - dt.timedelta(days=args.older_than)
    status = args.filter_status
    queue_filter = urllib.parse.urlencode(
        {"status": status, "library": busiest.ill_code, "older_than": args.older_than}
    )
    admin_filter = urllib.parse.urlencode(
        {
            "status__exact": status,
            "library__id__exact": busiest.pk,
            "created_at__lte": cutoff.isoformat(timespec="seconds"),
        }
    )
    staff = people["staff"]
    admin_list = "/admin/requests_app/borrowingrequest/"
    admin_rows = admin.site.get_model_admin(BorrowingRequest).list_per_page
    admin_note = (
        f"{admin_rows} rows a page (the admin's list_per_page); the queue shows {QUEUE_PAGE_SIZE}"
    )
    return [
        Page("queue_default", "queue, default view", "/queue/", "team"),
        Page("queue_filtered", "queue, filtered", f"/queue/?{queue_filter}", "team"),
        Page("queue_deep", "queue, page 200", deep_path, "team", note=deep_note),
        Page(
            "member_list",
            "member library's list",
            "/requests/",
            "staff",
            note=f"{staff.library.ill_code}: {library_sizes.get(staff.library_id, 0):,} requests",
        ),
        Page("detail", "request page", f"/requests/{detail.pk}/", "team"),
        Page("api_list", "API list", "/api/v1/requests/", "team", uses_token=True),
        Page(
            "api_action",
            "API max-cost (write)",
            "/api/v1/requests/{id}/max-cost/",
            "team",
            method="POST",
            uses_token=True,
            targets=targets,
        ),
        Page(
            "admin_filtered",
            "admin, filtered",
            f"{admin_list}?{admin_filter}",
            "admin",
            note=admin_note,
        ),
        Page("admin_default", "admin, default", admin_list, "admin", note=admin_note),
    ]


def statement_of_page(sql: str) -> bool:
    return not sql.lstrip().upper().startswith(TRANSACTION_CONTROL)


def without_secrets(sql: str) -> str:
    """The statement for the report: long literals (session keys, session data, API tokens)
    of the session and token tables replaced by '…'."""
    if not any(table in sql for table in SECRET_TABLES):
        return sql
    return re.sub(r"'[^']{16,}'", "'…'", sql)


def plan_nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


def plan_outline(plan: dict) -> list[str]:
    """The plan's nodes as short lines, enough to see which index or scan served it."""
    lines = []

    def walk(node: dict, depth: int) -> None:
        what = node["Node Type"]
        if node.get("Index Name"):
            what += f" using {node['Index Name']}"
        if node.get("Relation Name"):
            what += f" on {node['Relation Name']}"
        rows = node.get("Actual Rows", 0) * node.get("Actual Loops", 1)
        lines.append(f"{'  ' * depth}{what} (rows {rows}, {node.get('Actual Total Time', 0)} ms)")
        for child in node.get("Plans", []):
            walk(child, depth + 1)

    walk(plan, 0)
    return lines


def count_on_requests_table(sql: str) -> str:
    """What kind of COUNT of the requests table ``sql`` is: "unfiltered" (no WHERE, no
    LIMIT: every row counted), "uncapped" (a WHERE but no LIMIT), or "" (none, or capped)."""
    if "COUNT(" not in sql.upper() or f'FROM "{REQUESTS_TABLE}"' not in sql:
        return ""
    if " LIMIT " in sql.upper():
        return ""
    return "uncapped" if " WHERE " in sql.upper() else "unfiltered"


def measure_sql_floor(page: Page, user, token: str, explain_runs: int) -> dict:
    """The page's queries as this process runs it, each under EXPLAIN ANALYZE."""
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    if page.uses_token:
        client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    else:
        client = Client()
        client.force_login(user)

    def call():
        path = page.first_path()
        if page.method == "POST":
            return client.post(path, data=page.targets[0][1], content_type="application/json")
        return client.get(path)

    call()  # templates compiled, caches warm
    with CaptureQueriesContext(connection) as captured:
        response = call()
    if response.status_code != 200:
        raise SystemExit(f"{page.label}: {page.first_path()} answered {response.status_code}")
    statements = [query["sql"] for query in captured if statement_of_page(query["sql"])]
    rounds: list[list[tuple[float, dict]]] = []
    with transaction.atomic():
        with connection.cursor() as cursor:
            for _ in range(explain_runs):
                this_round = []
                for sql in statements:
                    cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}")
                    explained = cursor.fetchone()[0]
                    explained = explained[0] if isinstance(explained, list) else explained
                    if isinstance(explained, str):
                        explained = json.loads(explained)[0]
                    ms = explained.get("Planning Time", 0) + explained.get("Execution Time", 0)
                    this_round.append((ms, explained["Plan"]))
                rounds.append(this_round)
        transaction.set_rollback(True)
    queries = []
    for index, sql in enumerate(statements):
        plan = rounds[-1][index][1]
        seq_scan = any(
            node["Node Type"] == "Seq Scan" and node.get("Relation Name") == REQUESTS_TABLE
            for node in plan_nodes(plan)
        )
        queries.append(
            {
                "sql": without_secrets(sql),
                "median_ms": round(statistics.median(r[index][0] for r in rounds), 3),
                "seq_scan_on_requests": seq_scan,
                "count_on_requests": count_on_requests_table(sql),
                "plan": plan_outline(plan),
            }
        )
    totals = [sum(ms for ms, _ in this_round) for this_round in rounds]
    return {
        "path": page.first_path(),
        "queries": len(statements),
        "statements_captured": len(captured),
        "floor_ms": round(statistics.median(totals), 3),
        "seq_scan_on_requests": any(q["seq_scan_on_requests"] for q in queries),
        "unfiltered_count_on_requests": any(
            q["count_on_requests"] == "unfiltered" for q in queries
        ),
        "uncapped_counts_on_requests": sum(
            1 for q in queries if q["count_on_requests"] == "uncapped"
        ),
        "query_detail": queries,
    }


# --- The app under gunicorn ----------------------------------------------------------------


def gunicorn_shape(args) -> dict:
    """The workers the run had: gunicorn.conf.py's, as the command line changed them."""
    deployed: dict = {}
    exec((ROOT / "gunicorn.conf.py").read_text(), deployed)  # noqa: S102 - our own settings
    threads = args.threads or deployed.get("threads", 1)
    return {
        "workers": args.workers,
        "class": "sync" if args.sync else deployed.get("worker_class", "sync"),
        "threads": 1 if args.sync else threads,
        "keepalive": deployed.get("keepalive", 2),  # gunicorn's default
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AppServer:
    """gunicorn in a session of its own; ``stop`` ends its whole process group."""

    def __init__(self, args, log: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        not_inherited = {"DJANGO_SETTINGS_MODULE", "ALLOWED_HOSTS", "SECURE_SSL_REDIRECT"}
        self.env = {key: value for key, value in os.environ.items() if key not in not_inherited}
        self.env |= {
            "DEBUG": "0",
            "ILLDESK_PRODUCTION": "0",
            "REDIS_URL": args.redis_url,
            "API_RATE_PER_USER": API_RATE_FOR_THE_RUN,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
        }
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        self.command = [gunicorn, "illdesk.wsgi", "--bind", f"127.0.0.1:{self.port}"]
        self.command += ["--workers", str(args.workers), "--timeout", "120"]
        if args.sync:
            self.command += ["--worker-class", "sync"]
        elif args.threads:
            self.command += ["--threads", str(args.threads)]
        # As production runs it: the workers' heartbeat files in memory, not on disk.
        self.command += ["--worker-tmp-dir", "/dev/shm"]  # noqa: S108
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("a") as log_file:
            self.process = subprocess.Popen(  # noqa: S603 - our own gunicorn, fixed arguments
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn ended:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=5) as answer:  # noqa: S310
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(
            f"gunicorn did not answer /healthz in 60 s:\n{self.log.read_text()[-3000:]}"
        )

    def worker_pids(self) -> list[int]:
        return children_of(self.process.pid) if self.process else []

    def wait_until_idle(self, seconds: float = 20) -> None:
        """Wait until the workers are done with what the last wrk run left queued: when wrk
        stops, up to one call per connection is still waiting or being served, and the next
        run's first calls would wait behind it."""
        deadline = time.monotonic() + seconds
        before = sum(cpu_ticks(pid) for pid in self.worker_pids())
        while time.monotonic() < deadline:
            time.sleep(0.25)
            now = sum(cpu_ticks(pid) for pid in self.worker_pids())
            if now - before <= 1:  # at most a tick of CPU in a quarter of a second
                return
            before = now

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)


def cpu_ticks(pid: int) -> int:
    """The process's user and system CPU time so far, in clock ticks (0 once it ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def children_of(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            children.append(int(entry.name))
    return children


def memory_kb(pid: int) -> dict[str, int]:
    found = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0])
    except OSError:
        pass
    return found


class RssSampler(threading.Thread):
    """Every 0.5 s, each gunicorn worker's VmRSS; its VmHWM (the kernel's own peak) too."""

    def __init__(self, server: AppServer):
        super().__init__(daemon=True)
        self.server = server
        self.stopping = threading.Event()
        self.peak_rss_kb: dict[int, int] = {}
        self.peak_hwm_kb: dict[int, int] = {}

    def sample(self) -> None:
        for pid in self.server.worker_pids():
            memory = memory_kb(pid)
            for name, peaks in (("VmRSS", self.peak_rss_kb), ("VmHWM", self.peak_hwm_kb)):
                if name in memory:
                    peaks[pid] = max(peaks.get(pid, 0), memory[name])

    def run(self) -> None:
        while not self.stopping.wait(0.5):
            self.sample()

    def finish(self) -> dict:
        self.stopping.set()
        self.join(timeout=5)
        self.sample()
        return {
            "workers": len(self.peak_hwm_kb),
            "peak_vmhwm_mb_by_worker": [round(kb / 1024, 1) for kb in self.peak_hwm_kb.values()],
            "peak_sampled_vmrss_mb": round(max(self.peak_rss_kb.values(), default=0) / 1024, 1),
            "peak_vmhwm_mb": round(max(self.peak_hwm_kb.values(), default=0) / 1024, 1),
        }


class CpuWatch:
    """Who used the CPU during one wrk run: the app (gunicorn and the PostgreSQL backends
    of its database), wrk, every other process on this shared machine, and the hypervisor
    (steal)."""

    def __init__(self, server: AppServer, database: str):
        self.server = server
        self.database_marker = f" {database} "

    @staticmethod
    def machine_ticks() -> tuple[int, int]:
        """CPU ticks so far, of every process on the machine and stolen by the hypervisor."""
        fields = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
        return user + nice + system + irq + softirq, steal

    def app_ticks(self) -> dict[int, int]:
        app_pids = {self.server.process.pid, *self.server.worker_pids()}
        ticks = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            try:
                command = (entry / "cmdline").read_bytes()[:300].replace(b"\0", b" ").decode()
            except (OSError, UnicodeDecodeError):
                continue
            backend = command.startswith("postgres:") and self.database_marker in command
            if pid in app_pids or backend:
                ticks[pid] = cpu_ticks(pid)
        return ticks

    def start(self) -> None:
        self.started = time.monotonic()
        self.busy_before, self.steal_before = self.machine_ticks()
        self.app_before = self.app_ticks()
        self.children_before = resource.getrusage(resource.RUSAGE_CHILDREN)

    def finish(self) -> dict:
        seconds = time.monotonic() - self.started
        tick = os.sysconf("SC_CLK_TCK")
        busy_after, steal_after = self.machine_ticks()
        busy = (busy_after - self.busy_before) / tick
        stolen = (steal_after - self.steal_before) / tick
        app_after = self.app_ticks()
        app = sum(ticks - self.app_before.get(pid, 0) for pid, ticks in app_after.items()) / tick
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        wrk = (children.ru_utime + children.ru_stime) - (
            self.children_before.ru_utime + self.children_before.ru_stime
        )
        others = max(busy - app - wrk, 0.0)
        return {
            "app_cpu_s": round(app, 2),
            "wrk_cpu_s": round(wrk, 2),
            "others_cpu_s": round(others, 2),
            "others_share": round(others / (seconds * (os.cpu_count() or 1)), 3),
            "stolen_share": round(stolen / (seconds * (os.cpu_count() or 1)), 3),
        }


# --- Over HTTP: signing in, checking, loading --------------------------------------------


class KeepRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(opener, url: str, data: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(url, data=data, headers=headers or {})  # noqa: S310
    try:
        with opener.open(request, timeout=60) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def log_in(base: str, username: str) -> str:
    """Sign in through the login form; the session's Cookie header."""
    cookies = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(cookies), KeepRedirects()
    )
    status, page = fetch(opener, f"{base}/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if status != 200 or token is None:
        raise SystemExit(f"The login page answered {status}.")
    form = {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token.group(1)}
    status, _ = fetch(opener, f"{base}/accounts/login/", urllib.parse.urlencode(form).encode())
    session = [cookie for cookie in cookies if cookie.name == "sessionid"]
    if status != 302 or not session:
        raise SystemExit(f"{username} could not sign in (answer {status}).")
    return f"sessionid={session[0].value}"


def api_token(base: str, username: str) -> str:
    opener = urllib.request.build_opener()
    body = json.dumps({"username": username, "password": PASSWORD}).encode()
    status, text = fetch(
        opener, f"{base}/api/v1/auth/token/", body, {"Content-Type": "application/json"}
    )
    if status != 200:
        raise SystemExit(f"No API token for {username}: {status} {text[:200]}")
    return json.loads(text)["token"]


def page_headers(page: Page, person: Person) -> dict[str, str]:
    if page.uses_token:
        headers = {"Authorization": f"Token {person.token}"}
        if page.method == "POST":
            headers["Content-Type"] = "application/json"
        return headers
    return {}


def check_page(base: str, page: Page, person: Person) -> None:
    """One call, as wrk will make it: it must answer 200 (not a redirect to the login)."""
    opener = urllib.request.build_opener(KeepRedirects())
    headers = page_headers(page, person)
    if not page.uses_token:
        headers["Cookie"] = person.cookies[0]
    body = page.targets[0][1].encode() if page.method == "POST" else None
    status, text = fetch(opener, base + page.first_path(), body, headers)
    if status != 200:
        raise SystemExit(f"{page.label}: {page.first_path()} answered {status}: {text[:300]}")


def write_plan(page: Page, person: Person, plan_file: Path, think_ms: int) -> None:
    lines = [f"method\t{page.method}", f"path\t{page.path}", f"think\t{think_ms}"]
    lines += [f"header\t{name}: {value}" for name, value in page_headers(page, person).items()]
    if not page.uses_token:
        lines += [f"cookie\t{cookie}" for cookie in person.cookies]
    lines += [f"target\t{pk}\t{body}" for pk, body in page.targets]
    plan_file.write_text("\n".join(lines) + "\n")


def wrk_program() -> str:
    program = shutil.which("wrk")
    if program is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    return program


def run_wrk(base: str, plan_file: Path, users: int, seconds: int) -> dict:
    threads = min(users, 2)
    command = [
        wrk_program(),
        f"-t{threads}",
        f"-c{users}",
        f"-d{seconds}s",
        "--timeout",
        WRK_TIMEOUT,
    ]
    command += ["-s", str(WRK_SCRIPT), base, "--", str(plan_file)]
    finished = subprocess.run(  # noqa: S603 - wrk, with arguments we built
        command, capture_output=True, text=True, timeout=seconds + 120, check=False
    )
    for line in finished.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            return json.loads(line.removeprefix("WRK_JSON "))
    raise SystemExit(f"wrk printed no figures:\n{finished.stdout}\n{finished.stderr}")


# --- Figures -----------------------------------------------------------------------------


def median_of_runs(runs: list[dict]) -> dict:
    figures = {
        name: round(statistics.median(run[name] for run in runs), 2)
        for name in ("p50_ms", "p95_ms", "p99_ms", "requests_per_s")
    }
    errors: dict[str, int] = {}
    for run in runs:
        for name, count in run["errors"].items():
            errors[name] = errors.get(name, 0) + count
    return figures | {
        "others_cpu_share_max": max(run["cpu"]["others_share"] for run in runs),
        "stolen_cpu_share_max": max(run["cpu"]["stolen_share"] for run in runs),
        "disturbed_runs": sum(
            1
            for run in runs
            if run["cpu"]["others_share"] + run["cpu"]["stolen_share"] > NOISY_SHARE
        ),
        "errors": errors,
        "requests": sum(run["requests"] for run in runs),
        "runs": runs,
    }


def admin_ratios(results: dict, user_counts: list[int]) -> list[dict]:
    ratios = []
    for admin_key, queue_key in ADMIN_BESIDE_QUEUE.items():
        if admin_key not in results or queue_key not in results:
            continue
        for users in user_counts:
            admin = results[admin_key]["load"][str(users)]
            queue = results[queue_key]["load"][str(users)]
            ratios.append(
                {
                    "admin": admin_key,
                    "queue": queue_key,
                    "users": users,
                    "p50_ratio": round(admin["p50_ms"] / queue["p50_ms"], 2),
                    "p95_ratio": round(admin["p95_ms"] / queue["p95_ms"], 2),
                }
            )
    return ratios


def previous_figures(out: Path) -> dict | None:
    """The p50 and p95 of each page in the report this run replaces, to show beside its own."""
    if not out.exists():
        return None
    report = json.loads(out.read_text())
    return {
        "started": report["started"],
        "pages": {
            key: {
                users: {"p50_ms": load["p50_ms"], "p95_ms": load["p95_ms"]}
                for users, load in page["load"].items()
            }
            for key, page in report["pages"].items()
        },
    }


def markdown(
    results: dict,
    ratios: list[dict],
    user_counts: list[int],
    memory: dict,
    previous: dict | None = None,
) -> str:
    before = " | before: p50 / p95 ms" if previous else ""
    lines = [
        "| page | users | p50 ms | p95 ms | p99 ms | req/s | SQL floor ms | p50 / floor "
        f"| queries | seq scan / full COUNT(*) of requests | errors{before} |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"
        + (" ---: |" if previous else ""),
    ]
    for key, page in results.items():
        floor = page["sql"]
        scans = "yes" if floor["seq_scan_on_requests"] else "no"
        scans += " / yes" if floor["unfiltered_count_on_requests"] else " / no"
        for users in user_counts:
            load = page["load"][str(users)]
            errors = sum(load["errors"].values())
            ratio = load["p50_ms"] / floor["floor_ms"] if floor["floor_ms"] else float("nan")
            then = ""
            if previous:
                old = previous["pages"].get(key, {}).get(str(users))
                then = f" {old['p50_ms']:.1f} / {old['p95_ms']:.1f} |" if old else " — |"
            lines.append(
                f"| {page['label']} | {users} | {load['p50_ms']:.1f} | {load['p95_ms']:.1f} "
                f"| {load['p99_ms']:.1f} | {load['requests_per_s']:.1f} "
                f"| {floor['floor_ms']:.2f} | {ratio:.1f}x | {floor['queries']} | {scans} "
                f"| {errors} |{then}"
            )
    lines += [
        "",
        "| admin page / queue page | users | p50 ratio | p95 ratio |",
        "| --- | ---: | ---: | ---: |",
    ]
    for ratio in ratios:
        lines.append(
            f"| {results[ratio['admin']]['label']} / {results[ratio['queue']]['label']} "
            f"| {ratio['users']} | {ratio['p50_ratio']:.2f}x | {ratio['p95_ratio']:.2f}x |"
        )
    noisy = [
        f"{page['label']}, {users} user{'' if users == '1' else 's'}: {load['disturbed_runs']} "
        f"of {len(load['runs'])} (up to "
        f"{load['others_cpu_share_max'] + load['stolen_cpu_share_max']:.0%})"
        for page in results.values()
        for users, load in page["load"].items()
        if load["disturbed_runs"]
    ]
    lines += [
        "",
        f"Runs in which other processes (or the hypervisor) took more than {NOISY_SHARE:.0%} "
        f"of the CPU: {'; '.join(noisy)}."
        if noisy
        else f"No other process took more than {NOISY_SHARE:.0%} of the CPU in any run.",
        "",
        f"Peak RSS of a gunicorn worker: {memory['peak_vmhwm_mb']} MB (VmHWM; per worker "
        f"{memory['peak_vmhwm_mb_by_worker']}; largest VmRSS sampled every 0.5 s: "
        f"{memory['peak_sampled_vmrss_mb']} MB).",
    ]
    return "\n".join(lines)


def workers_in_words(shape: dict) -> str:
    """ "3 sync workers", "3 gthread workers of 2 threads": a report's gunicorn, in words."""
    words = f"{shape['workers']} {shape['class']} workers"
    if shape["class"] == "gthread":
        words += f" of {shape['threads']} threads"
        if shape.get("keepalive") == 0:
            words += ", no keep-alive"
    return words


def markdown_of(report: dict) -> str:
    """The report written by ``main``, as the section of docs/performance.md."""
    data, settings, machine = report["data"], report["settings"], report["machine"]
    by_status = ", ".join(
        f"{status} {n:,}"
        for status, n in sorted(data["requests_by_status"].items(), key=lambda item: -item[1])
    )
    lines = [
        f"### Pages under load, {data['requests']:,} requests"
        + (f", users thinking {settings['think_ms']:,} ms" if settings["think_ms"] else ""),
        "",
        f"`{report['command']}`, started {report['started']}, on {machine['cores']} cores "
        f"({machine['cpu']}), {machine['memory_gb']} GB, {machine['wrk']}; "
        f"{data['postgres'].split(',')[0]}.",
        "",
        f"Data: {data['requests']:,} requests ({by_status}), {data['libraries']:,} libraries, "
        f"{data['lenders']:,} lenders.",
        "",
        f"gunicorn {workers_in_words(settings['gunicorn'])}, "
        f"DEBUG off, Redis at {settings['redis_url']}; wrk runs of {settings['duration_s']} s, "
        f"{settings['runs']} of each (medians shown), think time {settings['think_ms']} ms. "
        "The SQL floor is the page's own statements under EXPLAIN ANALYZE; p50 / floor is "
        "how much the app adds above the database."
        + (
            f" The last column is the run this one replaced ({report['previous']['started']})."
            if report.get("previous")
            else ""
        ),
        "",
        markdown(
            report["pages"],
            report["admin_over_queue"],
            settings["users"],
            report["memory"],
            report.get("previous"),
        ),
    ]
    notes = [
        f"- {page['label']}: {page['note']}" for page in report["pages"].values() if page["note"]
    ]
    if notes:
        lines += ["", "Notes:", "", *notes]
    return "\n".join(lines)


def machine() -> dict:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.partition(":")[2].strip()
            break
    memory_line = Path("/proc/meminfo").read_text().splitlines()[0]
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(int(memory_line.split()[1]) / 1024 / 1024, 1),
        "wrk": subprocess.run(  # noqa: S603
            [wrk_program(), "--version"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.splitlines()[0],
    }


# --- The run -----------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", default="1,20", help="concurrent connections, comma-separated")
    parser.add_argument("--duration", type=int, default=20, help="seconds of each wrk run")
    parser.add_argument("--runs", type=int, default=3, help="runs of each; medians are shown")
    parser.add_argument(
        "--think-ms",
        type=int,
        default=0,
        help="each connection waits this long between calls (0: back to back, as wrk does)",
    )
    parser.add_argument("--warmup", type=int, default=3, help="seconds of load before timing")
    parser.add_argument("--explain-runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument(
        "--threads", type=int, default=0, help="threads per gthread worker (0: gunicorn.conf.py's)"
    )
    parser.add_argument("--sync", action="store_true", help="sync workers, not gthread")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--filter-status", default="completed", help="the filtered views' status")
    parser.add_argument(
        "--older-than", type=int, default=30, help="the filtered views' date: days old or more"
    )
    parser.add_argument(
        "--pages",
        default="",
        help="only these pages, comma-separated keys (queue_default, queue_filtered, queue_deep, "
        "member_list, detail, api_list, api_action, admin_filtered, admin_default)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "performance-load.json")
    return parser.parse_args()


def measure_floors(pages: list[Page], accounts: dict, explain_runs: int) -> dict[str, dict]:
    from members.tokens import api_lifetime, issue_token

    team_token = issue_token(accounts["team"], lifetime=api_lifetime(), name="benchmark")[1]
    results = {}
    for page in pages:
        account = accounts[page.person]
        floor = measure_sql_floor(page, account, team_token, explain_runs)
        results[page.key] = {
            "label": page.label,
            "path": page.path,
            "person": account.username,
            "method": page.method,
            "note": page.note,
            "sql": floor,
            "load": {},
        }
        print(f"SQL floor of {page.label}: {floor['floor_ms']:.2f} ms, {floor['queries']} queries")
    return results


def sign_in_everyone(base: str, accounts: dict, sessions: int, pool_size: int) -> dict:
    """Each person signed in ``sessions`` times over HTTP; the team's API token too."""
    started = time.perf_counter()
    people = {role: Person(role, account.username) for role, account in accounts.items()}
    with ThreadPoolExecutor(max_workers=pool_size) as pool:
        for person in people.values():
            person.cookies = list(pool.map(lambda _, name=person.username: log_in(base, name),
                                           range(sessions)))  # fmt: skip
    people["team"].token = api_token(base, people["team"].username)
    print(f"signed in {sessions} sessions for each of {len(people)} people "
          f"in {time.perf_counter() - started:.0f} s")  # fmt: skip
    return people


def load_pages(server: AppServer, pages: list[Page], people: dict, workdir: Path, args) -> dict:
    """wrk on each page at each user count, ``--runs`` times, the runs interleaved."""
    base, user_counts = server.base, args.user_counts
    cpu = CpuWatch(server, args.database)
    plans = {}
    for page in pages:
        check_page(base, page, people[page.person])
        plans[page.key] = workdir / f"{page.key}.plan"
        write_plan(page, people[page.person], plans[page.key], args.think_ms)
        if args.warmup > 0:
            run_wrk(base, plans[page.key], min(4, max(user_counts)), args.warmup)
            server.wait_until_idle()
    runs: dict[tuple[str, int], list[dict]] = {}
    try:
        for run in range(1, args.runs + 1):
            for page in pages:
                for users in user_counts:
                    cpu.start()
                    figures = run_wrk(base, plans[page.key], users, args.duration)
                    figures["cpu"] = cpu.finish()
                    server.wait_until_idle()
                    runs.setdefault((page.key, users), []).append(figures)
                    print(
                        f"run {run}/{args.runs} {page.label:24} {users:3} users: "
                        f"p50 {figures['p50_ms']:8.1f} ms  p95 {figures['p95_ms']:8.1f} ms  "
                        f"{figures['requests_per_s']:7.1f}/s  CPU taken by others "
                        f"{figures['cpu']['others_share']:4.0%}, stolen "
                        f"{figures['cpu']['stolen_share']:4.0%}",
                        flush=True,
                    )
    finally:
        for plan in plans.values():  # they hold session cookies and the token
            plan.unlink(missing_ok=True)
    return runs


def main() -> None:
    args = parse_args()
    args.user_counts = [int(n) for n in args.users.split(",") if n.strip()]
    if not args.user_counts or min(args.user_counts) < 1:
        raise SystemExit("--users takes counts of 1 or more, such as 1,20")
    wrk_program()
    # A SIGTERM ends the run through the finally below, which stops gunicorn.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    setup_django(API_RATE_FOR_THE_RUN)
    from django.db import connection
    from django.utils import timezone

    started = timezone.now()
    data = describe_data()
    args.database = data["database"]
    print(f"{data['requests']:,} requests in {data['database']}; {data['postgres'].split(',')[0]}")
    library_sizes = requests_by_library()
    accounts = choose_people(library_sizes)
    pages = choose_pages(accounts, library_sizes, args)
    if args.pages:
        wanted = {key.strip() for key in args.pages.split(",")}
        pages = [page for page in pages if page.key in wanted]
    results = measure_floors(pages, accounts, args.explain_runs)
    connection.close()

    workdir = Path(tempfile.mkdtemp(prefix="illdesk-load-"))
    server = AppServer(args, workdir / "gunicorn.log")
    sampler = RssSampler(server)
    try:
        server.start()
        sampler.start()
        sessions = max(args.user_counts)
        people = sign_in_everyone(server.base, accounts, sessions, args.workers)
        runs = load_pages(server, pages, people, workdir, args)
    finally:
        memory = sampler.finish() if sampler.is_alive() else {}
        server.stop()
    for (key, users), figures in runs.items():
        results[key]["load"][str(users)] = median_of_runs(figures)
    ratios = admin_ratios(results, args.user_counts)
    report = {
        "command": " ".join(["python", "-m", "benchmarks.load", *sys.argv[1:]]),
        "started": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "data": data,
        "settings": {
            "gunicorn": gunicorn_shape(args),
            "debug": False,
            "illdesk_production": False,
            "api_rate_per_user": API_RATE_FOR_THE_RUN,
            "redis_url": args.redis_url,
            "duration_s": args.duration,
            "runs": args.runs,
            "users": args.user_counts,
            "sessions_per_person": max(args.user_counts),
            "think_ms": args.think_ms,
        },
        "people": {role: account.username for role, account in accounts.items()},
        "pages": results,
        "admin_over_queue": ratios,
        "memory": memory,
        "previous": previous_figures(args.out),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print()
    print(markdown(results, ratios, args.user_counts, memory, report["previous"]))
    print(f"\nFigures in {args.out}; gunicorn's log in {workdir}")


if __name__ == "__main__":
    main()
