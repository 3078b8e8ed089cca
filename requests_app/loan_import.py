"""Open loans from the old system (docs/go-live.md, "Open loans"): each CSV row becomes a
request with its timeline, built step by step through the workflow with its clock (``at``),
so the queue, the jobs and the reports treat it like any other request.

A row names the library (ILL code), the patron's card, the item, the lender (OCLC
symbol), the status it has reached and the day of each step so far. The team's steps are
the service's own account's; the library's (a renewal asked for, a return) are its first
staff account's, so staff are imported before loans. The whole file is one transaction:
any refused row refuses it all, each refusal by its line and field.
"""

import csv
import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from core.errors import WorkflowError
from lenders.models import Lender
from members.models import MemberLibrary, User
from members.services import service_account

from . import services, workflow
from .models import BorrowingRequest, ExchangeMessage, Notification, Status

#: The statuses an open loan may have reached, in the order of its steps.
OPEN_STEPS = (
    Status.SUBMITTED,
    Status.SOURCING,
    Status.SENT_TO_LENDER,
    Status.SHIPPED,
    Status.RECEIVED,
    Status.RENEWAL_REQUESTED,
    Status.RETURNED,
)
#: The columns, in the documented order; "title", "library", "patron_card" and "status"
#: are required, the days of each step the status has passed too.
COLUMNS = (
    "old_id", "library", "patron_card", "patron_name", "format", "title", "author",
    "isbn", "oclc_number", "needed_by", "max_cost", "status", "submitted_on", "sourcing_on",
    "lender", "lender_request_number", "sent_on", "shipped_on", "due_date",
    "shipping_method", "tracking_number", "received_on", "renewal_asked_on",
    "renewal_due_date", "returned_on", "return_method", "return_tracking",
)  # fmt: skip
#: The hour of the day each step is put at, in the service's time zone: a timeline reads
#: in order even when several steps fall on one day.
HOURS = {"submit": 9, "sourcing": 10, "sent": 11, "ship": 12, "receive": 13, "renew": 14,
         "return": 15}  # fmt: skip


class RowRefused(Exception):
    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class Outcome:
    refused: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    requests: list[int] = field(default_factory=list)


def import_loans(
    text: str, *, dry_run: bool = False, progress: Callable[[int], Any] = lambda n: None
) -> Outcome:
    """Import the loans in ``text`` (CSV with a header line); with ``dry_run``, or when a
    row is refused, nothing is kept."""
    reader = csv.DictReader(io.StringIO(text))
    missing = {"old_id", "library", "patron_card", "title", "status"} - set(reader.fieldnames or [])
    if missing:
        return Outcome(refused=[f"line 1: the header lacks {', '.join(sorted(missing))}"])
    outcome = Outcome(counts={"added": 0, "unchanged": 0})
    context = _Context()
    with transaction.atomic():
        before = _last_ids()
        for row in reader:
            line = reader.line_num  # the file's line (blank lines are skipped, not counted)
            try:
                with transaction.atomic():
                    req, added = _import_row(
                        {k: (v or "").strip() for k, v in row.items() if k}, context
                    )
                outcome.requests.append(req.pk)
                outcome.counts["added" if added else "unchanged"] += 1
            except RowRefused as refusal:
                outcome.refused += [f"line {line}{problem}" for problem in refusal.problems]
            except ValidationError as error:
                outcome.refused += [f"line {line}{problem}" for problem in _problems(error)]
            except WorkflowError as error:
                outcome.refused.append(f"line {line}, status: {error.message}")
            progress(1)
        if dry_run or outcome.refused:
            transaction.set_rollback(True)
            outcome.requests = []
        else:
            _keep_the_past_quiet(outcome.requests, *before)
    return outcome


def _last_ids() -> tuple[int, int]:
    """The newest e-mail and ISO 18626 message before the import."""
    last = Notification.objects.aggregate(last=Max("pk"))["last"] or 0
    last_message = ExchangeMessage.objects.aggregate(last=Max("pk"))["last"] or 0
    return last, last_message


def _keep_the_past_quiet(requests: list[int], last_notification: int, last_message: int) -> None:
    """The steps of a moved loan happened in the old system: its library and the team
    heard of them then, and its lender has it. The e-mails and the ISO 18626 messages the
    import's steps queued are marked as not sent, in its own transaction, so none goes."""
    Notification.objects.filter(
        pk__gt=last_notification, request_id__in=requests, sent_at__isnull=True
    ).update(sent_at=timezone.now(), last_error="Moved from the old system: not sent.")
    ExchangeMessage.objects.filter(
        pk__gt=last_message, request_id__in=requests, direction=ExchangeMessage.Direction.OUT
    ).update(state=ExchangeMessage.State.NOT_SENT, done_at=timezone.now())


class _Context:
    """What rows share: the libraries, lenders and actors, each read once."""

    def __init__(self) -> None:
        self.team = service_account()
        self.libraries: dict[str, MemberLibrary | None] = {}
        self.lenders: dict[str, Lender | None] = {}
        self.staff: dict[int, User | None] = {}
        #: (library, old id) of the rows read so far: one loan, one row.
        self.seen: set[tuple[str, str]] = set()

    def library(self, code: str) -> MemberLibrary | None:
        if code not in self.libraries:
            self.libraries[code] = MemberLibrary.objects.filter(ill_code__iexact=code).first()
        return self.libraries[code]

    def lender(self, symbol: str) -> Lender | None:
        if symbol not in self.lenders:
            self.lenders[symbol] = Lender.objects.filter(oclc_symbol__iexact=symbol).first()
        return self.lenders[symbol]

    def staff_of(self, library: MemberLibrary) -> User | None:
        if library.pk not in self.staff:
            self.staff[library.pk] = (
                User.objects.filter(library=library, is_active=True).order_by("pk").first()
            )
        return self.staff[library.pk]


def moved_from(old_id: str) -> str:
    """The note a moved loan carries: its number in the old system, by which a second
    import of the same file knows it (and changes nothing)."""
    return f"Moved from the old system, where it was {old_id}."


def _import_row(row: dict[str, str], context: _Context) -> tuple[BorrowingRequest, bool]:
    """The row's request, and whether it is new (False: it was moved already)."""
    problems: list[str] = []
    if not row.get("old_id"):
        problems.append(", old_id: give the loan's number in the old system.")
    status = row.get("status", "").lower().replace(" ", "_")
    if status not in OPEN_STEPS:
        names = ", ".join(OPEN_STEPS)
        problems.append(f", status: “{row.get('status')}” is not an open loan's status ({names}).")
    library = context.library(row.get("library", ""))
    if library is None:
        problems.append(f", library: no member library has the ILL code “{row.get('library')}”.")
    reached = OPEN_STEPS.index(status) if status in OPEN_STEPS else 0
    lender = None
    if reached >= OPEN_STEPS.index(Status.SENT_TO_LENDER):
        lender = context.lender(row.get("lender", ""))
        if lender is None:
            problems.append(f", lender: no lender has the OCLC symbol “{row.get('lender')}”.")
    staff = context.staff_of(library) if library is not None else None
    if (
        library is not None
        and staff is None
        and reached >= OPEN_STEPS.index(Status.RENEWAL_REQUESTED)
    ):
        problems.append(f", library: {library.ill_code} has no staff account: import staff first.")
    days = {name: _day(row, name, problems) for name in (
        "submitted_on", "sourcing_on", "sent_on", "shipped_on", "due_date", "received_on",
        "renewal_asked_on", "renewal_due_date", "returned_on", "needed_by",
    )}  # fmt: skip
    needs = {
        Status.SUBMITTED: "submitted_on", Status.SENT_TO_LENDER: "sent_on",
        Status.SHIPPED: "shipped_on", Status.RECEIVED: "received_on",
        Status.RENEWAL_REQUESTED: "renewal_asked_on", Status.RETURNED: "returned_on",
    }  # fmt: skip
    for step, column in needs.items():
        # A renewal is a step only of a loan waiting on one (a returned loan may have none).
        passed = (
            reached == OPEN_STEPS.index(step)
            if step == Status.RENEWAL_REQUESTED
            else (reached >= OPEN_STEPS.index(step))
        )
        if passed and days[column] is None and f", {column}:" not in "".join(problems):
            problems.append(f", {column}: a {status.replace('_', ' ')} loan needs this day.")
    max_cost = None
    if row.get("max_cost"):
        try:
            max_cost = Decimal(row["max_cost"])
        except InvalidOperation:
            max_cost = Decimal("NaN")
        if not max_cost.is_finite():
            problems.append(f", max_cost: “{row['max_cost']}” is not an amount.")
    key = (row.get("library", "").upper(), row.get("old_id", ""))
    if key[1] and key in context.seen:
        problems.append(f", old_id: {key[1]} is in this file twice.")
    context.seen.add(key)
    if problems:
        raise RowRefused(problems)
    assert library is not None  # noqa: S101 - refused above when missing
    moved = BorrowingRequest.objects.filter(library=library, notes=moved_from(row["old_id"]))
    if (existing := moved.first()) is not None:
        return existing, False
    team = context.team

    clock: list[dt.datetime] = []

    def at(column: str, step: str) -> dt.datetime:
        """When the step is recorded: on its day, never before the step before it (a
        date out of order is then the workflow's to refuse, in its own words)."""
        day = days[column] or days["submitted_on"] or timezone.localdate()
        moment = timezone.make_aware(dt.datetime.combine(day, dt.time(HOURS[step])))
        if clock and moment <= clock[-1]:
            moment = clock[-1] + dt.timedelta(minutes=1)
        clock.append(min(moment, timezone.now()))
        return clock[-1]

    citation = {
        key: row[key]
        for key in ("format", "title", "author", "isbn", "oclc_number")
        if row.get(key)
    }
    req = services.submit_for_card(
        actor=team,
        library=library,
        card_number=row["patron_card"],
        patron_name=row.get("patron_name", ""),
        citation=citation,
        needed_by=days["needed_by"],
        max_cost=max_cost,
        notes=moved_from(row["old_id"]),
        duplicate_reason="Moved from the old system with its own history.",
        at=at("submitted_on", "submit"),
    )
    if reached >= OPEN_STEPS.index(Status.SOURCING):
        sourcing = "sourcing_on" if days["sourcing_on"] else "submitted_on"
        workflow.start_sourcing(req.pk, actor=team, at=at(sourcing, "sourcing"))
    if reached >= OPEN_STEPS.index(Status.SENT_TO_LENDER):
        assert lender is not None  # noqa: S101 - refused above when missing
        workflow.send_to_lender(
            req.pk, actor=team, lender=lender,
            lender_request_number=row.get("lender_request_number", ""),
            at=at("sent_on", "sent"),
        )  # fmt: skip
    if reached >= OPEN_STEPS.index(Status.SHIPPED):
        workflow.ship(
            req.pk, actor=team, shipped_on=days["shipped_on"], due_date=days["due_date"],
            method=(row.get("shipping_method") or "delivery").lower(),
            tracking_number=row.get("tracking_number", ""), at=at("shipped_on", "ship"),
        )  # fmt: skip
    if reached >= OPEN_STEPS.index(Status.RECEIVED):
        workflow.mark_received(
            req.pk, actor=team, received_on=days["received_on"], at=at("received_on", "receive")
        )
    if reached == OPEN_STEPS.index(Status.RENEWAL_REQUESTED):
        assert staff is not None  # noqa: S101 - refused above when missing
        workflow.request_renewal(
            req.pk, actor=staff, due_date=days["renewal_due_date"],
            at=at("renewal_asked_on", "renew"),
        )  # fmt: skip
    if reached >= OPEN_STEPS.index(Status.RETURNED):
        assert staff is not None  # noqa: S101 - refused above when missing
        workflow.mark_returned(
            req.pk, actor=staff, method=(row.get("return_method") or "delivery").lower(),
            tracking_number=row.get("return_tracking", ""), returned_on=days["returned_on"],
            at=at("returned_on", "return"),
        )  # fmt: skip
    return req, True


def _day(row: dict[str, str], column: str, problems: list[str]) -> dt.date | None:
    text = row.get(column, "")
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        problems.append(f", {column}: “{text}” is not a day written YYYY-MM-DD.")
        return None


def _problems(error: ValidationError) -> list[str]:
    if hasattr(error, "error_dict"):
        return [
            f", {field}: {' '.join(messages)}" for field, messages in error.message_dict.items()
        ]
    return [f": {' '.join(error.messages)}"]
