"""Notifications: an outbox row in the change's own transaction, a Celery task after commit.

``notify`` writes a ``Notification`` row inside the caller's transaction, so a rolled-back
change leaves none, and asks for it to be sent once the transaction commits. If the broker
cannot be reached then, the row waits in the outbox and the periodic ``drain_outbox`` task
sends it once the broker is back. See docs/notifications.md.
"""

import logging

from django.db import transaction

from .models import BorrowingRequest, Notification, UnrequestedItemReport

logger = logging.getLogger(__name__)


def notify(
    about: BorrowingRequest | UnrequestedItemReport, kind: str, audience: str
) -> Notification:
    """Write a notification about a request (or an unrequested item) to the outbox."""
    field = "unrequested_item" if isinstance(about, UnrequestedItemReport) else "request"
    notification = Notification.objects.create(kind=kind, audience=audience, **{field: about})
    transaction.on_commit(lambda: enqueue(notification.pk))
    return notification


def enqueue(notification_id: int) -> None:
    """Hand one notification to Celery; on a broker fault leave it for the drain."""
    from .tasks import send_notification

    try:
        send_notification.delay(notification_id)
    except Exception:
        logger.warning(
            "Broker unreachable; notification %s stays in the outbox for the drain.",
            notification_id,
        )
