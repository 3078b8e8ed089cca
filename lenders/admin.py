"""Admin for the lender directory and its dated availability reports.

A lender's page lists its availability reports newest first, each with its date, and has
one blank row to record a new report; the person who records it is stored with it. Older
reports stay as history: they are read-only and cannot be deleted (a wrong one is
superseded by a newer one). New reports go through ``services.record_availability``, as
on the lender directory's pages.
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils import timezone

from members.admin import WholeFileImport

from . import services
from .models import AvailabilityReport, Lender
from .resources import LenderResource
from .services import LENDER_FIELDS


class AvailabilityReportForm(forms.ModelForm):
    class Meta:
        model = AvailabilityReport
        fields = (
            "lender",
            "reported_at",
            "lending",
            "accepting_returns",
            "closed_from",
            "closed_until",
            "source",
            "note",
        )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        try:
            services.check_report(
                cleaned.get("closed_from"), cleaned.get("closed_until"), cleaned.get("reported_at")
            )
        except ValidationError as error:  # the service's rule, in its words
            for field, messages in error.message_dict.items():
                if field not in self.errors:
                    self.add_error(field, messages)
        return cleaned


def _record(report: AvailabilityReport, actor) -> AvailabilityReport:
    """A new report, through the service the lender's page uses."""
    return services.record_availability(
        report.lender,
        actor=actor,
        lending=report.lending,
        accepting_returns=report.accepting_returns,
        closed_from=report.closed_from,
        closed_until=report.closed_until,
        source=report.source,
        note=report.note,
        reported_at=report.reported_at,
    )


class AvailabilityReportInline(admin.TabularInline):
    model = AvailabilityReport
    form = AvailabilityReportForm
    fields = (
        "reported_at",
        "lending",
        "accepting_returns",
        "closed_from",
        "closed_until",
        "source",
        "note",
        "recorded_by",
    )
    readonly_fields = ("recorded_by",)
    ordering = ("-reported_at", "-id")
    extra = 1
    can_delete = False
    show_change_link = True
    verbose_name = "availability report"
    verbose_name_plural = "availability reports (newest first; the newest counts)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("recorded_by")

    def has_change_permission(self, request, obj=None):
        # Reports already recorded are history: shown, not edited, on the lender's page.
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class LenderAdminForm(forms.ModelForm):
    """The lender, with its ISO 18626 password written and never shown."""

    iso18626_password = forms.CharField(
        label="ISO 18626 password",
        required=False,
        strip=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False),
        help_text="Both sides present it (HTTP Basic). Leave empty to keep the one set; "
        "tick the box below to remove it.",
    )
    remove_iso18626_password = forms.BooleanField(label="Remove the password", required=False)
    iso18626_address = forms.URLField(
        label="ISO 18626 address", required=False, assume_scheme="https", max_length=200
    )

    class Meta:
        model = Lender
        fields = LENDER_FIELDS

    def save(self, commit: bool = True) -> Lender:
        lender = super().save(commit=False)
        if self.cleaned_data.get("remove_iso18626_password"):
            lender.set_iso18626_password("")
        elif self.cleaned_data.get("iso18626_password"):
            lender.set_iso18626_password(self.cleaned_data["iso18626_password"])
        if commit:
            lender.save()
        return lender


@admin.register(Lender)
class LenderAdmin(WholeFileImport, admin.ModelAdmin):
    resource_classes = [LenderResource]
    form = LenderAdminForm
    list_display = (
        "name",
        "oclc_symbol",
        "kind",
        "country",
        "charges_fees",
        "usual_fee",
        "on_delivery",
        "is_active",
    )
    search_fields = ("name", "oclc_symbol")
    list_filter = (
        "kind",
        "country",
        "charges_fees",
        "accepts_ifm",
        "accepts_ifla_vouchers",
        "on_delivery",
        "is_active",
    )
    ordering = ("name",)
    readonly_fields = ("current_availability_display",)
    fieldsets = (
        (
            "Identity",
            {"fields": ("name", "oclc_symbol", ("kind", "country"), "is_active")},
        ),
        ("Address", {"fields": ("address", "email")}),
        (
            "Fees and payment",
            {
                "fields": (
                    ("charges_fees", "usual_fee", "fee_currency"),
                    ("accepts_ifm", "accepts_ifla_vouchers"),
                )
            },
        ),
        ("Delivery", {"fields": ("on_delivery", "interstate_delivery_code")}),
        (
            "ISO 18626 partner",
            {
                "fields": (
                    "iso18626_address",
                    ("agency_id_type", "agency_id_value"),
                    ("iso18626_password", "remove_iso18626_password"),
                )
            },
        ),
        ("Availability", {"fields": ("current_availability_display",)}),
        ("Notes", {"fields": ("notes",)}),
    )
    inlines = (AvailabilityReportInline,)

    @admin.display(description="current availability")
    def current_availability_display(self, obj):
        report = obj.current_availability() if obj and obj.pk else None
        if report is None:
            return "No report recorded yet."
        parts = [
            "lending" if report.lending else "not lending",
            "accepting returns" if report.accepting_returns else "not accepting returns",
        ]
        if report.closed_from:
            until = f" until {report.closed_until:%Y-%m-%d}" if report.closed_until else ""
            parts.append(f"closed from {report.closed_from:%Y-%m-%d}{until}")
        return f"As of {timezone.localtime(report.reported_at):%Y-%m-%d}: {', '.join(parts)}."

    def save_formset(self, request, form, formset, change):
        if formset.model is not AvailabilityReport:
            return super().save_formset(request, form, formset, change)
        for report in formset.save(commit=False):
            if report.pk is None:
                _record(report, request.user)


@admin.register(AvailabilityReport)
class AvailabilityReportAdmin(admin.ModelAdmin):
    """Every report of every lender, newest first. Reports are history: never deleted."""

    form = AvailabilityReportForm
    list_display = (
        "reported_at",
        "lender",
        "lending",
        "accepting_returns",
        "closed_from",
        "closed_until",
        "source",
        "recorded_by",
    )
    list_display_links = ("reported_at",)
    list_select_related = ("lender", "recorded_by")
    list_filter = ("lending", "accepting_returns", "lender__kind")
    search_fields = ("lender__name", "=lender__oclc_symbol", "source")
    ordering = ("-reported_at", "-id")
    autocomplete_fields = ("lender",)
    readonly_fields = ("recorded_by",)
    fields = (
        "lender",
        "reported_at",
        ("lending", "accepting_returns"),
        ("closed_from", "closed_until"),
        "source",
        "note",
        "recorded_by",
    )

    def save_model(self, request, obj, form, change):
        if obj.pk is None:
            saved = _record(obj, request.user)
            obj.pk = saved.pk  # the admin's message links to the new report

    def has_change_permission(self, request, obj=None):
        # A report is history once recorded (its page is read-only): a correction is a
        # newer report.
        return False

    def has_delete_permission(self, request, obj=None):
        return False
