"""Reads on the lender directory: lenders with their newest availability, and what it means.

The newest availability report counts. ``lenders_with_availability`` puts its fields on
each lender in the same query (correlated subqueries served by the ``availability_newest``
index on ``(lender, -reported_at)``), so a list of lenders costs one query at any length.
The directory, the team's "send to a lender" picker and the API start from it.

"Not accepting returns" is one rule, ``not_accepting_returns``: the library's lenders page,
the request page's return, the queue's badge and the workflow's note on a return all ask it.
"""

import datetime as dt
from decimal import Decimal

from django.db.models import OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.db.models.lookups import Exact
from django.utils import timezone

from .models import AvailabilityReport, Lender

#: The newest report's fields, as they are annotated on each lender.
AVAILABILITY_FIELDS = (
    "lending",
    "accepting_returns",
    "closed_from",
    "closed_until",
    "source",
    "note",
    "reported_at",
)


def newest_report(
    field: str, lender_ref: str = "pk", *, as_of: dt.datetime | None = None
) -> Subquery:
    """One field of the newest availability report of the lender at ``lender_ref`` (the
    newest reported by ``as_of``, when given: what counted at that moment)."""
    reports = AvailabilityReport.objects.filter(lender=OuterRef(lender_ref))
    if as_of is not None:
        reports = reports.filter(reported_at__lte=as_of)
    return Subquery(reports.order_by("-reported_at", "-id").values(field)[:1])


def lenders_with_availability(*, as_of: dt.datetime | None = None) -> QuerySet[Lender]:
    """Every lender, annotated with its newest report's fields (all None when it has none).

    Each lender gets ``lending``, ``accepting_returns``, ``closed_from``, ``closed_until``,
    ``source``, ``note`` and ``reported_at`` (the newest report's, or the newest by
    ``as_of``), plus ``availability_id`` (its primary key).
    """
    return Lender.objects.annotate(
        availability_id=newest_report("pk", as_of=as_of),
        **{field: newest_report(field, as_of=as_of) for field in AVAILABILITY_FIELDS},
    ).order_by("name", "id")


def not_accepting_returns(lender_ref: str = "pk", *, as_of: dt.datetime | None = None) -> Q:
    """The rule, as a condition for ``filter``, ``exclude`` or ``When``: the newest report
    of the lender at ``lender_ref`` (by ``as_of``, when given) says it is not accepting
    returns.

    A lender that never reported is taken to accept them (the usual case), so the
    condition is never NULL and its negation holds exactly for the lenders accepting them.
    ``Availability.not_accepting_returns`` says the same of a report already read.
    """
    accepting = newest_report("accepting_returns", lender_ref, as_of=as_of)
    return Q(Exact(Coalesce(accepting, Value(True)), False))


def search_lenders(
    lenders: QuerySet[Lender],
    *,
    text: str = "",
    kind: str = "",
    charges_fees: bool | None = None,
    accepting_returns: bool | None = None,
) -> QuerySet[Lender]:
    """Narrow ``lenders`` by name (contains) or OCLC symbol (exact, any case), kind, fees,
    and whether they are accepting returns now (``not_accepting_returns``)."""
    text = text.strip()
    if text:
        lenders = lenders.filter(Q(oclc_symbol__iexact=text) | Q(name__icontains=text))
    if kind:
        lenders = lenders.filter(kind=kind)
    if charges_fees is not None:
        lenders = lenders.filter(charges_fees=charges_fees)
    if accepting_returns is True:
        lenders = lenders.exclude(not_accepting_returns())
    elif accepting_returns is False:
        lenders = lenders.filter(not_accepting_returns())
    return lenders


def lender_by_code(code: str) -> Lender | None:
    """The lender with this OCLC symbol (any case) or, for digits, this directory number."""
    code = code.strip()
    if code.isdigit():
        return Lender.objects.filter(pk=int(code)).first()
    return Lender.objects.filter(oclc_symbol__iexact=code).first() if code else None


def refusing_returns(
    lender_id: int | None, *, as_of: dt.datetime | None = None
) -> AvailabilityReport | None:
    """The lender's newest report (by ``as_of``, when given), with its lender, when it says
    the lender is not accepting returns (``not_accepting_returns``); None otherwise, or for
    no lender. One query."""
    if lender_id is None:
        return None
    refusing = Lender.objects.filter(not_accepting_returns(as_of=as_of), pk=lender_id)
    newest = refusing.annotate(report_id=newest_report("pk", as_of=as_of)).values("report_id")
    return AvailabilityReport.objects.select_related("lender").filter(pk__in=newest).first()


def availability_history(lender: Lender) -> QuerySet[AvailabilityReport]:
    """The lender's reports, newest first, with who recorded each."""
    return lender.availability_reports.select_related("recorded_by").order_by("-reported_at", "-id")


class Availability:
    """The newest report's fields, read from a report or from an annotated lender (a plain
    lender is asked for its newest report), and what they mean."""

    # AVAILABILITY_FIELDS, all None when the lender never reported.
    lending: bool | None
    accepting_returns: bool | None
    closed_from: dt.date | None
    closed_until: dt.date | None
    source: str | None
    note: str | None
    reported_at: dt.datetime | None

    def __init__(self, origin: Lender | AvailabilityReport) -> None:
        self.origin = origin
        report: Lender | AvailabilityReport | None
        if isinstance(origin, AvailabilityReport):
            report = origin
        else:
            # An annotated lender carries its newest report; a plain one is asked for it.
            report = origin if hasattr(origin, "reported_at") else origin.current_availability()
        for field in AVAILABILITY_FIELDS:
            setattr(self, field, getattr(report, field, None) if report is not None else None)

    @property
    def lender(self) -> Lender:
        if isinstance(self.origin, AvailabilityReport):
            return self.origin.lender
        return self.origin

    @property
    def reported(self) -> bool:
        return self.reported_at is not None

    @property
    def not_accepting_returns(self) -> bool:
        """``not_accepting_returns`` (the rule) of the report read: it says no."""
        return self.accepting_returns is False

    @property
    def reported_on(self) -> dt.date | None:
        return timezone.localtime(self.reported_at).date() if self.reported_at else None

    def closed_on(self, day: dt.date) -> bool:
        if self.closed_from is None:
            return False
        return self.closed_from <= day and (self.closed_until is None or day <= self.closed_until)

    def closure(self) -> str:
        if self.closed_until is None:
            return f"closed from {self.closed_from:%Y-%m-%d}"
        return f"closed {self.closed_from:%Y-%m-%d} to {self.closed_until:%Y-%m-%d}"

    def closure_not_over(self, today: dt.date) -> str:
        """A closure under way or to come ("Closed 2026-12-22 to 2027-01-02"); empty when
        it is over or there is none."""
        if self.closed_from is None or (
            self.closed_until is not None and self.closed_until < today
        ):
            return ""
        closure = self.closure()
        return closure[:1].upper() + closure[1:]


def cannot_take_requests(lender_annotated: Lender, *, on_date: dt.date) -> str:
    """Why a lender cannot take a request on ``on_date``, in words: not active in the
    directory, not lending, or closed that day (its newest report, as
    ``lenders_with_availability`` annotates it). Empty when it can. A lender string skips
    such a lender; the sourcing suggestions rank it last."""
    if not lender_annotated.is_active:
        return "it is not active in the directory"
    availability = Availability(lender_annotated)
    if availability.lending is False:
        return f"not lending (reported {availability.reported_on:%Y-%m-%d})"
    if availability.closed_on(on_date):
        return availability.closure()
    return ""


def availability_warnings(
    lender_annotated_or_report: Lender | AvailabilityReport,
    *,
    on_date: dt.date,
    max_cost: Decimal | None,
) -> list[str]:
    """What the team should know before sending a request to this lender, in plain words.

    Takes a lender from ``lenders_with_availability`` (a plain lender works too, at the
    cost of one query) or an availability report (its lender gives the fee). Warnings:
    "not lending (reported YYYY-MM-DD)", "closed YYYY-MM-DD to YYYY-MM-DD" when
    ``on_date`` falls in the closure, "not accepting returns", and "usual fee X above this
    request's max cost Y" when the lender charges more than ``max_cost``. They warn; they
    do not stop anyone sending.
    """
    availability = Availability(lender_annotated_or_report)
    lender = availability.lender
    warnings = []
    if availability.reported:
        if availability.lending is False:
            warnings.append(f"not lending (reported {availability.reported_on:%Y-%m-%d})")
        if availability.closed_on(on_date):
            warnings.append(availability.closure())
        if availability.not_accepting_returns:
            warnings.append("not accepting returns")
    if lender.charges_fees and max_cost is not None and lender.usual_fee > max_cost:
        currency = f" {lender.fee_currency}" if lender.fee_currency != "USD" else ""
        warnings.append(
            f"usual fee {lender.usual_fee}{currency} above this request's max cost {max_cost}"
        )
    return warnings


def availability_summary(
    lender_annotated_or_report: Lender | AvailabilityReport, *, today: dt.date
) -> list[str]:
    """The newest report in short phrases for a list row: "Lending", "Not accepting
    returns", "Closed 2026-12-22 to 2027-01-02". A closure already over is left out; a
    lender that never reported gets no phrases (the row says so)."""
    availability = Availability(lender_annotated_or_report)
    if not availability.reported:
        return []
    phrases = ["Lending" if availability.lending else "Not lending"]
    if availability.not_accepting_returns:
        phrases.append("Not accepting returns")
    if closure := availability.closure_not_over(today):
        phrases.append(closure)
    return phrases
