"""Reads on the lender directory: lenders with their newest availability, and what it means.

The newest availability report counts. ``lenders_with_availability`` puts its fields on
each lender in the same query (correlated subqueries served by the ``availability_newest``
index on ``(lender, -reported_at)``), so a list of lenders costs one query at any length.
The directory, the team's "send to a lender" picker and the API start from it.
"""

import datetime as dt
from decimal import Decimal

from django.db.models import OuterRef, Q, QuerySet, Subquery
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


def newest_report(field: str, lender_ref: str = "pk") -> Subquery:
    """One field of the newest availability report of the lender at ``lender_ref``."""
    newest = AvailabilityReport.objects.filter(lender=OuterRef(lender_ref)).order_by(
        "-reported_at", "-id"
    )
    return Subquery(newest.values(field)[:1])


def lenders_with_availability() -> QuerySet[Lender]:
    """Every lender, annotated with its newest report's fields (all None when it has none).

    Each lender gets ``lending``, ``accepting_returns``, ``closed_from``, ``closed_until``,
    ``source``, ``note`` and ``reported_at`` (the newest report's), plus
    ``availability_id`` (its primary key).
    """
    return Lender.objects.annotate(
        availability_id=newest_report("pk"),
        **{field: newest_report(field) for field in AVAILABILITY_FIELDS},
    ).order_by("name", "id")


def search_lenders(
    lenders: QuerySet[Lender],
    *,
    text: str = "",
    kind: str = "",
    charges_fees: bool | None = None,
) -> QuerySet[Lender]:
    """Narrow ``lenders`` by name (contains) or OCLC symbol (exact, any case), kind, fees."""
    text = text.strip()
    if text:
        lenders = lenders.filter(Q(oclc_symbol__iexact=text) | Q(name__icontains=text))
    if kind:
        lenders = lenders.filter(kind=kind)
    if charges_fees is not None:
        lenders = lenders.filter(charges_fees=charges_fees)
    return lenders


def availability_history(lender: Lender) -> QuerySet[AvailabilityReport]:
    """The lender's reports, newest first, with who recorded each."""
    return lender.availability_reports.select_related("recorded_by").order_by("-reported_at", "-id")


class _Availability:
    """The newest report's fields, read from a report or from an annotated lender."""

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
    availability = _Availability(lender_annotated_or_report)
    lender = availability.lender
    warnings = []
    if availability.reported:
        if availability.lending is False:
            warnings.append(f"not lending (reported {availability.reported_on:%Y-%m-%d})")
        if availability.closed_on(on_date):
            warnings.append(availability.closure())
        if availability.accepting_returns is False:
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
    availability = _Availability(lender_annotated_or_report)
    if not availability.reported:
        return []
    phrases = ["Lending" if availability.lending else "Not lending"]
    if availability.accepting_returns is False:
        phrases.append("Not accepting returns")
    if availability.closed_from is not None and (
        availability.closed_until is None or availability.closed_until >= today
    ):
        closure = availability.closure()
        phrases.append(closure[:1].upper() + closure[1:])
    return phrases
