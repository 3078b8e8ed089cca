"""Celery tasks. Each takes ids, never personal data, and calls into the app's code."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from .models import Notification

logger = logging.getLogger(__name__)

#: A claim older than this is taken to belong to a worker that died mid-send.
CLAIM_TIMEOUT = timedelta(minutes=10)
#: The drain leaves rows younger than this to the task queued on commit.
DRAIN_GRACE = timedelta(minutes=1)

SUBJECTS = {
    "submitted": "New request #{id}: {title}",
    "shipped": "Shipped: request #{id}, {title}",
    "renewal_requested": "Renewal requested: request #{id}, {title}",
    "renewal_answered": "Renewal answered: request #{id}, {title}",
    "unfilled": "Unfilled: request #{id}, {title}",
    "cancelled": "Cancelled by the team: request #{id}, {title}",
    "message": "New message on request #{id}, {title}",
}


def _claim(notification_id: int) -> bool:
    """Take the row for this worker, so two workers never send the same e-mail."""
    now = timezone.now()
    return bool(
        Notification.objects.filter(pk=notification_id, sent_at__isnull=True)
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT))
        .update(claimed_at=now, attempts=F("attempts") + 1)
    )


def _recipient(notification: Notification) -> str:
    if notification.audience == Notification.Audience.TEAM:
        return settings.ILLDESK_TEAM_EMAIL
    return notification.request.library.contact_email


@shared_task(bind=True, acks_late=True, max_retries=8)
def send_notification(self, notification_id: int) -> str:
    if not _claim(notification_id):
        return "already sent or being sent"
    notification = Notification.objects.select_related("request__library", "request__lender").get(
        pk=notification_id
    )
    req = notification.request
    recipient = _recipient(notification)
    if not recipient:
        Notification.objects.filter(pk=notification_id).update(
            sent_at=timezone.now(), last_error="No recipient address on file."
        )
        logger.warning("Notification %s has no recipient; marked done.", notification_id)
        return "no recipient"
    context = {
        "notification": notification,
        "req": req,
        "url": settings.ILLDESK_BASE_URL + reverse("request_detail", args=[req.pk]),
    }
    subject = SUBJECTS.get(notification.kind, "Request #{id}: {title}").format(
        id=req.pk, title=req.title[:80]
    )
    try:
        send_mail(
            subject,
            render_to_string("email/notification.txt", context),
            None,
            [recipient],
        )
    except Exception as exc:
        Notification.objects.filter(pk=notification_id).update(
            claimed_at=None, last_error=str(exc)[:300]
        )
        raise self.retry(exc=exc, countdown=min(30 * 2**self.request.retries, 3600)) from exc
    Notification.objects.filter(pk=notification_id).update(sent_at=timezone.now(), last_error="")
    logger.info("Sent notification %s (%s).", notification_id, notification.kind)
    return "sent"


@shared_task
def drain_outbox(limit: int = 500) -> int:
    """Queue whatever the broker never got (it was down) or a dead worker left claimed."""
    now = timezone.now()
    ids = list(
        Notification.objects.filter(sent_at__isnull=True, created_at__lt=now - DRAIN_GRACE)
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT))
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for notification_id in ids:
        send_notification.delay(notification_id)
    if ids:
        logger.info("Outbox drain queued %d notifications.", len(ids))
    return len(ids)
