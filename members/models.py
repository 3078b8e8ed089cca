"""Member libraries, their patrons, and the people who log in.

Every person has an account of their own (never a shared library password); the account's
role says what they may do and, for member library staff, which library they act for.
"""

from decimal import Decimal

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from simple_history.models import HistoricalRecords

digits_only = RegexValidator(r"^[0-9]+$", "Use digits only.")


class MemberLibrary(models.Model):
    class LibraryType(models.TextChoices):
        PUBLIC = "public", "Public"
        ACADEMIC = "academic", "Academic"
        SCHOOL = "school", "School"
        SPECIAL = "special", "Special"

    name = models.CharField(max_length=200)
    ill_code = models.CharField(
        "ILL code",
        max_length=20,
        unique=True,
        help_text="The code staff and slips use for this library.",
    )
    bpl_number = models.CharField(
        "BPL number", max_length=20, unique=True, validators=[digits_only]
    )
    oclc_symbol = models.CharField("OCLC symbol", max_length=10, blank=True)
    library_type = models.CharField(max_length=20, choices=LibraryType.choices)
    region = models.CharField(max_length=60, db_index=True)
    on_delivery = models.BooleanField("on the Delivery route", default=True)
    delivery_route_code = models.CharField(max_length=20, blank=True)
    address = models.TextField(blank=True)
    contact_name = models.CharField(max_length=200, blank=True)
    contact_email = models.EmailField(blank=True)
    contact_phone = models.CharField(max_length=40, blank=True)
    max_cost = models.DecimalField(
        "max cost",
        max_digits=8,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="The most this library pays for shipping plus fees on one loan; "
        "0 means free lenders only.",
    )
    is_active = models.BooleanField("active", default=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    #: What a library's profile is: what admins edit and the API shows.
    PROFILE_FIELDS = (
        "name",
        "ill_code",
        "bpl_number",
        "oclc_symbol",
        "library_type",
        "region",
        "on_delivery",
        "delivery_route_code",
        "address",
        "contact_name",
        "contact_email",
        "contact_phone",
        "max_cost",
        "is_active",
        "notes",
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "member libraries"
        constraints = [
            models.CheckConstraint(
                condition=Q(max_cost__gte=0), name="memberlibrary_max_cost_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(bpl_number__regex=r"^[0-9]+$"), name="memberlibrary_bpl_digits"
            ),
            models.UniqueConstraint(
                Upper("ill_code"),
                name="memberlibrary_ill_code_unique_any_case",
                violation_error_message="A library with this ILL code already exists.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.ill_code})"


class Patron(models.Model):
    """A library's patron: the least that lets the library hand the item over."""

    library = models.ForeignKey(MemberLibrary, on_delete=models.PROTECT, related_name="patrons")
    card_number = models.CharField(max_length=40)
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    homebound = models.BooleanField(
        default=False, help_text="Homebound patrons need the chain of custody recorded."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["card_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["library", "card_number"], name="patron_card_unique_per_library"
            )
        ]

    def __str__(self) -> str:
        # Lists and logs name a patron by card number, never by name.
        return f"Patron {self.card_number}"


class IlldeskUserManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("role", User.Role.ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    class Role(models.TextChoices):
        LIBRARY_STAFF = "library_staff", "Member library staff"
        TEAM = "team", "Resource sharing team"
        ADMIN = "admin", "Admin"

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.LIBRARY_STAFF)
    library = models.ForeignKey(
        MemberLibrary,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff",
        help_text="The library a member library staff account acts for.",
    )

    objects = IlldeskUserManager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(role="library_staff") | Q(library__isnull=False),
                name="user_library_staff_has_library",
                violation_error_message="Member library staff accounts need a library.",
            )
        ]

    @property
    def is_library_staff(self) -> bool:
        return self.role == self.Role.LIBRARY_STAFF

    @property
    def is_team(self) -> bool:
        """The resource sharing team; admins manage the team and may act as it."""
        return self.role in (self.Role.TEAM, self.Role.ADMIN)
