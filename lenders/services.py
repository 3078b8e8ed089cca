"""Writes on the lender directory. A new availability report supersedes the older ones,
which stay as history: reports are added, never edited here."""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from core.checks import Checks
from members.models import User

from .models import AvailabilityReport, Lender

CLOSED_RANGE_CONSTRAINT = "availability_closed_range_ordered"


def _closed_range_message() -> str:
    """The message of the model's constraint, so the page and the database say the same."""
    for constraint in AvailabilityReport._meta.constraints:
        if constraint.name == CLOSED_RANGE_CONSTRAINT:
            return str(constraint.violation_error_message)
    raise LookupError(CLOSED_RANGE_CONSTRAINT)  # pragma: no cover - the model defines it


def check_report(
    closed_from: dt.date | None,
    closed_until: dt.date | None,
    reported_at: dt.datetime | None = None,
) -> None:
    """A report is not dated in the future; a closure's dates are near today, and a
    closed-until date needs a closed-from date on or before it; refused by field."""
    checks = Checks()
    if reported_at is not None and reported_at > timezone.now():
        checks.refuse("reported_at", "A report cannot be dated in the future.")
    checks.date("closed_from", closed_from)
    checks.date("closed_until", closed_until)
    if not checks.refused("closed_until") and closed_until is not None:
        if closed_from is None or closed_until < closed_from:
            checks.refuse("closed_until", _closed_range_message())
    checks.done()


def record_availability(
    lender: Lender,
    *,
    actor: User,
    lending: bool,
    accepting_returns: bool,
    closed_from: dt.date | None,
    closed_until: dt.date | None,
    source: str,
    note: str,
    reported_at: dt.datetime | None = None,
) -> AvailabilityReport:
    """Record what ``lender`` says (dated ``reported_at``, now by default; recorded by
    ``actor``) and return it.

    Raises ``ValidationError`` by field, saving nothing, when the input breaks a rule
    (``check_report``).
    """
    check_report(closed_from, closed_until, reported_at)
    report = AvailabilityReport(
        reported_at=reported_at or timezone.now(),
        lender=lender,
        lending=lending,
        accepting_returns=accepting_returns,
        closed_from=closed_from,
        closed_until=closed_until,
        source=source.strip(),
        note=note.strip(),
        recorded_by=actor,
    )
    report.full_clean()
    with transaction.atomic():
        report.save()
    return report


#: A lender's fields the admin writes (the API and the admin site): its profile and its
#: ISO 18626 partnership. The password is apart: it is sealed, never read back.
LENDER_FIELDS = (
    "name", "oclc_symbol", "kind", "country", "address", "email", "charges_fees",
    "usual_fee", "fee_currency", "accepts_ifm", "accepts_ifla_vouchers", "on_delivery",
    "interstate_delivery_code", "is_active", "notes", "iso18626_address", "agency_id_type",
    "agency_id_value",
)  # fmt: skip


def save_lender(
    lender: Lender | None, values: dict[str, object], *, iso18626_password: str | None = None
) -> Lender:
    """Write a lender (a new one when ``lender`` is None) with ``values`` (any of
    ``LENDER_FIELDS``), checked as the model checks it; ``iso18626_password`` None keeps
    the one it has, "" removes it. Raises ``ValidationError`` by field; saves nothing then."""
    lender = lender or Lender()
    for field, value in values.items():
        if field not in LENDER_FIELDS:
            raise ValueError(f"{field} is not a lender field the admin writes")
        setattr(lender, field, value)
    if iso18626_password is not None:
        lender.set_iso18626_password(iso18626_password)
    lender.full_clean()
    with transaction.atomic():
        lender.save()
    return lender
