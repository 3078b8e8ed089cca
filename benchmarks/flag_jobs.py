"""The scheduled jobs over a generated database: ``python -m benchmarks.flag_jobs [--runs 3]
[--json FILE] [--per-row-sample 10000] [--later 7]``.

Reads the PostgreSQL database in ``DATABASE_URL`` as ``benchmarks.generate`` filled it (it
refuses SQLite and an empty database) and leaves it as it found it. Each round (``--runs``;
the table gives the medians) times, each in a fresh Python process:

- ``requests_app.jobs.flag_not_arrived``, ``flag_overdue`` and ``clear_patron_data``, cold
  (what the data leaves to do) and again right after (nothing left), both in a transaction
  that is rolled back, so each round starts from the rows as generated. The again run
  steps over the cold run's uncommitted row versions, as a committed run's next run would
  over dead ones before vacuum. The seconds include the foreign-key checks the job's
  commit would run (``SET CONSTRAINTS ALL IMMEDIATE``), not the commit's WAL flush:
  ``commit`` is how long a commit on a second connection then takes, flushing the WAL the
  job wrote as the job's own commit would. An untimed ``VACUUM`` before each round clears
  the previous round's rolled-back rows.
- The not-arrived job done one save per row (``flag_not_arrived_one_save_per_row``), rolled
  back too, on the first ``--per-row-sample`` due loans (0: all), its time extrapolated
  linearly to all of them.
- The statistics reports as the team, every library, over 12 months and 5 years, timed by
  ``benchmarks.reports.time_report``.

Each gives wall seconds, the SQL statements sent (savepoints left out), the rows the job
says it flagged or changed, and the process's peak RSS: ``VmHWM``, since the ``ru_maxrss``
of a process started by fork and exec starts at its parent's (the JSON gives both). Rolled
back, the digests' ``on_commit`` callbacks never run; ``jobs.enqueue`` is replaced by a
check that nothing was queued. The generated data has nothing overdue and little to age
out (the hourly jobs' marks are there), so ``--later`` runs those two jobs as if that many
days later: the backlog of a worker stopped that long.
"""

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from unittest import mock
from urllib.parse import quote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
JOB_NAMES = {
    "flag_not_arrived": "not arrived",
    "flag_overdue": "overdue",
    "clear_patron_data": "patron retention",
}
PER_ROW = "one_save_per_row"
#: The tables the jobs write, vacuumed before each round.
WRITTEN_TABLES = (
    "requests_app_borrowingrequest",
    "requests_app_statusevent",
    "requests_app_notification",
    "members_patron",
)
TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")
KEPT_STATEMENTS = 12
GENERATE = "DATABASE_URL=postgres://… .venv/bin/python -m benchmarks.generate --requests 1000000"


# --- Measuring one run ---------------------------------------------------------------------


class StatementLog:
    """An ``execute_wrapper`` that counts the statements sent and keeps the first few."""

    def __init__(self) -> None:
        self.count = 0
        self.first: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        if not sql.lstrip().upper().startswith(TRANSACTION_CONTROL):
            self.count += 1
            if len(self.first) < KEPT_STATEMENTS:
                self.first.append(" ".join(sql.split())[:200])
        return execute(sql, params, many, context)


@dataclass
class Measurement:
    seconds: float
    statements: int
    rows: int
    notifications: int
    sql: list[str] = field(default_factory=list)


def measure(run) -> Measurement:
    """Run a job once: its wall time, the statements it sent, the rows it says it changed.

    The time includes the foreign-key checks its commit would run (they are deferred to
    the commit, which a rolled-back round never reaches): ``SET CONSTRAINTS ALL IMMEDIATE``
    runs them at the end, inside the clock, but is not counted as the job's statement.
    """
    from django.db import connection

    log = StatementLog()
    with connection.execute_wrapper(log):
        started = time.perf_counter()
        result = run()
        statements = log.count
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            seconds = time.perf_counter() - started
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    else:
        seconds = time.perf_counter() - started
    return Measurement(seconds, statements, result.count, result.notifications, log.first)


def wal_position() -> str | None:
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_insert_lsn()")
        return cursor.fetchone()[0]


def wal_bytes_since(start: str | None) -> int | None:
    """WAL written on the server since ``start`` (the job's, and whatever ran meanwhile)."""
    from django.db import connection

    if start is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s)", [start])
        return int(cursor.fetchone()[0])


def commit_seconds() -> float | None:
    """How long a commit on a second connection takes now: it must flush all the WAL written
    so far, so after a job it costs what the job's own commit would (PostgreSQL only)."""
    from django.db import DEFAULT_DB_ALIAS, connection, connections

    if connection.vendor != "postgresql":
        return None
    probe = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with probe.cursor() as cursor:
            cursor.execute("SELECT 1")  # connected before the clock starts
            started = time.perf_counter()
            cursor.execute("SELECT txid_current()")  # autocommit: an xid, a commit, a flush
            return time.perf_counter() - started
    finally:
        probe.close()


@contextmanager
def nothing_queued():
    """Jobs queue their digests on commit; rolled back, they must queue none."""
    from requests_app import jobs

    queued: list[int] = []
    with mock.patch.object(jobs, "enqueue", queued.append):
        yield
    if queued:
        raise RuntimeError(f"notifications queued from a rolled-back run: {queued}")


@contextmanager
def clock_moved(days: int):
    """``timezone.now`` (and so ``localdate``) ``days`` later, for the jobs that read it."""
    if not days:
        yield
        return
    from django.utils import timezone

    real_now = timezone.now
    with mock.patch.object(timezone, "now", lambda: real_now() + dt.timedelta(days=days)):
        yield


@contextmanager
def rolled_back():
    from django.db import transaction

    with nothing_queued(), transaction.atomic():
        yield
        transaction.set_rollback(True)


# --- The rounds ----------------------------------------------------------------------------


def job_round(name: str, *, later_days: int = 0) -> dict:
    """One job cold and again, in a transaction rolled back."""
    from requests_app import jobs

    job = jobs.JOBS[name]
    with rolled_back(), clock_moved(later_days):
        idle_commit = commit_seconds()
        start = wal_position()
        cold = measure(job)
        wal = wal_bytes_since(start)
        commit = commit_seconds()
        again = measure(job)
    return {
        "cold": asdict(cold),
        "again": asdict(again),
        "wal_bytes": wal,
        "commit_seconds": commit,
        "idle_commit_seconds": idle_commit,
    }


def due_not_arrived():
    """The loans ``jobs.flag_not_arrived`` flags, by the same filter."""
    from django.utils import timezone

    from requests_app.flags import due_to_be_flagged_not_arrived
    from requests_app.models import BorrowingRequest

    return BorrowingRequest.objects.filter(due_to_be_flagged_not_arrived(timezone.localdate()))


def flag_not_arrived_one_save_per_row(limit: int | None = None):
    """``jobs.flag_not_arrived`` one row at a time, for comparison: each due loan loaded,
    stamped and saved, its timeline event saved, then each digest (one per library, one for
    the team) saved. One transaction, as the job's; ``limit``: only the first due loans."""
    from django.db import transaction
    from django.utils import timezone

    from requests_app import jobs, rules
    from requests_app.models import Notification, StatusEvent

    stamp = timezone.now()
    note = f"Not arrived {rules.not_arrived_rule()}."
    due = due_not_arrived().order_by("pk")
    if limit:
        due = due[:limit]
    library_ids: dict[int, None] = {}
    flagged = 0
    with transaction.atomic():
        for loan in due:
            loan.not_arrived_flagged_at = stamp
            loan.save(update_fields=["not_arrived_flagged_at"])
            StatusEvent.objects.create(
                request=loan, action="flag_not_arrived", from_status=loan.status,
                to_status=loan.status, actor=None, at=stamp, note=note,
            )  # fmt: skip
            library_ids[loan.library_id] = None
            flagged += 1
        digests = [
            Notification.objects.create(
                kind="not_arrived", digest_of=stamp, library_id=library_id, audience="library"
            )
            for library_id in library_ids
        ]
        if digests:
            digests.append(
                Notification.objects.create(kind="not_arrived", digest_of=stamp, audience="team")
            )
        ids = [digest.pk for digest in digests]
        transaction.on_commit(lambda: [jobs.enqueue(pk) for pk in ids])
    return jobs.JobResult("not arrived, one save per row", flagged, len(digests))


def per_row_round(sample: int | None) -> dict:
    """The one-save-per-row version on ``sample`` due loans (all if None), rolled back."""
    with rolled_back():
        due = due_not_arrived().count()
        libraries = due_not_arrived().order_by().values("library_id").distinct().count()
        start = wal_position()
        run = measure(lambda: flag_not_arrived_one_save_per_row(limit=sample))
        wal = wal_bytes_since(start)
        commit = commit_seconds()
    return {
        "due": due,
        "due_libraries": libraries,
        "sample": sample,
        "cold": asdict(run),
        "wal_bytes": wal,
        "commit_seconds": commit,
    }


def reports_round(runs: int) -> dict:
    """Each report as the team, every library, 12 months and 5 years: median of ``runs``."""
    from django.utils import timezone

    from benchmarks.reports import periods, report_functions, time_report
    from members.models import User
    from requests_app.reports.queries import Scope

    team = User.objects.filter(role="team", is_active=True)
    user = team.filter(username="bench-team").first() or team.order_by("pk").first()
    today = timezone.localdate()
    rows = []
    for name, run in report_functions().items():
        for period, start in periods(today).items():
            scope = Scope(user=user, start=start, end=today)
            seconds, queries = time_report(run, scope, runs)
            rows.append({"report": name, "period": period, "seconds": seconds, "queries": queries})
    return {"reports": rows}


# --- The worker process --------------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux's VmHWM; else ru_maxrss)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def vacuum_written_tables() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {', '.join(WRITTEN_TABLES)}")


def work(kind: str, options: argparse.Namespace) -> dict:
    """One measurement in this (fresh) process; Django set up."""
    from django.db import connection

    if kind == "reports":
        connection.ensure_connection()
        before = peak_rss_mb()
        figures = reports_round(options.runs)
    else:
        vacuum_written_tables()
        before = peak_rss_mb()
        if kind == PER_ROW:
            figures = per_row_round(options.per_row_sample or None)
        else:
            later = options.later if kind != "flag_not_arrived" else 0
            figures = job_round(kind, later_days=later)
            figures["later_days"] = later
    figures["rss_before_mb"] = before
    figures["peak_rss_mb"] = peak_rss_mb()
    figures["ru_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return figures


# --- The parent: checks, rounds, the table -------------------------------------------------


def check_database() -> dict:
    """The database's figures, or SystemExit when it is not a generated PostgreSQL one."""
    from django.db import connection

    from requests_app.models import BorrowingRequest

    if connection.vendor != "postgresql":
        raise SystemExit(
            "benchmarks.flag_jobs runs on PostgreSQL, not SQLite: set DATABASE_URL to a "
            f"database filled by benchmarks.generate ({GENERATE})."
        )
    name = connection.settings_dict["NAME"]
    if BorrowingRequest._meta.db_table not in connection.introspection.table_names():
        raise SystemExit(f"{name} has no illdesk tables. Fill it first: {GENERATE}")
    requests = BorrowingRequest.objects.count()
    if not requests:
        raise SystemExit(f"{name} holds no requests. Fill it first: {GENERATE}")
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0].split()[0]
    return {
        "database": name,
        "postgresql": version,
        "requests": requests,
        "due_not_arrived": due_not_arrived().count(),
    }


def worker_environment(database_url: str = "") -> dict[str, str]:
    """The workers' environment: ``database_url``, or this process's database (by name: a
    test run's too), no broker, no mail sent."""
    env = dict(os.environ)
    if database_url:
        env["DATABASE_URL"] = database_url
    else:
        from django.db import connection

        url = urlsplit(env["DATABASE_URL"])
        path = "/" + quote(connection.settings_dict["NAME"])
        env["DATABASE_URL"] = urlunsplit(url._replace(path=path))
    env.pop("REDIS_URL", None)
    env["EMAIL_BACKEND"] = "django.core.mail.backends.dummy.EmailBackend"
    env.setdefault("DJANGO_SETTINGS_MODULE", "illdesk.settings")
    return env


def spawn(kind: str, options: argparse.Namespace, env: dict[str, str]) -> dict:
    """Run one measurement in a fresh process and read its figures."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "figures.json"
        command = [
            sys.executable, "-m", "benchmarks.flag_jobs", "--worker", kind, "--out", str(out),
            "--runs", str(options.runs), "--per-row-sample", str(options.per_row_sample),
            "--later", str(options.later),
        ]  # fmt: skip
        finished = subprocess.run(  # noqa: S603 - this module, with arguments we built
            command, cwd=ROOT, env=env, capture_output=True, text=True, check=False
        )
        if finished.returncode or not out.exists():
            raise SystemExit(f"{kind} failed:\n{finished.stderr[-3000:]}")
        return json.loads(out.read_text())


def median_of(rounds: list[dict], *keys: str):
    values = []
    for figures in rounds:
        for key in keys:
            figures = figures[key]
        values.append(figures)
    if any(value is None for value in values):
        return None
    if all(isinstance(value, int) for value in values):
        return statistics.median_low(values)
    return statistics.median(values)


def summarize(kind: str, rounds: list[dict]) -> dict:
    phases = ("cold",) if kind == PER_ROW else ("cold", "again")
    summary = {
        phase: {
            key: median_of(rounds, phase, key)
            for key in ("seconds", "statements", "rows", "notifications")
        }
        for phase in phases
    }
    for key in ("wal_bytes", "commit_seconds", "peak_rss_mb", "rss_before_mb", "ru_maxrss_mb"):
        summary[key] = median_of(rounds, key)
    summary["cold"]["sql"] = rounds[0]["cold"]["sql"]
    if kind == PER_ROW:
        # Two statements a loan (its save, its event) scale with the loans; the digests,
        # one per library with due loans and the team's, do not.
        cold, due, libraries = summary["cold"], rounds[0]["due"], rounds[0]["due_libraries"]
        scale = due / cold["rows"] if cold["rows"] else 0
        per_loan = cold["statements"] - cold["notifications"]
        summary.update(
            due=due,
            sample=rounds[0]["sample"],
            extrapolated=cold["rows"] < due,
            all_seconds=cold["seconds"] * scale,
            all_statements=round(per_loan * scale) + (libraries + 1 if libraries else 0),
        )
    else:
        summary["idle_commit_seconds"] = median_of(rounds, "idle_commit_seconds")
        summary["later_days"] = rounds[0]["later_days"]
    return summary


def run(options: argparse.Namespace, *, out=sys.stdout) -> dict:
    """Every measurement, ``options.runs`` rounds; Django set up. Returns the figures."""
    from django.db import connection

    database = check_database()
    env = worker_environment()
    connection.close()
    kinds = [*JOB_NAMES, PER_ROW]
    rounds: dict[str, list[dict]] = {kind: [] for kind in kinds}
    load = [os.getloadavg()[0]]
    started = time.perf_counter()
    for number in range(options.runs):
        for kind in kinds:
            print(f"round {number + 1} of {options.runs}: {kind}", file=out, flush=True)
            rounds[kind].append(spawn(kind, options, env))
    print("reports", file=out, flush=True)
    reports = spawn("reports", options, env)
    load.append(os.getloadavg()[0])
    return {
        **database,
        "runs": options.runs,
        "fresh_state": "each round in a transaction rolled back (atomic + set_rollback)",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_average": load,
        "seconds": time.perf_counter() - started,
        "jobs": {kind: summarize(kind, rounds[kind]) for kind in kinds},
        "reports": reports,
        "rounds": rounds,
    }


def mb(value: float | None) -> str:
    return "" if value is None else f"{value / 2**20:,.0f}"


def per_row_comparison(jobs: dict) -> str:
    per_row, job = jobs[PER_ROW], jobs["flag_not_arrived"]
    how = (
        f"extrapolated linearly from the first {per_row['cold']['rows']:,}"
        if per_row["extrapolated"]
        else "measured"
    )
    return (
        f"One save per row for all {per_row['due']:,} due loans ({how}): "
        f"{per_row['all_seconds']:.1f} s and about {per_row['all_statements']:,} statements, "
        f"against the job's {job['cold']['seconds']:.1f} s and {job['cold']['statements']} "
        f"statements: {per_row['all_seconds'] / job['cold']['seconds']:.1f} times as long."
    )


def table(figures: dict) -> str:
    jobs = figures["jobs"]
    later = jobs["flag_overdue"]["later_days"]
    lines = [
        f"{figures['database']}: {figures['requests']:,} requests (PostgreSQL "
        f"{figures['postgresql']}), {figures['due_not_arrived']:,} loans due to be flagged "
        "not arrived.",
        f"Median of {figures['runs']} round(s); each job in a fresh process, cold and again "
        "in a transaction rolled back",
        "(each round's fresh state). commit s: a commit on a second connection, flushing the "
        "job's WAL; not in the seconds.",
    ]
    if later:
        lines.append(f"Overdue and retention run as if {later} days later (--later {later}).")
    lines += [
        "",
        f"{'job':26} {'run':6} {'seconds':>8} {'statements':>10} {'rows':>9} {'WAL MB':>7} "
        f"{'commit s':>8} {'peak RSS MB':>11}",
    ]
    for kind, label in [*JOB_NAMES.items(), (PER_ROW, "not arrived, save per row")]:
        job = jobs[kind]
        commit = "" if job["commit_seconds"] is None else f"{job['commit_seconds']:.3f}"
        for phase in ("cold", "again"):
            if phase not in job:
                continue
            measured = job[phase]
            tail = ""
            if phase == "cold":
                tail = (
                    f"{mb(job['wal_bytes']):>7} {commit:>8} "
                    f"{job['peak_rss_mb']:>5.0f} ({job['rss_before_mb']:.0f} before)"
                )
            lines.append(
                f"{label if phase == 'cold' else '':26} {phase:6} {measured['seconds']:8.2f} "
                f"{measured['statements']:10,} {measured['rows']:9,} {tail}".rstrip()
            )
    lines += [
        "",
        per_row_comparison(jobs),
        "",
        f"{'report (the team, every library)':34} {'period':10} {'seconds':>8} {'queries':>8}",
    ]
    for row in figures["reports"]["reports"]:
        lines.append(
            f"{row['report']:34} {row['period']:10} {row['seconds']:8.2f} {row['queries']:8}"
        )
    reports = figures["reports"]
    lines += [
        f"peak RSS of the reports' process: {reports['peak_rss_mb']:.0f} MB "
        f"({reports['rss_before_mb']:.0f} before)",
        "",
        f"{figures['cpus']} CPUs, load average {figures['load_average'][0]:.1f} at the start, "
        f"{figures['load_average'][1]:.1f} at the end; {figures['seconds']:.0f} s in all.",
    ]
    return "\n".join(lines)


def markdown_of(figures: dict) -> str:
    """The figures ``main`` wrote, as the section of docs/performance.md."""
    jobs = figures["jobs"]
    later = jobs["flag_overdue"]["later_days"]
    lines = [
        "### The jobs",
        "",
        f"`python -m benchmarks.flag_jobs --runs {figures['runs']}`, {figures['when']}: "
        f"{figures['requests']:,} requests, {figures['due_not_arrived']:,} due to be flagged "
        f"not arrived; PostgreSQL {figures['postgresql']}, {figures['cpus']} CPUs, load "
        f"average {figures['load_average'][0]:.1f} to {figures['load_average'][1]:.1f}. "
        "Medians; each run in a fresh process, in a transaction rolled back; the seconds "
        "include the foreign-key checks its commit would run, the commit column the WAL "
        f"flush (timed apart). Overdue and retention as if {later} days later.",
        "",
        "| job | run | seconds | SQL statements | rows | WAL MB | commit s | peak RSS MB |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind, label in [*JOB_NAMES.items(), (PER_ROW, "not arrived, one save per row")]:
        job = jobs[kind]
        for phase in ("cold", "again"):
            if phase not in job:
                continue
            measured, cold = job[phase], phase == "cold"
            commit = job["commit_seconds"]
            extra = (
                [mb(job["wal_bytes"]), "" if commit is None else f"{commit:.3f}",
                 f"{job['peak_rss_mb']:.0f}"]
                if cold
                else ["", "", ""]
            )  # fmt: skip
            cells = [label if cold else "", phase, f"{measured['seconds']:.2f}",
                     f"{measured['statements']:,}", f"{measured['rows']:,}", *extra]  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        per_row_comparison(jobs),
        "",
        "| report (the team, every library) | period | seconds | queries |",
        "| --- | --- | ---: | ---: |",
    ]
    for row in figures["reports"]["reports"]:
        lines.append(
            f"| {row['report']} | {row['period']} | {row['seconds']:.2f} | {row['queries']} |"
        )
    lines += ["", f"Peak RSS of the reports' process: {figures['reports']['peak_rss_mb']:.0f} MB."]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.flag_jobs",
        description="Time the scheduled jobs and the reports over a generated database.",
    )
    parser.add_argument("--runs", type=int, default=3, help="rounds; the median is shown")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument(
        "--per-row-sample", type=int, default=10_000, metavar="LOANS",
        help="due loans the one-save-per-row version flags, extrapolated to all (0: all)",
    )  # fmt: skip
    parser.add_argument(
        "--later", type=int, default=7, metavar="DAYS",
        help="run the overdue and retention jobs as if DAYS later (default 7)",
    )  # fmt: skip
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "illdesk.settings")
    import django

    django.setup()
    if options.worker:
        options.out.write_text(json.dumps(work(options.worker, options)))
        return
    figures = run(options)
    print(table(figures))
    if options.json:
        options.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"figures written to {options.json}")


if __name__ == "__main__":
    main()
