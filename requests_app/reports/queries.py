"""The service's figures: what it did, per library, lender, month and quarter.

Every figure is an aggregate computed in the database (GROUP BY with conditional counts
and sums), over rows scoped exactly as the lists are (``scoped_to_library``), so a
library's staff only ever count their own library. Each function returns plain rows
(dataclasses) that the pages show as tables and the CSV downloads write as they are.
Rows are grouped by id; names and codes come from one small query afterwards, so two
lenders of the same name stay two rows.

Definitions (docs/reports.md says them in words):

- A request's **outcome**: ``lost``, ``cancelled`` or ``unfilled`` by its status; else
  ``filled`` once a lender shipped it; else ``open``. Requests count in the month they
  were submitted.
- **Fill rate**: (filled + lost) / (filled + lost + unfilled): a lost loan was supplied
  by its lender. Cancelled and open requests are left out.
- **Turnaround**: whole days from the submission's date to the shipped-on date, and to
  the received-on date. Median and 90th percentile are nearest-rank (the smallest value
  with at least that share of the loans at or below it), as PostgreSQL's
  ``percentile_disc`` computes them.
- **Flags** count from the timeline (the job's flag, the library's report, the team's
  trace), so a flag a renewal later cleared still counts in the month it was set; a loan
  counts once a month however many of them it had. Replacements count as the lenders
  shipped them.
"""

import calendar
import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypedDict, cast

from django.db import connection
from django.db.models import (
    Aggregate,
    Case,
    Count,
    F,
    Func,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncDate, TruncMonth, TruncQuarter
from django.utils import timezone

from lenders.models import Lender
from members.models import MemberLibrary, User
from members.selectors import scoped_to_library

from ..models import (
    BorrowingRequest,
    Charge,
    ChargeKind,
    ChargePayer,
    LenderAttempt,
    RenewalRequest,
    Status,
    StatusEvent,
    to_cents,
)

if TYPE_CHECKING:
    # django-stubs' type of an annotated model (a dev dependency: for mypy only).
    from django_stubs_ext import WithAnnotations


@dataclass(frozen=True)
class Scope:
    """Whose figures, over which dates: the user's visible requests, optionally one library
    (the team's choice), from ``start`` to ``end`` inclusive, in the service's time zone."""

    user: User
    start: dt.date
    end: dt.date
    library_id: int | None = None

    @property
    def since(self) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(self.start, dt.time.min))

    @property
    def before(self) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(self.end + dt.timedelta(1), dt.time.min))

    def whole_months(self) -> "Scope":
        """The same scope from the first of its first month to the last of its last."""
        last = calendar.monthrange(self.end.year, self.end.month)[1]
        return replace(self, start=self.start.replace(day=1), end=self.end.replace(day=last))

    def whole_quarters(self) -> "Scope":
        """The same scope over whole quarters, as invoices and reimbursements go."""
        first = self.start.replace(month=(self.start.month - 1) // 3 * 3 + 1, day=1)
        last_month = (self.end.month - 1) // 3 * 3 + 3
        last = self.end.replace(
            month=last_month, day=calendar.monthrange(self.end.year, last_month)[1]
        )
        return replace(self, start=first, end=last)

    def scoped(self, queryset: QuerySet, library_field: str) -> QuerySet:
        queryset = scoped_to_library(queryset.order_by(), self.user, library_field)
        if self.library_id is not None:
            queryset = queryset.filter(**{library_field: self.library_id})
        return queryset

    def requests(self) -> QuerySet[BorrowingRequest]:
        """Requests submitted in the period (served by ``request_created`` and, for one
        library, ``request_library_status``)."""
        return self.in_period(BorrowingRequest.objects.all(), "library_id", "created_at")

    def in_period(self, queryset: QuerySet, library_field: str, at: str) -> QuerySet:
        """Rows dated (by ``at``) in the period, scoped through their library."""
        return self.scoped(queryset, library_field).filter(
            **{f"{at}__gte": self.since, f"{at}__lt": self.before}
        )


def _local_date(value: dt.datetime) -> dt.date:
    return timezone.localtime(value).date()


def _names(model, ids, field: str) -> dict[int, str]:
    """``field`` of each row of ``model`` by id: one query, for the rows a report grouped."""
    return dict(model.objects.filter(pk__in=set(ids)).values_list("pk", field))


def _lenders(ids) -> dict[int, tuple[str, str]]:
    """Each lender's name and OCLC symbol by id, in one query."""
    rows = Lender.objects.filter(pk__in=set(ids)).values_list("pk", "name", "oclc_symbol")
    return {pk: (name, symbol) for pk, name, symbol in rows}


def _quarter(value: dt.datetime) -> str:
    day = _local_date(value)
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


# --- Requests by outcome ----------------------------------------------------------------

#: One pass over the requests counts every outcome; "open" is what is left.
OUTCOME_COUNTS = {
    "requests": Count("id"),
    "lost": Count("id", filter=Q(status=Status.LOST)),
    "cancelled": Count("id", filter=Q(status=Status.CANCELLED)),
    "unfilled": Count("id", filter=Q(status=Status.UNFILLED)),
    "filled": Count("id", filter=Q(shipped_on__isnull=False) & ~Q(status=Status.LOST)),
}


@dataclass
class OutcomeRow:
    library: str  # an ILL code, or "" for every library together
    month: dt.date | None = None
    filled: int = 0
    unfilled: int = 0
    cancelled: int = 0
    lost: int = 0
    open: int = 0

    @classmethod
    def counted(cls, row: dict, **fields) -> "OutcomeRow":
        counts = {name: row[name] for name in ("filled", "unfilled", "cancelled", "lost")}
        return cls(**fields, **counts, open=row["requests"] - sum(counts.values()))

    @property
    def total(self) -> int:
        return self.filled + self.unfilled + self.cancelled + self.lost + self.open

    @property
    def fill_rate(self) -> float | None:
        supplied = self.filled + self.lost
        decided = supplied + self.unfilled
        return supplied / decided if decided else None

    def add(self, other: "OutcomeRow") -> None:
        for name in ("filled", "unfilled", "cancelled", "lost", "open"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def requests_by_month(scope: Scope) -> tuple[list[OutcomeRow], list[OutcomeRow]]:
    """Per library and month, and per month for all of them together: how the requests
    submitted that month came out. One grouped query; the overall rows add them up."""
    rows = list(
        scope.requests()
        .annotate(month=TruncMonth("created_at"))
        .values("month", "library_id")
        .annotate(**OUTCOME_COUNTS)
    )
    codes = _names(MemberLibrary, (row["library_id"] for row in rows), "ill_code")
    per_library = sorted(
        (
            OutcomeRow.counted(
                row, library=codes[row["library_id"]], month=_local_date(row["month"])
            )
            for row in rows
        ),
        key=lambda row: (row.library, row.month),
    )
    overall: dict[dt.date, OutcomeRow] = {}
    for row in per_library:
        month = cast(dt.date, row.month)  # each row is a month's (``month=`` above)
        overall.setdefault(month, OutcomeRow(library="", month=month)).add(row)
    return per_library, [overall[month] for month in sorted(overall)]


# --- Turnaround ------------------------------------------------------------------------


class DaysBetween(Func):
    """Whole days from one date to a later one, as an integer (NULL when either is)."""

    output_field = IntegerField()
    arity = 2
    template = "(%(expressions)s)"
    arg_joiner = " - "

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(
            compiler,
            connection,
            template="CAST(julianday(%(expressions)s) AS INTEGER)",
            arg_joiner=") - julianday(",
            **extra,
        )


class MedianAndP90(Aggregate):
    """PostgreSQL's nearest-rank median and 90th percentile of an expression, in one sort:
    ``percentile_disc(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY x)``. NULLs are left out."""

    function = "percentile_disc"
    template = "%(function)s(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, **extra):
        from django.contrib.postgres.fields import ArrayField

        super().__init__(expression, output_field=ArrayField(IntegerField()), **extra)


def nearest_rank(histogram: dict[int, int], fraction: float) -> int | None:
    """The smallest value with at least ``fraction`` of the counts at or below it."""
    total = sum(histogram.values())
    if not total:
        return None
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    raise AssertionError("unreachable: the last value holds every count")


def _days_after_submission(field: str) -> Case:
    """Whole days from the request's submission to ``field`` (NULL while it has none).

    The workflow refuses a date before the step before it, so no new loan has fewer than
    0; a row recorded before that rule with an earlier date counts as 0 (the same day), as
    the distribution does, so no figure of the reports is ever negative.
    """
    submitted = TruncDate("created_at")
    return Case(
        When(**{f"{field}__lt": submitted}, then=Value(0)),
        default=DaysBetween(F(field), submitted),
        output_field=IntegerField(),
    )


SHIP_DAYS = _days_after_submission("shipped_on")
ARRIVE_DAYS = _days_after_submission("received_on")


@dataclass
class TurnaroundRow:
    key: int  # the library's or lender's id
    name: str
    code: str  # the library's ILL code or the lender's OCLC symbol
    shipped: int
    ship_median: int | None
    ship_p90: int | None
    received: int
    arrive_median: int | None
    arrive_p90: int | None
    outcomes: OutcomeRow | None = None


def _percentiles(requests: QuerySet, group: str) -> dict[int, dict]:
    """Per ``group`` id: loans shipped and received, and the median and 90th percentile of
    the days each took. PostgreSQL sorts once per figure; elsewhere (SQLite) the database
    counts loans per number of days and the percentiles are read off those counts."""
    if connection.vendor == "postgresql":
        rows = requests.values(group).annotate(
            shipped=Count("shipped_on"),
            received=Count("received_on"),
            ship=MedianAndP90(SHIP_DAYS),
            arrive=MedianAndP90(ARRIVE_DAYS),
        )
        return {
            row[group]: {
                "shipped": row["shipped"],
                "received": row["received"],
                "ship": row["ship"] or [None, None],
                "arrive": row["arrive"] or [None, None],
            }
            for row in rows
        }
    figures: dict[int, dict] = defaultdict(
        lambda: {"shipped": 0, "received": 0, "ship": [None, None], "arrive": [None, None]}
    )
    for name, days, count in (("ship", SHIP_DAYS, "shipped"), ("arrive", ARRIVE_DAYS, "received")):
        histograms: dict[int, dict[int, int]] = defaultdict(dict)
        for row in (
            requests.annotate(days=days)
            .filter(days__isnull=False)
            .values(group, "days")
            .annotate(n=Count("id"))
        ):
            histograms[row[group]][row["days"]] = row["n"]
        for key, histogram in histograms.items():
            figures[key][count] = sum(histogram.values())
            figures[key][name] = [nearest_rank(histogram, 0.5), nearest_rank(histogram, 0.9)]
    return figures


def _turnaround_rows(figures: dict[int, dict], names: dict, codes: dict, outcomes=None):
    rows = [
        TurnaroundRow(
            key=key,
            name=names.get(key, ""),
            code=codes.get(key, ""),
            shipped=figure["shipped"],
            ship_median=figure["ship"][0],
            ship_p90=figure["ship"][1],
            received=figure["received"],
            arrive_median=figure["arrive"][0],
            arrive_p90=figure["arrive"][1],
            outcomes=(outcomes or {}).get(key),
        )
        for key, figure in figures.items()
    ]
    return sorted(rows, key=lambda row: (row.name.lower(), row.code, row.key))


def turnaround_by_library(scope: Scope) -> list[TurnaroundRow]:
    """Per library: how its requests came out (fill rate) and how long its loans took."""
    requests = scope.requests()
    outcomes = {
        row["library_id"]: row for row in requests.values("library_id").annotate(**OUTCOME_COUNTS)
    }
    figures = _percentiles(requests, "library_id")
    for key in outcomes:
        figures.setdefault(
            key, {"shipped": 0, "received": 0, "ship": [None, None], "arrive": [None, None]}
        )
    codes = _names(MemberLibrary, figures, "ill_code")
    return _turnaround_rows(
        figures,
        codes,
        codes,
        {key: OutcomeRow.counted(row, library=codes[key]) for key, row in outcomes.items()},
    )


def turnaround_by_lender(scope: Scope) -> list[TurnaroundRow]:
    """Per lender that shipped loans requested in the period: how long they took."""
    figures = _percentiles(scope.requests().filter(shipped_on__isnull=False), "lender_id")
    lenders = _lenders(figures)
    return _turnaround_rows(
        figures,
        {pk: name for pk, (name, _) in lenders.items()},
        {pk: symbol for pk, (_, symbol) in lenders.items()},
    )


#: The turnaround chart's last bar: this many days or more.
MAX_DAYS_SHOWN = 60


@dataclass
class DaysRow:
    days: int  # 0 (the same day, or recorded as earlier) to MAX_DAYS_SHOWN (or more)
    to_ship: int
    to_arrive: int


def turnaround_distribution(scope: Scope) -> list[DaysRow]:
    """How many loans took each number of days to ship and to arrive (the chart and its
    table): one grouped query over the period's loans, by (days to ship, days to arrive)."""
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    pairs = (
        scope.requests()
        .filter(shipped_on__isnull=False)
        .annotate(ship=SHIP_DAYS, arrive=ARRIVE_DAYS)
        .values("ship", "arrive")
        .annotate(n=Count("id"))
    )
    for row in pairs:
        for column, days in enumerate((row["ship"], row["arrive"])):
            if days is not None:
                counts[min(max(days, 0), MAX_DAYS_SHOWN)][column] += row["n"]
    return [DaysRow(days, *counts[days]) for days in sorted(counts)]


# --- Flags and renewals over time ------------------------------------------------------


@dataclass
class FlagRow:
    month: dt.date
    not_arrived: int = 0
    replaced: int = 0
    overdue: int = 0
    renewals_asked: int = 0
    renewals_approved: int = 0
    renewals_denied: int = 0


NOT_ARRIVED_EVENTS = ("flag_not_arrived", "report_not_arrived", "trace")
OVERDUE_EVENTS = ("flag_overdue",)


def flags_by_month(scope: Scope) -> list[FlagRow]:
    """Per month: loans flagged not arrived (by the job or the library) and overdue, from
    the timeline, and renewals asked (by when) and answered (by when, and how)."""
    months: dict[dt.date, FlagRow] = {}

    def add(queryset: QuerySet, library_field: str, at: str, counts: dict[str, Count]) -> None:
        rows = (
            scope.in_period(queryset, library_field, at)
            .annotate(month=TruncMonth(at))
            .values("month")
            .annotate(**counts)
        )
        for row in rows:
            month = _local_date(row["month"])
            target = months.setdefault(month, FlagRow(month=month))
            for name in counts:
                setattr(target, name, getattr(target, name) + row[name])

    answer = RenewalRequest.Answer
    renewals = RenewalRequest.objects.all()
    add(
        StatusEvent.objects.filter(
            action__in=(*NOT_ARRIVED_EVENTS, *OVERDUE_EVENTS, "replacement_shipped")
        ),
        "request__library_id",
        "at",
        {
            # A loan the job flagged, its library reported and the team traced in one
            # month is one loan not arrived that month.
            "not_arrived": Count(
                "request_id", distinct=True, filter=Q(action__in=NOT_ARRIVED_EVENTS)
            ),
            "replaced": Count("id", filter=Q(action="replacement_shipped")),
            "overdue": Count("id", filter=Q(action__in=OVERDUE_EVENTS)),
        },
    )
    add(renewals, "request__library_id", "requested_at", {"renewals_asked": Count("id")})
    add(
        renewals,
        "request__library_id",
        "answered_at",
        {
            "renewals_approved": Count("id", filter=Q(answer=answer.APPROVED)),
            "renewals_denied": Count("id", filter=Q(answer=answer.DENIED)),
        },
    )
    return [months[month] for month in sorted(months)]


# --- Lenders ----------------------------------------------------------------------------


@dataclass
class LenderRow:
    lender_id: int
    name: str
    oclc_symbol: str
    sent: int
    filled: int
    unfilled: int
    no_answer: int
    withdrawn: int
    pending: int
    fees: Decimal

    @property
    def fill_rate(self) -> float | None:
        decided = self.filled + self.unfilled + self.no_answer
        return self.filled / decided if decided else None

    @property
    def fee_per_loan(self) -> Decimal | None:
        return to_cents(self.fees / self.filled) if self.filled else None


@dataclass
class ReasonRow:
    reason: str
    times: int
    lenders: int


def lenders(scope: Scope) -> list[LenderRow]:
    """Each lender sent requests in the period (by when they were sent): how many, what
    came of each, and the lending fees recorded on its loans in the period; the lenders we
    rely on most first."""
    outcome = LenderAttempt.Outcome
    attempts = list(
        scope.in_period(LenderAttempt.objects.all(), "request__library_id", "sent_at")
        .values("lender_id")
        .annotate(
            sent=Count("id"),
            filled=Count("id", filter=Q(outcome=outcome.SHIPPED)),
            unfilled=Count("id", filter=Q(outcome=outcome.UNFILLED)),
            no_answer=Count("id", filter=Q(outcome=outcome.NO_ANSWER)),
            withdrawn=Count("id", filter=Q(outcome=outcome.WITHDRAWN)),
            pending=Count("id", filter=Q(outcome=outcome.PENDING)),
        )
    )
    fees = dict(
        scope.in_period(Charge.objects.all(), "request__library_id", "created_at")
        .filter(kind=ChargeKind.LENDING_FEE, request__lender__isnull=False)
        .values("request__lender_id")
        .annotate(total=Sum("amount"))
        .values_list("request__lender_id", "total")
    )
    named = _lenders(row["lender_id"] for row in attempts)
    rows = [
        LenderRow(
            name=named[row["lender_id"]][0],
            oclc_symbol=named[row["lender_id"]][1],
            fees=to_cents(fees.get(row["lender_id"])),
            **row,
        )
        for row in attempts
    ]
    return sorted(rows, key=lambda row: (-row.filled, -row.sent, row.name.lower(), row.lender_id))


def unfilled_reasons(scope: Scope) -> list[ReasonRow]:
    """Why lenders could not supply, most common first (reasons as the team wrote them)."""
    rows = (
        scope.in_period(LenderAttempt.objects.all(), "request__library_id", "sent_at")
        .filter(outcome=LenderAttempt.Outcome.UNFILLED)
        .values("reason")
        .annotate(times=Count("id"), lenders=Count("lender_id", distinct=True))
        .order_by("-times", "reason")
    )
    return [
        ReasonRow(row["reason"] or "(no reason given)", row["times"], row["lenders"])
        for row in rows
    ]


# --- Charges ----------------------------------------------------------------------------


@dataclass
class ChargeRow:
    library: str
    quarter: str  # "2026-Q3"
    kind: str
    payer: str
    charges: int
    total: Decimal
    invoiced: Decimal
    paid: Decimal

    @property
    def unpaid(self) -> Decimal | None:
        """What is still to be paid of a cost (a reimbursement is itself a payment)."""
        return None if self.kind == ChargeKind.REIMBURSEMENT else self.total - self.paid


@dataclass
class ReimbursementRow:
    library: str
    quarter: str
    paid_by_service: Decimal  # costs the service bears
    to_reimburse: Decimal  # costs the library (or its patron) pays back
    reimbursed: Decimal

    @property
    def balance(self) -> Decimal:
        return self.to_reimburse - self.reimbursed


class _Quarter(TypedDict):
    """What ``_charges`` annotates a charge with."""

    quarter: dt.datetime


def _charges(scope: Scope) -> "QuerySet[WithAnnotations[Charge, _Quarter], dict[str, Any]]":
    """Charges recorded in the period's whole quarters, by library and quarter. A voided
    charge and its void are left out: a mistake voided counts for nothing, in the quarter
    it was recorded as in any other (the request's ledger keeps both)."""
    standing = Charge.objects.filter(voids__isnull=True, voided_by__isnull=True)
    return (
        scope.in_period(standing, "request__library_id", "created_at")
        .annotate(quarter=TruncQuarter("created_at"))
        .values("request__library_id", "quarter")
    )


def charges_by_quarter(scope: Scope) -> list[ChargeRow]:
    """Per library, quarter (by when the charge was recorded), kind and payer: how many
    charges, their total, and how much of it is invoiced and paid."""
    rows = list(
        _charges(scope)
        .values("request__library_id", "quarter", "kind", "payer")
        .annotate(
            charges=Count("id"),
            total=Sum("amount"),
            invoiced_amount=Sum("amount", filter=Q(invoiced_on__isnull=False)),
            paid_amount=Sum("amount", filter=Q(paid_on__isnull=False)),
        )
    )
    codes = _names(MemberLibrary, (row["request__library_id"] for row in rows), "ill_code")
    result = [
        ChargeRow(
            library=codes[row["request__library_id"]],
            quarter=_quarter(row["quarter"]),
            kind=row["kind"],
            payer=row["payer"],
            charges=row["charges"],
            total=to_cents(row["total"]),
            invoiced=to_cents(row["invoiced_amount"]),
            paid=to_cents(row["paid_amount"]),
        )
        for row in rows
    ]
    return sorted(result, key=lambda r: (r.library, r.quarter, r.kind, r.payer))


def reimbursements_by_quarter(scope: Scope) -> list[ReimbursementRow]:
    """Per library and quarter: the costs the service bore, the costs the library (or its
    patron) pays back, what it has reimbursed, and the balance: the reimbursement sheet."""
    costs = Q(kind__in=Charge.COST_KINDS)
    rows = list(
        _charges(scope).annotate(
            paid_by_service=Sum("amount", filter=costs & Q(payer=ChargePayer.SERVICE)),
            to_reimburse=Sum("amount", filter=costs & ~Q(payer=ChargePayer.SERVICE)),
            reimbursed=Sum("amount", filter=Q(kind=ChargeKind.REIMBURSEMENT)),
        )
    )
    codes = _names(MemberLibrary, (row["request__library_id"] for row in rows), "ill_code")
    result = [
        ReimbursementRow(
            library=codes[row["request__library_id"]],
            quarter=_quarter(row["quarter"]),
            paid_by_service=to_cents(row["paid_by_service"]),
            to_reimburse=to_cents(row["to_reimburse"]),
            reimbursed=to_cents(row["reimbursed"]),
        )
        for row in rows
    ]
    return sorted(result, key=lambda r: (r.library, r.quarter))
