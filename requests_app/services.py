"""Writes on a request that are not status changes: charges, messages, assignment, and
the team raising a request's max cost.

Each takes the moment it is recorded at (``at``, now by default, never in the future), as
the workflow does; a charge or a message may be dated among the steps (an invoice that
came in while the loan was out), so only the workflow's steps keep their order.

Like the workflow, each locks the request's row and checks the actor. A charge records
itself in the request's timeline (a ``StatusEvent`` whose from and to status are the
same); a message is its own dated record, shown beside the timeline.
"""

import datetime as dt
from decimal import Decimal
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from core.checks import Checks
from core.errors import NotAllowedNow, NotPermitted, WorkflowError
from lenders.models import Lender
from members.models import MemberLibrary, User
from members.services import find_or_add_patron, patron_for_request

from . import rules
from .iso18626.outbox import resend, tell_lender
from .models import (
    BorrowingRequest,
    Charge,
    ExchangeMessage,
    Message,
    Notification,
    Status,
    StatusEvent,
    UnrequestedItemReport,
    to_cents,
)
from .notifications import notify
from .workflow import (
    LIBRARY,
    TEAM,
    as_text,
    lock_request,
    moment,
    start_sourcing,
    submit_request,
)

#: Above this a request's charges total stops fitting its column (and is surely a typo).
MAX_TOTAL = Decimal("100000000")


def submit_for_card(
    *,
    actor: User,
    library: MemberLibrary,
    card_number: str,
    patron_name: str = "",
    patron_email: str = "",
    homebound: bool = False,
    **request_fields: Any,
) -> BorrowingRequest:
    """Submit a request for the patron with this card, registering them first if new.

    One transaction: a refused request adds no patron. ``request_fields`` are
    ``workflow.submit_request``'s (citation, needed_by, max_cost, notes).
    """
    with transaction.atomic():
        patron = find_or_add_patron(
            library=library,
            card_number=card_number,
            name=patron_name,
            email=patron_email,
            homebound=homebound,
        )
        return submit_request(actor=actor, library=library, patron=patron, **request_fields)


def submit_for_patron(
    *, actor: User, library: MemberLibrary, patron_id: int, **request_fields: Any
) -> BorrowingRequest:
    """Submit a request for the library's patron with this id (locked while it is saved)."""
    with transaction.atomic():
        patron = patron_for_request(library=library, patron_id=patron_id)
        return submit_request(actor=actor, library=library, patron=patron, **request_fields)


def _note_in_timeline(
    req: BorrowingRequest,
    action: str,
    actor: User,
    note: str,
    *,
    at: dt.datetime,
    changes: dict[str, list[str]] | None = None,
) -> StatusEvent:
    return StatusEvent.objects.create(
        request=req,
        action=action,
        from_status=req.status,
        to_status=req.status,
        actor=actor,
        at=at,
        note=note,
        changes=changes or None,
    )


def add_charge(
    request_id: int,
    *,
    actor: User,
    kind: str,
    amount: Decimal,
    currency: str = "",
    payer: str = Charge.Payer.SERVICE,
    invoiced: bool = False,
    paid: bool = False,
    reference: str = "",
    at: dt.datetime | None = None,
) -> Charge:
    """Record a fee or cost and keep the request's running total against its max cost.

    The total counts the cost kinds (not reimbursements). Amounts are in the service's
    currency, as IFM and invoices bill them, so no cost escapes the max-cost check.
    ``invoiced`` and ``paid`` say it was billed or paid the day it is recorded.
    """
    now = moment(None, at)
    checks = Checks()
    currency = (currency or settings.ILLDESK_CURRENCY).upper()
    if currency != settings.ILLDESK_CURRENCY:
        checks.refuse(
            "currency",
            f"Record the amount in {settings.ILLDESK_CURRENCY}, as invoiced; "
            "put the original amount and currency in the reference.",
        )
    try:
        rules.check_charge_amount(amount)
    except ValidationError as error:
        checks.refuse("amount", error.messages[0])
    checks.done()
    today = timezone.localdate(now)
    charge = Charge(
        kind=kind,
        amount=to_cents(amount),
        currency=currency,
        payer=payer,
        invoiced_on=today if invoiced else None,
        paid_on=today if paid else None,
        reference=reference,
        created_by=actor,
        created_at=now,
    )
    charge.full_clean(exclude=["request", "created_by", "voids"])
    with transaction.atomic():
        req = lock_request(request_id, "add_charge", actor, {TEAM})
        moment(req, at, in_order=False)  # not before the request
        charge.request = req
        charge.save()
        before = _update_total(req)
        _note_in_timeline(
            req,
            "add_charge",
            actor,
            f"{charge.get_kind_display()}: {charge.amount} {charge.currency}, "
            f"paid by {charge.get_payer_display().lower()}. "
            f"Total {req.charges_total} of max cost {req.max_cost}.",
            at=now,
            changes={"charges_total": [str(before), str(req.charges_total)]},
        )
    return charge


def _update_total(req: BorrowingRequest) -> Decimal:
    """Sum the request's cost entries (voids included, so a voided charge counts for
    nothing) into its total; returns the total before."""
    before: Decimal = req.charges_total
    total = req.charges.filter(kind__in=Charge.COST_KINDS).aggregate(total=Sum("amount"))["total"]
    req.charges_total = to_cents(total)
    if req.charges_total >= MAX_TOTAL:
        raise ValidationError(
            {"amount": ["That would take the request's total past what one loan can carry."]}
        )
    req.save(update_fields=["charges_total", "updated_at"])
    return before


def _entry(req: BorrowingRequest, action: str, charge_id: int) -> Charge:
    """A charge of this request that is an entry of its own (not voided, not a void)."""
    charge: Charge | None = req.charges.filter(pk=charge_id).select_related("voided_by").first()
    if charge is None:
        raise ValidationError({"charge": ["No such charge on this request."]})
    if charge.voids_id is not None:
        raise NotAllowedNow(action, req.status, "This entry is a void; record a new charge.")
    voided = getattr(charge, "voided_by", None)
    if voided is not None:
        raise NotAllowedNow(
            action,
            req.status,
            f"This charge was voided on {timezone.localdate(voided.created_at):%Y-%m-%d}.",
        )
    return charge


def void_charge(
    request_id: int, *, actor: User, charge_id: int, reason: str, at: dt.datetime | None = None
) -> Charge:
    """Void a charge recorded by mistake: a reversing entry (the amount negated, with the
    reason) that takes it out of the total, the over-max-cost flag and the reports. The
    charge itself stays, as every entry of the ledger does. Returns the reversing entry."""
    now = moment(None, at)
    checks = Checks()
    reason = checks.text(
        "reason", reason, limit=rules.REASON, required="Say why the charge is voided."
    )
    checks.done()
    with transaction.atomic():
        req = lock_request(request_id, "void_charge", actor, {TEAM})
        moment(req, at, in_order=False)
        charge = _entry(req, "void_charge", charge_id)
        void = Charge.objects.create(
            request=req,
            kind=charge.kind,
            amount=-charge.amount,
            currency=charge.currency,
            payer=charge.payer,
            reference=f"Void of charge {charge.pk}",
            voids=charge,
            reason=reason,
            created_by=actor,
            created_at=now,
        )
        before = _update_total(req)
        _note_in_timeline(
            req,
            "void_charge",
            actor,
            f"Voided {charge.get_kind_display().lower()} {charge.amount} {charge.currency} "
            f"of {timezone.localdate(charge.created_at):%Y-%m-%d}: {reason}",
            at=now,
            changes={"charges_total": [str(before), str(req.charges_total)]},
        )
    return void


def _date_charge(
    action: str,
    field: str,
    what: str,
    request_id: int,
    *,
    actor: User,
    charge_id: int,
    on: dt.date | None,
    at: dt.datetime | None,
) -> Charge:
    """Record the day a charge was invoiced or paid (``field``): once, in the past, not
    before the request was submitted."""
    now = moment(None, at)
    with transaction.atomic():
        req = lock_request(request_id, action, actor, {TEAM})
        moment(req, at, in_order=False)
        charge = _entry(req, action, charge_id)
        already = getattr(charge, field)
        if already is not None:
            raise NotAllowedNow(action, req.status, f"It was {what} on {already:%Y-%m-%d}.")
        on = on or timezone.localdate(now)
        submitted = timezone.localdate(req.created_at)
        checks = Checks()
        checks.date(
            field,
            on,
            past=f"The {what} date cannot be in the future.",
            today=timezone.localdate(now),
            not_before=(submitted, f"It cannot be {what} before the request ({submitted})."),
        )
        checks.done()
        setattr(charge, field, on)
        charge.save(update_fields=[field])
        _note_in_timeline(
            req,
            action,
            actor,
            f"{charge.get_kind_display()} {charge.amount} {charge.currency} {what} {on:%Y-%m-%d}.",
            at=now,
            changes={f"charge {charge.pk} {field}": ["", on.isoformat()]},
        )
    return charge


def charge_invoiced(
    request_id: int,
    *,
    actor: User,
    charge_id: int,
    invoiced_on: dt.date | None = None,
    at: dt.datetime | None = None,
) -> Charge:
    """The charge was billed (today unless ``invoiced_on`` says)."""
    return _date_charge(
        "charge_invoiced", "invoiced_on", "invoiced", request_id,
        actor=actor, charge_id=charge_id, on=invoiced_on, at=at,
    )  # fmt: skip


def charge_paid(
    request_id: int,
    *,
    actor: User,
    charge_id: int,
    paid_on: dt.date | None = None,
    at: dt.datetime | None = None,
) -> Charge:
    """The charge was paid (today unless ``paid_on`` says): the charges report's "not yet
    paid" column moves."""
    return _date_charge(
        "charge_paid", "paid_on", "paid", request_id,
        actor=actor, charge_id=charge_id, on=paid_on, at=at,
    )  # fmt: skip


def post_message(
    request_id: int, *, actor: User, body: str, at: dt.datetime | None = None
) -> Message:
    """A message between the library and the team; the other side is told."""
    now = moment(None, at)
    checks = Checks()
    body = checks.text("body", body, limit=rules.MESSAGE, required="Write a message.")
    checks.done()
    with transaction.atomic():
        req = lock_request(request_id, "post_message", actor, {LIBRARY, TEAM})
        moment(req, at, in_order=False)  # not before the request
        message = Message.objects.create(request=req, author=actor, body=body, created_at=now)
        audience = Notification.Audience.LIBRARY if actor.is_team else Notification.Audience.TEAM
        notify(req, "message", audience)
    return message


def note_from_lender(
    request_id: int, *, actor: User, note: str, at: dt.datetime | None = None
) -> StatusEvent:
    """What the lender says of the request that changes no status ("will supply it"), on
    its timeline: the team's side records it (the service, for an ISO 18626 message)."""
    now = moment(None, at)
    checks = Checks()
    note = checks.text("note", note, limit=rules.NOTE, required="Say what the lender said.")
    checks.done()
    with transaction.atomic():
        req = lock_request(request_id, "lender_status", actor, {TEAM})
        moment(req, at, in_order=False)
        return _note_in_timeline(req, "lender_status", actor, note, at=now)


def message_lender(request_id: int, *, actor: User, body: str) -> ExchangeMessage:
    """A message from the team to the request's lender, as an ISO 18626 ``Notification``:
    only to a lender that exchanges messages, and only while it has the request."""
    checks = Checks()
    body = checks.text("body", body, limit=rules.NOTE, required="Write the message.")
    checks.done()
    with transaction.atomic():
        req = lock_request(request_id, "message_lender", actor, {TEAM})
        if req.lender is None or not req.lender.exchanges_iso18626:
            raise NotAllowedNow(
                "message_lender",
                req.status,
                "This request's lender does not exchange ISO 18626 messages.",
            )
        if req.is_final and req.status != Status.COMPLETED:
            raise NotAllowedNow(
                "message_lender", req.status, f"The request is {req.get_status_display().lower()}."
            )
        message = tell_lender(req, "Notification", note=body)
        _note_in_timeline(
            req, "message_lender", actor, f"To {req.lender.name}: {body}", at=timezone.now()
        )
        return cast(ExchangeMessage, message)


def clear_exchange_failure(request_id: int, *, actor: User, note: str = "") -> BorrowingRequest:
    """The team has dealt with a failed exchange (sent again, or settled by hand): the
    "exchange failing" flag comes off, with who and why on the timeline."""
    checks = Checks()
    note = checks.text("note", note, limit=rules.NOTE)
    checks.done()
    with transaction.atomic():
        req = lock_request(request_id, "clear_exchange_failure", actor, {TEAM})
        if req.exchange_failed_at is None:
            raise NotAllowedNow(
                "clear_exchange_failure", req.status, "No exchange failure is flagged."
            )
        changes = {"exchange_failed_at": [as_text(req.exchange_failed_at), ""]}
        req.exchange_failed_at = None
        req.save(update_fields=["exchange_failed_at", "updated_at"])
        _note_in_timeline(
            req,
            "exchange_cleared",
            actor,
            note or "Dealt with.",
            at=timezone.now(),
            changes=changes,
        )
        return req


def send_again(message_id: int, *, actor: User) -> ExchangeMessage:
    """Send a message that was not delivered once more, as a new message: the failed one
    stays, marked sent again, so it is not sent twice. Only to the request's lender now,
    and a request message only while the request waits for that lender."""
    with transaction.atomic():
        failed = ExchangeMessage.objects.select_for_update().get(pk=message_id)
        if failed.request_id is None:
            raise NotAllowedNow("send_again", "", "This message belongs to no request.")
        req = lock_request(failed.request_id, "send_again", actor, {TEAM})
        refusal = ""
        if failed.direction != ExchangeMessage.Direction.OUT or (
            failed.state != ExchangeMessage.State.FAILED
        ):
            refusal = "Only a message that was not delivered is sent again, and only once."
        elif failed.lender_id != req.lender_id:
            refusal = "The request is no longer with that lender."
        elif failed.kind == "request" and req.status != Status.SENT_TO_LENDER:
            refusal = f"The request is {req.get_status_display().lower()}: it waits for no lender."
        if refusal:
            raise NotAllowedNow("send_again", req.status, refusal)
        failed.state = ExchangeMessage.State.RESENT
        failed.save(update_fields=["state"])
        again = resend(failed)
        _note_in_timeline(
            req, "exchange_resent", actor, f"{failed.what} to {failed.lender.name}.",
            at=timezone.now(),
        )  # fmt: skip
        return again


def report_unrequested_item(
    *, actor: User, title: str, slip_number: str = "", sent_by: str = "", note: str = ""
) -> UnrequestedItemReport:
    """A library received an item it did not request: record it and tell the team."""
    if not actor.is_active or not actor.is_library_staff:
        raise NotPermitted(
            "report_unrequested_item", "", "Only member library staff report items they received."
        )
    checks = Checks()
    note = checks.text("note", note, limit=rules.NOTE)
    checks.done()
    report = UnrequestedItemReport(
        # Library staff always have a library (the ``user_library_staff_has_library`` check).
        library_id=cast(int, actor.library_id),
        reported_by=actor,
        title=title.strip(),
        slip_number=slip_number.strip(),
        sent_by=sent_by.strip(),
        note=note,
    )
    report.full_clean()
    with transaction.atomic():
        report.save()
        notify(report, "unrequested_item", Notification.Audience.TEAM)
    return report


def resolve_unrequested_item(
    report_id: int,
    *,
    actor: User,
    outcome: str,
    note: str,
    request_id: int | None = None,
    send_to: MemberLibrary | None = None,
    returned_to: Lender | None = None,
    at: dt.datetime | None = None,
) -> UnrequestedItemReport:
    """The team says whose an unrequested item is: matched to a request (``request_id``),
    sent on to the library it belongs to (``send_to``), or returned to the lender (the
    directory's, when it is there), with a note to the library on what to do with it. The
    reporting library sees the outcome on its list and is told by e-mail; a matched request
    shows the report on its timeline."""
    if not actor.is_active or not actor.is_team:
        raise NotPermitted("resolve", "", "Only the resource sharing team resolves these reports.")
    now = moment(None, at)
    Outcome = UnrequestedItemReport.Outcome
    checks = Checks()
    if outcome not in Outcome.values:
        checks.refuse("outcome", "Choose what became of the item.")
    note = checks.text(
        "note", note, limit=rules.NOTE, required="Tell the library what to do with the item."
    )
    matched = None
    if outcome == Outcome.MATCHED:
        matched = BorrowingRequest.objects.filter(pk=request_id).first() if request_id else None
        if matched is None:
            checks.refuse("request", "Give the number of the request it belongs to.")
    if outcome == Outcome.SENT_ON and send_to is None:
        checks.refuse("send_to", "Choose the library it goes on to.")
    checks.done()
    with transaction.atomic():
        report = UnrequestedItemReport.objects.select_for_update().get(pk=report_id)
        if report.resolved_at is not None:
            raise NotAllowedNow(
                "resolve",
                "",
                f"This report was resolved on {timezone.localdate(report.resolved_at):%Y-%m-%d}.",
            )
        if now < report.created_at:
            raise ValidationError({"at": ["It cannot be resolved before it was reported."]})
        report.outcome = outcome
        report.matched_request = matched
        report.send_to = send_to if outcome == Outcome.SENT_ON else None
        report.returned_to = returned_to if outcome == Outcome.RETURNED else None
        report.resolution = note
        report.resolved_by = actor
        report.resolved_at = now
        report.save()
        if matched is not None:
            req = lock_request(matched.pk, "resolve", actor, {TEAM})
            _note_in_timeline(
                req,
                "unrequested_item_matched",
                actor,
                f"An item {report.library.ill_code} received unasked (report {report.pk}, "
                f"“{report.title}”) is this request's: {note}",
                at=now,
            )
        notify(report, "unrequested_item_resolved", Notification.Audience.LIBRARY)
    return report


def check_assignee(assignee: User | None) -> None:
    """Requests go to active members of the team, or to nobody."""
    if assignee is not None and (
        not (assignee.is_active and assignee.is_team) or assignee.username == User.SERVICE_USERNAME
    ):
        raise ValidationError("Requests go to active members of the team.")


def assign(
    request_id: int, *, actor: User, assignee: User | None, at: dt.datetime | None = None
) -> BorrowingRequest:
    """Give the request to a member of the team (or to nobody), on its timeline."""
    now = moment(None, at)
    try:
        check_assignee(assignee)
    except ValidationError as error:
        raise ValidationError({"assignee": error.messages}) from None
    with transaction.atomic():
        req = lock_request(request_id, "assign", actor, {TEAM})
        moment(req, at, in_order=False)  # not before the request
        if req.assigned_to_id == (assignee.pk if assignee else None):
            return req
        req.assigned_to = assignee
        req.save(update_fields=["assigned_to", "updated_at"])
        _note_in_timeline(
            req,
            "assign",
            actor,
            f"Assigned to {assignee.username}." if assignee else "Unassigned.",
            at=now,
        )
    return req


def set_max_cost(
    request_id: int,
    *,
    actor: User,
    max_cost: Decimal,
    reason: str,
    at: dt.datetime | None = None,
) -> BorrowingRequest:
    """The team sets a request's max cost, above the library's profile if need be."""
    now = moment(None, at)
    checks = Checks()
    try:
        rules.check_max_cost(max_cost)
    except ValidationError as error:
        checks.refuse("max_cost", error.messages[0])
    reason = checks.text(
        "reason",
        reason,
        limit=rules.REASON,
        required="Say why (for example, the library agreed by e-mail).",
    )
    checks.done()
    with transaction.atomic():
        req = lock_request(request_id, "set_max_cost", actor, {TEAM})
        moment(req, at, in_order=False)  # not before the request
        if req.is_final:
            raise NotAllowedNow(
                "set_max_cost", req.status, "The request has ended; its max cost stays."
            )
        before = req.max_cost
        req.max_cost = max_cost
        req.save(update_fields=["max_cost", "updated_at"])
        _note_in_timeline(
            req, "set_max_cost", actor, f"Max cost {before} → {max_cost}: {reason}", at=now
        )
    return req


def bulk_act(
    request_ids: list[int], *, actor: User, action: str, assignee: User | None = None
) -> tuple[list[int], list[str]]:
    """Take, assign or start sourcing several requests, each in its own transaction.

    Returns the ids done and a message for each one refused (someone moved it first).
    """
    done: list[int] = []
    refused: list[str] = []
    for request_id in request_ids:
        try:
            if action == "take":
                assign(request_id, actor=actor, assignee=actor)
            elif action == "assign":
                assign(request_id, actor=actor, assignee=assignee)
            elif action == "start_sourcing":
                start_sourcing(request_id, actor=actor)
            else:
                raise ValueError(f"Unknown bulk action: {action}")
        except BorrowingRequest.DoesNotExist:
            refused.append(f"#{request_id}: no such request.")
        except (WorkflowError, ValidationError) as error:
            text = error.message if isinstance(error, WorkflowError) else " ".join(error.messages)
            refused.append(f"#{request_id}: {text}")
        else:
            done.append(request_id)
    return done, refused
