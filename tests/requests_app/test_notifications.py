"""The outbox: sent once, kept when the broker is down, retried, and free of patron data."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone
from kombu.exceptions import OperationalError

from requests_app import mail as messages
from requests_app import notifications, services, tasks, traces, workflow
from requests_app.models import BorrowingRequest, Notification


@pytest.fixture(autouse=True)
def locmem_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.ILLDESK_TEAM_EMAIL = "team@example.org"


def test_a_notification_is_sent_once_however_often_its_task_runs(request_in):
    req = request_in("submitted")
    notification = Notification.objects.get(request=req)

    assert tasks.send_notification.apply(args=[notification.pk]).get() == "sent"
    second = tasks.send_notification.apply(args=[notification.pk]).get()
    assert second == "not ready, already sent or being sent"

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["team@example.org"]
    assert mail.outbox[0].subject == f"New request #{req.pk}: The Wampanoag Way"
    assert req.patron.name not in mail.outbox[0].body
    notification.refresh_from_db()
    assert notification.sent_at is not None
    assert notification.attempts == 1


def test_a_claim_held_by_a_live_worker_is_respected_and_a_dead_ones_taken_over(request_in):
    notification = Notification.objects.get(request=request_in("submitted"))
    Notification.objects.filter(pk=notification.pk).update(claimed_at=timezone.now())
    assert tasks.send_notification.apply(args=[notification.pk]).get() != "sent"

    Notification.objects.filter(pk=notification.pk).update(
        claimed_at=timezone.now() - timedelta(minutes=11)
    )
    assert tasks.send_notification.apply(args=[notification.pk]).get() == "sent"
    assert len(mail.outbox) == 1


def test_library_mail_goes_to_the_librarys_contact_with_the_shipment(request_in):
    req = request_in("shipped")
    notification = Notification.objects.get(request=req, kind="shipped")
    tasks.send_notification.apply(args=[notification.pk])
    message = mail.outbox[0]
    assert message.to == ["ill@abbot.example.org"]
    assert f"Due date: {req.due_date:%Y-%m-%d}" in message.body
    assert "Carver College Library" in message.body


def test_without_a_contact_address_the_notification_is_closed_with_the_reason(
    request_in, library_one
):
    library_one.contact_email = ""
    library_one.save()
    notification = Notification.objects.get(request=request_in("shipped"), kind="shipped")
    assert tasks.send_notification.apply(args=[notification.pk]).get() == (
        "not sent: No recipient address on file."
    )
    notification.refresh_from_db()
    assert notification.sent_at is not None
    assert notification.last_error == "No recipient address on file."
    assert mail.outbox == []


def test_a_mail_server_fault_releases_the_claim_for_a_retry(request_in, monkeypatch):
    notification = Notification.objects.get(request=request_in("submitted"))

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("SMTP down")

    monkeypatch.setattr(notifications, "send_mail", refuse)
    assert tasks.send_notification.apply(args=[notification.pk]).get() == "failed; will retry"
    notification.refresh_from_db()
    assert (notification.sent_at, notification.claimed_at) == (None, None)
    assert notification.attempts == 1
    assert notification.last_error == "SMTP down"
    assert notification.not_before > timezone.now() + timedelta(minutes=1)

    # Not before its backoff: neither the task nor the drain touches it.
    assert tasks.send_notification.apply(args=[notification.pk]).get() != "sent"
    Notification.objects.filter(pk=notification.pk).update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    assert tasks.drain_outbox() == 0
    notification.refresh_from_db()
    assert notification.attempts == 1

    # After it, the next attempt goes out.
    monkeypatch.undo()
    Notification.objects.filter(pk=notification.pk).update(not_before=timezone.now())
    assert tasks.send_notification.apply(args=[notification.pk]).get() == "sent"
    assert len(mail.outbox) == 1


def test_a_notification_that_keeps_failing_is_given_up_after_the_last_attempt(request_in):
    notification = Notification.objects.get(request=request_in("submitted"))
    Notification.objects.filter(pk=notification.pk).update(
        attempts=notifications.MAX_ATTEMPTS, last_error="SMTP down"
    )
    assert tasks.send_notification.apply(args=[notification.pk]).get() != "sent"
    assert mail.outbox == []


def test_a_broker_outage_at_commit_keeps_the_change_and_the_notification(
    submit, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379")

    monkeypatch.setattr(tasks.send_notification, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        req = submit()

    assert BorrowingRequest.objects.filter(pk=req.pk).exists()
    notification = Notification.objects.get(request=req)
    assert notification.sent_at is None
    assert "stays in the outbox" in caplog.text


def test_a_task_missing_from_the_registry_is_a_fault_not_a_broker_outage(monkeypatch, caplog):
    monkeypatch.setattr(notifications, "SEND_TASK", "requests_app.tasks.no_such_task")
    with pytest.raises(KeyError):
        notifications.enqueue(1)
    assert "stays in the outbox" not in caplog.text


def test_the_drain_queues_only_old_unsent_unclaimed_rows(request_in, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.send_notification, "delay", queued.append)
    old = timezone.now() - timedelta(minutes=5)
    req = request_in("submitted")
    fresh = Notification.objects.get(request=req)
    stranded = Notification.objects.create(request=req, kind="x", audience="team", created_at=old)
    Notification.objects.create(
        request=req, kind="x", audience="team", created_at=old, sent_at=timezone.now()
    )
    Notification.objects.create(
        request=req, kind="x", audience="team", created_at=old, claimed_at=timezone.now()
    )

    assert tasks.drain_outbox() == 1
    assert queued == [stranded.pk]
    assert fresh.pk not in queued


def test_every_kind_of_request_mail_has_its_own_template():
    from django.template.loader import get_template

    for kind in messages.SUBJECTS:
        if kind != "unrequested_item":
            get_template(f"email/{kind}.txt")
    for kind in messages.DIGEST_SUBJECTS:
        get_template(f"email/digest_{kind}.txt")


@pytest.mark.parametrize(
    ("status", "kind", "words"),
    [
        ("submitted", "submitted", "A new borrowing request is waiting"),
        ("shipped", "shipped", "Your interlibrary loan is on its way."),
        ("renewal_requested", "renewal_requested", "asks for a renewal"),
        ("unfilled", "unfilled", "could not find a lender"),
    ],
)
def test_each_mail_says_what_happened_and_links_the_request(request_in, status, kind, words):
    req = request_in(status)
    notification = Notification.objects.get(request=req, kind=kind)
    tasks.send_notification.apply(args=[notification.pk])
    body = mail.outbox[-1].body
    assert words in body
    assert f"/requests/{req.pk}/" in body


def _mailed(kind: str, req) -> str:
    notification = Notification.objects.filter(request=req, kind=kind).latest("id")
    tasks.send_notification.apply(args=[notification.pk])
    return mail.outbox[-1].body


def test_the_mails_that_end_or_refuse_something_carry_the_reason(request_in, rita, alice):
    """The unfilled, cancelled, renewal-denied and not-arrived mails quote what was said,
    not "see the timeline"."""
    unfilled = request_in("sourcing")
    workflow.mark_unfilled(unfilled.pk, actor=rita, reason="Only two copies, both reference.")
    assert "Why: Only two copies, both reference." in _mailed("unfilled", unfilled)

    cancelled = request_in("sourcing")
    workflow.cancel(cancelled.pk, actor=rita, reason="The patron bought a copy.")
    assert "Why: The patron bought a copy." in _mailed("cancelled", cancelled)

    by_library = request_in("sourcing")
    workflow.cancel(by_library.pk, actor=alice, reason="Patron moved away.")
    assert "Why: Patron moved away." in _mailed("cancelled_by_library", by_library)

    denied = request_in("renewal_requested")
    workflow.answer_renewal(denied.pk, actor=rita, approved=False, note="It has a hold on it.")
    assert "Renewal denied. It has a hold on it." in _mailed("renewal_answered", denied)

    missing = request_in("shipped", shipped_days_ago=20)
    traces.report_not_arrived(missing.pk, actor=alice, note="Not in Friday's bin.")
    body = _mailed("not_arrived_reported", missing)
    assert "The library says: Reported not arrived. Not in Friday's bin." in body


def test_a_mail_quotes_the_step_it_tells_of_not_a_later_one(request_in, rita):
    req = request_in("renewal_requested")
    workflow.answer_renewal(req.pk, actor=rita, approved=False, note="Hold on it.")
    services.add_charge(req.pk, actor=rita, kind="shipping", amount=Decimal("4.10"))
    assert req.events.latest("id").action == "add_charge"
    assert "Hold on it." in _mailed("renewal_answered", req)
