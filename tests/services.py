"""The app as it is deployed, for the tests that need real processes: a private Redis, the
app under gunicorn, Celery workers, all subprocesses on this test run's database.

Every process is started in a session of its own and killed with its whole group when the
test is done, whatever happened, so no pool child or server outlives its test.
"""

import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import REQUIRE_SERVICES

ROOT = Path(__file__).resolve().parent.parent
#: The variables a subprocess must not inherit from this test run.
NOT_INHERITED = {
    "ILLDESK_REQUIRE_SERVICES",
    "DATABASE_URL",
    "REDIS_URL",
    "EMAIL_BACKEND",
    "EMAIL_FILE_PATH",
    "EMAIL_HOST",
    "EMAIL_PORT",
    "DJANGO_SETTINGS_MODULE",
}


def require_program(name: str) -> str:
    """The path of a program the test runs; without it the test is skipped, or fails when
    the services are required (as in CI)."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not on PATH"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """This test run's database (the test database pytest-django made), as a URL."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def pg_connect(dbname: str | None = None):
    """A psycopg2 connection of its own to this test database (or to ``dbname``)."""
    import psycopg2

    db = connection.settings_dict
    return psycopg2.connect(
        dbname=dbname or db["NAME"],
        user=db["USER"],
        password=db["PASSWORD"],
        host=db["HOST"],
        port=db["PORT"] or 5432,
        connect_timeout=5,
    )


def app_env(*, redis_url: str, mailbox: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment of an app or worker process on this test database and ``redis_url``,
    with DEBUG off and e-mail written to files in ``mailbox``."""
    env = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
    env |= {
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url,
        "DEBUG": "0",
        "ILLDESK_TEAM_EMAIL": "team@illdesk.example.org",
    }
    if mailbox is not None:
        env |= {
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(mailbox),
        }
    return env | extra


def wait_for(condition, *, seconds: float = 30, what: str = "", log: Path | None = None):
    """Poll ``condition`` until it is true; fail with ``what`` and the log's tail if not."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    tail = f"\nLog {log}:\n{log.read_text()[-4000:]}" if log and log.exists() else ""
    pytest.fail(f"Timed out after {seconds} s waiting for {what or condition}.{tail}")


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start a process of ours in a session of its own, its output in ``log``."""
    with log.open("a") as log_file:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen, *, grace: float = 10, how=signal.SIGTERM) -> None:
    """Stop a process started by ``start`` (``how``, then SIGKILL after ``grace`` seconds)
    and everything it started (its pool children)."""
    if process.poll() is None:
        process.send_signal(how)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def children_of(pid: int) -> list[int]:
    """The ids of the processes whose parent is ``pid``, read from /proc."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it ended meanwhile
            continue
        # The command name, in parentheses, may hold spaces: the fields follow its ")".
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            children.append(int(entry.name))
    return children


def keep_in_outbox(monkeypatch) -> None:
    """What the test itself changes stays in the outbox: this process queues nothing on its
    own broker (the machine's Redis), which no worker of the test listens to."""
    from requests_app import jobs, notifications

    for module in (notifications, jobs):
        monkeypatch.setattr(module, "enqueue", lambda notification_id: None)


# --- Redis --------------------------------------------------------------------------------


class PrivateRedis:
    """A ``redis-server`` of the test's own on a free port, which it may kill and start
    again on the same port (the machine's Redis serves the rest of the suite)."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = workdir / f"redis-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [require_program("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        self.process = start(command, os.environ.copy(), self.log)
        wait_for(self.answers, seconds=10, what=f"redis-server on {self.port}", log=self.log)

    def answers(self) -> bool:
        import redis

        try:
            return redis.Redis(port=self.port, socket_connect_timeout=0.5).ping()
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """Crash it: SIGKILL, as a machine losing power or the OOM killer would."""
        self.process.kill()
        self.process.wait(timeout=10)

    def close(self) -> None:
        if self.process is not None:
            stop(self.process, grace=5)


@contextmanager
def private_redis(workdir: Path):
    server = PrivateRedis(workdir)
    server.start()
    try:
        yield server
    finally:
        server.close()


def queue_task(broker_url: str, name: str, *args) -> None:
    """Queue a task by name on the broker at ``broker_url`` (not this run's own broker)."""
    from kombu import Connection

    from illdesk.celery import app as celery_app

    with Connection(broker_url, connect_timeout=5) as broker:
        celery_app.send_task(name, args=list(args), connection=broker)


# --- Celery and the app --------------------------------------------------------------------


class Service:
    """A process of ours: ``start`` launches it, ``wait_ready`` waits until ``ready()``
    says it serves, ``stop`` sends it ``how_to_stop`` (then SIGKILL to its group)."""

    def __init__(self, name: str, command: list[str], env: dict, log: Path, *, ready, how_to_stop):
        self.name, self.command, self.env, self.log = name, command, env, log
        self.ready, self.how_to_stop = ready, how_to_stop
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def start(self) -> None:
        self.process = start(self.command, self.env, self.log)

    def wait_ready(self) -> None:
        wait_for(
            lambda: self.process.poll() is not None or self.ready(),
            seconds=60,
            what=f"{self.name} to be ready",
            log=self.log,
        )
        assert self.process.poll() is None, self.log.read_text()[-4000:]

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, how=self.how_to_stop)


@contextmanager
def running(*services: Service):
    """Start the services together, wait until each serves; stop them all afterwards."""
    try:
        for service in services:
            service.start()
        for service in services:
            service.wait_ready()
        yield services
    finally:
        for service in reversed(services):
            service.stop()


def celery_worker(env: dict[str, str], log: Path, *, pool: str = "solo") -> Service:
    """A Celery worker on ``env``'s database and broker (``--pool=prefork`` runs one pool
    process, whose parent is the worker)."""
    command = [sys.executable, "-m", "celery", "-A", "illdesk", "worker", f"--pool={pool}"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"]
    if pool == "prefork":
        command += ["--concurrency=1"]
    return Service(
        "the Celery worker",
        command,
        env,
        log,
        ready=lambda: " ready." in log.read_text(),
        # A warm shutdown, which hands the tasks it holds back to the broker.
        how_to_stop=signal.SIGTERM,
    )


def app_server(env: dict[str, str], log: Path, *, threads: int = 1) -> Service:
    """The app under gunicorn, one worker process with ``threads`` threads, as deployed;
    its address is ``service.base``."""
    port = free_port()
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    command = [gunicorn, "illdesk.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"]
    command += ["-k", "gthread", "--threads", str(threads), "--timeout", "60"]
    base = f"http://127.0.0.1:{port}"
    server = Service(
        "gunicorn",
        command,
        env,
        log,
        ready=lambda: _answers(f"{base}/healthz"),
        # Gunicorn's quick shutdown: its graceful one waits out open connections.
        how_to_stop=signal.SIGINT,
    )
    server.base = base
    return server


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=10):  # noqa: S310 - loopback only
            return True
    except OSError:  # refused while it starts (URLError), or a first answer slower than that
        return False


# --- Talking to the app over HTTP ------------------------------------------------------------


class Client:
    """One person at the app over HTTP: a browser session (cookies, CSRF) or an API token."""

    def __init__(self, base: str, *, token: str | None = None):
        self.base = base
        self.token = token
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def call(self, method: str, path: str, body=None, *, form: dict | None = None):
        """``(status, text)``; an error status is returned, not raised. ``body`` is sent as
        JSON, ``form`` as a form (redirects are followed, as a browser does)."""
        headers = {}
        data = None
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(  # noqa: S310 - loopback only
            self.base + path, data=data, method=method, headers=headers
        )
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def api(self, method: str, path: str, body=None) -> tuple[int, object]:
        """A call to ``/api/v1/<path>``: ``(status, parsed JSON)``."""
        code, text = self.call(method, "/api/v1/" + path, body)
        try:
            return code, json.loads(text)
        except ValueError:
            return code, text

    def fill_in(self, page: str, fields: dict, action: str | None = None) -> tuple[int, str]:
        """Open ``page`` and post ``fields`` with its CSRF token to ``action`` (the page's
        own address unless given), following the redirect as a browser does."""
        code, text = self.call("GET", page)
        assert code == 200, (page, code, text[-2000:])
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text).group(1)
        return self.call("POST", action or page, form=fields | {"csrfmiddlewaretoken": token})

    def log_in(self, username: str, password: str) -> tuple[int, str]:
        """Sign in through the login page; the answer of the page it leads to."""
        code, page = self.fill_in("/accounts/login/", {"username": username, "password": password})
        signed_in = any(cookie.name == settings.SESSION_COOKIE_NAME for cookie in self.cookies)
        assert signed_in, f"{username} was not let in: {code} {page[-1000:]}"
        return code, page


def sent_mail(mailbox: Path) -> str:
    """Everything the file e-mail backend wrote to ``mailbox``."""
    if not mailbox.exists():
        return ""
    return "".join(path.read_text() for path in sorted(mailbox.glob("*.log")))


def subjects(mailbox: Path) -> list[str]:
    return re.findall(r"^Subject: (.*)$", sent_mail(mailbox), flags=re.MULTILINE)
