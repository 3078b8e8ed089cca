"""Twenty simultaneous calls of one action on one request: one 200, nineteen 409s, one event.

The app runs as people run it, in processes of its own on a real database file or server:
the embedded SQLite default under ``manage.py runserver`` (WAL, busy timeout, immediate
transactions), and PostgreSQL under gunicorn with two workers of ten threads (row locks).
The twenty calls are released together from twenty threads of this test.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import race

ROOT = Path(__file__).resolve().parents[3]
CALLS = 20

#: Run in the app's own process: a shipped loan and a token for its library's staff.
SETUP = """
import json
from lenders.models import Lender
from members.models import MemberLibrary, User
from members.tokens import api_lifetime, issue_token
from requests_app import workflow
from requests_app.scenarios import drive_to, submit_for

library = MemberLibrary.objects.create(
    name="Race Library", ill_code="RACE", bpl_number="29991", library_type="public",
    region="Test",
)
staff = User.objects.create_user("racer", role="library_staff", library=library)
team = User.objects.create_user("teamer", role="team")
lender = Lender.objects.create(name="Race Lender", kind="in_state")
req = submit_for(
    "shipped", actor=staff, library=library, patron=None, citation={"title": "Race"}
)
drive_to(req, "shipped", team=team, staff=staff, lender=lender)
print(json.dumps({"id": req.pk, "token": issue_token(staff, lifetime=api_lifetime())[1]}))
"""


#: Twenty staff accounts of one library, each with a token.
SETUP_PEOPLE = """
import json
from members.models import MemberLibrary, User
from members.tokens import api_lifetime, issue_token

library = MemberLibrary.objects.create(
    name="Busy Library", ill_code="BUSY", bpl_number="29992", library_type="public",
    region="Test",
)
people = [
    User.objects.create_user(f"person{n}", role="library_staff", library=library)
    for n in range(%d)
]
print(json.dumps([issue_token(person, lifetime=api_lifetime())[1] for person in people]))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _app_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DEBUG="0",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        LOG_LEVEL="ERROR",
        **extra,
    )
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@contextmanager
def _serving(env: dict[str, str], command: list[str], port: int):
    server = subprocess.Popen(  # noqa: S603 - our own app, on loopback
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):  # noqa: S310
                    break
            except OSError:  # refused, reset or slow to answer while a busy machine boots it
                assert server.poll() is None, server.stderr.read().decode()[-3000:]
                assert time.monotonic() < deadline, "the app did not start within 60 s"
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


def _call(method: str, url: str, token: str, body: dict | None = None) -> tuple[int, object]:
    call = urllib.request.Request(  # noqa: S310 - loopback only
        url,
        method=method,
        data=json.dumps(body or {}).encode() if method == "POST" else None,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(call, timeout=60) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def _race(base: str, setup: dict) -> None:
    url = f"{base}/api/v1/requests/{setup['id']}/receive/"
    answers = race(CALLS, lambda: _call("POST", url, setup["token"]))

    assert Counter(code for code, _ in answers) == {200: 1, 409: CALLS - 1}, answers
    refusals = [body for code, body in answers if code == 409]
    assert all(body == {"detail": refusals[0]["detail"], "status": "received"} for body in refusals)
    code, events = _call("GET", f"{base}/api/v1/requests/{setup['id']}/events/", setup["token"])
    assert code == 200
    assert [e["action"] for e in events].count("mark_received") == 1


def test_twenty_racing_calls_on_the_embedded_sqlite_default(tmp_path):
    env = _app_env(SQLITE_PATH=str(tmp_path / "db.sqlite3"))
    _manage(env, "migrate", "--noinput", "-v0")
    setup = json.loads(_manage(env, "shell", "-c", SETUP).strip().splitlines()[-1])
    port = _free_port()
    command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    with _serving(env, command, port) as base:
        _race(base, setup)


def test_twenty_people_writing_at_once_on_sqlite_never_see_database_is_locked(tmp_path):
    """The embedded default with twenty people submitting and reading at the same moment:
    WAL lets readers through, IMMEDIATE transactions queue the writers on the busy timeout
    instead of failing one of them with "database is locked"."""
    env = _app_env(SQLITE_PATH=str(tmp_path / "db.sqlite3"))
    _manage(env, "migrate", "--noinput", "-v0")
    tokens = json.loads(_manage(env, "shell", "-c", SETUP_PEOPLE % CALLS).strip().splitlines()[-1])
    port = _free_port()
    command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    with _serving(env, command, port) as base:
        turns = iter(tokens)

        def submit_and_list():
            token = next(turns)
            card = f"2999{tokens.index(token):010d}"
            body = {"title": f"Busy {card}", "patron": {"card_number": card, "name": "Busy Reader"}}
            submitted = _call("POST", f"{base}/api/v1/requests/", token, body)
            listed = _call("GET", f"{base}/api/v1/requests/", token)
            return submitted[0], listed[0]

        answers = race(CALLS, submit_and_list)
        assert answers == [(201, 200)] * CALLS, answers
        _, listed = _call("GET", f"{base}/api/v1/requests/?page_size=50", tokens[0])
        assert len(listed["results"]) == CALLS


@pytest.mark.postgres
def test_twenty_racing_calls_on_postgresql_under_gunicorn():
    import psycopg2

    db = settings.DATABASES["default"]
    name = f"illdesk_race_{uuid.uuid4().hex[:8]}"
    server = dict(user=db["USER"], password=db["PASSWORD"], host=db["HOST"], port=db["PORT"])
    admin = psycopg2.connect(dbname="postgres", **server)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        auth = f"{db['USER']}:{db['PASSWORD']}@" if db["PASSWORD"] else f"{db['USER']}@"
        env = _app_env(DATABASE_URL=f"postgres://{auth}{db['HOST']}:{db['PORT'] or 5432}/{name}")
        _manage(env, "migrate", "--noinput", "-v0")
        setup = json.loads(_manage(env, "shell", "-c", SETUP).strip().splitlines()[-1])
        port = _free_port()
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        command = [gunicorn, "illdesk.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2"]
        command += ["-k", "gthread", "--threads", "10"]
        with _serving(env, command, port) as base:
            _race(base, setup)
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
