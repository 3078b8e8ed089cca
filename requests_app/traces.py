"""A loan that has not arrived: the library reports it, the team traces it with the lender,
and it ends found (``cleared``, received), replaced (a new shipment) or lost.

The status stays ``shipped`` while the trace goes on; ``BorrowingRequest.trace`` says where
it stands, for the library's page and the team's queue (``?trace=``). A loan the job flagged
but nobody has reported or traced yet is ``FLAGGED`` (not stored: the job only stamps the
flag, so its update stays off the indexes). Each step is one function here, called like the
workflow's moves (``requests_app.workflow``), whose table (``MOVES``) says who may take it
and when.
"""

import datetime as dt
from typing import cast

from django.db import transaction
from django.utils import timezone

from core.checks import Checks
from members.models import User

from . import rules
from .models import (
    FLAGGED,
    OPEN_TRACES,
    BorrowingRequest,
    LenderAttempt,
    Notification,
    ShippingMethod,
    Status,
    Trace,
)
from .notifications import notify
from .workflow import (
    changed,
    check_shipment,
    checked_note,
    day_of,
    joined,
    locked_for,
    moment,
    record_arrival,
    record_move,
    sent_on,
)

#: What each step means to the library, on its request's page.
STEP_WORDS = {
    FLAGGED: "Not marked received in the days its shipping allows. If it has come, mark it "
    "received; if not, report it not arrived.",
    Trace.REPORTED: "You reported it not arrived; the team will check with the lender.",
    Trace.TRACING: "The team is tracing it with the lender.",
    Trace.REPLACEMENT_SHIPPED: "The lender shipped a replacement; mark it received when it comes.",
    Trace.CLEARED: "It turned up and was marked received.",
    Trace.LOST: "It could not be found: the loan is closed as lost.",
}
#: Each step in a word or two, for a badge.
STEP_BADGES = {
    FLAGGED: "Not reported yet",
    Trace.REPORTED: "Reported",
    Trace.TRACING: "Tracing",
    Trace.REPLACEMENT_SHIPPED: "Replacement shipped",
    Trace.CLEARED: "Cleared",
    Trace.LOST: "Lost",
}
#: The steps at which the team still has the trace to work.
OPEN_STEPS = (FLAGGED, *OPEN_TRACES)
#: The steps as the queue's filter names them, in order.
STEP_CHOICES = [
    (FLAGGED, "Flagged, not reported yet"),
    *((step.value, step.label) for step in Trace),
]


def step_of(req: BorrowingRequest) -> str:
    """Where the loan's trace stands: a ``Trace`` value, ``FLAGGED``, or "" for none."""
    if req.trace:
        return req.trace
    if req.status == Status.SHIPPED and req.not_arrived_flagged_at is not None:
        return FLAGGED
    return ""


def reportable_from(req: BorrowingRequest) -> dt.date | None:
    """The first day the library may report the loan not arrived (``rules.not_arrived_from``)."""
    return rules.not_arrived_from(req.shipped_on, req.shipping_method)


def report_not_arrived(
    request_id: int, *, actor: User, note: str = "", at: dt.datetime | None = None
) -> BorrowingRequest:
    """The library says a shipped item has not come, once the rule's days have passed:
    flag it, open the trace and tell the team (once: the report is not offered again)."""
    with transaction.atomic():
        req = locked_for(request_id, "report_not_arrived", actor, at=at)
        now = moment(req, at)
        note = checked_note(note)
        if req.not_arrived_flagged_at is None:
            req.not_arrived_flagged_at = now
        changes = changed(req, {"trace": Trace.REPORTED})
        event = record_move(
            req,
            "report_not_arrived",
            actor=actor,
            at=now,
            note=joined("Reported not arrived.", note),
            changes=changes,
        )
        notify(req, "not_arrived_reported", Notification.Audience.TEAM, event=event)
        return req


def trace(
    request_id: int, *, actor: User, note: str, at: dt.datetime | None = None
) -> BorrowingRequest:
    """The team contacted the lender (or Delivery) about a loan that has not arrived, and
    says what it learned. A trace the team opens itself flags the loan too."""
    with transaction.atomic():
        req = locked_for(request_id, "trace", actor, at=at)
        now = moment(req, at)
        checks = Checks()
        note = checks.text(
            "note",
            note,
            limit=rules.NOTE,
            required="Say whom you contacted and what they said.",
        )
        checks.done()
        if req.not_arrived_flagged_at is None:
            req.not_arrived_flagged_at = now
        changes = changed(req, {"trace": Trace.TRACING})
        record_move(req, "trace", actor=actor, at=now, note=note, changes=changes)
        return req


def replacement_shipped(
    request_id: int,
    *,
    actor: User,
    shipped_on: dt.date | None,
    due_date: dt.date | None,
    method: str,
    tracking_number: str = "",
    note: str = "",
    at: dt.datetime | None = None,
) -> BorrowingRequest:
    """The lender shipped a replacement: the loan's shipment becomes the new one (the first
    stays in the timeline, field by field), and the library is told to look for it."""
    with transaction.atomic():
        req = locked_for(request_id, "replacement_shipped", actor, at=at)
        now = moment(req, at)
        checks = Checks()
        tracking_number = check_shipment(
            checks,
            shipped_on=shipped_on,
            due_date=due_date,
            method=method,
            tracking_number=tracking_number,
            today=day_of(now),
            sent_on=sent_on(req, outcome=LenderAttempt.Outcome.SHIPPED),
        )
        first = cast(dt.date, req.shipped_on)
        if shipped_on is not None and not checks.refused("shipped_on") and shipped_on < first:
            checks.refuse(
                "shipped_on", f"A replacement ships after the first shipment ({first:%Y-%m-%d})."
            )
        note = checks.text("note", note, limit=rules.NOTE)
        checks.done()
        changes = changed(
            req,
            {
                "shipped_on": shipped_on,
                "due_date": due_date,
                "shipping_method": method,
                "shipping_tracking": tracking_number,
                "trace": Trace.REPLACEMENT_SHIPPED,
            },
        )
        label = ShippingMethod(method).label
        event = record_move(
            req,
            "replacement_shipped",
            actor=actor,
            at=now,
            note=joined(f"Replacement shipped {shipped_on:%Y-%m-%d} by {label}.", note),
            changes=changes,
        )
        notify(req, "replacement_shipped", Notification.Audience.LIBRARY, event=event)
        return req


def cleared(
    request_id: int,
    *,
    actor: User,
    received_on: dt.date | None = None,
    note: str = "",
    at: dt.datetime | None = None,
) -> BorrowingRequest:
    """It turned up after all: the team records it received for the library (which may
    also simply mark it received), and the trace ends cleared."""
    with transaction.atomic():
        req = locked_for(request_id, "cleared", actor, at=at)
        now = moment(req, at)
        note = checked_note(note)
        return record_arrival(
            req,
            "cleared",
            actor,
            received_on or timezone.localdate(now),
            now,
            note=joined("It turned up.", note),
        )
