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

from illdesk.text import one_line

from .models import BorrowingRequest, Notification, Status
from .selectors import WITH_LIBRARY

logger = logging.getLogger(__name__)

#: A claim older than this is taken to belong to a worker that died mid-send.
CLAIM_TIMEOUT = timedelta(minutes=10)
#: The drain leaves rows younger than this to the task queued on commit.
DRAIN_GRACE = timedelta(minutes=1)
#: After this many failed attempts a notification is left unsent, with its last error.
MAX_ATTEMPTS = 8

SUBJECTS = {
    "submitted": "New request #{id}: {title}",
    "shipped": "Shipped: request #{id}, {title}",
    "renewal_requested": "Renewal requested: request #{id}, {title}",
    "renewal_answered": "Renewal answered: request #{id}, {title}",
    "unfilled": "Unfilled: request #{id}, {title}",
    "cancelled": "Cancelled by the team: request #{id}, {title}",
    "cancelled_by_library": "Cancelled by the library: request #{id}, {title}",
    "message": "New message on request #{id}, {title}",
    "not_arrived_reported": "Not arrived: request #{id}, {title}",
    "unrequested_item": "Item received but not requested, at {library}",
}

#: Subjects of the jobs' digests (one e-mail per library, listing its loans).
DIGEST_SUBJECTS = {
    "not_arrived": "Not arrived {days} days after shipping: {count} loan(s)",
    "overdue": "Overdue: {count} loan(s) past their due date",
    "due_soon": "Due soon: {count} loan(s) due within three days",
}
#: Which request field holds the run's timestamp, per digest kind.
DIGEST_STAMPS = {
    "not_arrived": "not_arrived_flagged_at",
    "overdue": "overdue_flagged_at",
    "due_soon": "due_reminded_at",
}


def _ready(now):
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


def _compose(notification: Notification) -> tuple[str, str, str, str | None]:
    """The recipient, subject, text and (for digests) HTML of a notification, rendered now."""
    about = notification.request or notification.unrequested_item or notification
    if notification.audience == Notification.Audience.TEAM:
        recipient = settings.ILLDESK_TEAM_EMAIL
    else:
        recipient = about.library.contact_email
    if notification.digest_of is not None:
        return (recipient, *_compose_digest(notification))
    return (recipient, *_compose_single(notification), None)


def _compose_single(notification: Notification) -> tuple[str, str]:
    if notification.request is not None:
        req = notification.request
        subject = SUBJECTS.get(notification.kind, "Request #{id}: {title}").format(
            id=req.pk, title=req.title[:80]
        )
        context = {"notification": notification, "req": req, "url": _link("request_detail", req.pk)}
        template = f"email/{notification.kind}.txt"
        return subject, render_to_string([template, "email/request.txt"], context)
    item = notification.unrequested_item
    subject = SUBJECTS["unrequested_item"].format(library=item.library.ill_code)
    context = {"item": item, "url": _link("unrequested_item_list")}
    return subject, render_to_string("email/unrequested_item.txt", context)


#: A digest lists at most this many loans, then says how many more there are.
DIGEST_LIMIT = 500


def still_flagged(notification: Notification):
    """The loans a digest is about that are still in the state it tells of: one received,
    renewed or returned since the run (while the e-mail waited) is left out."""
    loans = BorrowingRequest.objects.filter(
        **{DIGEST_STAMPS[notification.kind]: notification.digest_of}
    )
    if notification.library_id is not None:
        loans = loans.filter(library_id=notification.library_id)
    if notification.kind == "not_arrived":
        return loans.filter(status=Status.SHIPPED)
    if notification.kind == "overdue":
        return loans.filter(status__in=WITH_LIBRARY, due_date__lt=timezone.localdate())
    return loans.filter(status__in=WITH_LIBRARY, due_date=F("due_reminded_for"))


def _compose_digest(notification: Notification) -> tuple[str, str, str | None]:
    """A job's digest: the loans the run flagged, for one library or for the team, as text
    and as an HTML table (a list of loans reads better as one)."""
    loans = still_flagged(notification).select_related("library", "lender")
    count = loans.count()
    if not count:
        return "", "", None
    shown = list(loans.order_by("library__ill_code", "due_date", "id")[:DIGEST_LIMIT])
    subject = DIGEST_SUBJECTS[notification.kind].format(
        count=count, days=settings.ILLDESK_NOT_ARRIVED_DAYS
    )
    context = {
        "notification": notification,
        "loans": [(loan, _link("request_detail", loan.pk)) for loan in shown],
        "more": count - len(shown),
        "days": settings.ILLDESK_NOT_ARRIVED_DAYS,
        "list_url": _digest_list_link(notification),
        "for_team": notification.library_id is None,
    }
    text = render_to_string(f"email/digest_{notification.kind}.txt", context)
    intro = text.split("\n", 1)[0]
    html = render_to_string("email/digest.html", context | {"subject": subject, "intro": intro})
    return subject, text, html


def _digest_list_link(notification: Notification) -> str:
    """Where the reader finds these loans: the team's queue, or the library's list."""
    if notification.kind == "due_soon":
        return _link("home")
    if notification.library_id is None:
        return _link("queue") + f"?flag={notification.kind}"
    return _link("request_list") + f"?flag={notification.kind}"


def _link(name: str, *args) -> str:
    return settings.ILLDESK_BASE_URL + reverse(name, args=args)


@shared_task(acks_late=True)
def send_notification(notification_id: int) -> str:
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
        recipient, subject, body, html = _compose(notification)
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


@shared_task(acks_late=True)
def run_job(name: str) -> str:
    """Run one scheduled job (``jobs.JOBS``); safe to run twice or on two workers at once."""
    from .jobs import JOBS

    return str(JOBS[name]())


@shared_task
def drain_outbox(limit: int = 500) -> int:
    """Queue whatever the broker never got (it was down) or a dead worker left claimed."""
    now = timezone.now()
    ids = list(
        _ready(now)
        .filter(created_at__lt=now - DRAIN_GRACE)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for notification_id in ids:
        send_notification.delay(notification_id)
    if ids:
        logger.info("Outbox drain queued %d notifications.", len(ids))
    return len(ids)
