"""The lender directory: libraries that lend to us, and their dated availability reports.

The newest availability report counts; older ones stay as history, each with its date.
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from core.secrets import seal, unseal
from core.text import OneLineField


class Lender(models.Model):
    class Kind(models.TextChoices):
        MEMBER = "member", "Member library"
        IN_STATE = "in_state", "In-state"
        OUT_OF_STATE = "out_of_state", "Out-of-state US"
        CANADA = "canada", "Canada"
        ABROAD = "abroad", "Abroad"
        SPECIAL = "special", "Special source"

    name = OneLineField(max_length=200, db_index=True)
    oclc_symbol = OneLineField("OCLC symbol", max_length=10, blank=True, db_index=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    country = OneLineField(max_length=2, default="US", help_text="ISO 3166 country code.")
    address = models.TextField(blank=True)
    email = models.EmailField(blank=True)
    charges_fees = models.BooleanField(default=False)
    usual_fee = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    fee_currency = OneLineField(max_length=3, default="USD")
    accepts_ifm = models.BooleanField("takes IFM", default=False)
    accepts_ifla_vouchers = models.BooleanField("takes IFLA vouchers", default=False)
    on_delivery = models.BooleanField("on the Delivery route", default=False)
    interstate_delivery_code = OneLineField(
        max_length=3, blank=True, help_text="Interstate delivery 3-letter code, if any."
    )
    is_active = models.BooleanField("active", default=True)
    notes = models.TextField(blank=True)
    # An ISO 18626 partner (docs/iso18626.md): where illdesk posts its messages, the
    # agency the lender is in them, and the password both sides present (sealed).
    iso18626_address = models.URLField("ISO 18626 address", blank=True)
    agency_id_type = OneLineField(
        "agency id type", max_length=20, blank=True, help_text="For example ISIL or OCLC."
    )
    agency_id_value = OneLineField("agency id", max_length=100, blank=True)
    iso18626_password_sealed = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency_id_type", "agency_id_value"],
                condition=~Q(agency_id_value=""),
                name="lender_agency_unique",
                violation_error_message="Another lender is this agency already.",
            ),
            models.CheckConstraint(
                condition=Q(iso18626_address="") | ~Q(agency_id_value=""),
                name="lender_iso18626_address_needs_agency",
                violation_error_message="An ISO 18626 partner needs its agency id.",
            ),
            models.UniqueConstraint(
                fields=["oclc_symbol"],
                condition=~Q(oclc_symbol=""),
                name="lender_oclc_symbol_unique",
            ),
            models.CheckConstraint(
                condition=Q(usual_fee__gte=0), name="lender_usual_fee_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.oclc_symbol})" if self.oclc_symbol else self.name

    def clean(self) -> None:
        # The constraint's rule, said beside the field a form shows.
        if self.iso18626_address and not self.agency_id_value:
            raise ValidationError({"agency_id_value": "An ISO 18626 partner needs its agency id."})

    @property
    def exchanges_iso18626(self) -> bool:
        """Whether requests sent to this lender travel as ISO 18626 messages."""
        return bool(self.iso18626_address and self.agency_id_value)

    def set_iso18626_password(self, password: str) -> None:
        """Keep ``password`` sealed (``core.secrets``); "" removes it."""
        self.iso18626_password_sealed = seal(password)

    def iso18626_password(self) -> str:
        return unseal(self.iso18626_password_sealed)

    def current_availability(self) -> "AvailabilityReport | None":
        """The newest report, or None when the lender has never reported."""
        return self.availability_reports.order_by("-reported_at", "-id").first()


class AvailabilityReport(models.Model):
    lender = models.ForeignKey(
        Lender, on_delete=models.CASCADE, related_name="availability_reports"
    )
    reported_at = models.DateTimeField(default=timezone.now)
    lending = models.BooleanField(default=True)
    accepting_returns = models.BooleanField(default=True)
    closed_from = models.DateField(null=True, blank=True)
    closed_until = models.DateField(null=True, blank=True)
    source = OneLineField(
        max_length=200, blank=True, help_text="Where this came from: e-mail, OCLC policies…"
    )
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )

    class Meta:
        ordering = ["-reported_at", "-id"]
        indexes = [models.Index(fields=["lender", "-reported_at"], name="availability_newest")]
        constraints = [
            models.CheckConstraint(
                condition=Q(closed_until__isnull=True)
                | Q(closed_from__isnull=False, closed_until__gte=F("closed_from")),
                name="availability_closed_range_ordered",
                violation_error_message=(
                    "A closed-until date needs a closed-from date on or before it."
                ),
            )
        ]

    def __str__(self) -> str:
        lending = "lending" if self.lending else "not lending"
        return f"{self.lender}: {lending} ({timezone.localtime(self.reported_at):%Y-%m-%d})"

    def is_closed_on(self, day) -> bool:
        if self.closed_from is None:
            return False
        return self.closed_from <= day and (self.closed_until is None or day <= self.closed_until)
