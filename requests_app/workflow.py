"""The request workflow: every status change of a borrowing request happens here.

Each action is one function, ``action(request_id, *, actor, ...)``. It runs in one
transaction: it locks the request's row, checks the actor's role and library, checks the
current status against ``MOVES``, checks the action's own rules, writes the change and its
``StatusEvent``, and queues its notifications to go out after commit. A refused move raises
a ``WorkflowError`` naming the action and the current status, and changes nothing.

HTML views, API views and jobs all call these functions; nothing else sets ``status``.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from core.errors import NotAllowedNow, NotPermitted
from core.text import one_line
from lenders.models import Lender
from members.models import MemberLibrary, Patron, User

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
    label: str


def _move(sources, target, sides, label) -> Move:
    return Move(frozenset(sources), target, frozenset(sides), label)


_BEFORE_SHIPPING = (Status.SUBMITTED, Status.SOURCING, Status.SENT_TO_LENDER)

#: The allowed moves: action -> (from statuses, to status, who may act, what it is called).
MOVES: dict[str, Move] = {
    "start_sourcing": _move([Status.SUBMITTED], Status.SOURCING, [TEAM], "start sourcing"),
    "send_to_lender": _move([Status.SOURCING], Status.SENT_TO_LENDER, [TEAM], "send to a lender"),
    "lender_unfilled": _move(
        [Status.SENT_TO_LENDER], Status.SOURCING, [TEAM], "record that the lender cannot supply"
    ),
    "ship": _move([Status.SENT_TO_LENDER], Status.SHIPPED, [TEAM], "record the shipment"),
    "mark_received": _move([Status.SHIPPED], Status.RECEIVED, [LIBRARY, TEAM], "mark received"),
    # Not a change of status: the library tells the team a shipped item has not come.
    "report_not_arrived": _move(
        [Status.SHIPPED], Status.SHIPPED, [LIBRARY], "report that it has not arrived"
    ),
    "request_renewal": _move(
        [Status.RECEIVED], Status.RENEWAL_REQUESTED, [LIBRARY], "request a renewal"
    ),
    "answer_renewal": _move(
        [Status.RENEWAL_REQUESTED], Status.RECEIVED, [TEAM], "record the renewal answer"
    ),
    "mark_returned": _move([Status.RECEIVED], Status.RETURNED, [LIBRARY], "mark returned"),
    "complete": _move([Status.RETURNED], Status.COMPLETED, [TEAM], "complete"),
    "cancel": _move(_BEFORE_SHIPPING, Status.CANCELLED, [LIBRARY, TEAM], "cancel"),
    "mark_unfilled": _move(_BEFORE_SHIPPING, Status.UNFILLED, [TEAM], "mark unfilled"),
    "mark_lost": _move(ON_LOAN_STATUSES, Status.LOST, [TEAM], "mark lost"),
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


def check_side(req: BorrowingRequest, action: str, actor: User, sides) -> None:
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


def lock_request(request_id: int, action: str, actor: User, sides) -> BorrowingRequest:
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
    req: BorrowingRequest, action: str, *, actor: User | None, note: str = ""
) -> BorrowingRequest:
    """Move ``req`` to the action's target status and write its event."""
    from_status = req.status
    req.status = MOVES[action].target
    if req.is_final and req.ended_at is None:
        req.ended_at = timezone.now()
    req.save()
    StatusEvent.objects.create(
        request=req,
        action=action,
        from_status=from_status,
        to_status=req.status,
        actor=actor,
        note=note,
    )
    return req


def _today() -> dt.date:
    return timezone.localdate()


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


def check_needed_by(needed_by: dt.date | None) -> None:
    if needed_by is not None and needed_by < _today():
        raise ValidationError("The needed-by date cannot be in the past.", code="past")


def check_max_cost(max_cost: Decimal, *, library: MemberLibrary, actor: User) -> None:
    """Library staff may ask up to their profile's max cost; the team may go above it."""
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
    citation: dict,
    needed_by: dt.date | None = None,
    max_cost: Decimal | None = None,
    notes: str = "",
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

    errors: dict[str, list[str]] = {}
    if max_cost is None:
        max_cost = library.max_cost
    for field, check in (
        ("format", lambda: check_format(str(citation.get("format", "")))),
        ("needed_by", lambda: check_needed_by(needed_by)),
        ("max_cost", lambda: check_max_cost(max_cost, library=library, actor=actor)),
    ):
        try:
            check()
        except ValidationError as exc:
            errors[field] = exc.messages
    if not library.is_active:
        errors.setdefault("library", []).append("This library is not active.")
    if patron is not None and patron.library_id != library.pk:
        errors.setdefault("patron", []).append("This patron belongs to another library.")
    if citation.get("format") != "video":
        # Region and encoding describe discs only; a stale choice must not reach the lender.
        citation = citation | {"dvd_region": "", "video_encoding": ""}
    req = BorrowingRequest(
        library=library,
        patron=patron,
        created_by=actor,
        needed_by=needed_by,
        max_cost=max_cost,
        notes=notes,
        status=Status.SUBMITTED,
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


def start_sourcing(request_id: int, *, actor: User, note: str = "") -> BorrowingRequest:
    with transaction.atomic():
        req = _locked(request_id, "start_sourcing", actor)
        if req.assigned_to_id is None:
            req.assigned_to = actor
        return _record(req, "start_sourcing", actor=actor, note=note)


def send_to_lender(
    request_id: int,
    *,
    actor: User,
    lender: Lender,
    lender_request_number: str = "",
    note: str = "",
) -> BorrowingRequest:
    """Send the request to ``lender``, recording the attempt in order."""
    with transaction.atomic():
        req = _locked(request_id, "send_to_lender", actor)
        if not lender.is_active:
            raise ValidationError({"lender": ["This lender is not active in the directory."]})
        sequence = (req.attempts.aggregate(last=Max("sequence"))["last"] or 0) + 1
        LenderAttempt.objects.create(
            request=req,
            sequence=sequence,
            lender=lender,
            sent_by=actor,
            lender_request_number=lender_request_number,
        )
        req.lender = lender
        req.lender_request_number = lender_request_number
        return _record(
            req,
            "send_to_lender",
            actor=actor,
            note=_join(f"Sent to {lender} (attempt {sequence}).", note),
        )


def lender_unfilled(request_id: int, *, actor: User, reason: str) -> BorrowingRequest:
    """The current lender cannot supply: close its attempt and go back to sourcing."""
    if not reason.strip():
        raise ValidationError({"reason": ["Say why the lender cannot supply."]})
    with transaction.atomic():
        req = _locked(request_id, "lender_unfilled", actor)
        _close_pending_attempt(req, LenderAttempt.Outcome.UNFILLED, reason)
        lender = req.lender
        req.lender = None
        req.lender_request_number = ""
        return _record(
            req, "lender_unfilled", actor=actor, note=f"{lender} cannot supply: {reason}"
        )


def ship(
    request_id: int,
    *,
    actor: User,
    shipped_on: dt.date | None,
    due_date: dt.date | None,
    method: str,
    tracking_number: str = "",
) -> BorrowingRequest:
    """Record that the lender shipped the item, with its due date."""
    errors: dict[str, list[str]] = {}
    if shipped_on is None:
        errors["shipped_on"] = ["Enter the date the lender shipped the item."]
    elif shipped_on > _today():
        errors["shipped_on"] = ["The shipped-on date cannot be in the future."]
    if due_date is None:
        errors["due_date"] = ["A shipment needs the lender's due date."]
    elif shipped_on is not None and due_date <= shipped_on:
        errors["due_date"] = ["The due date must be after the shipped-on date."]
    if method not in ShippingMethod.values:
        errors["method"] = ["Choose Delivery or mail."]
    with transaction.atomic():
        req = _locked(request_id, "ship", actor)
        if errors:
            raise ValidationError(errors)
        _close_pending_attempt(req, LenderAttempt.Outcome.SHIPPED, "")
        req.shipped_on = shipped_on
        req.due_date = due_date
        req.shipping_method = method
        req.shipping_tracking = tracking_number.strip()
        _record(
            req,
            "ship",
            actor=actor,
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
) -> BorrowingRequest:
    """Record the lender's answer to the pending renewal; approved moves the due date."""
    with transaction.atomic():
        req = _locked(request_id, "answer_renewal", actor)
        if approved:
            if due_date is None:
                raise ValidationError({"due_date": ["An approved renewal needs the new due date."]})
            if due_date <= req.due_date:
                raise ValidationError(
                    {"due_date": [f"The new due date must be after {req.due_date:%Y-%m-%d}."]}
                )
        renewal = req.renewals.get(answer=RenewalRequest.Answer.PENDING)
        renewal.answer = (
            RenewalRequest.Answer.APPROVED if approved else RenewalRequest.Answer.DENIED
        )
        renewal.new_due_date = due_date if approved else None
        renewal.answered_by = actor
        renewal.answered_at = timezone.now()
        renewal.note = note
        renewal.save()
        if approved:
            req.due_date = due_date
            if due_date >= _today():
                req.overdue_flagged_at = None
        summary = f"Renewal approved, due {due_date:%Y-%m-%d}." if approved else "Renewal denied."
        _record(req, "answer_renewal", actor=actor, note=_join(summary, note))
        notify(req, "renewal_answered", Notification.Audience.LIBRARY)
        return req


def complete(request_id: int, *, actor: User, note: str = "") -> BorrowingRequest:
    """The lender confirmed it checked the item back in."""
    with transaction.atomic():
        return _record(_locked(request_id, "complete", actor), "complete", actor=actor, note=note)


def mark_unfilled(request_id: int, *, actor: User, reason: str) -> BorrowingRequest:
    """No lender can be found: the request ends unfilled."""
    if not reason.strip():
        raise ValidationError({"reason": ["Say why no lender could be found."]})
    with transaction.atomic():
        req = _locked(request_id, "mark_unfilled", actor)
        _close_pending_attempt(req, LenderAttempt.Outcome.UNFILLED, reason)
        _record(req, "mark_unfilled", actor=actor, note=reason)
        notify(req, "unfilled", Notification.Audience.LIBRARY)
        return req


def mark_lost(request_id: int, *, actor: User, note: str = "") -> BorrowingRequest:
    with transaction.atomic():
        return _record(_locked(request_id, "mark_lost", actor), "mark_lost", actor=actor, note=note)


# --- The library's moves ----------------------------------------------------------------


def mark_received(
    request_id: int, *, actor: User, received_on: dt.date | None = None
) -> BorrowingRequest:
    """The library has the item (the team may record it on the library's behalf)."""
    received_on = received_on or _today()
    with transaction.atomic():
        req = _locked(request_id, "mark_received", actor)
        if received_on < req.shipped_on:
            raise ValidationError(
                {
                    "received_on": [
                        f"It cannot arrive before it shipped ({req.shipped_on:%Y-%m-%d})."
                    ]
                }
            )
        if received_on > _today():
            raise ValidationError(
                {"received_on": ["The received-on date cannot be in the future."]}
            )
        req.received_on = received_on
        return _record(req, "mark_received", actor=actor)


def report_not_arrived(request_id: int, *, actor: User, note: str = "") -> BorrowingRequest:
    """The library says a shipped item has not come: flag it and tell the team once."""
    with transaction.atomic():
        req = _locked(request_id, "report_not_arrived", actor)
        if req.not_arrived_flagged_at is not None:
            raise NotAllowedNow(
                "report_not_arrived",
                req.status,
                "This loan is already flagged as not arrived "
                f"(since {timezone.localtime(req.not_arrived_flagged_at):%Y-%m-%d}); "
                "the team is looking into it.",
            )
        req.not_arrived_flagged_at = timezone.now()
        _record(req, "report_not_arrived", actor=actor, note=_join("Reported not arrived.", note))
        notify(req, "not_arrived_reported", Notification.Audience.TEAM)
        return req


def request_renewal(request_id: int, *, actor: User, due_date: dt.date | None) -> BorrowingRequest:
    """Ask the lender for a later due date."""
    with transaction.atomic():
        req = _locked(request_id, "request_renewal", actor)
        if due_date is None:
            raise ValidationError({"due_date": ["Enter the due date you would like."]})
        if due_date <= req.due_date:
            raise ValidationError(
                {
                    "due_date": [
                        f"Ask for a date after the current due date, {req.due_date:%Y-%m-%d}."
                    ]
                }
            )
        RenewalRequest.objects.create(request=req, requested_due_date=due_date, requested_by=actor)
        _record(req, "request_renewal", actor=actor, note=f"Asked for {due_date:%Y-%m-%d}.")
        notify(req, "renewal_requested", Notification.Audience.TEAM)
        return req


def mark_returned(
    request_id: int,
    *,
    actor: User,
    method: str,
    tracking_number: str = "",
    returned_on: dt.date | None = None,
) -> BorrowingRequest:
    """The library sent the item back, by Delivery or by mail (mail needs tracking)."""
    tracking_number = tracking_number.strip()
    errors: dict[str, list[str]] = {}
    if method not in ShippingMethod.values:
        errors["method"] = ["Choose Delivery or mail."]
    elif method == ShippingMethod.MAIL and not tracking_number:
        errors["tracking_number"] = ["Items returned by mail need a tracking number."]
    returned_on = returned_on or _today()
    if returned_on > _today():
        errors["returned_on"] = ["The returned-on date cannot be in the future."]
    with transaction.atomic():
        req = _locked(request_id, "mark_returned", actor)
        if returned_on < req.received_on:
            errors["returned_on"] = [
                f"It cannot go back before it was received ({req.received_on:%Y-%m-%d})."
            ]
        if errors:
            raise ValidationError(errors)
        req.returned_on = returned_on
        req.return_method = method
        req.return_tracking = tracking_number
        return _record(
            req,
            "mark_returned",
            actor=actor,
            note=f"Returned by {ShippingMethod(method).label}"
            + (f", tracking {tracking_number}." if tracking_number else "."),
        )


def cancel(request_id: int, *, actor: User, reason: str = "") -> BorrowingRequest:
    """Withdraw a request before it ships."""
    with transaction.atomic():
        req = _locked(request_id, "cancel", actor)
        _close_pending_attempt(req, LenderAttempt.Outcome.WITHDRAWN, reason)
        _record(req, "cancel", actor=actor, note=reason)
        if actor.is_team:
            notify(req, "cancelled", Notification.Audience.LIBRARY)
        else:
            notify(req, "cancelled_by_library", Notification.Audience.TEAM)
        return req


# --- Helpers ----------------------------------------------------------------------------


def _close_pending_attempt(req: BorrowingRequest, outcome: str, reason: str) -> None:
    req.attempts.filter(outcome=LenderAttempt.Outcome.PENDING).update(
        # An UPDATE skips the field's own tidying: the reason is made one line here.
        outcome=outcome,
        reason=one_line(reason)[:300],
        resolved_at=timezone.now(),
    )


def _join(*parts: str) -> str:
    return " ".join(part.strip() for part in parts if part and part.strip())
