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
from collections.abc import Callable, Collection, Iterable, Sequence
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
from lenders.models import AvailabilityReport, Lender
from lenders.selectors import cannot_take_requests, lenders_with_availability, refusing_returns
from members.models import MemberLibrary, Patron, User
from members.services import service_account

from . import duplicates, rules
from .identifiers import item_key, normalize_isbn, normalize_issn, normalize_oclc_number
from .iso18626 import outbox
from .models import (
    FINAL_STATUSES,
    HAS_ARRIVED_STATUSES,
    ON_LOAN_STATUSES,
    OPEN_TRACES,
    BorrowingRequest,
    LenderAttempt,
    LenderStringEntry,
    Notification,
    RenewalRequest,
    ShippingMethod,
    Status,
    StatusEvent,
    Trace,
)
from .notifications import notify

LIBRARY = "library"
TEAM = "team"


#: Why a move the table allows is refused all the same, or None: a rule on the request's
#: data beyond its status, given the side acting and the day. It reads the request's own
#: columns only (no query), so a list of requests can say what each one allows.
Guard = Callable[[BorrowingRequest, str, dt.date], str | None]


@dataclass(frozen=True)
class Move:
    sources: frozenset[str]
    #: The status it moves to; None when the status stays (a correction, a trace step) or
    #: depends on the request (``reopen``).
    target: str | None
    sides: frozenset[str]
    #: What the move is called in a sentence ("Cannot mark received: …").
    label: str
    #: Its public name, in the addresses of the pages and the API (``/receive/``).
    slug: str
    guard: Guard | None = None


def _move(
    sources: Iterable[str],
    target: str | None,
    sides: Iterable[str],
    label: str,
    slug: str,
    guard: Guard | None = None,
) -> Move:
    return Move(frozenset(sources), target, frozenset(sides), label, slug, guard)


_BEFORE_SHIPPING = (Status.SUBMITTED, Status.SOURCING, Status.SENT_TO_LENDER)
_NOT_ENDED = [status for status in Status.values if status not in FINAL_STATUSES]
_SHIPPED_AT_SOME_POINT = (*ON_LOAN_STATUSES, Status.COMPLETED, Status.LOST)


def _library_while_submitted(req: BorrowingRequest, side: str, today: dt.date) -> str | None:
    if side == LIBRARY and req.status != Status.SUBMITTED:
        return "The team has started on this request: ask them in a message to change the item."
    return None


def _has(field: str, what: str) -> Guard:
    def guard(req: BorrowingRequest, side: str, today: dt.date) -> str | None:
        return None if getattr(req, field) is not None else f"There is no {what} to correct."

    return guard


def _reportable_not_arrived(req: BorrowingRequest, side: str, today: dt.date) -> str | None:
    """The library reports a loan once, from the day the rule's days have passed."""
    if req.trace:
        return (
            "This loan has been reported already and the team is on it "
            f"({Trace(req.trace).label.lower()})."
        )
    reportable_from = rules.not_arrived_from(req.shipped_on, req.shipping_method)
    if reportable_from is not None and today < reportable_from:
        return (
            f"You can report it not arrived from {reportable_from:%Y-%m-%d}: "
            f"{rules.not_arrived_days(req.shipping_method)} days after it shipped, "
            "as items can take that long to come."
        )
    return None


def _trace_open(req: BorrowingRequest, side: str, today: dt.date) -> str | None:
    if req.trace in OPEN_TRACES or (req.not_arrived_flagged_at is not None and not req.trace):
        return None
    return "No trace is open: the loan is not flagged as not arrived."


#: The allowed moves: action -> (from statuses, to status, who may act, what it is called,
#: its public name, and any rule beyond the status).
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
    # The lenders to try next, in order (docs/sourcing.md): a request being sourced goes to
    # the first at once; one with a lender keeps it, and the string is who comes next.
    "set_lender_string": _move(
        [Status.SOURCING, Status.SENT_TO_LENDER], None, [TEAM], "set a lender string",
        "lender-string",
    ),
    "ship": _move([Status.SENT_TO_LENDER], Status.SHIPPED, [TEAM], "record the shipment", "ship"),
    "mark_received": _move(
        [Status.SHIPPED], Status.RECEIVED, [LIBRARY, TEAM], "mark received", "receive"
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
    "withdraw_renewal": _move(
        [Status.RENEWAL_REQUESTED],
        Status.RECEIVED,
        [LIBRARY],
        "withdraw the renewal request",
        "withdraw-renewal",
    ),  # fmt: skip
    # A pending renewal does not hold the item: returning it withdraws the renewal.
    "mark_returned": _move(
        [Status.RECEIVED, Status.RENEWAL_REQUESTED], Status.RETURNED, [LIBRARY], "mark returned",
        "return",
    ),
    "complete": _move([Status.RETURNED], Status.COMPLETED, [TEAM], "complete", "complete"),
    "cancel": _move(_BEFORE_SHIPPING, Status.CANCELLED, [LIBRARY, TEAM], "cancel", "cancel"),
    "mark_unfilled": _move(
        _BEFORE_SHIPPING, Status.UNFILLED, [TEAM], "mark unfilled", "mark-unfilled"
    ),
    "mark_lost": _move(ON_LOAN_STATUSES, Status.LOST, [TEAM], "mark lost", "mark-lost"),
    # A loan that has not arrived (``requests_app.traces``): the status stays ``shipped``
    # while the trace goes on; it ends received (``cleared``) or lost.
    "report_not_arrived": _move(
        [Status.SHIPPED], None, [LIBRARY], "report that it has not arrived", "not-arrived",
        _reportable_not_arrived,
    ),
    "trace": _move([Status.SHIPPED], None, [TEAM], "record a trace", "trace"),
    "replacement_shipped": _move(
        [Status.SHIPPED], None, [TEAM], "record a replacement shipment", "replacement-shipped",
        _trace_open,
    ),
    "cleared": _move(
        [Status.SHIPPED], Status.RECEIVED, [TEAM], "record that it turned up", "cleared",
        _trace_open,
    ),
    # Corrections (``requests_app.corrections``): the status stays, but for ``reopen``.
    "edit_item": _move(
        _NOT_ENDED, None, [LIBRARY, TEAM], "edit the item", "edit-item", _library_while_submitted
    ),
    "correct_shipment": _move(
        _SHIPPED_AT_SOME_POINT, None, [TEAM], "correct the shipment", "correct-shipment",
        _has("shipped_on", "shipment"),
    ),
    "correct_receipt": _move(
        [*HAS_ARRIVED_STATUSES, Status.LOST], None, [TEAM], "correct the receipt",
        "correct-receipt", _has("received_on", "receipt"),
    ),
    "correct_return": _move(
        [Status.RETURNED, Status.COMPLETED, Status.LOST], None, [TEAM], "correct the return",
        "correct-return", _has("returned_on", "return"),
    ),
    "reopen": _move(
        [Status.RECEIVED, Status.RETURNED, Status.LOST], None, [TEAM], "reopen the last step",
        "reopen",
    ),
    # A new request for the same item, after no lender could supply it (``request_again``).
    "request_again": _move(
        [Status.UNFILLED], None, [LIBRARY, TEAM], "request it again", "request-again"
    ),
}  # fmt: skip


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


def _refusal(move: Move, req: BorrowingRequest, side: str, today: dt.date) -> str | None:
    """Why ``move`` cannot be taken on ``req`` now by ``side``, or None when it can."""
    if req.status not in move.sources:
        return f"Cannot {move.label}: the request is {status_label(req.status)}."
    if move.guard is not None:
        return move.guard(req, side, today)
    return None


def allowed_actions(
    borrowing_request: BorrowingRequest, actor: User, today: dt.date | None = None
) -> list[str]:
    """The actions ``actor`` may take on the request now, in ``MOVES`` order."""
    side = actor_side(actor, borrowing_request.library_id)
    today = today or _today()
    return [
        action
        for action, move in MOVES.items()
        if side in move.sides and _refusal(move, borrowing_request, side, today) is None
    ]


def check_side(req: BorrowingRequest, action: str, actor: User, sides: Collection[str]) -> None:
    """Refuse an actor whose role or library is not among ``sides`` for this request."""
    if actor_side(actor, req.library_id) not in sides:
        label = MOVES[action].label if action in MOVES else action.replace("_", " ")
        raise NotPermitted(action, req.status, f"You may not {label} on this request.")


def check_move(
    req: BorrowingRequest, action: str, actor: User, today: dt.date | None = None
) -> None:
    """Refuse a move this actor may not make, or that the request's status (or a rule on
    its data beyond the status, ``Move.guard``) does not allow now.

    The moves run it under the row lock; the API runs it first as well, so a move the
    status forbids is refused (409) before its input is read.
    """
    move = MOVES[action]
    check_side(req, action, actor, move.sides)
    side = cast(str, actor_side(actor, req.library_id))
    refusal = _refusal(move, req, side, today or _today())
    if refusal is not None:
        raise NotAllowedNow(action, req.status, refusal)


def lock_request(
    request_id: int, action: str, actor: User, sides: Collection[str]
) -> BorrowingRequest:
    """Lock the request's row (inside the caller's transaction) and check the actor's side.

    Every write on a request starts here, so two people never act on it at once.
    """
    req = BorrowingRequest.objects.select_for_update().get(pk=request_id)
    check_side(req, action, actor, sides)
    return req


def locked_for(
    request_id: int, action: str, actor: User, *, at: dt.datetime | None = None
) -> BorrowingRequest:
    """Lock the request's row and check that ``actor`` may take ``action`` now (on the day
    of ``at``, for a step recorded in the past)."""
    # The lender comes along (whether it exchanges ISO 18626 messages decides what a move
    # tells it); only the request's row is locked.
    req = (
        BorrowingRequest.objects.select_for_update(of=("self",))
        .select_related("lender")
        .get(pk=request_id)
    )
    check_move(req, action, actor, day_of(_aware(at)) if at is not None else None)
    return req


def record_move(
    req: BorrowingRequest,
    action: str,
    *,
    actor: User | None,
    at: dt.datetime,
    note: str = "",
    changes: dict[str, list[str]] | None = None,
    to_status: str | None = None,
) -> StatusEvent:
    """Move ``req`` to the action's target status (``to_status`` where the move's depends
    on the request; the same status for a correction) and write its event, dated ``at``,
    with what changed (``changes``, as ``changed`` lists it). Returns the event."""
    from_status = req.status
    req.status = to_status or MOVES[action].target or req.status
    if req.is_final and req.ended_at is None:
        req.ended_at = at
    elif not req.is_final:
        req.ended_at = None
    req.save()
    return StatusEvent.objects.create(
        request=req,
        action=action,
        from_status=from_status,
        to_status=req.status,
        actor=actor,
        at=at,
        note=note,
        changes=changes or None,
    )


def as_text(value: Any) -> str:
    """A value as a correction's record keeps it: dates as YYYY-MM-DD, nothing as ""."""
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def changed(req: BorrowingRequest, values: dict[str, Any]) -> dict[str, list[str]]:
    """Set ``values`` on ``req`` and return what changed, ``{field: [before, after]}``."""
    changes: dict[str, list[str]] = {}
    for field, value in values.items():
        before = getattr(req, field)
        if before != value:
            changes[field] = [as_text(before), as_text(value)]
            setattr(req, field, value)
    return changes


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
    if _aware(at) > now:
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


def _aware(at: dt.datetime) -> dt.datetime:
    if timezone.is_naive(at):
        raise ValueError("A step's moment needs its time zone.")
    return at


def _today() -> dt.date:
    return timezone.localdate()


def day_of(at: dt.datetime) -> dt.date:
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


def apply_citation(
    req: BorrowingRequest, citation: dict[str, Any], errors: dict[str, list[str]]
) -> None:
    """Set ``citation`` (some or all of ``CITATION_FIELDS``) on ``req`` as a submission and
    an edit of the item both take it: a format the service borrows, the ISBN, ISSN and OCLC
    number checked and normalised, and no DVD region or encoding on what is not a disc.
    Adds the refusals to ``errors``, by field; the model's own checks (lengths, choices,
    a title) are the caller's ``full_clean``."""
    unknown = set(citation) - set(CITATION_FIELDS)
    if unknown:
        raise ValueError(f"Not citation fields: {sorted(unknown)}")
    if "format" in citation:
        try:
            check_format(str(citation["format"]))
        except ValidationError as exc:
            errors["format"] = exc.messages
    for field, value in citation.items():
        setattr(req, field, value)
    if req.format != "video":
        # Region and encoding describe discs only; a stale choice must not reach the lender.
        req.dvd_region = req.video_encoding = ""
    for field, normalize in (
        ("isbn", normalize_isbn),
        ("issn", normalize_issn),
        ("oclc_number", normalize_oclc_number),
    ):
        try:
            setattr(req, field, normalize(getattr(req, field)))
        except ValidationError as exc:
            errors.setdefault(field, []).extend(exc.messages)


def submit_request(
    *,
    actor: User,
    library: MemberLibrary,
    patron: Patron | None,
    citation: dict[str, Any],
    needed_by: dt.date | None = None,
    max_cost: Decimal | None = None,
    notes: str = "",
    duplicate_reason: str = "",
    at: dt.datetime | None = None,
) -> BorrowingRequest:
    """Create a request in ``submitted``, with the event that records the submission.

    ``max_cost`` defaults to the library's; only the team may set it above the library's.
    Raises ``ValidationError`` (by field) for bad input and ``NotPermitted`` for an actor
    who may not submit for ``library``. When the library has an open request for the same
    item (``duplicates``), it is refused on ``duplicate_reason`` with the matches
    (``DuplicateRefusal``) unless a reason is given; the reason goes on the submission's
    event and the request is marked a possible duplicate of the first match.
    """
    if actor_side(actor, library.pk) is None:
        raise NotPermitted("submit", "", "You may not submit requests for this library.")
    created_at = moment(None, at)
    errors: dict[str, list[str]] = {}
    if max_cost is None:
        max_cost = library.max_cost
    field_checks: list[tuple[str, Callable[[], None]]] = [
        ("needed_by", lambda: check_needed_by(needed_by, today=day_of(created_at))),
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
    duplicate_reason = one_line(
        checks.text("duplicate_reason", duplicate_reason, limit=rules.REASON)
    )
    errors.update(checks.errors)
    req = BorrowingRequest(
        library=library,
        patron=patron,
        created_by=actor,
        needed_by=needed_by,
        max_cost=max_cost,
        notes=notes_to_team,
        status=Status.SUBMITTED,
        created_at=created_at,
    )
    apply_citation(req, citation, errors)
    try:
        req.full_clean(
            exclude=["library", "patron", "created_by", *errors], validate_constraints=False
        )
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)

    with transaction.atomic():
        # In the caller's transaction, after the patron's row lock (``services``): two
        # submissions for one patron at once cannot both miss each other.
        matches = duplicates.open_duplicates(
            library_id=library.pk,
            patron_id=patron.pk if patron is not None else None,
            isbn="" if "isbn" in errors else req.isbn,
            oclc_number="" if "oclc_number" in errors else req.oclc_number,
            item_key=item_key(
                format=req.format, title=req.title, author=req.author, volume=req.volume
            ),
            volume=req.volume,
        )
        if matches and not duplicate_reason and "duplicate_reason" not in errors:
            errors["duplicate_reason"] = [duplicates.refusal_words(matches)]
            raise duplicates.DuplicateRefusal(errors, matches)
        if errors:
            raise ValidationError(errors)
        if matches:
            req.possible_duplicate_of_id = matches[0].id
        req.save()
        StatusEvent.objects.create(
            request=req,
            action="submit",
            from_status="",
            to_status=Status.SUBMITTED,
            actor=actor,
            at=req.created_at,
            note=duplicates.submitted_although(matches, duplicate_reason) if matches else "",
        )
        notify(req, "submitted", Notification.Audience.TEAM)
    return req


def request_again(
    request_id: int, *, actor: User, at: dt.datetime | None = None
) -> BorrowingRequest:
    """No lender could supply it: ask again, as a new request for the same item and patron,
    linked to the first (``follows``), which says so on its timeline. Once per request."""
    with transaction.atomic():
        old = locked_for(request_id, "request_again", actor, at=at)
        now = moment(old, at)
        again = old.followed_by.order_by("pk").first()
        if again is not None:
            raise NotAllowedNow(
                "request_again", old.status, f"It was requested again already, as #{again.pk}."
            )
        if old.patron_id is None:
            raise NotAllowedNow(
                "request_again",
                old.status,
                "The patron's details have aged out of this request: submit a new one.",
            )
        library = old.library
        keeps_max_cost = actor.is_team or old.max_cost <= library.max_cost
        new = submit_request(
            actor=actor,
            library=library,
            patron=old.patron,
            citation={field: getattr(old, field) for field in CITATION_FIELDS},
            max_cost=old.max_cost if keeps_max_cost else None,
            notes=joined(f"Asked again after #{old.pk} went unfilled.", old.notes)[
                : rules.NOTES_TO_TEAM
            ],
            at=now,
        )
        new.follows = old
        new.save(update_fields=["follows", "updated_at"])
        record_move(
            old, "request_again", actor=actor, at=now, note=f"Requested again as #{new.pk}."
        )
        return new


# --- The team's moves -------------------------------------------------------------------


def checked_note(note: str) -> str:
    """A note on a move, checked (``rules.NOTE`` characters at most)."""
    checks = Checks()
    note = checks.text("note", note, limit=rules.NOTE)
    checks.done()
    return note


def start_sourcing(
    request_id: int, *, actor: User, note: str = "", at: dt.datetime | None = None
) -> BorrowingRequest:
    with transaction.atomic():
        req = locked_for(request_id, "start_sourcing", actor, at=at)
        now = moment(req, at)
        note = checked_note(note)
        if req.assigned_to_id is None:
            req.assigned_to = actor
        record_move(req, "start_sourcing", actor=actor, at=now, note=note)
        return req


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
        req = locked_for(request_id, "send_to_lender", actor, at=at)
        now = moment(req, at)
        checks = Checks()
        if not lender.is_active:
            checks.refuse("lender", "This lender is not active in the directory.")
        number = checks.text("lender_request_number", lender_request_number, limit=rules.ILL_NUMBER)
        note = checks.text("note", note, limit=rules.NOTE)
        checks.done()
        # Sent by hand to a lender of its string: the string will not try it again.
        req.string_entries.filter(state=LenderStringEntry.State.WAITING, lender=lender).update(
            state=LenderStringEntry.State.SENT
        )
        _send(req, lender, actor=actor, at=now, number=number, note=note)
        return req


def _send(
    req: BorrowingRequest,
    lender: Lender,
    *,
    actor: User,
    at: dt.datetime,
    number: str = "",
    note: str = "",
) -> None:
    """Send the locked request to ``lender``: a new attempt, the move, and the ``request``
    message to a lender that exchanges ISO 18626 messages."""
    sequence = (req.attempts.aggregate(last=Max("sequence"))["last"] or 0) + 1
    LenderAttempt.objects.create(
        request=req,
        sequence=sequence,
        lender=lender,
        sent_by=actor,
        sent_at=at,
        lender_request_number=number,
    )
    req.lender = lender
    req.lender_request_number = number
    req.string_exhausted_at = None
    record_move(
        req,
        "send_to_lender",
        actor=actor,
        at=at,
        note=joined(f"Sent to {lender} (attempt {sequence}).", note),
    )
    outbox.send_request(req, lender)


# --- Lender strings (docs/sourcing.md) --------------------------------------------------


def check_lender_string(
    checks: Checks, lenders: Sequence[Lender], *, current: Lender | None
) -> None:
    """A lender string: five lenders at most, each once, each active in the directory, and
    not the lender that has the request now."""
    if len(lenders) > rules.LENDER_STRING:
        checks.refuse("lenders", rules.LENDER_STRING_TOO_LONG)
    seen: set[int] = set()
    for lender in lenders:
        if lender.pk in seen:
            checks.refuse("lenders", f"{lender} is in the string twice.")
        elif not lender.is_active:
            checks.refuse("lenders", f"{lender} is not active in the directory.")
        elif current is not None and lender.pk == current.pk:
            checks.refuse("lenders", f"{lender} has the request now.")
        seen.add(lender.pk)


def set_lender_string(
    request_id: int,
    *,
    actor: User,
    lenders: Sequence[Lender],
    note: str = "",
    at: dt.datetime | None = None,
) -> BorrowingRequest:
    """Give the request a lender string: up to five lenders, tried in order. A request
    being sourced goes to the first that can take it at once; one with a lender keeps it,
    and the string is who comes next. A new string replaces the old one's waiting lenders
    (kept, as dropped); an empty one just drops them."""
    with transaction.atomic():
        req = locked_for(request_id, "set_lender_string", actor, at=at)
        now = moment(req, at)
        checks = Checks()
        with_lender = req.lender if req.status == Status.SENT_TO_LENDER else None
        check_lender_string(checks, lenders, current=with_lender)
        note = checks.text("note", note, limit=rules.NOTE)
        checks.done()
        entries = req.string_entries
        entries.filter(state=LenderStringEntry.State.WAITING).update(
            state=LenderStringEntry.State.DROPPED
        )
        last = entries.aggregate(last=Max("position"))["last"] or 0
        LenderStringEntry.objects.bulk_create(
            LenderStringEntry(
                request=req, position=last + n, lender=lender, set_by=actor, set_at=now
            )
            for n, lender in enumerate(lenders, start=1)
        )
        req.string_exhausted_at = None
        names = "; ".join(f"{n}. {lender}" for n, lender in enumerate(lenders, start=1))
        said = f"Lender string: {names}." if lenders else "Lender string cleared."
        record_move(req, "set_lender_string", actor=actor, at=now, note=joined(said, note))
        if lenders and req.status == Status.SOURCING:
            _next_in_string(req, at=now, why="First in the lender string.")
        return req


def _next_in_string(
    req: BorrowingRequest, *, at: dt.datetime, why: str, after: Lender | None = None
) -> None:
    """Send the locked request, being sourced, to the next lender of its string that can
    take it, as the service, saying ``why``; skip those that cannot (closed, not lending,
    no longer active, nowhere to send it), each with a note. With none left, flag it
    "string exhausted" for the team. A request whose string has nobody waiting, nor sent
    the lender it comes back from (``after``), had no string in play: it stays as it is."""
    entries = req.string_entries
    waiting = list(entries.filter(state=LenderStringEntry.State.WAITING).order_by("position"))
    if not waiting and not (
        after is not None
        and entries.filter(state=LenderStringEntry.State.SENT, lender=after).exists()
    ):
        return
    service = service_account()
    lenders = lenders_with_availability().in_bulk([entry.lender_id for entry in waiting])
    today = day_of(at)
    for entry in waiting:
        lender = lenders[entry.lender_id]
        cannot = cannot_take_requests(lender, on_date=today) or _unreachable(lender)
        if cannot:
            entry.state, entry.note = LenderStringEntry.State.SKIPPED, cannot[:300]
            entry.save(update_fields=["state", "note"])
            record_move(
                req,
                "string_skipped",
                actor=service,
                at=at,
                note=f"Skipped {lender} in the lender string: {cannot}.",
                to_status=req.status,
            )
            continue
        entry.state = LenderStringEntry.State.SENT
        entry.save(update_fields=["state"])
        _send(req, lender, actor=service, at=at, note=why)
        if not lender.exchanges_iso18626:
            notify(req, "lender_request", Notification.Audience.LENDER, lender=lender)
        return
    req.string_exhausted_at = at
    record_move(
        req,
        "string_exhausted",
        actor=service,
        at=at,
        note="The lender string ran out: choose the next lender.",
        to_status=req.status,
    )


def _unreachable(lender: Lender) -> str:
    """Why illdesk cannot send a lender the request itself: no ISO 18626 exchange and no
    e-mail address. Empty when it can."""
    if lender.exchanges_iso18626 or lender.email:
        return ""
    return "it has no ISO 18626 address or e-mail to send the request to"


def checked_reason(reason: str, *, required: str) -> str:
    checks = Checks()
    reason = checks.text("reason", reason, limit=rules.REASON, required=required)
    checks.done()
    return reason


def lender_unfilled(
    request_id: int, *, actor: User, reason: str, at: dt.datetime | None = None
) -> BorrowingRequest:
    """The current lender cannot supply: close its attempt and go back to sourcing, or on
    to the next lender of the request's string (``_next_in_string``)."""
    with transaction.atomic():
        req = locked_for(request_id, "lender_unfilled", actor, at=at)
        now = moment(req, at)
        reason = checked_reason(reason, required="Say why the lender cannot supply.")
        close_pending_attempt(req, LenderAttempt.Outcome.UNFILLED, reason, at=now)
        lender = req.lender
        req.lender = None
        req.lender_request_number = ""
        record_move(
            req, "lender_unfilled", actor=actor, at=now, note=f"{lender} cannot supply: {reason}"
        )
        _next_in_string(req, at=now, why=f"Next in the lender string after {lender}.", after=lender)
        return req


def sent_on(
    req: BorrowingRequest, *, outcome: str = LenderAttempt.Outcome.PENDING
) -> dt.date | None:
    """The day the request went to its current lender: its newest attempt with ``outcome``
    (the pending one; the shipped one, once it shipped)."""
    attempt = req.attempts.filter(outcome=outcome).order_by("-sequence")
    sent_at = attempt.values_list("sent_at", flat=True).first()
    return timezone.localtime(sent_at).date() if sent_at else None


def check_shipment(
    checks: Checks,
    *,
    shipped_on: dt.date | None,
    due_date: dt.date | None,
    method: str,
    tracking_number: str,
    today: dt.date,
    sent_on: dt.date | None,
    received_on: dt.date | None = None,
) -> str:
    """A shipment's dates, method and tracking, for ``ship``, a replacement and a
    correction alike: shipped in the past, not before the request went to the lender (nor
    after the library received it), due after it shipped. Returns the tracking, tidied."""
    checks.date(
        "shipped_on",
        shipped_on,
        required="Enter the date the lender shipped the item.",
        past="The shipped-on date cannot be in the future.",
        today=today,
        not_before=(
            sent_on,
            f"It cannot have shipped before it was sent to the lender ({sent_on}).",
        ),
    )
    if (
        received_on is not None
        and shipped_on is not None
        and not checks.refused("shipped_on")
        and shipped_on > received_on
    ):
        checks.refuse(
            "shipped_on", f"It cannot have shipped after it was received ({received_on:%Y-%m-%d})."
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
    return checks.text("tracking_number", tracking_number, limit=rules.TRACKING_NUMBER)


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
        req = locked_for(request_id, "ship", actor, at=at)
        now = moment(req, at)
        checks = Checks()
        tracking_number = check_shipment(
            checks,
            shipped_on=shipped_on,
            due_date=due_date,
            method=method,
            tracking_number=tracking_number,
            today=day_of(now),
            sent_on=sent_on(req),
        )
        checks.done()
        shipped_on, due_date = cast(dt.date, shipped_on), cast(dt.date, due_date)
        close_pending_attempt(req, LenderAttempt.Outcome.SHIPPED, "", at=now)
        req.shipped_on = shipped_on
        req.due_date = due_date
        req.shipping_method = method
        req.shipping_tracking = tracking_number
        record_move(
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
        req = locked_for(request_id, "answer_renewal", actor, at=at)
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
            lift_overdue_flag(req)
        summary = f"Renewal approved, due {due_date:%Y-%m-%d}." if approved else "Renewal denied."
        event = record_move(req, "answer_renewal", actor=actor, at=now, note=joined(summary, note))
        notify(req, "renewal_answered", Notification.Audience.LIBRARY, event=event)
        return req


def lift_overdue_flag(req: BorrowingRequest) -> None:
    """A due date moved to today or later lifts the overdue flag (the flag tells of now;
    its event stays in the timeline)."""
    if req.due_date is not None and req.due_date >= _today():
        req.overdue_flagged_at = None


def complete(
    request_id: int, *, actor: User, note: str = "", at: dt.datetime | None = None
) -> BorrowingRequest:
    """The lender confirmed it checked the item back in."""
    with transaction.atomic():
        req = locked_for(request_id, "complete", actor, at=at)
        now = moment(req, at)
        record_move(req, "complete", actor=actor, at=now, note=checked_note(note))
        return req


def mark_unfilled(
    request_id: int, *, actor: User, reason: str, at: dt.datetime | None = None
) -> BorrowingRequest:
    """No lender can be found: the request ends unfilled."""
    with transaction.atomic():
        req = locked_for(request_id, "mark_unfilled", actor, at=at)
        now = moment(req, at)
        reason = checked_reason(reason, required="Say why no lender could be found.")
        close_pending_attempt(req, LenderAttempt.Outcome.UNFILLED, reason, at=now)
        event = record_move(req, "mark_unfilled", actor=actor, at=now, note=reason)
        notify(req, "unfilled", Notification.Audience.LIBRARY, event=event)
        return req


def mark_lost(
    request_id: int, *, actor: User, note: str = "", at: dt.datetime | None = None
) -> BorrowingRequest:
    """The loan ends lost; a trace under way ends with it."""
    with transaction.atomic():
        req = locked_for(request_id, "mark_lost", actor, at=at)
        now = moment(req, at)
        note = checked_note(note)
        changes = changed(req, {"trace": Trace.LOST}) if req.trace in OPEN_TRACES else {}
        withdraw_pending_renewal(req, actor, now, "The loan was lost before the lender answered.")
        record_move(req, "mark_lost", actor=actor, at=now, note=note, changes=changes)
        return req


#: What a lender may say of a loan it has out, beyond the moves: it is recalled (due back
#: sooner) or overdue by its count. Each moves the due date when the lender gives one.
LENDER_WORDS = {"recalled": "recalled the loan", "lender_overdue": "says the loan is overdue"}


def lender_says(
    request_id: int,
    *,
    actor: User,
    word: str,
    due_date: dt.date | None = None,
    note: str = "",
    at: dt.datetime | None = None,
) -> BorrowingRequest:
    """The lender ``word`` (``LENDER_WORDS``) of a loan it has out, with its due date: a
    recall flags the loan and tells the library; an overdue notice flags it overdue. The
    status stays; the due date, if given, may be earlier but not before it shipped."""
    label = LENDER_WORDS[word]
    with transaction.atomic():
        req = lock_request(request_id, word, actor, {TEAM})
        now = moment(req, at)
        if req.status not in ON_LOAN_STATUSES:
            raise NotAllowedNow(
                word,
                req.status,
                f"The lender {label}, but the request is {status_label(req.status)}.",
            )
        checks = Checks()
        if due_date is not None:
            checks.date(
                "due_date",
                due_date,
                after=(req.shipped_on, "The new due date must be after the shipped-on date."),
            )
        note = checks.text("note", note, limit=rules.NOTE)
        checks.done()
        values: dict[str, Any] = {"due_date": due_date} if due_date is not None else {}
        changes = changed(req, values)
        if due_date is not None:
            req.due_date = due_date
        if word == "recalled":
            req.recalled_at = now
        else:
            req.overdue_flagged_at = now
        summary = f"The lender {label}" + (f", due {due_date:%Y-%m-%d}." if due_date else ".")
        event = record_move(
            req,
            word,
            actor=actor,
            at=now,
            note=joined(summary, note),
            changes=changes,
            to_status=req.status,
        )
        if word == "recalled":
            notify(req, "recalled", Notification.Audience.LIBRARY, event=event)
        return req


# --- The library's moves ----------------------------------------------------------------


def check_receipt(
    checks: Checks, received_on: dt.date | None, *, shipped_on: dt.date | None, today: dt.date
) -> None:
    """A receipt: in the past, and not before it shipped."""
    checks.date(
        "received_on",
        received_on,
        required="Enter the date it arrived.",
        past="The received-on date cannot be in the future.",
        today=today,
        not_before=(
            shipped_on,
            f"It cannot arrive before it shipped ({shipped_on:%Y-%m-%d})." if shipped_on else "",
        ),
    )


def mark_received(
    request_id: int,
    *,
    actor: User,
    received_on: dt.date | None = None,
    at: dt.datetime | None = None,
) -> BorrowingRequest:
    """The library has the item (the team may record it on the library's behalf): not in
    the future, and not before it shipped. A loan being traced is cleared."""
    with transaction.atomic():
        req = locked_for(request_id, "mark_received", actor, at=at)
        now = moment(req, at)
        return record_arrival(req, "mark_received", actor, received_on or day_of(now), now, note="")


def record_arrival(
    req: BorrowingRequest,
    action: str,
    actor: User,
    received_on: dt.date | None,
    now: dt.datetime,
    *,
    note: str,
) -> BorrowingRequest:
    """Record the receipt (``mark_received``, or the team's ``cleared``), ending a trace."""
    checks = Checks()
    check_receipt(checks, received_on, shipped_on=req.shipped_on, today=day_of(now))
    checks.done()
    values: dict[str, Any] = {"received_on": received_on}
    if req.trace in OPEN_TRACES or (req.not_arrived_flagged_at and not req.trace):
        values["trace"] = Trace.CLEARED
    changes = changed(req, values)
    record_move(req, action, actor=actor, at=now, note=note, changes=changes)
    outbox.tell_lender(req, "Received", note=f"Received on {received_on:%Y-%m-%d}.")
    return req


def withdraw_pending_renewal(
    req: BorrowingRequest, actor: User, now: dt.datetime, why: str
) -> RenewalRequest | None:
    """Close the request's pending renewal, if any, as withdrawn: the library changed its
    mind, or the item went back or was lost before the lender answered."""
    renewal = req.renewals.filter(answer=RenewalRequest.Answer.PENDING).first()
    if renewal is None:
        return None
    renewal.answer = RenewalRequest.Answer.WITHDRAWN
    renewal.answered_by = actor
    renewal.answered_at = now
    renewal.note = why
    renewal.save()
    return renewal


def withdraw_renewal(
    request_id: int, *, actor: User, note: str = "", at: dt.datetime | None = None
) -> BorrowingRequest:
    """The library no longer needs the later date: the renewal is withdrawn, the loan
    keeps its due date, and the team is told (it may have asked the lender already)."""
    with transaction.atomic():
        req = locked_for(request_id, "withdraw_renewal", actor, at=at)
        now = moment(req, at)
        note = checked_note(note)
        renewal = withdraw_pending_renewal(req, actor, now, note or "Withdrawn by the library.")
        asked = f" to {renewal.requested_due_date:%Y-%m-%d}" if renewal else ""
        event = record_move(
            req,
            "withdraw_renewal",
            actor=actor,
            at=now,
            note=joined(f"Renewal{asked} withdrawn.", note),
        )
        notify(req, "renewal_withdrawn", Notification.Audience.TEAM, event=event)
        return req


def request_renewal(
    request_id: int, *, actor: User, due_date: dt.date | None, at: dt.datetime | None = None
) -> BorrowingRequest:
    """Ask the lender for a later due date."""
    with transaction.atomic():
        req = locked_for(request_id, "request_renewal", actor, at=at)
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
        record_move(
            req, "request_renewal", actor=actor, at=now, note=f"Asked for {due_date:%Y-%m-%d}."
        )
        outbox.tell_lender(req, "Renew", note=f"Asked for a due date of {due_date:%Y-%m-%d}.")
        notify(req, "renewal_requested", Notification.Audience.TEAM)
        return req


def check_return(
    checks: Checks,
    *,
    method: str,
    tracking_number: str,
    returned_on: dt.date | None,
    received_on: dt.date | None,
    today: dt.date,
) -> str:
    """A return: by Delivery or mail (mail needs tracking), in the past, and not before it
    was received. Returns the tracking, tidied."""
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
        required="Enter the date it went back.",
        past="The returned-on date cannot be in the future.",
        today=today,
        not_before=(
            received_on,
            f"It cannot go back before it was received ({received_on:%Y-%m-%d})."
            if received_on
            else "",
        ),
    )
    return tracking_number


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
    in the future, and not before it was received.

    Sent to a lender that was not accepting returns then, its event says so: the page asks
    the library first, a script means what it sends (docs/decisions.md)."""
    with transaction.atomic():
        req = locked_for(request_id, "mark_returned", actor, at=at)
        now = moment(req, at)
        returned_on = returned_on or day_of(now)
        checks = Checks()
        tracking_number = check_return(
            checks,
            method=method,
            tracking_number=tracking_number,
            returned_on=returned_on,
            received_on=req.received_on,
            today=day_of(now),
        )
        checks.done()
        changes = changed(
            req,
            {
                "returned_on": returned_on,
                "return_method": method,
                "return_tracking": tracking_number,
            },
        )
        renewal = withdraw_pending_renewal(req, actor, now, "Returned before the lender answered.")
        note = f"Returned by {ShippingMethod(method).label}" + (
            f", tracking {tracking_number}." if tracking_number else "."
        )
        if refusing := refusing_returns(req.lender_id, as_of=now):
            note += f" {returns_refused_words(refusing)}"
        if renewal is not None:
            note += f" The renewal to {renewal.requested_due_date:%Y-%m-%d} is withdrawn."
        event = record_move(req, "mark_returned", actor=actor, at=now, note=note, changes=changes)
        outbox.tell_lender(
            req,
            "ShippedReturn",
            note=f"Returned {returned_on:%Y-%m-%d} by {ShippingMethod(method).label}"
            + (f", tracking {tracking_number}." if tracking_number else "."),
        )
        if renewal is not None:
            notify(req, "renewal_withdrawn", Notification.Audience.TEAM, event=event)
        return req


def returns_refused_words(report: AvailabilityReport) -> str:
    """A return's note when its lender was not accepting returns (``refusing_returns``)."""
    reported = timezone.localtime(report.reported_at)
    return (
        f"Sent although {report.lender.name} was not accepting returns "
        f"(its report of {reported:%Y-%m-%d})."
    )


def cancel(
    request_id: int, *, actor: User, reason: str = "", at: dt.datetime | None = None
) -> BorrowingRequest:
    """Withdraw a request before it ships."""
    with transaction.atomic():
        req = locked_for(request_id, "cancel", actor, at=at)
        now = moment(req, at)
        checks = Checks()
        reason = checks.text("reason", reason, limit=rules.CANCEL_REASON)
        checks.done()
        close_pending_attempt(req, LenderAttempt.Outcome.WITHDRAWN, reason, at=now)
        was_with_lender = req.status == Status.SENT_TO_LENDER
        event = record_move(req, "cancel", actor=actor, at=now, note=reason)
        if was_with_lender:
            # Not the reason: free text the library typed may name the patron.
            outbox.tell_lender(req, "Cancel")
        if actor.is_team:
            notify(req, "cancelled", Notification.Audience.LIBRARY, event=event)
        else:
            notify(req, "cancelled_by_library", Notification.Audience.TEAM, event=event)
        return req


# --- Helpers ----------------------------------------------------------------------------


def close_pending_attempt(
    req: BorrowingRequest, outcome: str, reason: str, *, at: dt.datetime
) -> None:
    req.attempts.filter(outcome=LenderAttempt.Outcome.PENDING).update(
        # An UPDATE skips the field's own tidying: the reason is made one line here.
        outcome=outcome,
        reason=one_line(reason)[:300],
        resolved_at=at,
    )


def joined(*parts: str) -> str:
    return " ".join(part.strip() for part in parts if part and part.strip())
