"""Notifications: an outbox row in the change's own transaction, a Celery task after commit.

``notify`` writes a ``Notification`` row inside the caller's transaction, so a rolled-back
change leaves none, and asks for it to be sent once the transaction commits. If the broker
cannot be reached then, the row waits in the outbox and the periodic ``drain_outbox`` task
sends it once the broker is back. See docs/notifications.md.
"""

import logging
from datetime import timedelta

from celery import current_app
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from core.text import one_line
from lenders.models import Lender

from .mail import compose
from .models import BorrowingRequest, Notification, StatusEvent, UnrequestedItemReport

logger = logging.getLogger(__name__)

#: A claim older than this is taken to belong to a worker that died mid-send.
CLAIM_TIMEOUT = timedelta(minutes=10)
#: The drain leaves rows younger than this to the task queued on commit.
DRAIN_GRACE = timedelta(minutes=1)
#: After this many failed attempts a notification is left unsent, with its last error.
MAX_ATTEMPTS = 8
#: The Celery task that sends one, by name: the outbox hands it ids and never imports the
#: task module, which sits above it (``requests_app.tasks``).
SEND_TASK = "requests_app.tasks.send_notification"


def notify(
    about: BorrowingRequest | UnrequestedItemReport,
    kind: str,
    audience: str,
    *,
    event: StatusEvent | None = None,
    lender: Lender | None = None,
) -> Notification:
    """Write a notification about a request (or an unrequested item) to the outbox; with
    ``event``, the step whose reason or note the e-mail quotes; to ``lender`` when the
    audience is a lender."""
    field = "unrequested_item" if isinstance(about, UnrequestedItemReport) else "request"
    notification = Notification.objects.create(
        kind=kind, audience=audience, event=event, lender=lender, **{field: about}
    )
    transaction.on_commit(lambda: enqueue(notification.pk))
    return notification


def enqueue(notification_id: int) -> None:
    """Hand one notification to Celery; on a broker fault leave it for the drain.

    The task is looked up first, outside the guard: a task missing from the registry is a
    fault in the deployment and must say so, not pass for a broker outage."""
    send = current_app.tasks[SEND_TASK]
    try:
        send.delay(notification_id)
    except Exception:
        logger.warning(
            "Broker unreachable; notification %s stays in the outbox for the drain.",
            notification_id,
        )


# --- The outbox ------------------------------------------------------------------------


def _ready(now) -> QuerySet[Notification]:
    """Unsent rows that may be tried now: unclaimed (or a dead worker's), past their backoff."""
    return (
        Notification.objects.filter(sent_at__isnull=True, attempts__lt=MAX_ATTEMPTS)
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT))
        .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
    )


def _claim(notification_id: int) -> bool:
    """Take the row for this worker, so two workers never send the same e-mail."""
    now = timezone.now()
    return bool(
        _ready(now).filter(pk=notification_id).update(claimed_at=now, attempts=F("attempts") + 1)
    )


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failure: 2, 4, 8 … minutes, at most 6 h."""
    return timedelta(minutes=min(2**attempts, 360))


def deliver(notification_id: int) -> str:
    """Send one notification if it is ready and nobody else is sending it.

    A failure releases the row with a backoff; the drain tries it again then, up to
    ``MAX_ATTEMPTS`` times. That is the one retry path, on Celery or in-process alike.
    """
    if not _claim(notification_id):
        return "not ready, already sent or being sent"
    notification = Notification.objects.select_related(
        "request__library", "request__lender", "unrequested_item__library", "library"
    ).get(pk=notification_id)
    try:
        recipient, subject, body, html = compose(notification)
        if not recipient or not body:
            reason = "No recipient address on file." if not recipient else "Nothing left to tell."
            Notification.objects.filter(pk=notification_id).update(
                sent_at=timezone.now(), last_error=reason
            )
            logger.info("Notification %s not sent: %s", notification_id, reason)
            return "not sent: " + reason
        # A subject is one line whatever the stored text holds: a line break in a header
        # would make every attempt fail.
        send_mail(one_line(subject), body, None, [recipient], html_message=html)
    except Exception as exc:
        Notification.objects.filter(pk=notification_id).update(
            claimed_at=None,
            not_before=timezone.now() + backoff(notification.attempts),
            last_error=str(exc)[:300],
        )
        if notification.attempts >= MAX_ATTEMPTS:
            # The last try: nobody would hear of it otherwise (the admin lists the error).
            logger.error(
                "Notification %s failed %d times and is given up: %s",
                notification_id,
                notification.attempts,
                exc,
            )
            return "failed; given up"
        logger.warning("Notification %s failed (%s); will retry.", notification_id, exc)
        return "failed; will retry"
    Notification.objects.filter(pk=notification_id).update(sent_at=timezone.now(), last_error="")
    logger.info("Sent notification %s (%s).", notification_id, notification.kind)
    return "sent"


def drain(limit: int = 500) -> int:
    """Queue whatever the broker never got (it was down) or a dead worker left claimed."""
    now = timezone.now()
    ids = list(
        _ready(now)
        .filter(created_at__lt=now - DRAIN_GRACE)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for notification_id in ids:
        enqueue(notification_id)
    if ids:
        logger.info("Outbox drain queued %d notifications.", len(ids))
    return len(ids)
