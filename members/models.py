"""Member libraries, their patrons, and the people who log in.

Every person has an account of their own (never a shared library password); the account's
role says what they may do and, for member library staff, which library they act for.
"""

from decimal import Decimal
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone
from simple_history.models import HistoricalRecords

from core.discs import DvdRegion, VideoEncoding
from core.text import OneLineField

digits_only = RegexValidator(r"^[0-9]+$", "Use digits only.")


class Region(models.Model):
    """A region of the service, from the list the admin keeps. A library's region is one
    of these, so a typo cannot drop a library out of the team's region filter."""

    name = OneLineField(max_length=60, unique=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Upper("name"),
                name="region_name_unique_any_case",
                violation_error_message="There is a region of this name already.",
            )
        ]

    def __str__(self) -> str:
        return self.name


def known_region(name: str) -> None:
    """A library's region must be one of the service's (``Region``)."""
    if not Region.objects.filter(name=name).exists():
        raise ValidationError(
            f"“{name}” is not one of the service's regions: choose one, or ask an admin "
            "to add it to the list."
        )


class MemberLibrary(models.Model):
    class LibraryType(models.TextChoices):
        PUBLIC = "public", "Public"
        ACADEMIC = "academic", "Academic"
        SCHOOL = "school", "School"
        SPECIAL = "special", "Special"

    name = OneLineField(max_length=200)
    ill_code = OneLineField(
        "ILL code",
        max_length=20,
        unique=True,
        help_text="The code staff and slips use for this library.",
    )
    bpl_number = OneLineField("BPL number", max_length=20, unique=True, validators=[digits_only])
    oclc_symbol = OneLineField("OCLC symbol", max_length=10, blank=True)
    library_type = models.CharField(max_length=20, choices=LibraryType.choices)
    region = OneLineField(max_length=60, db_index=True, validators=[known_region])
    on_delivery = models.BooleanField("on the Delivery route", default=True)
    delivery_route_code = OneLineField(max_length=20, blank=True)
    address = models.TextField(blank=True)
    contact_name = OneLineField(max_length=200, blank=True)
    contact_email = models.EmailField(blank=True)
    contact_phone = OneLineField(max_length=40, blank=True)
    dvd_region = models.CharField(
        "DVD region its players play",
        max_length=1,
        choices=DvdRegion.choices,
        default=DvdRegion.REGION_1,
        blank=True,
        help_text="What its disc requests ask for unless staff choose otherwise; "
        "blank for region-free players.",
    )
    video_encoding = models.CharField(
        "video encoding its players play",
        max_length=5,
        choices=VideoEncoding.choices,
        default=VideoEncoding.NTSC,
        blank=True,
        help_text="Blank for players that take any encoding.",
    )
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
    #: Who made a change and why, for the history record of the next save (set by hand).
    _history_user: "User | None"
    _change_reason: str | None

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
        "dvd_region",
        "video_encoding",
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
    card_number = OneLineField(max_length=40)
    name = OneLineField(max_length=200, blank=True)
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


class IlldeskUserManager(UserManager["User"]):
    def create_superuser(
        self,
        username: str,
        email: str | None = None,
        password: str | None = None,
        **extra_fields: Any,
    ) -> "User":
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

    #: A library's lead invites and deactivates its own library's staff (and nobody else's).
    is_library_lead = models.BooleanField(
        "library's lead",
        default=False,
        help_text="Invites and deactivates the staff of their own library.",
    )
    #: The newest invitation sent (``members.invitations``), and by whom.
    invited_at = models.DateTimeField(null=True, blank=True, editable=False)
    invited_by = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, editable=False, related_name="+"
    )

    objects: ClassVar[IlldeskUserManager] = IlldeskUserManager()

    #: The roles that work as the resource sharing team: admins manage the team and may
    #: act as it.
    TEAM_ROLES: ClassVar[tuple[str, ...]] = (Role.TEAM, Role.ADMIN)

    #: The account the service itself acts as, on the team's side, where no person acts:
    #: an ISO 18626 message from a lender (``service_account``). It cannot sign in.
    SERVICE_USERNAME: ClassVar[str] = "illdesk-service"

    #: The new raw password ``set_password`` keeps until the next save (Django's own).
    _password: str | None

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
        """The resource sharing team (``TEAM_ROLES``)."""
        return self.role in self.TEAM_ROLES

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Every password change (``set_password``: the password pages, the reset link, the
        # admin, ``changepassword``) and every deactivation passes here: either ends the
        # account's API tokens, as it ends its other sessions.
        password_changed = self._password is not None
        super().save(*args, **kwargs)
        if password_changed or not self.is_active:
            ApiToken.objects.filter(user=self).delete()


class ApiToken(models.Model):
    """A key to the API, made after the same checks as a login (password, second factor).

    The key is shown once, when it is made; only its SHA-256 digest is stored, with its
    first characters (``prefix``) so its owner can tell their tokens apart. It works until it
    expires, its owner or an admin revokes it (deletes the row), the password changes or
    the account is deactivated (``members.tokens``).
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = OneLineField(
        max_length=100, blank=True, help_text="What it is for, so it can be told apart."
    )
    prefix = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    #: A keyed hash of the password hash the account had when the token was made: any
    #: change of password, by any path, ends the token (as Django ends other sessions).
    password_fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or 'unnamed'})"


class FailedSignIns(models.Model):
    """Failed sign-ins that tried a password, by account and address, in five-minute
    buckets: the guard's counts (``members.sign_in``). One row per account, address and
    bucket however many tries an attack makes; the guard reads a few dozen at most."""

    username = models.CharField(max_length=150)
    address = models.GenericIPAddressField()
    bucket = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "failed sign-ins"
        constraints = [
            models.UniqueConstraint(
                fields=["username", "address", "bucket"], name="failedsignins_unique"
            )
        ]
        indexes = [
            models.Index(fields=["username", "bucket"], name="failedsignins_account"),
            models.Index(fields=["address", "bucket"], name="failedsignins_address"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.count} failed sign-ins to {self.username} from {self.address}, "
            f"from {self.bucket:%Y-%m-%d %H:%M}"
        )


class KnownPlace(models.Model):
    """An address an account has signed in from, and when it last did: where the guard lets
    the account in while strangers are refused (``members.sign_in``)."""

    username = models.CharField(max_length=150)
    address = models.GenericIPAddressField()
    last_seen = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["username", "address"], name="knownplace_unique")
        ]

    def __str__(self) -> str:
        return f"{self.username} at {self.address}"
