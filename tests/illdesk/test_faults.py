"""Faults: Redis down, PostgreSQL restarted, a Celery worker killed mid-job or mid-send.

Each test runs the app as it is deployed, in processes of its own on this test run's
PostgreSQL database (``tests/services.py``): gunicorn, Celery workers, and a private
``redis-server`` that the test may kill (the machine's Redis serves the rest of the suite
and is never touched). The test does what the fault does, then checks in the database and
in the e-mail that arrives that the desk kept answering, nothing was lost and nothing was
done or sent twice.
"""

import datetime as dt
import os
import re
import signal
import socket
import threading
import time
from collections import Counter

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from django.db.models import F
from django.utils import timezone

from requests_app.mail import SUBJECTS
from requests_app.models import BorrowingRequest, Notification, StatusEvent
from requests_app.notifications import CLAIM_TIMEOUT, DRAIN_GRACE
from tests.conftest import PASSWORD, token_for
from tests.services import (
    Client,
    app_env,
    app_server,
    celery_worker,
    children_of,
    keep_in_outbox,
    pg_connect,
    private_redis,
    queue_task,
    running,
    subjects,
    wait_for,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _can_log_in(*users) -> None:
    """Give each user a password the app's own hasher reads (the tests' is MD5)."""
    hasher = PBKDF2PasswordHasher()
    for user in users:
        user.password = hasher.encode(PASSWORD, hasher.salt())
        user.save(update_fields=["password"])


def _token(user) -> str:
    return token_for(user)


def _unsent() -> int:
    return Notification.objects.filter(sent_at__isnull=True).count()


def _expected_subject(notification: Notification) -> str:
    req = notification.request
    return SUBJECTS[notification.kind].format(id=req.pk, title=req.title)


# --- 1. Redis down ------------------------------------------------------------------------


@pytest.mark.redis
def test_with_redis_down_the_desk_works_and_its_mail_goes_once_redis_is_back(
    tmp_path, alice, rita, patron, lender
):
    """Redis is killed while the app and a worker run. Over HTTP, pages, the API, a
    submission from the page and from the API, and every workflow action answer and are
    saved; their notifications wait in the outbox. Redis comes back on the same port: a new
    change is mailed at once, the outbox drain mails the waiting ones, each exactly once.

    Without the outbox (``notify`` → ``on_commit(enqueue)`` catching the broker's error) the
    calls would answer 500 or the notifications would be lost; a drain that sent a row
    twice would show here as a subject counted twice."""
    _can_log_in(alice, rita)
    mailbox = tmp_path / "mail"
    worker_log, app_log = tmp_path / "worker.log", tmp_path / "app.log"
    with private_redis(tmp_path) as redis_server:
        worker = celery_worker(app_env(redis_url=redis_server.url, mailbox=mailbox), worker_log)
        # A loan shipped today may be reported not arrived at once, so the outage covers it.
        soon = {"ILLDESK_NOT_ARRIVED_DAYS_DELIVERY": "0"}
        app = app_server(app_env(redis_url=redis_server.url, **soon), app_log, threads=2)
        with running(worker, app):
            _outage(redis_server, app.base, worker_log, alice, rita, patron, lender)

    everything = Notification.objects.select_related("request")
    assert Counter(subjects(mailbox)) == Counter(_expected_subject(n) for n in everything)
    assert {n.attempts for n in everything} == {1}


def _outage(redis_server, base, worker_log, alice, rita, patron, lender) -> None:
    """Redis is killed, the desk is used, Redis comes back, the outbox is drained."""
    library, team = Client(base, token=_token(alice)), Client(base, token=_token(rita))
    # Before the fault: the app queues, the worker mails (and the app holds a connection).
    code, first = library.api("POST", "requests/", {"title": "Before", "patron": patron.pk})
    assert code == 201, first
    wait_for(lambda: _unsent() == 0, what="the first e-mail", log=worker_log)

    redis_server.kill()
    outage_began = timezone.now()
    answers = _use_the_desk(base, library, team, first["id"], patron, lender)

    assert not [(what, seconds) for what, _, seconds in answers if seconds > 5]
    _assert_saved(first["id"])
    waiting = Notification.objects.filter(created_at__gte=outage_began)
    assert waiting.count() >= 10 and not waiting.filter(sent_at__isnull=False).exists()
    waiting_ids = list(waiting.values_list("pk", flat=True))

    redis_server.start()
    wait_for(
        lambda: worker_log.read_text().count("Connected to redis://") == 2,
        what="the worker to reconnect",
        log=worker_log,
    )
    # A change made now is mailed by its own task: the app reconnected by itself.
    code, _ = library.api("POST", f"requests/{first['id']}/messages/", {"body": "Back."})
    assert code == 201
    (after,) = Notification.objects.filter(created_at__gte=outage_began).exclude(pk__in=waiting_ids)
    wait_for(
        lambda: Notification.objects.get(pk=after.pk).sent_at is not None,
        what="the e-mail of a change made after the outage",
        log=worker_log,
    )
    assert _unsent() == len(waiting_ids)

    # The beat's drain (every minute) takes rows older than its grace: make them so.
    Notification.objects.filter(sent_at__isnull=True).update(
        created_at=F("created_at") - 2 * DRAIN_GRACE
    )
    queue_task(redis_server.url, "requests_app.tasks.drain_outbox")
    wait_for(lambda: _unsent() == 0, what="the drain to send them all", log=worker_log)
    # The next minute's drain finds nothing left, and sends nothing again.
    queue_task(redis_server.url, "requests_app.tasks.drain_outbox")
    wait_for(lambda: _drains_done(worker_log) == 2, what="the second drain", log=worker_log)


def _use_the_desk(base, library, team, first_id, patron, lender) -> list[tuple[str, int, float]]:
    """Everything people do at the desk, over HTTP: ``(what, status, seconds)`` for each."""
    answers = []

    def timed(what, call, *args):
        began = time.monotonic()
        code, body = call(*args)
        answers.append((what, code, time.monotonic() - began))
        assert code < 400, (what, code, str(body)[:500])
        return body

    def submitted(title: str) -> int:
        new = {"title": title, "patron": patron.pk}
        return timed(f"submit {title}", library.api, "POST", "requests/", new)["id"]

    today = timezone.localdate()
    later = str(today + dt.timedelta(days=40))
    shipment = {"shipped_on": str(today), "due_date": str(today + dt.timedelta(days=28))}
    shipment |= {"method": "delivery"}
    loan, lost = submitted("During"), submitted("Lost")
    steps = [
        (team, loan, "assign", {"assignee": "rita"}),
        (team, loan, "max-cost", {"max_cost": "30.00", "reason": "Rare"}),
        (team, loan, "start-sourcing", {}),
        (team, loan, "send-to-lender", {"lender": lender.pk}),
        (team, loan, "lender-unfilled", {"reason": "Missing"}),
        (team, loan, "send-to-lender", {"lender": lender.pk}),
        (team, loan, "ship", shipment),
        (library, loan, "not-arrived", {"note": "Not here yet"}),
        (library, loan, "receive", {}),
        (library, loan, "request-renewal", {"due_date": later}),
        (team, loan, "answer-renewal", {"approved": True, "due_date": later}),
        (library, loan, "return", {"method": "delivery"}),
        (team, loan, "complete", {}),
        (team, lost, "start-sourcing", {}),
        (team, lost, "send-to-lender", {"lender": lender.pk}),
        (team, lost, "ship", shipment),
        (team, lost, "mark-lost", {"note": "Lost in the van"}),
        (library, loan, "messages", {"body": "Thanks"}),
        (team, loan, "charges", {"kind": "lending_fee", "amount": "15.00"}),
    ]
    for who, request_id, action, body in steps:
        timed(action, who.api, "POST", f"requests/{request_id}/{action}/", body)
    for path in ("requests/", f"requests/{loan}/", f"requests/{loan}/events/", "lenders/"):
        timed(f"GET /api/v1/{path}", team.api, "GET", path)

    # The pages, signed in as a person is, with the forms' CSRF tokens.
    browser, team_browser = Client(base), Client(base)
    timed("log in", browser.log_in, "alice", PASSWORD)
    new = {"card_number": patron.card_number, "format": "book", "title": "From the page"}
    timed("submit from the page", browser.fill_in, "/requests/new/", new | {"max_cost": "25"})
    # The confirmation page's second post, as a person who clicked "Yes, cancel" sends it.
    cancel = {"cancel-reason": "Found a copy", "confirmed": "yes"}
    page = f"/requests/{first_id}/"
    timed("cancel from the page", browser.fill_in, page, cancel, f"{page}cancel/")
    for path in ("/", "/requests/", "/requests/new/", f"/requests/{loan}/", "/healthz"):
        timed(f"GET {path}", browser.call, "GET", path)
    timed("the team logs in", team_browser.log_in, "rita", PASSWORD)
    for path in ("/queue/", f"/requests/{lost}/", "/reports/", "/lenders/"):
        timed(f"GET {path}", team_browser.call, "GET", path)
    return answers


def _assert_saved(first_id: int) -> None:
    """Every change made during the outage is in the database, with its timeline."""
    statuses = dict(BorrowingRequest.objects.values_list("title", "status"))
    assert statuses == {
        "Before": "cancelled",
        "During": "completed",
        "Lost": "lost",
        "From the page": "submitted",
    }
    loan = BorrowingRequest.objects.get(title="During")
    actions = list(StatusEvent.objects.filter(request=loan).values_list("action", flat=True))
    assert actions.count("send_to_lender") == 2 and "complete" in actions
    assert loan.messages.count() == 1 and loan.charges.count() == 1
    assert StatusEvent.objects.filter(request_id=first_id, action="cancel").exists()


# --- 2. PostgreSQL restarted --------------------------------------------------------------

#: Backends of this test database other than the test's own: the app's connections.
#: The app under test names its connections, so that connections left by other tests (or
#: other processes) on this database are neither counted nor terminated.
APP_NAME = "illdesk-restart-test"
OTHER_BACKENDS = """
    SELECT pid FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid()
      AND backend_type = 'client backend' AND application_name = %s
"""


def _app_backends() -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(OTHER_BACKENDS, [APP_NAME])
        return {pid for (pid,) in cursor.fetchall()}


def _terminate_app_backends() -> None:
    """What a PostgreSQL restart does to the app: every connection it holds is closed."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT pg_terminate_backend(pid) FROM ({OTHER_BACKENDS}) AS app",  # noqa: S608
            [APP_NAME],
        )
    wait_for(lambda: not _app_backends(), seconds=10, what="the app's connections to close")


@pytest.mark.parametrize(
    ("health_checks", "answers_after_restart"),
    [(True, [200, 200]), (False, [500, 200])],
    ids=["health-checks-on", "health-checks-off-control"],
)
def test_after_a_postgresql_restart_the_next_request_works(
    tmp_path, alice, health_checks, answers_after_restart
):
    """The app keeps its connection between requests (``DB_CONN_MAX_AGE``); PostgreSQL
    restarts under it; the next request answers 200 without restarting the app, because
    the settings turn on ``conn_health_checks``.

    The restart is done the way it reaches the app: ``pg_terminate_backend`` on the app's
    connections, as a server shutting down closes them. The machine's PostgreSQL is not
    restarted: it serves this test's own connection, the rest of the suite, and other
    suites running beside it. The control runs the same app with health checks off (a
    settings module of the test's own): the first request after the restart answers 500,
    which shows the fault reaches the app and that the test would fail without them."""
    env = app_env(redis_url="", DB_CONN_MAX_AGE="600", LOG_LEVEL="ERROR")
    env["DATABASE_URL"] += f"?application_name={APP_NAME}"
    if not health_checks:
        (tmp_path / "no_health_checks.py").write_text(
            "from illdesk.settings import *  # noqa: F403\n"
            'DATABASES["default"]["CONN_HEALTH_CHECKS"] = False  # noqa: F405\n'
        )
        env |= {"PYTHONPATH": str(tmp_path), "DJANGO_SETTINGS_MODULE": "no_health_checks"}
    app = app_server(env, tmp_path / "app.log")
    with running(app):
        library = Client(app.base, token=_token(alice))
        assert library.api("GET", "requests/")[0] == 200
        (held,) = _app_backends()
        assert library.api("GET", "requests/")[0] == 200
        assert _app_backends() == {held}, "the app should keep its connection between requests"

        _terminate_app_backends()

        assert [library.api("GET", "requests/")[0] for _ in range(2)] == answers_after_restart
        assert _app_backends() and held not in _app_backends()


# --- 3. A worker killed mid-job or mid-send -------------------------------------------------


@pytest.fixture
def outbox_only(monkeypatch):
    keep_in_outbox(monkeypatch)


def _kill_the_pool_child(worker, log) -> None:
    """SIGKILL the worker's one pool process, busy with a task, and wait until the worker
    has seen it die (a crash, the OOM killer, a machine going down)."""
    (child,) = children_of(worker.pid)
    os.kill(child, signal.SIGKILL)
    wait_for(lambda: "WorkerLostError" in log.read_text(), what="the worker to see it", log=log)


def _blocked_on_outbox_insert() -> bool:
    """A session waits for a lock to insert into the outbox (the job, mid-way)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE %s",
            [f'INSERT INTO "{Notification._meta.db_table}"%'],
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.redis
def test_a_worker_killed_in_the_middle_of_a_job_flags_each_loan_once(
    tmp_path, outbox_only, request_in
):
    """The not-arrived job runs on a prefork worker. The test holds a lock on the outbox, so
    the job stops mid-way: its transaction has flagged the loans and written their timeline
    events and waits to write the digests. The pool process is SIGKILLed there. The job's
    transaction is rolled back; the task, acknowledged late and rejected when its worker is
    lost (``CELERY_TASK_ACKS_LATE``, ``CELERY_TASK_REJECT_ON_WORKER_LOST``), is delivered
    again and runs whole: each loan is flagged once, with one event, in one digest, mailed
    once. Without the redelivery nothing would be flagged (lost); without the job's single
    transaction the loans would stay flagged with no digest, or be flagged twice."""
    loans = [request_in("shipped", shipped_days_ago=20) for _ in range(3)]
    Notification.objects.update(sent_at=timezone.now())  # the setup's e-mail is not the point
    mailbox, log = tmp_path / "mail", tmp_path / "worker.log"
    with private_redis(tmp_path) as redis_server:
        env = app_env(redis_url=redis_server.url, mailbox=mailbox)
        with running(worker := celery_worker(env, log, pool="prefork")):
            lock_holder = pg_connect()
            try:
                with lock_holder.cursor() as cursor:
                    cursor.execute(f'LOCK TABLE "{Notification._meta.db_table}" IN EXCLUSIVE MODE')
                queue_task(redis_server.url, "requests_app.tasks.run_job", "flag_not_arrived")
                wait_for(_blocked_on_outbox_insert, what="the job to reach the outbox", log=log)
                _kill_the_pool_child(worker, log)
            finally:
                lock_holder.rollback()
                lock_holder.close()
            wait_for(_digests_mailed, what="the job to run again, its digests mailed", log=log)
        assert len(re.findall(r"run_job\[[-\w]+\] received", log.read_text())) == 2

    for loan in loans:
        loan.refresh_from_db()
        assert loan.not_arrived_flagged_at is not None
        assert StatusEvent.objects.filter(request=loan, action="flag_not_arrived").count() == 1
    digests = Notification.objects.filter(kind="not_arrived")
    assert sorted(digests.values_list("audience", flat=True)) == ["library", "team"]
    assert subjects(mailbox) == ["Not arrived: 3 loan(s) past the days their shipping allows"] * 2


def _digests_mailed() -> bool:
    return Notification.objects.filter(kind="not_arrived", sent_at__isnull=False).count() == 2


class StallingMailServer:
    """An SMTP server on a free port that never answers the first message's end of DATA,
    as a server hanging mid-delivery, and accepts every later message. ``accepted`` holds
    the messages it confirmed (250): those, and only those, were delivered."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted: list[str] = []
        self.stalled = threading.Event()
        self.stalled_client_left = threading.Event()
        self.listener.settimeout(0.2)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stopping.set()
        self.thread.join(timeout=5)
        self.listener.close()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._converse, args=(client,), daemon=True).start()

    def _converse(self, client: socket.socket) -> None:
        client.settimeout(60)
        with client, client.makefile("rb") as lines:

            def reply(text: str) -> None:
                client.sendall(text.encode() + b"\r\n")

            reply("220 stalling.example.org ESMTP")
            for line in lines:
                verb = line[:4].upper()
                if verb == b"QUIT":
                    reply("221 Bye")
                    return
                if verb != b"DATA":
                    reply("250 OK")  # EHLO, MAIL FROM, RCPT TO, RSET, NOOP
                    continue
                reply("354 End data with <CR><LF>.<CR><LF>")
                message = b"".join(iter(lines.readline, b".\r\n")).decode()
                if not self.stalled.is_set():
                    self.stalled.set()
                    lines.read()  # no answer: wait for the client to hang up
                    self.stalled_client_left.set()
                    return
                self.accepted.append(message)
                reply("250 OK queued")


@pytest.mark.redis
def test_a_worker_killed_while_sending_an_email_sends_it_once_later(tmp_path, outbox_only, submit):
    """A prefork worker sends a notification through SMTP; the mail server holds back its
    answer to the message, and the pool process is SIGKILLed there, before the message was
    accepted. The task is delivered again (late ack, rejected on worker loss) and finds the
    row still claimed by the dead worker, so it leaves it: the worker cannot know whether
    the server had accepted the message. Once the claim is older than ``CLAIM_TIMEOUT`` the
    outbox drain takes it over and the message is delivered, once.

    Without the claim, the redelivered task would send at once (a duplicate, had the server
    accepted the first); without the drain taking over a dead worker's claim, the message
    would be lost with the worker."""
    req = submit(title="Killed mid-send")
    notification = Notification.objects.get(request=req)
    log = tmp_path / "worker.log"
    with StallingMailServer() as mail_server, private_redis(tmp_path) as redis_server:
        env = app_env(
            redis_url=redis_server.url,
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(mail_server.port),
        )
        with running(worker := celery_worker(env, log, pool="prefork")):
            queue_task(redis_server.url, "requests_app.tasks.send_notification", notification.pk)
            assert mail_server.stalled.wait(30), log.read_text()[-4000:]
            _kill_the_pool_child(worker, log)
            assert mail_server.stalled_client_left.wait(10)
            wait_for(
                lambda: re.search(r"send_notification\[[-\w]+\] succeeded", log.read_text()),
                what="the task to be delivered again and run",
                log=log,
            )
            assert re.search(r"succeeded in [\d.]+s: 'not ready", log.read_text())
            notification.refresh_from_db()
            assert (notification.sent_at, notification.attempts) == (None, 1)
            assert mail_server.accepted == []

            # Ten minutes on: the claim is stale, and the drain (every minute) takes it over.
            Notification.objects.filter(pk=notification.pk).update(
                claimed_at=F("claimed_at") - CLAIM_TIMEOUT,
                created_at=F("created_at") - 2 * DRAIN_GRACE,
            )
            queue_task(redis_server.url, "requests_app.tasks.drain_outbox")
            wait_for(
                lambda: Notification.objects.get(pk=notification.pk).sent_at is not None,
                what="the drain to send it",
                log=log,
            )
            queue_task(redis_server.url, "requests_app.tasks.drain_outbox")
            wait_for(lambda: _drains_done(log) == 2, what="the second drain", log=log)

    assert len(mail_server.accepted) == 1
    assert f"Subject: New request #{req.pk}: Killed mid-send" in mail_server.accepted[0]
    assert Notification.objects.get(pk=notification.pk).attempts == 2


def _drains_done(log) -> int:
    return len(re.findall(r"drain_outbox\[[-\w]+\] succeeded", log.read_text()))
