"""What each notification says: its recipient, subject and text (and, for a job's digest,
an HTML table), rendered from ``templates/email/`` when it is sent. The outbox that sends
them is ``requests_app.notifications``."""

from typing import cast

from django.conf import settings
from django.db.models import F, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse

from lenders.models import Lender

from . import rules
from .flags import ALL_FLAGS, DUE_SOON, DUE_SOON_DAYS
from .models import BorrowingRequest, Notification, UnrequestedItemReport

SUBJECTS = {
    "submitted": "New request #{id}: {title}",
    "shipped": "Shipped: request #{id}, {title}",
    "renewal_requested": "Renewal requested: request #{id}, {title}",
    "renewal_answered": "Renewal answered: request #{id}, {title}",
    "renewal_withdrawn": "Renewal withdrawn by the library: request #{id}, {title}",
    "unfilled": "Unfilled: request #{id}, {title}",
    "cancelled": "Cancelled by the team: request #{id}, {title}",
    "cancelled_by_library": "Cancelled by the library: request #{id}, {title}",
    "message": "New message on request #{id}, {title}",
    "not_arrived_reported": "Not arrived: request #{id}, {title}",
    "reopened": "Step taken back: request #{id}, {title}",
    "replacement_shipped": "Replacement shipped: request #{id}, {title}",
    "exchange_failed": "Exchange failing with the lender: request #{id}, {title}",
    "recalled": "Recalled by the lender: request #{id}, {title}",
    "lender_request": "Interlibrary loan request #{id}: {title}",
    "unrequested_item": "Item received but not requested, at {library}",
    "unrequested_item_resolved": "Whose it is: the item you received unasked, {title}",
}

#: Subjects of the jobs' digests (one e-mail per library, listing its loans).
DIGEST_SUBJECTS = {
    "not_arrived": "Not arrived: {count} loan(s) past the days their shipping allows",
    "overdue": "Overdue: {count} loan(s) past their due date",
    "due_soon": "Due soon: {count} loan(s) due within {due_soon_days} days",
}


def compose(notification: Notification) -> tuple[str, str, str, str | None]:
    """The recipient, subject, text and (for digests) HTML of a notification, rendered now."""
    about = notification.request or notification.unrequested_item or notification
    if notification.audience == Notification.Audience.TEAM:
        recipient = settings.ILLDESK_TEAM_EMAIL
    elif notification.audience == Notification.Audience.LENDER:
        recipient = cast(Lender, notification.lender).email
    elif about.library is None:
        raise ValueError(f"Notification {notification.pk} is for a library but names none.")
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
        context = {
            "notification": notification,
            "req": req,
            "url": _link("request_detail", req.pk),
            "team_email": settings.ILLDESK_TEAM_EMAIL,
            "currency": settings.ILLDESK_CURRENCY,
        }
        template = f"email/{notification.kind}.txt"
        return subject, render_to_string([template, "email/request.txt"], context)
    # Not a request's, not a digest: an unrequested item's (``notification_about_one_thing``).
    item = cast(UnrequestedItemReport, notification.unrequested_item)
    subject = SUBJECTS[notification.kind].format(
        library=item.library.ill_code, title=item.title[:80]
    )
    context = {"item": item, "url": _link("unrequested_item_detail", item.pk)}
    return subject, render_to_string(f"email/{notification.kind}.txt", context)


#: A digest lists at most this many loans, then says how many more there are.
DIGEST_LIMIT = 500


def still_flagged(notification: Notification) -> QuerySet[BorrowingRequest]:
    """The loans a digest is about that still carry its flag: one received, renewed or
    returned since the run (while the e-mail waited) is left out, and a reminder only
    stands for the due date it reminded of."""
    flag = ALL_FLAGS[notification.kind]
    loans = BorrowingRequest.objects.filter(
        flag.condition(), **{flag.stamp: notification.digest_of}
    )
    if notification.library_id is not None:
        loans = loans.filter(library_id=notification.library_id)
    if flag is DUE_SOON:
        loans = loans.filter(due_date=F("due_reminded_for"))
    return loans


def _compose_digest(notification: Notification) -> tuple[str, str, str | None]:
    """A job's digest: the loans the run flagged, for one library or for the team, as text
    and as an HTML table (a list of loans reads better as one)."""
    loans = still_flagged(notification).select_related("library", "lender")
    count = loans.count()
    if not count:
        return "", "", None
    shown = list(loans.order_by("library__ill_code", "due_date", "id")[:DIGEST_LIMIT])
    subject = DIGEST_SUBJECTS[notification.kind].format(count=count, due_soon_days=DUE_SOON_DAYS)
    context = {
        "notification": notification,
        "loans": [(loan, _link("request_detail", loan.pk)) for loan in shown],
        "more": count - len(shown),
        "not_arrived_rule": rules.not_arrived_rule(),
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
