"""Celery tasks: the entry points a worker runs. Each takes ids or names, never personal
data, and calls the domain code that does the work."""

from celery import shared_task

from . import notifications
from .iso18626 import outbox
from .jobs import JOBS


@shared_task(acks_late=True)
def send_notification(notification_id: int) -> str:
    """Send one notification from the outbox (``notifications.deliver``)."""
    return notifications.deliver(notification_id)


@shared_task(acks_late=True)
def run_job(name: str) -> str:
    """Run one scheduled job (``jobs.JOBS``); safe to run twice or on two workers at once."""
    return str(JOBS[name]())


@shared_task(acks_late=True)
def send_exchange_message(message_id: int) -> str:
    """Post one ISO 18626 message to its lender (``iso18626.outbox.deliver``)."""
    return outbox.deliver(message_id)


@shared_task
def drain_outbox(limit: int = 500) -> int:
    """Queue whatever the broker never got (it was down), a dead worker left claimed, or a
    backoff has let go: e-mails and ISO 18626 messages alike."""
    return notifications.drain(limit) + outbox.drain(limit)
