"""The request workflow: every status change of a borrowing request happens here.

Each action is one function, ``action(request_id, *, actor, ...)``. It runs in one
transaction: it locks the request's row, checks the actor's role and library, checks the
current status against ``MOVES``, checks the action's own rules, writes the change and its
``StatusEvent``, and queues its notifications to go out after commit. A refused move raises
a ``WorkflowError`` naming the action and the current status, and changes nothing.

HTML views, API views and jobs all call these functions; nothing else sets ``status``.

**The clock.** Each function acts at ``at``, a keyword that defaults to now, so the demo
data, imports of loans from an older system and the tests build a believable past through
the same functions (``requests_app.scenarios``). A step is never dated in the future nor
before the request's step before it, and a date it records (shipped on, received on) is
never after the day it is recorded.
"""

import datetime as dt
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from core.checks import Checks, near_today
from core.errors import NotAllowedNow, NotPermitted
from core.text import one_line
from lenders.models import Lender
from members.models import MemberLibrary, Patron, User

from . import rules
from .identifiers import normalize_isbn, normalize_issn, normalize_oclc_number
from .models import (
    ON_LOAN_STATUSES,
    BorrowingRequest,
    LenderAttempt,
    Notification,
    RenewalRequest,
    ShippingMethod,
    Status,
    StatusEvent,
)
from .notifications import notify

LIBRARY = "library"
TEAM = "team"


@dataclass(frozen=True)
class Move:
    sources: frozenset[str]
    target: str
    sides: frozenset[str]
    #: What the move is called in a sentence ("Cannot mark received: …").
    label: str
    #: Its public name, in the addresses of the pages and the API (``/receive/``).
    slug: str


def _move(sources: Iterable[str], target: str, sides: Iterable[str], label: str, slug: str) -> Move:
    return Move(frozenset(sources), target, frozenset(sides), label, slug)


_BEFORE_SHIPPING = (Status.SUBMITTED, Status.SOURCING, Status.SENT_TO_LENDER)

#: The allowed moves: action -> (from statuses, to status, who may act, what it is called,
#: its public name).
MOVES: dict[str, Move] = {
    "start_sourcing": _move(
        [Status.SUBMITTED], Status.SOURCING, [TEAM], "start sourcing", "start-sourcing"
    ),
    "send_to_lender": _move(
        [Status.SOURCING], Status.SENT_TO_LENDER, [TEAM], "send to a lender", "send-to-lender"
    ),
    "lender_unfilled": _move(
        [Status.SENT_TO_LENDER],
        Status.SOURCING,
        [TEAM],
        "record that the lender cannot supply",
        "lender-unfilled",
    ),
    "ship": _move([Status.SENT_TO_LENDER], Status.SHIPPED, [TEAM], "record the shipment", "ship"),
    "mark_received": _move(
        [Status.SHIPPED], Status.RECEIVED, [LIBRARY, TEAM], "mark received", "receive"
    ),
    # Not a change of status: the library tells the team a shipped item has not come.
    "report_not_arrived": _move(
        [Status.SHIPPED], Status.SHIPPED, [LIBRARY], "report that it has not arrived", "not-arrived"
    ),
    "request_renewal": _move(
        [Status.RECEIVED],
        Status.RENEWAL_REQUESTED,
        [LIBRARY],
        "request a renewal",
        "request-renewal",
    ),  # fmt: skip
    "answer_renewal": _move(
        [Status.RENEWAL_REQUESTED],
        Status.RECEIVED,
        [TEAM],
        "record the renewal answer",
        "answer-renewal",
    ),  # fmt: skip
    "mark_returned": _move(
        [Status.RECEIVED], Status.RETURNED, [LIBRARY], "mark returned", "return"
    ),
    "complete": _move([Status.RETURNED], Status.COMPLETED, [TEAM], "complete", "complete"),
    "cancel": _move(_BEFORE_SHIPPING, Status.CANCELLED, [LIBRARY, TEAM], "cancel", "cancel"),
    "mark_unfilled": _move(
        _BEFORE_SHIPPING, Status.UNFILLED, [TEAM], "mark unfilled", "mark-unfilled"
    ),
    "mark_lost": _move(ON_LOAN_STATUSES, Status.LOST, [TEAM], "mark lost", "mark-lost"),
}


def status_label(status: str) -> str:
    return Status(status).label.lower() if status in Status.values else status


def actor_side(actor: User, library_id: int) -> str | None:
    """Which side ``actor`` acts on for a request of ``library_id``: team, library, or None."""
    if not actor.is_active:
        return None
    if actor.is_team:
        return TEAM
    if actor.is_library_staff and actor.library_id == library_id:
        return LIBRARY
    return None


def allowed_actions(borrowing_request: BorrowingRequest, actor: User) -> list[str]:
    """The actions ``actor`` may take on the request now, in ``MOVES`` order."""
    side = actor_side(actor, borrowing_request.library_id)
    return [
        action
        for action, move in MOVES.items()
        if side in move.sides and borrowing_request.status in move.sources
    ]


def check_side(req: BorrowingRequest, action: str, actor: User, sides: Collection[str]) -> None:
    """Refuse an actor whose role or library is not among ``sides`` for this request."""
    if actor_side(actor, req.library_id) not in sides:
        label = MOVES[action].label if action in MOVES else action.replace("_", " ")
        raise NotPermitted(action, req.status, f"You may not {label} on this request.")


def check_move(req: BorrowingRequest, action: str, actor: User) -> None:
    """Refuse a move this actor may not make, or that the request's status does not allow.

    The moves run it under the row lock; the API runs it first as well, so a move the
    status forbids is refused (409) before its input is read.
    """
    move = MOVES[action]
    check_side(req, action, actor, move.sides)
    if req.status not in move.sources:
        raise NotAllowedNow(
            action,
            req.status,
            f"Cannot {move.label}: the request is {status_label(req.status)}.",
        )


def lock_request(
    request_id: int, action: str, actor: User, sides: Collection[str]
) -> BorrowingRequest:
    """Lock the request's row (inside the caller's transaction) and check the actor's side.

    Every write on a request starts here, so two people never act on it at once.
    """
    req = BorrowingRequest.objects.select_for_update().get(pk=request_id)
    check_side(req, action, actor, sides)
    return req


def _locked(request_id: int, action: str, actor: User) -> BorrowingRequest:
    """Lock the request's row and check that ``actor`` may take ``action`` from its status."""
    req = BorrowingRequest.objects.select_for_update().get(pk=request_id)
    check_move(req, action, actor)
    return req


def _record(
    req: BorrowingRequest,
    action: str,
    *,
    actor: User | None,
    at: dt.datetime,
    note: str = "",
) -> BorrowingRequest:
    """Move ``req`` to the action's target status and write its event, dated ``at``."""
    from_status = req.status
    req.status = MOVES[action].target
    if req.is_final and req.ended_at is None:
        req.ended_at = at
    req.save()
    StatusEvent.objects.create(
        request=req,
        action=action,
        from_status=from_status,
        to_status=req.status,
        actor=actor,
        at=at,
        note=note,
    )
    return req


def moment(
    req: BorrowingRequest | None, at: dt.datetime | None, *, in_order: bool = True
) -> dt.datetime:
    """When a step on ``req`` happens: ``at`` when given, else now.

    A past moment (demo data, an import) may not be in the future, nor before the
    request's last event (``in_order``: the timeline reads in the order things
    happened), and never before the request was submitted (a charge or a message may
    be dated among the steps, ``in_order=False``, but not before the request).
    """
    now = timezone.now()
    if at is None:
        return now
    if timezone.is_naive(at):
        raise ValueError("A step's moment needs its time zone.")
    if at > now:
        raise ValidationError({"at": ["A step cannot be recorded in the future."]})
    if req is not None:
        if in_order:
            last = req.events.aggregate(last=Max("at"))["last"]
        else:
            last = req.created_at
        if last is not None and at < last:
            raise ValidationError(
                {"at": [f"A step cannot be recorded before {last:%Y-%m-%d %H:%M}."]}
            )
    return at


def _today() -> dt.date:
    return timezone.localdate()


def _day(at: dt.datetime) -> dt.date:
    """The service's calendar day of a moment."""
    return timezone.localdate(at)


# --- Submission -------------------------------------------------------------------------

#: Formats the service does not take, and what to tell the library instead.
REFUSED_FORMATS = {
    "article": "Journal and newspaper articles are not borrowed through this service: "
    "request them from document delivery at {document_delivery_url}.",
    "ebook": "E-books and other electronic resources cannot be borrowed: "
    "the service borrows returnable items only.",
}
REFUSED_FORMATS["electronic"] = REFUSED_FORMATS["e-book"] = REFUSED_FORMATS["ebook"]


def refused_format_message(value: str) -> str | None:
    """Why a format is not taken, or None when it is one the service borrows."""
    message = REFUSED_FORMATS.get(value.strip().lower())
    return message and message.format(document_delivery_url=settings.ILLDESK_DOCUMENT_DELIVERY_URL)


def check_needed_by(needed_by: dt.date | None, *, today: dt.date | None = None) -> None:
    """Not before the day the request is submitted (``today``, the calendar's unless a
    past submission says otherwise; a date long past is that first), and near today."""
    if needed_by is None:
        return
    if needed_by < (today or _today()):
        raise ValidationError("The needed-by date cannot be in the past.", code="past")
    near_today(needed_by)


def check_max_cost(max_cost: Decimal, *, library: MemberLibrary, actor: User) -> None:
    """Library staff may ask up to their profile's max cost; the team may go above it."""
    rules.check_max_cost(max_cost)
    if max_cost > library.max_cost and not actor.is_team:
        raise ValidationError(
            f"Your library's profile allows at most {library.max_cost}; "
            "ask the resource sharing team to raise it for this request.",
            code="above_library_max_cost",
        )


def check_format(value: str) -> None:
    message = refused_format_message(value)
    if message:
        raise ValidationError(message, code="refused_format")


CITATION_FIELDS = (
    "format",
    "title",
    "author",
    "publisher",
    "year",
    "edition",
    "edition_only",
    "volume",
    "isbn",
    "issn",
    "oclc_number",
    "language",
    "dvd_region",
    "video_encoding",
)


def submit_request(
    *,
    actor: User,
    library: MemberLibrary,
    patron: Patron | None,
    citation: dict[str, Any],
    needed_by: dt.date | None = None,
    max_cost: Decimal | None = None,
    notes: str = "",
    at: dt.datetime | None = None,
) -> BorrowingRequest:
    """Create a request in ``submitted``, with the event that records the submission.

    ``max_cost`` defaults to the library's; only the team may set it above the library's.
    Raises ``ValidationError`` (by field) for bad input and ``NotPermitted`` for an actor
    who may not submit for ``library``.
    """
    if actor_side(actor, library.pk) is None:
        raise NotPermitted("submit", "", "You may not submit requests for this library.")
    unknown = set(citation) - set(CITATION_FIELDS)
    if unknown:
        raise ValueError(f"Not citation fields: {sorted(unknown)}")

    created_at = moment(None, at)
    errors: dict[str, list[str]] = {}
    if max_cost is None:
        max_cost = library.max_cost
    field_checks: list[tuple[str, Callable[[], None]]] = [
        ("format", lambda: check_format(str(citation.get("format", "")))),
        ("needed_by", lambda: check_needed_by(needed_by, today=_day(created_at))),
        ("max_cost", lambda: check_max_cost(max_cost, library=library, actor=actor)),
    ]
    for field, check in field_checks:
        try:
            check()
        except ValidationError as exc:
            errors[field] = exc.messages
    if not library.is_active:
        errors.setdefault("library", []).append("This library is not active.")
    if patron is not None and patron.library_id != library.pk:
        errors.setdefault("patron", []).append("This patron belongs to another library.")
    checks = Checks()
    notes_to_team = checks.text("notes", notes, limit=rules.NOTES_TO_TEAM)
    errors.update(checks.errors)
    if citation.get("format") != "video":
        # Region and encoding describe discs only; a stale choice must not reach the lender.
        citation = citation | {"dvd_region": "", "video_encoding": ""}
    req = BorrowingRequest(
        library=library,
        patron=patron,
        created_by=actor,
        needed_by=needed_by,
        max_cost=max_cost,
        notes=notes_to_team,
        status=Status.SUBMITTED,
        created_at=created_at,
        **citation,
    )
    for field, normalize in (
        ("isbn", normalize_isbn),
        ("issn", normalize_issn),
        ("oclc_number", normalize_oclc_number),
    ):
        try:
            setattr(req, field, normalize(getattr(req, field)))
        except ValidationError as exc:
            errors.setdefault(field, []).extend(exc.messages)
    try:
        req.full_clean(
            exclude=["library", "patron", "created_by", *errors], validate_constraints=False
        )
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        req.save()
        StatusEvent.objects.create(
            request=req,
            action="submit",
            from_status="",
            to_status=Status.SUBMITTED,
            actor=actor,
            at=req.created_at,
        )
        notify(req, "submitted", Notification.Audience.TEAM)
    return req


# --- The team's moves -------------------------------------------------------------------


def _note(note: str) -> str:
    """A note on a move, checked (``rules.NOTE`` characters at most)."""
    checks = Checks()
    note = checks.text("note", note, limit=rules.NOTE)
    checks.done()
    return note


def start_sourcing(
    request_id: int, *, actor: User, note: str = "", at: dt.datetime | None = None
) -> BorrowingRequest:
    with transaction.atomic():
        req = _locked(request_id, "start_sourcing", actor)
        now = moment(req, at)
        note = _note(note)
        if req.assigned_to_id is None:
            req.assigned_to = actor
        return _record(req, "start_sourcing", actor=actor, at=now, note=note)


def send_to_lender(
    request_id: int,
    *,
    actor: User,
    lender: Lender,
    lender_request_number: str = "",
    note: str = "",
    at: dt.datetime | None = None,
) -> BorrowingRequest:
    """Send the request to ``lender``, recording the attempt in order."""
    with transaction.atomic():
        req = _locked(request_id, "send_to_lender", actor)
        now = moment(req, at)
        checks = Checks()
        if not lender.is_active:
            checks.refuse("lender", "This lender is not active in the directory.")
        number = checks.text("lender_request_number", lender_request_number, limit=rules.ILL_NUMBER)
        note = checks.text("note", note, limit=rules.NOTE)
        checks.done()
        sequence = (req.attempts.aggregate(last=Max("sequence"))["last"] or 0) + 1
        LenderAttempt.objects.create(
            request=req,
            sequence=sequence,
            lender=lender,
            sent_by=actor,
            sent_at=now,
            lender_request_number=number,
        )
        req.lender = lender
        req.lender_request_number = number
        return _record(
            req,
            "send_to_lender",
            actor=actor,
            at=now,
            note=_join(f"Sent to {lender} (attempt {sequence}).", note),
        )


def _reason(reason: str, *, required: str) -> str:
    checks = Checks()
    reason = checks.text("reason", reason, limit=rules.REASON, required=required)
    checks.done()
    return reason


def lender_unfilled(
    request_id: int, *, actor: User, reason: str, at: dt.datetime | None = None
) -> BorrowingRequest:
    """The current lender cannot supply: close its attempt and go back to sourcing."""
    with transaction.atomic():
        req = _locked(request_id, "lender_unfilled", actor)
        now = moment(req, at)
        reason = _reason(reason, required="Say why the lender cannot supply.")
        _close_pending_attempt(req, LenderAttempt.Outcome.UNFILLED, reason, at=now)
        lender = req.lender
        req.lender = None
        req.lender_request_number = ""
        return _record(
            req, "lender_unfilled", actor=actor, at=now, note=f"{lender} cannot supply: {reason}"
        )


def _sent_on(req: BorrowingRequest) -> dt.date | None:
    """The day the request went to its current lender (its pending attempt)."""
    attempt = req.attempts.filter(outcome=LenderAttempt.Outcome.PENDING).order_by("-sequence")
    sent_at = attempt.values_list("sent_at", flat=True).first()
    return timezone.localtime(sent_at).date() if sent_at else None


def ship(
    request_id: int,
    *,
    actor: User,
    shipped_on: dt.date | None,
    due_date: dt.date | None,
    method: str,
    tracking_number: str = "",
    at: dt.datetime | None = None,
) -> BorrowingRequest:
    """Record that the lender shipped the item, with its due date.

    The shipment is a past event: not in the future, and not before the request went to
    that lender. The due date comes after it.
    """
    with transaction.atomic():
        req = _locked(request_id, "ship", actor)
        now = moment(req, at)
        checks = Checks()
        sent_on = _sent_on(req)
        checks.date(
            "shipped_on",
            shipped_on,
            required="Enter the date the lender shipped the item.",
            past="The shipped-on date cannot be in the future.",
            today=_day(now),
            not_before=(
                sent_on,
                f"It cannot have shipped before it was sent to the lender ({sent_on}).",
            ),
        )
        checks.date(
            "due_date",
            due_date,
            required="A shipment needs the lender's due date.",
            after=(
                None if checks.refused("shipped_on") else shipped_on,
                "The due date must be after the shipped-on date.",
            ),
        )
        if method not in ShippingMethod.values:
            checks.refuse("method", "Choose Delivery or mail.")
        tracking_number = checks.text(
            "tracking_number", tracking_number, limit=rules.TRACKING_NUMBER
        )
        checks.done()
        _close_pending_attempt(req, LenderAttempt.Outcome.SHIPPED, "", at=now)
        req.shipped_on = shipped_on
        req.due_date = due_date
        req.shipping_method = method
        req.shipping_tracking = tracking_number
        _record(
            req,
            "ship",
            actor=actor,
            at=now,
            note=f"Shipped {shipped_on:%Y-%m-%d} by {ShippingMethod(method).label}, "
            f"due {due_date:%Y-%m-%d}.",
        )
        notify(req, "shipped", Notification.Audience.LIBRARY)
        return req


def answer_renewal(
    request_id: int,
    *,
    actor: User,
    approved: bool,
    due_date: dt.date | None = None,
    note: str = "",
    at: dt.datetime | None = None,
) -> BorrowingRequest:
    """Record the lender's answer to the pending renewal; approved moves the due date."""
    with transaction.atomic():
        req = _locked(request_id, "answer_renewal", actor)
        now = moment(req, at)
        checks = Checks()
        if approved:
            checks.date(
                "due_date",
                due_date,
                required="An approved renewal needs the new due date.",
                after=(req.due_date, f"The new due date must be after {req.due_date:%Y-%m-%d}."),
            )
        note = checks.text("note", note, limit=rules.NOTE)
        checks.done()
        renewal = req.renewals.get(answer=RenewalRequest.Answer.PENDING)
        renewal.answer = (
            RenewalRequest.Answer.APPROVED if approved else RenewalRequest.Answer.DENIED
        )
        renewal.new_due_date = due_date if approved else None
        renewal.answered_by = actor
        renewal.answered_at = now
        renewal.note = note
        renewal.save()
        if approved and due_date is not None:
            req.due_date = due_date
            # The flag tells of now: a new due date from today on lifts it.
            if due_date >= _today():
                req.overdue_flagged_at = None
        summary = f"Renewal approved, due {due_date:%Y-%m-%d}." if approved else "Renewal denied."
        _record(req, "answer_renewal", actor=actor, at=now, note=_join(summary, note))
        notify(req, "renewal_answered", Notification.Audience.LIBRARY)
        return req


def complete(
    request_id: int, *, actor: User, note: str = "", at: dt.datetime | None = None
) -> BorrowingRequest:
    """The lender confirmed it checked the item back in."""
    with transaction.atomic():
        req = _locked(request_id, "complete", actor)
        now = moment(req, at)
        return _record(req, "complete", actor=actor, at=now, note=_note(note))


def mark_unfilled(
    request_id: int, *, actor: User, reason: str, at: dt.datetime | None = None
) -> BorrowingRequest:
    """No lender can be found: the request ends unfilled."""
    with transaction.atomic():
        req = _locked(request_id, "mark_unfilled", actor)
        now = moment(req, at)
        reason = _reason(reason, required="Say why no lender could be found.")
        _close_pending_attempt(req, LenderAttempt.Outcome.UNFILLED, reason, at=now)
        _record(req, "mark_unfilled", actor=actor, at=now, note=reason)
        notify(req, "unfilled", Notification.Audience.LIBRARY)
        return req


def mark_lost(
    request_id: int, *, actor: User, note: str = "", at: dt.datetime | None = None
) -> BorrowingRequest:
    with transaction.atomic():
        req = _locked(request_id, "mark_lost", actor)
        now = moment(req, at)
        return _record(req, "mark_lost", actor=actor, at=now, note=_note(note))


# --- The library's moves ----------------------------------------------------------------


def mark_received(
    request_id: int,
    *,
    actor: User,
    received_on: dt.date | None = None,
    at: dt.datetime | None = None,
) -> BorrowingRequest:
    """The library has the item (the team may record it on the library's behalf): not in
    the future, and not before it shipped."""
    with transaction.atomic():
        req = _locked(request_id, "mark_received", actor)
        now = moment(req, at)
        received_on = received_on or _day(now)
        checks = Checks()
        checks.date(
            "received_on",
            received_on,
            past="The received-on date cannot be in the future.",
            today=_day(now),
            not_before=(
                req.shipped_on,
                f"It cannot arrive before it shipped ({req.shipped_on:%Y-%m-%d}).",
            ),
        )
        checks.done()
        req.received_on = received_on
        return _record(req, "mark_received", actor=actor, at=now)


def report_not_arrived(
    request_id: int, *, actor: User, note: str = "", at: dt.datetime | None = None
) -> BorrowingRequest:
    """The library says a shipped item has not come: flag it and tell the team once."""
    with transaction.atomic():
        req = _locked(request_id, "report_not_arrived", actor)
        now = moment(req, at)
        if req.not_arrived_flagged_at is not None:
            raise NotAllowedNow(
                "report_not_arrived",
                req.status,
                "This loan is already flagged as not arrived "
                f"(since {timezone.localtime(req.not_arrived_flagged_at):%Y-%m-%d}); "
                "the team is looking into it.",
            )
        note = _note(note)
        req.not_arrived_flagged_at = now
        _record(
            req,
            "report_not_arrived",
            actor=actor,
            at=now,
            note=_join("Reported not arrived.", note),
        )
        notify(req, "not_arrived_reported", Notification.Audience.TEAM)
        return req


def request_renewal(
    request_id: int, *, actor: User, due_date: dt.date | None, at: dt.datetime | None = None
) -> BorrowingRequest:
    """Ask the lender for a later due date."""
    with transaction.atomic():
        req = _locked(request_id, "request_renewal", actor)
        now = moment(req, at)
        checks = Checks()
        checks.date(
            "due_date",
            due_date,
            required="Enter the due date you would like.",
            after=(
                req.due_date,
                f"Ask for a date after the current due date, {req.due_date:%Y-%m-%d}.",
            ),
        )
        checks.done()
        # ``required`` above: a missing date was refused, so ``due_date`` is a date here.
        due_date = cast(dt.date, due_date)
        RenewalRequest.objects.create(
            request=req, requested_due_date=due_date, requested_by=actor, requested_at=now
        )
        _record(req, "request_renewal", actor=actor, at=now, note=f"Asked for {due_date:%Y-%m-%d}.")
        notify(req, "renewal_requested", Notification.Audience.TEAM)
        return req


def mark_returned(
    request_id: int,
    *,
    actor: User,
    method: str,
    tracking_number: str = "",
    returned_on: dt.date | None = None,
    at: dt.datetime | None = None,
) -> BorrowingRequest:
    """The library sent the item back, by Delivery or by mail (mail needs tracking): not
    in the future, and not before it was received."""
    with transaction.atomic():
        req = _locked(request_id, "mark_returned", actor)
        now = moment(req, at)
        returned_on = returned_on or _day(now)
        checks = Checks()
        if method not in ShippingMethod.values:
            checks.refuse("method", "Choose Delivery or mail.")
        tracking_number = checks.text(
            "tracking_number",
            tracking_number,
            limit=rules.TRACKING_NUMBER,
            required="Items returned by mail need a tracking number."
            if method == ShippingMethod.MAIL
            else "",
        )
        checks.date(
            "returned_on",
            returned_on,
            past="The returned-on date cannot be in the future.",
            today=_day(now),
            not_before=(
                req.received_on,
                f"It cannot go back before it was received ({req.received_on:%Y-%m-%d}).",
            ),
        )
        checks.done()
        req.returned_on = returned_on
        req.return_method = method
        req.return_tracking = tracking_number
        return _record(
            req,
            "mark_returned",
            actor=actor,
            at=now,
            note=f"Returned by {ShippingMethod(method).label}"
            + (f", tracking {tracking_number}." if tracking_number else "."),
        )


def cancel(
    request_id: int, *, actor: User, reason: str = "", at: dt.datetime | None = None
) -> BorrowingRequest:
    """Withdraw a request before it ships."""
    with transaction.atomic():
        req = _locked(request_id, "cancel", actor)
        now = moment(req, at)
        checks = Checks()
        reason = checks.text("reason", reason, limit=rules.CANCEL_REASON)
        checks.done()
        _close_pending_attempt(req, LenderAttempt.Outcome.WITHDRAWN, reason, at=now)
        _record(req, "cancel", actor=actor, at=now, note=reason)
        if actor.is_team:
            notify(req, "cancelled", Notification.Audience.LIBRARY)
        else:
            notify(req, "cancelled_by_library", Notification.Audience.TEAM)
        return req


# --- Helpers ----------------------------------------------------------------------------


def _close_pending_attempt(
    req: BorrowingRequest, outcome: str, reason: str, *, at: dt.datetime
) -> None:
    req.attempts.filter(outcome=LenderAttempt.Outcome.PENDING).update(
        # An UPDATE skips the field's own tidying: the reason is made one line here.
        outcome=outcome,
        reason=one_line(reason)[:300],
        resolved_at=at,
    )


def _join(*parts: str) -> str:
    return " ".join(part.strip() for part in parts if part and part.strip())
