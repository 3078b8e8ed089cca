"""A real Celery worker, through the real Redis broker, sends what the workflow queues.

The worker runs as a separate process against this test run's PostgreSQL database, with
the file e-mail backend, so the test sees the e-mail it wrote.
"""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from illdesk.celery import app as celery_app
from requests_app.models import Notification
from requests_app.tasks import drain_outbox

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parent.parent


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def mailbox(tmp_path):
    return tmp_path / "mail"


@pytest.fixture
def worker(mailbox, settings):
    """A Celery worker process on this test database; stopped after the test."""
    celery_app.control.purge()  # tasks left by earlier runs name rows of other databases
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"ILLDESK_REQUIRE_SERVICES", "DATABASE_URL", "EMAIL_BACKEND"}
    }
    env |= {
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mailbox),
        "ILLDESK_TEAM_EMAIL": "team@illdesk.example.org",
    }
    log = mailbox.parent / "worker.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "illdesk",
                "worker",
                "--pool=solo",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    yield log
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_for(condition, log: Path, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    pytest.fail(f"Timed out. Worker log:\n{log.read_text()[-4000:]}")


def sent_mail(mailbox: Path) -> str:
    return "".join(p.read_text() for p in mailbox.glob("*.log")) if mailbox.exists() else ""


def test_a_submission_is_mailed_to_the_team_by_the_worker(worker, mailbox, submit):
    req = submit(title="The Worker's Dilemma")

    notification = Notification.objects.get(request=req, kind="submitted")
    wait_for(lambda: Notification.objects.get(pk=notification.pk).sent_at is not None, worker)
    mail = sent_mail(mailbox)
    assert f"Subject: New request #{req.pk}: The Worker's Dilemma" in mail
    assert "To: team@illdesk.example.org" in mail
    assert f"/requests/{req.pk}/" in mail
    assert Notification.objects.get(pk=notification.pk).attempts == 1


def test_the_drain_sends_what_the_broker_never_got(worker, mailbox, request_in):
    req = request_in("submitted")
    Notification.objects.filter(request=req).update(sent_at=timezone.now())
    stranded = Notification.objects.create(
        request=req,
        kind="message",
        audience="library",
        created_at=timezone.now() - timedelta(minutes=5),
    )

    drain_outbox.delay()

    wait_for(lambda: Notification.objects.get(pk=stranded.pk).sent_at is not None, worker)
    assert f"Subject: New message on request #{req.pk}" in sent_mail(mailbox)
    assert "To: ill@abbot.example.org" in sent_mail(mailbox)


def test_a_job_runs_on_the_worker_and_its_digest_is_mailed(worker, mailbox, request_in):
    from requests_app.tasks import run_job

    req = request_in("shipped", shipped_days_ago=20)
    Notification.objects.update(sent_at=timezone.now())

    run_job.delay("flag_not_arrived")

    def digest_sent():
        return Notification.objects.filter(kind="not_arrived", sent_at__isnull=False).count() == 2

    wait_for(digest_sent, worker)
    assert f"#{req.pk} The Wampanoag Way" in sent_mail(mailbox)
    assert "Subject: Not arrived 14 days after shipping: 1 loan(s)" in sent_mail(mailbox)
