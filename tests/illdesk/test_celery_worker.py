"""A real Celery worker, through the real Redis broker, sends what the workflow queues.

The worker runs as a separate process against this test run's PostgreSQL database, with
the file e-mail backend, so the test sees the e-mail it wrote.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from illdesk.celery import app as celery_app
from requests_app.models import Notification
from requests_app.tasks import drain_outbox
from tests.services import app_env, celery_worker, running, sent_mail, wait_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def mailbox(tmp_path):
    return tmp_path / "mail"


@pytest.fixture
def worker(mailbox, settings):
    """A Celery worker process on this test database and broker; stopped after the test."""
    celery_app.control.purge()  # tasks left by earlier runs name rows of other databases
    log = mailbox.parent / "worker.log"
    with running(celery_worker(app_env(redis_url=settings.REDIS_URL, mailbox=mailbox), log)):
        yield log


def test_a_submission_is_mailed_to_the_team_by_the_worker(worker, mailbox, submit):
    req = submit(title="The Worker's Dilemma")

    notification = Notification.objects.get(request=req, kind="submitted")
    wait_for(lambda: Notification.objects.get(pk=notification.pk).sent_at is not None, log=worker)
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

    wait_for(lambda: Notification.objects.get(pk=stranded.pk).sent_at is not None, log=worker)
    assert f"Subject: New message on request #{req.pk}" in sent_mail(mailbox)
    assert "To: ill@abbot.example.org" in sent_mail(mailbox)


def test_a_job_runs_on_the_worker_and_its_digest_is_mailed(worker, mailbox, request_in):
    from requests_app.tasks import run_job

    req = request_in("shipped", shipped_days_ago=20)
    Notification.objects.update(sent_at=timezone.now())

    run_job.delay("flag_not_arrived")

    def digest_sent():
        return Notification.objects.filter(kind="not_arrived", sent_at__isnull=False).count() == 2

    wait_for(digest_sent, log=worker)
    assert f"#{req.pk} The Wampanoag Way" in sent_mail(mailbox)
    assert "Subject: Not arrived: 1 loan(s) past the days their shipping allows" in sent_mail(
        mailbox
    )
