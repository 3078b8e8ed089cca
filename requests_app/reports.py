"""The service's figures: what it did, per library, lender, month and quarter.

Every figure is an aggregate computed in the database (GROUP BY with conditional counts
and sums), over requests scoped exactly as the lists are (``scoped_to_library``), so a
library's staff only ever count their own library. Each function returns plain rows
(dataclasses) that the pages show as tables and the CSV downloads write as they are.

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
"""

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import (
    Aggregate,
    Avg,
    Case,
    CharField,
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

from members.models import User
from members.selectors import scoped_to_library

from .models import (
    CENT,
    ZERO,
    BorrowingRequest,
    Charge,
    ChargeKind,
    LenderAttempt,
    RenewalRequest,
    Status,
)

OUTCOMES = ("filled", "unfilled", "cancelled", "lost", "open")

OUTCOME = Case(
    When(status=Status.LOST, then=Value("lost")),
    When(status=Status.CANCELLED, then=Value("cancelled")),
    When(status=Status.UNFILLED, then=Value("unfilled")),
    When(shipped_on__isnull=False, then=Value("filled")),
    default=Value("open"),
    output_field=CharField(),
)


@dataclass(frozen=True)
class Scope:
    """Whose figures, over which dates: the user's visible requests, optionally one library
    (the team's choice), submitted from ``start`` to ``end`` inclusive."""

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

    def scoped(self, queryset: QuerySet, library_field: str) -> QuerySet:
        queryset = scoped_to_library(queryset, self.user, library_field)
        if self.library_id is not None:
            queryset = queryset.filter(**{library_field: self.library_id})
        return queryset

    def requests(self) -> QuerySet[BorrowingRequest]:
        """Requests submitted in the period (served by ``request_created`` and, for one
        library, ``request_library_status``)."""
        return self.scoped(BorrowingRequest.objects.order_by(), "library_id").filter(
            created_at__gte=self.since, created_at__lt=self.before
        )

    def in_period(self, queryset: QuerySet, library_field: str, at: str) -> QuerySet:
        """Rows of another table dated (by ``at``) in the period, scoped through their
        request's library."""
        return self.scoped(queryset.order_by(), library_field).filter(
            **{f"{at}__gte": self.since, f"{at}__lt": self.before}
        )


def _local_date(value: dt.datetime | dt.date) -> dt.date:
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


# --- Requests per month, by outcome ------------------------------------------------------


@dataclass
class OutcomeRow:
    month: dt.date
    library: str  # an ILL code, or "" for every library together
    filled: int = 0
    unfilled: int = 0
    cancelled: int = 0
    lost: int = 0
    open: int = 0

    @property
    def total(self) -> int:
        return self.filled + self.unfilled + self.cancelled + self.lost + self.open

    @property
    def fill_rate(self) -> float | None:
        supplied = self.filled + self.lost
        decided = supplied + self.unfilled
        return supplied / decided if decided else None


def _outcome_counts() -> dict:
    return {name: Count("id", filter=Q(outcome=name)) for name in OUTCOMES}


def requests_by_month(scope: Scope) -> tuple[list[OutcomeRow], list[OutcomeRow]]:
    """Per month and library, and per month for all of them: how the requests submitted
    that month came out. One grouped query; the overall rows add the library rows up."""
    rows = (
        scope.requests()
        .annotate(outcome=OUTCOME, month=TruncMonth("created_at"))
        .values("month", "library__ill_code")
        .annotate(**_outcome_counts())
        .order_by("month", "library__ill_code")
    )
    per_library = [
        OutcomeRow(
            month=_local_date(row["month"]),
            library=row["library__ill_code"],
            **{name: row[name] for name in OUTCOMES},
        )
        for row in rows
    ]
    overall: dict[dt.date, OutcomeRow] = {}
    for row in per_library:
        total = overall.setdefault(row.month, OutcomeRow(month=row.month, library=""))
        for name in OUTCOMES:
            setattr(total, name, getattr(total, name) + getattr(row, name))
    return per_library, list(overall.values())


def outcomes_by_library(scope: Scope) -> list[OutcomeRow]:
    """The whole period's outcomes per library (for fill rates); ``month`` is the start."""
    rows = (
        scope.requests()
        .annotate(outcome=OUTCOME)
        .values("library__ill_code")
        .annotate(**_outcome_counts())
        .order_by("library__ill_code")
    )
    return [
        OutcomeRow(
            month=scope.start,
            library=row["library__ill_code"],
            **{name: row[name] for name in OUTCOMES},
        )
        for row in rows
    ]


# --- Turnaround ------------------------------------------------------------------------


class DaysBetween(Func):
    """Whole days from one date to a later one, as an integer."""

    output_field = IntegerField()
    arity = 2

    def as_sql(self, compiler, connection, **extra):
        return super().as_sql(
            compiler, connection, template="(%(expressions)s)", arg_joiner=" - ", **extra
        )

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(
            compiler,
            connection,
            template="CAST(julianday(%(expressions)s) AS INTEGER)",
            arg_joiner=") - julianday(",
            **extra,
        )


class PercentileDisc(Aggregate):
    """PostgreSQL's nearest-rank percentile: ``percentile_disc(f) WITHIN GROUP (ORDER BY x)``."""

    function = "percentile_disc"
    output_field = IntegerField()
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


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
    return None  # not reached: the last value holds every count


@dataclass
class TurnaroundRow:
    name: str  # a library's ILL code or a lender's name
    loans: int
    median_days: int | None
    p90_days: int | None


def _turnaround(requests: QuerySet, group: str, until: str) -> list[TurnaroundRow]:
    """Median and 90th percentile of the days from submission to ``until`` per ``group``."""
    requests = requests.filter(**{f"{until}__isnull": False}).annotate(
        days=DaysBetween(F(until), TruncDate("created_at"))
    )
    if connection.vendor == "postgresql":
        rows = (
            requests.values(group)
            .annotate(
                loans=Count("id"),
                median=PercentileDisc("days", 0.5),
                p90=PercentileDisc("days", 0.9),
            )
            .order_by(group)
        )
        return [TurnaroundRow(r[group], r["loans"], r["median"], r["p90"]) for r in rows]
    # Elsewhere (SQLite) the database counts loans per number of days, and the
    # percentiles are read off those counts.
    histograms: dict[str, dict[int, int]] = defaultdict(dict)
    for row in requests.values(group, "days").annotate(n=Count("id")).order_by():
        histograms[row[group]][row["days"]] = row["n"]
    return [
        TurnaroundRow(
            name,
            sum(counts.values()),
            nearest_rank(counts, 0.5),
            nearest_rank(counts, 0.9),
        )
        for name, counts in sorted(histograms.items())
    ]


@dataclass
class Turnaround:
    to_shipped_by_library: list[TurnaroundRow]
    to_received_by_library: list[TurnaroundRow]
    to_shipped_by_lender: list[TurnaroundRow]
    to_received_by_lender: list[TurnaroundRow]
    fill_rates: list[OutcomeRow] = field(default_factory=list)


def turnaround(scope: Scope) -> Turnaround:
    requests = scope.requests()
    lent = requests.filter(lender__isnull=False)
    return Turnaround(
        to_shipped_by_library=_turnaround(requests, "library__ill_code", "shipped_on"),
        to_received_by_library=_turnaround(requests, "library__ill_code", "received_on"),
        to_shipped_by_lender=_turnaround(lent, "lender__name", "shipped_on"),
        to_received_by_lender=_turnaround(lent, "lender__name", "received_on"),
        fill_rates=outcomes_by_library(scope),
    )


def turnaround_distribution(scope: Scope) -> dict[str, dict[int, int]]:
    """How many loans took each number of days to ship and to arrive (for the chart)."""
    requests = scope.requests()
    return {
        until: {
            row["days"]: row["n"]
            for row in requests.filter(**{f"{until}__isnull": False})
            .annotate(days=DaysBetween(F(until), TruncDate("created_at")))
            .values("days")
            .annotate(n=Count("id"))
            .order_by("days")
        }
        for until in ("shipped_on", "received_on")
    }


# --- Flags and renewals over time ------------------------------------------------------


@dataclass
class FlagRow:
    month: dt.date
    not_arrived: int = 0
    overdue: int = 0
    renewals_asked: int = 0
    renewals_approved: int = 0
    renewals_denied: int = 0


def flags_by_month(scope: Scope) -> list[FlagRow]:
    """Per month: loans flagged not arrived and overdue (by when they were flagged),
    renewals asked (by when) and answered (by when, and how). Four grouped queries."""
    months: dict[dt.date, FlagRow] = {}

    def add(queryset: QuerySet, library_field: str, at: str, counts: dict[str, Count]) -> None:
        rows = (
            scope.in_period(queryset, library_field, at)
            .annotate(month=TruncMonth(at))
            .values("month")
            .annotate(**counts)
        )
        for row in rows.order_by("month"):
            month = _local_date(row["month"])
            target = months.setdefault(month, FlagRow(month=month))
            for name in counts:
                setattr(target, name, getattr(target, name) + row[name])

    answer = RenewalRequest.Answer
    requests, renewals = BorrowingRequest.objects.all(), RenewalRequest.objects.all()
    add(requests, "library_id", "not_arrived_flagged_at", {"not_arrived": Count("id")})
    add(requests, "library_id", "overdue_flagged_at", {"overdue": Count("id")})
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
    pending: int
    average_fee: Decimal | None = None

    @property
    def fill_rate(self) -> float | None:
        decided = self.filled + self.unfilled + self.no_answer
        return self.filled / decided if decided else None


@dataclass
class ReasonRow:
    reason: str
    times: int
    lenders: int


def lenders(scope: Scope) -> list[LenderRow]:
    """Each lender sent requests in the period (by when they were sent): how many, what
    came of them, and its average lending fee; the lenders we rely on most first."""
    outcome = LenderAttempt.Outcome
    attempts = (
        scope.in_period(LenderAttempt.objects.all(), "request__library_id", "sent_at")
        .values("lender_id", "lender__name", "lender__oclc_symbol")
        .annotate(
            sent=Count("id"),
            filled=Count("id", filter=Q(outcome=outcome.SHIPPED)),
            unfilled=Count("id", filter=Q(outcome=outcome.UNFILLED)),
            no_answer=Count("id", filter=Q(outcome=outcome.NO_ANSWER)),
            pending=Count("id", filter=Q(outcome=outcome.PENDING)),
        )
        .order_by("-filled", "-sent", "lender__name")
    )
    fees = {
        row["request__lender_id"]: row["average"]
        for row in scope.in_period(Charge.objects.all(), "request__library_id", "created_at")
        .filter(kind=ChargeKind.LENDING_FEE, request__lender__isnull=False)
        .values("request__lender_id")
        .annotate(average=Avg("amount"))
        .order_by()
    }
    return [
        LenderRow(
            lender_id=row["lender_id"],
            name=row["lender__name"],
            oclc_symbol=row["lender__oclc_symbol"],
            sent=row["sent"],
            filled=row["filled"],
            unfilled=row["unfilled"],
            no_answer=row["no_answer"],
            pending=row["pending"],
            average_fee=_cents(fees.get(row["lender_id"])),
        )
        for row in attempts
    ]


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
    def unpaid(self) -> Decimal:
        return self.total - self.paid


def _cents(value) -> Decimal | None:
    # SQLite sums and averages decimals as floats; round back to cents.
    return None if value is None else Decimal(str(value)).quantize(CENT)


def charges_by_quarter(scope: Scope) -> list[ChargeRow]:
    """Per library, quarter (by when the charge was recorded), kind and payer: how many
    charges, their total, and how much of it is invoiced and paid."""
    rows = (
        scope.in_period(Charge.objects.all(), "request__library_id", "created_at")
        .annotate(quarter=TruncQuarter("created_at"))
        .values("request__library__ill_code", "quarter", "kind", "payer")
        .annotate(
            charges=Count("id"),
            total=Sum("amount"),
            invoiced=Sum("amount", filter=Q(invoiced=True)),
            paid=Sum("amount", filter=Q(paid=True)),
        )
        .order_by("request__library__ill_code", "quarter", "kind", "payer")
    )
    result = []
    for row in rows:
        quarter = _local_date(row["quarter"])
        result.append(
            ChargeRow(
                library=row["request__library__ill_code"],
                quarter=f"{quarter.year}-Q{(quarter.month - 1) // 3 + 1}",
                kind=row["kind"],
                payer=row["payer"],
                charges=row["charges"],
                total=_cents(row["total"]) or ZERO,
                invoiced=_cents(row["invoiced"]) or ZERO,
                paid=_cents(row["paid"]) or ZERO,
            )
        )
    return result
