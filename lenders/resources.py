"""The lender directory from a CSV file (docs/go-live.md): each lender by OCLC symbol, its
ISO 18626 partner fields (the password write-only) and its availability, as a
django-import-export resource behind the admin's import pages and ``manage.py import``.

A row's availability columns, when they differ from the lender's newest report, become a
new report (``services.record_availability``), as the team would record it.
"""

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError

from members.resources import ImportResource, YesNo, yes_no
from members.services import service_account

from .models import Lender
from .services import LENDER_FIELDS, check_report, record_availability

#: The availability columns: lending and returns (yes/no), a closure, where it came from.
AVAILABILITY = (
    "lending",
    "accepting_returns",
    "closed_from",
    "closed_until",
    "availability_source",
    "availability_note",
)


class LenderResource(ImportResource):
    """Lenders, by OCLC symbol."""

    charges_fees = yes_no("charges_fees", False)
    accepts_ifm = yes_no("accepts_ifm", False)
    accepts_ifla_vouchers = yes_no("accepts_ifla_vouchers", False)
    on_delivery = yes_no("on_delivery", False)
    is_active = yes_no("is_active", True)

    class Meta(ImportResource.Meta):
        model = Lender
        fields = LENDER_FIELDS
        import_id_fields = ("oclc_symbol",)

    def import_instance(self, instance: Lender, row: Any, **kwargs: Any) -> None:
        super().import_instance(instance, row, **kwargs)
        password = (row.get("iso18626_password") or "").strip()
        instance._new_password = (  # type: ignore[attr-defined]
            password if password and password != _password_of(instance) else None
        )
        instance._report = _report_in(row)  # type: ignore[attr-defined]
        if instance._report is not None:  # type: ignore[attr-defined]
            report = instance._report  # type: ignore[attr-defined]
            check_report(report["closed_from"], report["closed_until"])

    def skip_row(self, instance: Lender, original: Any, row: Any, import_validation_errors=None):
        changed_elsewhere = getattr(instance, "_new_password", None) is not None or (
            getattr(instance, "_report", None) is not None
            and _report_changes(instance if instance.pk else None, instance._report)  # type: ignore[attr-defined]
        )
        if changed_elsewhere:
            return False
        return super().skip_row(instance, original, row, import_validation_errors)

    def before_save_instance(self, instance: Lender, row: Any, **kwargs: Any) -> None:
        if getattr(instance, "_new_password", None):
            instance.set_iso18626_password(instance._new_password)  # type: ignore[attr-defined]

    def after_save_instance(self, instance: Lender, row: Any, **kwargs: Any) -> None:
        report = getattr(instance, "_report", None)
        if report is not None and _report_changes(instance, report):
            record_availability(instance, actor=kwargs.get("user") or service_account(), **report)


def _password_of(lender: Lender) -> str:
    try:
        return lender.iso18626_password() if lender.iso18626_password_sealed else ""
    except Exception:  # sealed under another key: any password given is new
        return ""


def _report_in(row: Any) -> dict[str, Any] | None:
    """The row's availability, or None when its columns are absent or empty."""
    values = {column: (row.get(column) or "").strip() for column in AVAILABILITY}
    if not any(values.values()):
        return None
    answer = YesNo()
    problems: dict[str, str] = {}

    def yes(column: str) -> bool:
        try:
            return answer.clean(values[column]) is not False
        except ValueError as error:
            problems[column] = str(error)
            return True

    def day(column: str) -> dt.date | None:
        try:
            return dt.date.fromisoformat(values[column]) if values[column] else None
        except ValueError:
            problems[column] = f"“{values[column]}” is not a day written YYYY-MM-DD."
            return None

    report = {
        "lending": yes("lending"),
        "accepting_returns": yes("accepting_returns"),
        "closed_from": day("closed_from"),
        "closed_until": day("closed_until"),
        "source": values["availability_source"][:200] or "Imported from a file",
        "note": values["availability_note"],
    }
    if problems:
        raise ValidationError(problems)
    return report


def _report_changes(lender: Lender | None, report: dict[str, Any]) -> bool:
    """Whether ``report`` says something the lender's newest report does not."""
    current = lender.current_availability() if lender is not None and lender.pk else None
    if current is None:
        return True
    return any(
        getattr(current, field) != report[field]
        for field in ("lending", "accepting_returns", "closed_from", "closed_until", "note")
    )
