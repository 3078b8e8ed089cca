"""Borrowing requests and what hangs off them: lender attempts, renewals, charges, the
timeline of status events, messages, and the notification outbox.

Models hold data and the invariants the database can keep. Status changes happen only in
``requests_app.workflow``; charges and messages in ``requests_app.services``.
"""

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from core.discs import DvdRegion as DvdRegion  # a request asks for a disc's coding
from core.discs import VideoEncoding as VideoEncoding
from core.text import OneLineField
from lenders.models import Lender
from members.models import MemberLibrary, Patron

from .identifiers import item_key, validate_isbn, validate_issn, validate_oclc_number

ZERO = Decimal("0.00")
CENT = Decimal("0.01")


def to_cents(value) -> Decimal:
    """An amount rounded to cents, half up (SQLite sums and averages decimals as floats)."""
    return Decimal(str(value if value is not None else ZERO)).quantize(CENT, ROUND_HALF_UP)


class Status(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    SOURCING = "sourcing", "Sourcing"
    SENT_TO_LENDER = "sent_to_lender", "Sent to lender"
    SHIPPED = "shipped", "Shipped"
    RECEIVED = "received", "Received"
    RENEWAL_REQUESTED = "renewal_requested", "Renewal requested"
    RETURNED = "returned", "Returned"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    UNFILLED = "unfilled", "Unfilled"
    LOST = "lost", "Lost"


#: Statuses that end a request: nothing moves out of them.
FINAL_STATUSES = frozenset({Status.COMPLETED, Status.CANCELLED, Status.UNFILLED, Status.LOST})
#: Statuses the team still has work in: the queue's default view.
OPEN_STATUSES = tuple(status for status in Status.values if status not in FINAL_STATUSES)
#: Statuses in which the item is out on loan, so a shipment with a due date exists.
ON_LOAN_STATUSES = frozenset(
    {Status.SHIPPED, Status.RECEIVED, Status.RENEWAL_REQUESTED, Status.RETURNED}
)


#: Statuses in which the library has had the item in hand.
HAS_ARRIVED_STATUSES = frozenset(
    {Status.RECEIVED, Status.RENEWAL_REQUESTED, Status.RETURNED, Status.COMPLETED}
)


class Trace(models.TextChoices):
    """Where the search for a loan that has not arrived stands (docs/workflow.md, "Not
    arrived"). Before any of these, a loan the job flagged is "flagged" (``FLAGGED``)."""

    REPORTED = "reported", "Reported by the library"
    TRACING = "tracing", "The team is tracing it with the lender"
    REPLACEMENT_SHIPPED = "replacement_shipped", "A replacement was shipped"
    CLEARED = "cleared", "Cleared: it arrived"
    LOST = "lost", "Lost"


#: A loan flagged not arrived that nobody has reported or traced yet: not a stored value.
FLAGGED = "flagged"
#: The steps of a trace still being worked: the team has something to do or wait for.
OPEN_TRACES = (Trace.REPORTED, Trace.TRACING, Trace.REPLACEMENT_SHIPPED)


class Format(models.TextChoices):
    BOOK = "book", "Book"
    AUDIOBOOK = "audiobook", "Audiobook"
    VIDEO = "video", "DVD / Blu-ray"
    MUSIC = "music", "Music CD"
    SCORE = "score", "Score"
    MICROFILM = "microfilm", "Microfilm"
    PERIODICAL_ISSUE = "periodical_issue", "Periodical issue"
    OTHER = "other", "Other"


class ShippingMethod(models.TextChoices):
    DELIVERY = "delivery", "Delivery"
    MAIL = "mail", "Mail"


def _money(**kwargs) -> models.DecimalField:
    return models.DecimalField(
        max_digits=10, decimal_places=2, validators=[MinValueValidator(ZERO)], **kwargs
    )


class BorrowingRequest(models.Model):
    # Who asked.
    library = models.ForeignKey(MemberLibrary, on_delete=models.PROTECT, related_name="requests")
    patron = models.ForeignKey(
        Patron, on_delete=models.PROTECT, null=True, blank=True, related_name="requests"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_requests",
    )

    # The citation.
    format = models.CharField(max_length=20, choices=Format.choices, default=Format.BOOK)
    title = OneLineField(max_length=500)
    author = OneLineField(max_length=300, blank=True)
    publisher = OneLineField(max_length=300, blank=True)
    year = OneLineField(max_length=20, blank=True)
    edition = OneLineField(max_length=100, blank=True)
    edition_only = models.BooleanField("this edition only", default=False)
    volume = OneLineField("volume/part", max_length=100, blank=True)
    isbn = OneLineField("ISBN", max_length=17, blank=True, validators=[validate_isbn])
    issn = OneLineField("ISSN", max_length=9, blank=True, validators=[validate_issn])
    oclc_number = OneLineField(
        "OCLC number", max_length=20, blank=True, validators=[validate_oclc_number]
    )
    language = OneLineField(max_length=60, blank=True)
    #: The item however its title and author were typed (``identifiers.item_key``): what
    #: the duplicate check compares when the ISBN and OCLC number do not say. Kept by
    #: ``save()``.
    item_key = models.CharField(max_length=32, blank=True, default="", editable=False)
    dvd_region = models.CharField("DVD region", max_length=1, choices=DvdRegion.choices, blank=True)
    video_encoding = models.CharField(max_length=5, choices=VideoEncoding.choices, blank=True)

    # What the library asks of the service.
    needed_by = models.DateField(null=True, blank=True)
    max_cost = _money(default=ZERO)
    notes = models.TextField("notes to the team", blank=True)

    # The loan.
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SUBMITTED)
    lender = models.ForeignKey(
        Lender, on_delete=models.PROTECT, null=True, blank=True, related_name="requests"
    )
    lender_request_number = OneLineField("OCLC/ILL number", max_length=40, blank=True)
    shipped_on = models.DateField(null=True, blank=True)
    shipping_method = models.CharField(max_length=10, choices=ShippingMethod.choices, blank=True)
    shipping_tracking = OneLineField(max_length=100, blank=True)
    due_date = models.DateField(null=True, blank=True)
    received_on = models.DateField(null=True, blank=True)
    returned_on = models.DateField(null=True, blank=True)
    return_method = models.CharField(max_length=10, choices=ShippingMethod.choices, blank=True)
    return_tracking = OneLineField(max_length=100, blank=True)

    # Derived, kept by the services so the queue can filter on an index.
    charges_total = _money(default=ZERO)

    #: A loan that has not arrived: where its trace stands ("" when there is none).
    trace = models.CharField(
        max_length=20, choices=Trace.choices, blank=True, default="", db_default=""
    )
    #: The open request of the library's for the same item that the submitter was warned
    #: of and went on all the same (``duplicates``): the queue's "possible duplicate".
    possible_duplicate_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # few rows have one: the partial index ``request_possible_duplicate``
    )
    #: The unfilled request this one asks for again ("request again").
    follows = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="followed_by"
    )

    #: When the lender recalled the loan (ISO 18626 ``Recalled``), moving its due date.
    recalled_at = models.DateTimeField(null=True, blank=True)
    #: When an ISO 18626 message to or from the lender failed: a message given up after its
    #: last try, or one of the lender's the workflow refused (``iso18626.exchange``). The
    #: team clears it once dealt with.
    exchange_failed_at = models.DateTimeField(null=True, blank=True)
    #: When the request's lender string ran out: every lender in it said it cannot supply
    #: or was skipped, and the request came back to the team (``workflow.lender_unfilled``).
    #: Cleared when it goes to a lender again or gets a new string.
    string_exhausted_at = models.DateTimeField(null=True, blank=True)

    # Flags, set by the background jobs.
    not_arrived_flagged_at = models.DateTimeField(null=True, blank=True)
    overdue_flagged_at = models.DateTimeField(null=True, blank=True)
    #: The due date the library was last reminded of, and when: a renewal that moves the
    #: due date earns a new reminder.
    due_reminded_for = models.DateField(null=True, blank=True)
    due_reminded_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="request_status_created"),
            # Covering (PostgreSQL): the reports read what they count from the index alone.
            models.Index(
                fields=["-created_at"],
                include=["library", "status", "shipped_on", "received_on", "lender"],
                name="request_created",
            ),
            models.Index(
                fields=["library", "status", "-created_at"], name="request_library_status"
            ),
            models.Index(fields=["lender", "status"], name="request_lender_status"),
            models.Index(fields=["assigned_to", "status"], name="request_assignee_status"),
            models.Index(fields=["needed_by"], name="request_needed_by"),
            models.Index(fields=["isbn"], name="request_isbn"),
            models.Index(fields=["oclc_number"], name="request_oclc_number"),
            models.Index(fields=["lender_request_number"], name="request_ill_number"),
            models.Index(fields=["due_date"], name="request_due_date"),
            # The jobs' stamps (``*_flagged_at``, ``due_reminded_*``) are in no index key or
            # condition: a job's UPDATE then leaves every index alone (a HOT update, in the
            # free space the table's fillfactor keeps on each page), where a stamp in an index
            # made it rewrite all of them, row by row (docs/performance.md).
            # Each condition names its key too (always set in those statuses, by the check
            # constraints below), so only a query on the date can use the index: a count of
            # the status alone would otherwise walk it, row by row, to find its matches.
            models.Index(
                fields=["shipped_on"],
                condition=Q(status="shipped", shipped_on__isnull=False),
                name="request_in_transit",
            ),
            models.Index(
                fields=["due_date"],
                condition=Q(status__in=["received", "renewal_requested"], due_date__isnull=False),
                name="request_with_library_due",
            ),
            models.Index(
                fields=["ended_at"],
                condition=Q(patron__isnull=False, ended_at__isnull=False),
                name="request_patron_to_age_out",
            ),
            models.Index(
                fields=["-created_at"],
                condition=Q(charges_total__gt=F("max_cost")),
                name="request_over_max_cost",
            ),
            # The duplicate check on every submission: the library's open requests for the
            # same item (``item_key``); the ISBN and OCLC number have their indexes above.
            models.Index(
                fields=["library", "item_key"],
                condition=Q(status__in=OPEN_STATUSES),
                name="request_open_item",
            ),
            # The queue's "possible duplicate" filter: few requests go on despite a warning.
            models.Index(
                fields=["-created_at"],
                condition=Q(possible_duplicate_of__isnull=False),
                name="request_possible_duplicate",
            ),
            # The queue's "exchange failing" filter: few exchanges ever fail.
            models.Index(
                fields=["-created_at"],
                condition=Q(exchange_failed_at__isnull=False),
                name="request_exchange_failing",
            ),
            # The queue's "string exhausted" filter: few strings run out.
            models.Index(
                fields=["-created_at"],
                condition=Q(string_exhausted_at__isnull=False),
                name="request_string_exhausted",
            ),
            # The sourcing suggestions read who had the same item before, by its key (the
            # ISBN and the OCLC number have their indexes above).
            models.Index(fields=["item_key"], name="request_item_key"),
            # The queue's trace filter: few loans are ever traced.
            models.Index(
                fields=["trace", "-created_at"], condition=~Q(trace=""), name="request_traced"
            ),
            # The queue's default view, open requests oldest first, walks this in order: it
            # holds only the work in hand, however many ended requests pile up, so a page
            # (page 200 too) reads its rows and no more (docs/performance.md).
            models.Index(
                fields=["created_at", "id"],
                condition=Q(status__in=OPEN_STATUSES),
                name="request_open_created",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=Status.values), name="request_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(format__in=Format.values), name="request_format_valid"
            ),
            models.CheckConstraint(
                condition=Q(max_cost__gte=0), name="request_max_cost_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(charges_total__gte=0), name="request_charges_total_not_negative"
            ),
            models.CheckConstraint(
                condition=~Q(status__in=ON_LOAN_STATUSES)
                | Q(shipped_on__isnull=False, due_date__isnull=False),
                name="request_loan_has_shipment_and_due_date",
            ),
            models.CheckConstraint(
                condition=~Q(status=Status.SENT_TO_LENDER) | Q(lender__isnull=False),
                name="request_sent_has_lender",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=HAS_ARRIVED_STATUSES) | Q(received_on__isnull=False),
                name="request_arrived_has_received_on",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=[Status.RETURNED, Status.COMPLETED])
                | (Q(returned_on__isnull=False) & ~Q(return_method="")),
                name="request_returned_has_return",
            ),
            models.CheckConstraint(
                condition=Q(trace__in=["", *Trace.values]), name="request_trace_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save, with ``item_key`` made from the item as it now reads, whichever door
        changed it (a submission, an edit of the item, the admin)."""
        self.item_key = item_key(
            format=self.format, title=self.title, author=self.author, volume=self.volume
        )
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"format", "title", "author", "volume"} & set(
            update_fields
        ):
            kwargs["update_fields"] = {*update_fields, "item_key"}
        super().save(*args, **kwargs)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class LenderAttempt(models.Model):
    """One lender a request was sent to, in order, and what came of it."""

    class Outcome(models.TextChoices):
        PENDING = "pending", "Waiting for the lender"
        SHIPPED = "shipped", "Shipped"
        UNFILLED = "unfilled", "Unfilled"
        NO_ANSWER = "no_answer", "No answer"
        WITHDRAWN = "withdrawn", "Withdrawn"

    request = models.ForeignKey(BorrowingRequest, on_delete=models.PROTECT, related_name="attempts")
    sequence = models.PositiveSmallIntegerField()
    lender = models.ForeignKey(Lender, on_delete=models.PROTECT, related_name="attempts")
    lender_request_number = OneLineField("OCLC/ILL number", max_length=40, blank=True)
    sent_at = models.DateTimeField(default=timezone.now)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.PENDING)
    reason = OneLineField(max_length=300, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["request", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["request", "sequence"], name="attempt_sequence_unique"),
            models.UniqueConstraint(
                fields=["request"],
                condition=Q(outcome="pending"),
                name="attempt_one_pending_per_request",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request_id}/{self.sequence}: {self.lender} ({self.outcome})"


class LenderStringEntry(models.Model):
    """One lender of a request's lender string, in order (docs/sourcing.md).

    The team sets a string of up to five lenders (``workflow.set_lender_string``); when a
    lender cannot supply, the workflow sends the request to the next entry still waiting,
    or skips it, with why. A new string drops the entries of the old one still waiting:
    every entry is kept, with what became of it.
    """

    class State(models.TextChoices):
        WAITING = "waiting", "Next in the string"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Skipped"
        DROPPED = "dropped", "Dropped for a new string"

    request = models.ForeignKey(
        BorrowingRequest,
        on_delete=models.PROTECT,
        related_name="string_entries",
        db_index=False,  # ``string_entry_position`` leads with it
    )
    #: Its place among every entry the request has had, so a newer string follows an older.
    position = models.PositiveSmallIntegerField()
    lender = models.ForeignKey(Lender, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=10, choices=State.choices, default=State.WAITING)
    #: Why it was skipped (closed, not lending, no longer active).
    note = OneLineField(max_length=300, blank=True)
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["request", "position"]
        constraints = [
            models.UniqueConstraint(fields=["request", "position"], name="string_entry_position"),
            models.CheckConstraint(
                condition=Q(state__in=["waiting", "sent", "skipped", "dropped"]),
                name="string_entry_state_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request_id}/{self.position}: {self.lender_id} ({self.state})"


class LenderRecord(models.Model):
    """What the service has seen of one lender for one format over the last year: how
    often it was asked and filled, how fast, at what cost. Kept by the job
    ``jobs.record_lenders`` for the sourcing suggestions (``sourcing``); a summary that the
    job rebuilds, not a record of its own."""

    lender = models.ForeignKey(Lender, on_delete=models.CASCADE, related_name="+")
    format = models.CharField(max_length=20, choices=Format.choices)
    #: Attempts sent to it that it answered (shipped or could not supply).
    asked = models.PositiveIntegerField()
    filled = models.PositiveIntegerField()
    #: Medians in days: from being asked to shipping, and from shipping to arriving.
    days_to_ship = models.FloatField(null=True, blank=True)
    days_to_arrive = models.FloatField(null=True, blank=True)
    #: The median of what its filled loans cost (their charges against the max cost).
    usual_cost = models.DecimalField(max_digits=10, decimal_places=2, default=ZERO)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["format", "lender"], name="lender_record_unique")
        ]

    def __str__(self) -> str:
        return f"{self.lender_id} {self.format}: {self.filled}/{self.asked}"


class RenewalRequest(models.Model):
    class Answer(models.TextChoices):
        PENDING = "pending", "Waiting for the lender"
        APPROVED = "approved", "Approved"
        DENIED = "denied", "Denied"
        WITHDRAWN = "withdrawn", "Withdrawn by the library"

    request = models.ForeignKey(BorrowingRequest, on_delete=models.PROTECT, related_name="renewals")
    requested_due_date = models.DateField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    answer = models.CharField(max_length=10, choices=Answer.choices, default=Answer.PENDING)
    new_due_date = models.DateField(null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["request", "requested_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(answer="approved") | Q(new_due_date__isnull=False),
                name="renewal_approved_has_due_date",
            ),
            models.UniqueConstraint(
                fields=["request"],
                condition=Q(answer="pending"),
                name="renewal_one_pending_per_request",
            ),
        ]

    def __str__(self) -> str:
        return f"Renewal of {self.request_id} to {self.requested_due_date}: {self.answer}"


class NoDeleteQuerySet(models.QuerySet):
    def delete(self):
        raise PermissionError(f"{self.model.__name__} rows are never deleted.")


class AppendOnlyQuerySet(NoDeleteQuerySet):
    def update(self, **kwargs):
        raise PermissionError(f"{self.model.__name__} rows are append-only.")


class ChargeKind(models.TextChoices):
    LENDING_FEE = "lending_fee", "Lending fee"
    SHIPPING = "shipping", "Shipping"
    IFM = "ifm", "IFM"
    INVOICE = "invoice", "Invoice from a special lender"
    IFLA_VOUCHER = "ifla_voucher", "IFLA voucher"
    REIMBURSEMENT = "reimbursement", "Reimbursement by the library"


class ChargePayer(models.TextChoices):
    SERVICE = "service", "The service"
    LIBRARY = "library", "The library"
    PATRON = "patron", "The patron"


class Charge(models.Model):
    """A fee or cost on a request: an entry in its ledger.

    An entry is never changed or deleted. A mistake is voided by a reversing entry (the
    same kind and payer, the amount negated, ``voids`` naming the entry it cancels, with
    the reason), so the request's total, its over-max-cost flag and the reports leave it
    out while both rows stay. Invoiced and paid are dated states, each set once.
    """

    #: Kinds that are a cost of the loan and count against its max cost.
    COST_KINDS = frozenset(
        {
            ChargeKind.LENDING_FEE,
            ChargeKind.SHIPPING,
            ChargeKind.IFM,
            ChargeKind.INVOICE,
            ChargeKind.IFLA_VOUCHER,
        }
    )
    Kind = ChargeKind
    Payer = ChargePayer

    request = models.ForeignKey(BorrowingRequest, on_delete=models.PROTECT, related_name="charges")
    kind = models.CharField(max_length=20, choices=ChargeKind.choices)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    currency = OneLineField(max_length=3, default=settings.ILLDESK_CURRENCY)
    payer = models.CharField(
        max_length=10, choices=ChargePayer.choices, default=ChargePayer.SERVICE
    )
    invoiced_on = models.DateField(null=True, blank=True)
    paid_on = models.DateField(null=True, blank=True)
    reference = OneLineField(max_length=100, blank=True)
    #: On a reversing entry: the entry it voids.
    voids = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="voided_by"
    )
    #: Why an entry was voided (on the reversing entry).
    reason = OneLineField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = NoDeleteQuerySet.as_manager()

    class Meta:
        ordering = ["request", "created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(voids__isnull=True, amount__gte=0)
                | Q(voids__isnull=False, amount__lte=0),
                name="charge_amount_sign",
                violation_error_message="A charge is 0 or more; only a void takes it back.",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=ChargeKind.values), name="charge_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.currency}"

    @property
    def invoiced(self) -> bool:
        return self.invoiced_on is not None

    @property
    def paid(self) -> bool:
        return self.paid_on is not None

    def delete(self, *args, **kwargs):
        raise PermissionError("Charges are never deleted; void them instead.")


class StatusEvent(models.Model):
    """One line of a request's timeline: a status change, or an action recorded on it.

    Append-only: the first event records the submission (from nothing to ``submitted``);
    actions that do not change the status (a charge, a flag) have from == to.
    """

    # No index of its own: ``event_request_at`` leads with the request.
    request = models.ForeignKey(
        BorrowingRequest, on_delete=models.PROTECT, related_name="events", db_index=False
    )
    action = models.CharField(max_length=40)
    from_status = models.CharField(max_length=20, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=Status.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty when a background job acted.",
    )
    at = models.DateTimeField(default=timezone.now)
    note = models.TextField(blank=True)
    #: What a correction changed: ``{field: [before, after]}``, values as text (null when
    #: it changed nothing recorded field by field).
    changes = models.JSONField(null=True, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["request", "at", "id"]
        indexes = [
            models.Index(fields=["request", "at"], name="event_request_at"),
            # Reports count flags by when they were set: the history, not the request's
            # current stamp (a renewal clears an overdue flag; the event stays).
            models.Index(fields=["action", "at"], name="event_action_at"),
        ]

    def __str__(self) -> str:
        return f"{self.request_id}: {self.from_status or '—'} → {self.to_status} ({self.action})"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise PermissionError("Status events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Status events are append-only.")


class Message(models.Model):
    """A note on a request between the library and the team."""

    request = models.ForeignKey(BorrowingRequest, on_delete=models.PROTECT, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["request", "created_at", "id"]

    def __str__(self) -> str:
        return f"Message on {self.request_id} by {self.author_id}"


class Notification(models.Model):
    """The outbox: one e-mail to send, written in the transaction of the change it tells of.

    A Celery task sends it after commit; the periodic drain picks up whatever the broker
    never got. Rows carry ids, never patron data; the text is rendered when it is sent.
    """

    class Audience(models.TextChoices):
        LIBRARY = "library", "The library's contact"
        TEAM = "team", "The resource sharing team"
        #: A lender without ISO 18626, asked for the item by e-mail (a lender string's step).
        LENDER = "lender", "A lender"

    kind = models.CharField(max_length=40)
    request = models.ForeignKey(
        BorrowingRequest,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="notifications",
    )
    unrequested_item = models.ForeignKey(
        "UnrequestedItemReport",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="notifications",
    )
    #: The step it tells of, when the e-mail quotes its reason or note.
    event = models.ForeignKey(
        "StatusEvent", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    #: A job's digest: the run's time, which the requests it flagged carry; for one
    #: library (``library``) or, with no library, for the team.
    digest_of = models.DateTimeField(null=True, blank=True)
    library = models.ForeignKey(
        MemberLibrary, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    audience = models.CharField(max_length=10, choices=Audience.choices)
    #: The lender an e-mail to a lender goes to (its address read when it is sent).
    lender = models.ForeignKey(
        Lender, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["created_at"], condition=Q(sent_at__isnull=True), name="outbox_unsent"
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(request__isnull=False, unrequested_item__isnull=True, digest_of=None)
                | Q(request__isnull=True, unrequested_item__isnull=False, digest_of=None)
                | Q(request__isnull=True, unrequested_item__isnull=True, digest_of__isnull=False),
                name="notification_about_one_thing",
            ),
            models.CheckConstraint(
                condition=~Q(audience="lender") | Q(lender__isnull=False),
                name="notification_lender_named",
            ),
        ]

    def __str__(self) -> str:
        about = (
            self.request_id
            or (self.unrequested_item_id and f"unrequested item {self.unrequested_item_id}")
            or f"the {self.digest_of:%Y-%m-%d %H:%M} run"
        )
        return f"{self.kind} for {about} to {self.audience}"


class UnrequestedItemReport(models.Model):
    """A library received an item it did not request: the team finds whose it is and
    resolves the report (``services.resolve_unrequested_item``)."""

    class Outcome(models.TextChoices):
        MATCHED = "matched", "Matched to a request"
        SENT_ON = "sent_on", "Sent on to the library it belongs to"
        RETURNED = "returned_to_lender", "Returned to the lender"

    library = models.ForeignKey(
        MemberLibrary, on_delete=models.PROTECT, related_name="unrequested_items"
    )
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    title = OneLineField("what arrived", max_length=500)
    slip_number = OneLineField(
        "ILL or slip number",
        max_length=60,
        blank=True,
        help_text="Any number on the slip or label: an OCLC/ILL number, a request number.",
    )
    sent_by = OneLineField(
        "sent by", max_length=200, blank=True, help_text="The library on the label, if any."
    )
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    # The team's resolution.
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    matched_request = models.ForeignKey(
        BorrowingRequest,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="unrequested_reports",
    )
    send_to = models.ForeignKey(
        MemberLibrary, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    returned_to = models.ForeignKey(
        Lender, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    #: The team's note to the library: what to do with the item.
    resolution = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["library", "-created_at"], name="unrequested_library"),
            models.Index(
                fields=["-created_at"],
                condition=Q(resolved_at__isnull=True),
                name="unrequested_open",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome="", resolved_at__isnull=True)
                | Q(outcome="matched", matched_request__isnull=False, resolved_at__isnull=False)
                | Q(outcome="sent_on", send_to__isnull=False, resolved_at__isnull=False)
                | Q(outcome="returned_to_lender", resolved_at__isnull=False),
                name="unrequested_resolution_complete",
            )
        ]

    def __str__(self) -> str:
        return f"Unrequested item at {self.library_id}: {self.title}"


class ExchangeMessage(models.Model):
    """One ISO 18626 message between illdesk and a lender (docs/iso18626.md).

    Sent (``OUT``): written in the transaction of the action it tells of, posted by a Celery
    task after commit, tried again with a backoff, given up after its last try. Received
    (``IN``): the body as it came, what it did to the request or why it was refused, and the
    confirmation it was answered with. Rows are kept: they are the exchange's record.
    """

    class Direction(models.TextChoices):
        OUT = "out", "Sent"
        IN = "in", "Received"

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENT = "sent", "Sent"
        FAILED = "failed", "Not delivered"
        RESENT = "resent", "Not delivered; sent again"
        #: A step of the past (a loan moved from an older system): the lender knew of it.
        NOT_SENT = "not_sent", "Not sent: the lender had it already"
        ACCEPTED = "accepted", "Accepted"
        REFUSED = "refused", "Refused"

    request = models.ForeignKey(
        BorrowingRequest,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="exchange",
        db_index=False,  # ``exchange_request_created`` leads with it
    )
    lender = models.ForeignKey(Lender, on_delete=models.PROTECT, related_name="+")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    #: The message's kind (``request``, ``requestingAgencyMessage`` …).
    kind = models.CharField(max_length=40)
    #: The action sent or the status received (``Renew``, ``Loaned`` …).
    what = models.CharField(max_length=40, blank=True)
    state = models.CharField(max_length=10, choices=State.choices)
    body = models.TextField()
    #: A received message's fingerprint without its timestamp: the same message again is a
    #: repeat, and changes nothing.
    digest = models.CharField(max_length=64, blank=True, default="")
    #: The confirmation: the one illdesk answered, or the one the lender gave.
    answer = models.TextField(blank=True)
    #: What the message did, in words, or why it failed.
    summary = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    objects = NoDeleteQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["request", "created_at"], name="exchange_request_created"),
            models.Index(
                fields=["created_at"],
                condition=Q(state="pending"),
                name="exchange_unsent",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["lender", "digest"],
                condition=Q(direction="in", state="accepted"),
                name="exchange_received_once",
            ),
            models.CheckConstraint(
                condition=Q(
                    direction="out", state__in=["pending", "sent", "failed", "resent", "not_sent"]
                )
                | Q(direction="in", state__in=["accepted", "refused"]),
                name="exchange_state_fits_direction",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.kind} {self.what} ({self.state})"

    def delete(self, *args, **kwargs):
        raise PermissionError("Exchange messages are kept.")
