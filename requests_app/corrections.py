"""Corrections: a mistyped item, shipment, receipt or return put right, and a step taken by
mistake taken back (``reopen``).

Nothing is rewritten silently: each correction is a step on the request's timeline that
says who made it, when, and every field's value before and after (``StatusEvent.changes``).
A correction runs the same checks as the step it corrects (``workflow.check_shipment``,
``check_receipt``, ``check_return``, ``apply_citation``), so a corrected date can be no
less possible than the first one. The workflow's table (``MOVES``) says who may correct
what, and when; reports read the corrected values.
"""

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from core.checks import Checks
from core.errors import NotAllowedNow
from members.models import User

from . import rules
from .models import BorrowingRequest, LenderAttempt, Notification, Status
from .notifications import notify
from .timeline import event_label
from .workflow import (
    CITATION_FIELDS,
    LIBRARY,
    actor_side,
    apply_citation,
    as_text,
    changed,
    check_receipt,
    check_return,
    check_shipment,
    checked_reason,
    day_of,
    joined,
    lift_overdue_flag,
    locked_for,
    moment,
    record_move,
    sent_on,
    status_label,
    withdraw_pending_renewal,
)


def _record_correction(
    req: BorrowingRequest,
    action: str,
    actor: User,
    now: dt.datetime,
    changes: dict[str, list[str]],
    note: str,
) -> BorrowingRequest:
    """Save a correction and its event; a correction that changes nothing records nothing."""
    if changes:
        record_move(req, action, actor=actor, at=now, note=note, changes=changes)
    return req


def edit_item(
    request_id: int, *, actor: User, citation: dict[str, Any], at: dt.datetime | None = None
) -> BorrowingRequest:
    """Correct the item: the fields of ``citation`` given (any of ``CITATION_FIELDS``),
    checked as a submission checks them. The team may, until the request ends (adding the
    OCLC number found while sourcing); the library, while it is still submitted."""
    with transaction.atomic():
        req = locked_for(request_id, "edit_item", actor, at=at)
        now = moment(req, at)
        before = {field: getattr(req, field) for field in CITATION_FIELDS}
        errors: dict[str, list[str]] = {}
        apply_citation(req, citation, errors)
        excluded = [f.name for f in BorrowingRequest._meta.fields if f.name not in CITATION_FIELDS]
        try:
            req.full_clean(exclude=[*excluded, *errors], validate_constraints=False)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors.setdefault(field, []).extend(messages)
        if errors:
            raise ValidationError(errors)
        changes = {
            field: [as_text(before[field]), as_text(getattr(req, field))]
            for field in CITATION_FIELDS
            if before[field] != getattr(req, field)
        }
        who = "the library" if actor_side(actor, req.library_id) == LIBRARY else "the team"
        return _record_correction(
            req, "edit_item", actor, now, changes, f"Item details corrected by {who}."
        )


def correct_shipment(
    request_id: int,
    *,
    actor: User,
    shipped_on: dt.date | None = None,
    due_date: dt.date | None = None,
    method: str | None = None,
    tracking_number: str | None = None,
    lender_request_number: str | None = None,
    note: str = "",
    at: dt.datetime | None = None,
) -> BorrowingRequest:
    """Correct the shipment: its date, due date, method, tracking, and the lender's own
    request number. What is not given stays as it is. The checks are the shipment's: not
    before the request went to the lender, nor after the library received it; due after."""
    with transaction.atomic():
        req = locked_for(request_id, "correct_shipment", actor, at=at)
        now = moment(req, at)
        shipped_on = shipped_on or req.shipped_on
        due_date = due_date or req.due_date
        method = method or req.shipping_method
        checks = Checks()
        tracking = check_shipment(
            checks,
            shipped_on=shipped_on,
            due_date=due_date,
            method=method,
            tracking_number=req.shipping_tracking if tracking_number is None else tracking_number,
            today=day_of(now),
            sent_on=sent_on(req, outcome=LenderAttempt.Outcome.SHIPPED),
            received_on=req.received_on,
        )
        number = checks.text(
            "lender_request_number",
            req.lender_request_number if lender_request_number is None else lender_request_number,
            limit=rules.ILL_NUMBER,
        )
        note = checks.text("note", note, limit=rules.NOTE)
        checks.done()
        changes = changed(
            req,
            {
                "shipped_on": shipped_on,
                "due_date": due_date,
                "shipping_method": method,
                "shipping_tracking": tracking,
                "lender_request_number": number,
            },
        )
        if "lender_request_number" in changes:
            req.attempts.filter(outcome=LenderAttempt.Outcome.SHIPPED, lender=req.lender).update(
                lender_request_number=number
            )
        if "due_date" in changes:
            lift_overdue_flag(req)
        return _record_correction(
            req, "correct_shipment", actor, now, changes, joined("Shipment corrected.", note)
        )


def correct_receipt(
    request_id: int,
    *,
    actor: User,
    received_on: dt.date | None,
    note: str = "",
    at: dt.datetime | None = None,
) -> BorrowingRequest:
    """Correct the day the library received the item: not before it shipped, not after it
    went back, not in the future."""
    with transaction.atomic():
        req = locked_for(request_id, "correct_receipt", actor, at=at)
        now = moment(req, at)
        checks = Checks()
        check_receipt(checks, received_on, shipped_on=req.shipped_on, today=day_of(now))
        if (
            received_on is not None
            and req.returned_on is not None
            and not checks.refused("received_on")
            and received_on > req.returned_on
        ):
            checks.refuse(
                "received_on",
                f"It cannot arrive after it went back ({req.returned_on:%Y-%m-%d}).",
            )
        note = checks.text("note", note, limit=rules.NOTE)
        checks.done()
        changes = changed(req, {"received_on": received_on})
        return _record_correction(
            req, "correct_receipt", actor, now, changes, joined("Receipt corrected.", note)
        )


def correct_return(
    request_id: int,
    *,
    actor: User,
    returned_on: dt.date | None = None,
    method: str | None = None,
    tracking_number: str | None = None,
    note: str = "",
    at: dt.datetime | None = None,
) -> BorrowingRequest:
    """Correct the return: its date, method and tracking (what is not given stays), checked
    as a return is."""
    with transaction.atomic():
        req = locked_for(request_id, "correct_return", actor, at=at)
        now = moment(req, at)
        returned_on = returned_on or req.returned_on
        method = method or req.return_method
        checks = Checks()
        tracking = check_return(
            checks,
            method=method,
            tracking_number=req.return_tracking if tracking_number is None else tracking_number,
            returned_on=returned_on,
            received_on=req.received_on,
            today=day_of(now),
        )
        note = checks.text("note", note, limit=rules.NOTE)
        checks.done()
        changes = changed(
            req, {"returned_on": returned_on, "return_method": method, "return_tracking": tracking}
        )
        return _record_correction(
            req, "correct_return", actor, now, changes, joined("Return corrected.", note)
        )


#: What ``reopen`` takes back: the step that brought the request to its status, and the
#: fields that step set, with the value each goes back to.
_REOPENS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    Status.RECEIVED: (("mark_received", "cleared"), {"received_on": None}),
    Status.RETURNED: (
        ("mark_returned",),
        {"returned_on": None, "return_method": "", "return_tracking": ""},
    ),
    Status.LOST: (("mark_lost",), {}),
}


def reopen(
    request_id: int, *, actor: User, reason: str, at: dt.datetime | None = None
) -> BorrowingRequest:
    """Take back a step taken by mistake (marked received, returned or lost): the request
    goes back to the status before it, the step's dates are cleared (a trace it ended is
    open again), and the timeline says why. Only the last step can be taken back."""
    with transaction.atomic():
        req = locked_for(request_id, "reopen", actor, at=at)
        now = moment(req, at)
        reason = checked_reason(reason, required="Say what was marked by mistake.")
        steps, cleared_fields = _REOPENS[req.status]
        last = (
            req.events.exclude(from_status=F("to_status"))
            .exclude(from_status="")
            .order_by("-at", "-id")
            .first()
        )
        if last is None or last.action not in steps:
            taken = (
                f"took it from {status_label(last.from_status)} to {status_label(last.to_status)}"
                if last
                else "submitted it"
            )
            raise NotAllowedNow(
                "reopen",
                req.status,
                f"Only a step just taken by mistake can be taken back; the last one {taken} "
                f"({event_label(last.action).lower() if last else 'submit'}).",
            )
        values = dict(cleared_fields)
        if last.changes and "trace" in last.changes:
            values["trace"] = last.changes["trace"][0]
        changes = changed(req, values)
        back_to = last.from_status
        if back_to == Status.RENEWAL_REQUESTED:
            # The step withdrew the renewal it was waiting on (or, recorded before steps
            # did, left it pending: withdraw it now): the loan is just received.
            back_to = Status.RECEIVED
            withdraw_pending_renewal(req, actor, now, f"Withdrawn on reopening: {reason}")
        event = record_move(
            req,
            "reopen",
            actor=actor,
            at=now,
            note=f"Back to {status_label(back_to)}: {reason}",
            changes=changes,
            to_status=back_to,
        )
        notify(req, "reopened", Notification.Audience.LIBRARY, event=event)
        return req
