"""Forms for the request pages. They read and tidy input; the rules live in the workflow
and services, whose ``ValidationError``s the views put back on these fields. A form runs a
field's own rule early (a date's window, a text's length) so a page shows every problem
at once; it uses the rule's one definition (``core.checks``, ``requests_app.rules``), so
its words are the workflow's and the API's."""

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.checks import length_limit, near_today
from core.forms import DATE, WorkflowForm
from lenders.models import Lender
from lenders.selectors import lender_by_code
from members.models import MemberLibrary, Patron
from members.selectors import team_members
from members.services import check_patron

from .. import rules, workflow
from ..identifiers import validate_isbn, validate_issn, validate_oclc_number
from ..models import (
    BorrowingRequest,
    Charge,
    ChargeKind,
    ChargePayer,
    DvdRegion,
    ExchangeMessage,
    Format,
    ShippingMethod,
    UnrequestedItemReport,
    VideoEncoding,
)

#: The menu offers what the service does not take too: choosing it, the workflow says
#: where to go instead.
FORMAT_CHOICES = [
    *Format.choices,
    ("article", "Journal or newspaper article (not borrowed here)"),
    ("ebook", "E-book or other electronic resource (not borrowed here)"),
]


def _limit(field: str) -> int:
    """The longest text a request's field holds (the model's, which the workflow checks)."""
    return length_limit(BorrowingRequest, field)


def _identifier(label: str, typed_length: int, validator) -> forms.CharField:
    """An ISBN, ISSN or OCLC number as typed (hyphens, spaces, a prefix). The box takes
    ``typed_length`` characters; what is wrong with the number its checker says, in the
    workflow's words (no separate length message)."""
    return forms.CharField(
        label=label,
        required=False,
        validators=[validator],
        widget=forms.TextInput(attrs={"maxlength": typed_length}),
    )


class CitationForm(WorkflowForm):
    """The item's fields, as a new request and an edit of the item read them."""

    format = forms.ChoiceField(choices=FORMAT_CHOICES, initial=Format.BOOK)
    title = forms.CharField(max_length=_limit("title"), error_messages={"required": rules.BLANK})
    author = forms.CharField(max_length=_limit("author"), required=False)
    publisher = forms.CharField(max_length=_limit("publisher"), required=False)
    year = forms.CharField(max_length=_limit("year"), required=False)
    edition = forms.CharField(max_length=_limit("edition"), required=False)
    edition_only = forms.BooleanField(label="This edition only", required=False)
    volume = forms.CharField(
        label="Volume or part",
        max_length=100,
        required=False,
        help_text="For multi-volume sets and series: which one.",
    )
    isbn = _identifier("ISBN", 40, validate_isbn)
    issn = _identifier("ISSN", 20, validate_issn)
    oclc_number = _identifier("OCLC number", 40, validate_oclc_number)
    language = forms.CharField(max_length=_limit("language"), required=False)
    dvd_region = forms.ChoiceField(
        label="DVD region",
        choices=[("", "Any region"), *DvdRegion.choices],
        required=False,
        help_text="DVD / Blu-ray only.",
    )
    video_encoding = forms.ChoiceField(
        label="Video encoding",
        choices=[("", "Any encoding"), *VideoEncoding.choices],
        required=False,
        help_text="DVD / Blu-ray only. North American players need NTSC.",
    )

    # The workflow's own check, run here too so every problem shows in one round.
    def clean_format(self) -> str:
        workflow.check_format(self.cleaned_data["format"])
        return self.cleaned_data["format"]

    def citation(self) -> dict:
        return {name: self.cleaned_data[name] for name in workflow.CITATION_FIELDS}


class NewRequestForm(CitationForm):
    field_order = ["card_number", "patron_name", "patron_email", "homebound"]

    # The patron's card and name are checked by ``check_patron`` (in ``clean``), as for
    # the API; the boxes only stop typing at the limit.
    card_number = forms.CharField(
        label="Patron's card number",
        required=False,
        widget=forms.TextInput(
            attrs={"maxlength": length_limit(Patron, "card_number"), "required": True}
        ),
        help_text="Scan or type the card. A patron new to illdesk needs a name below too.",
    )
    patron_name = forms.CharField(
        label="Patron's name (new patrons)",
        required=False,
        widget=forms.TextInput(attrs={"maxlength": length_limit(Patron, "name")}),
    )
    patron_email = forms.EmailField(label="Patron's e-mail (optional)", required=False)
    homebound = forms.BooleanField(
        label="Homebound patron (record the chain of custody)", required=False
    )
    needed_by = forms.DateField(label="Needed by", required=False, widget=DATE)
    max_cost = forms.DecimalField(
        label="Max cost (USD)",
        max_digits=8,
        decimal_places=2,
        help_text="The most your library will pay for shipping and fees on this loan.",
    )
    notes = forms.CharField(
        label="Notes to the team",
        required=False,
        max_length=rules.NOTES_TO_TEAM,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What the lender must know to send the right item, such as “3rd edition "
        "only”. The lender sees them on its slip: do not name the patron.",
    )
    #: Shown once the workflow warned of an open request for the same item.
    duplicate_reason = forms.CharField(
        label="Why submit it all the same",
        required=False,  # the workflow says when one is needed, as to the API
        max_length=rules.REASON,
        help_text="For example: the patron wants a second copy for a book group. "
        "The team reads it on the request.",
    )

    def __init__(self, *args, library, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.library = library
        self.actor = actor

    @property
    def refused_format(self) -> str | None:
        """Why the item a link filled in (an OpenURL) is not borrowed, said before anyone
        types the rest: an article goes to document delivery."""
        if self.is_bound:
            return None
        return workflow.refused_format_message(str(self.initial.get("format", "")))

    # The workflow's own checks, run here too so every problem shows in one round.
    def clean_needed_by(self):
        needed_by = self.cleaned_data["needed_by"]
        workflow.check_needed_by(needed_by)
        return needed_by

    def clean_max_cost(self):
        value = self.cleaned_data["max_cost"]
        workflow.check_max_cost(value, library=self.library, actor=self.actor)
        return value

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        try:
            check_patron(
                library=self.library,
                card_number=data.get("card_number", ""),
                name=data.get("patron_name", ""),
            )
        except ValidationError as error:
            self.add_workflow_errors(error)
        return data

    def asks_for_a_reason(self) -> bool:
        """Whether the page shows the reason box: after a warning, or when one was given."""
        return bool(
            self.is_bound
            and (self.data.get("duplicate_reason") or self.has_error("duplicate_reason"))
        )


class EditItemForm(CitationForm):
    """The item, as it stands, to correct."""

    @staticmethod
    def initial_from(req: BorrowingRequest) -> dict[str, Any]:
        return {name: getattr(req, name) for name in workflow.CITATION_FIELDS}


class ReceiveForm(WorkflowForm):
    received_on = forms.DateField(
        label="Received on",
        required=False,
        widget=DATE,
        validators=[near_today],
        help_text="Leave empty for today.",
    )


class RenewalForm(WorkflowForm):
    due_date = forms.DateField(
        label="Due date you would like", widget=DATE, validators=[near_today]
    )


class ReturnForm(WorkflowForm):
    method = forms.ChoiceField(
        label="Returned by", choices=ShippingMethod.choices, widget=forms.RadioSelect
    )
    tracking_number = forms.CharField(
        label="Tracking number",
        max_length=rules.TRACKING_NUMBER,
        required=False,
        help_text="Needed for mail.",
    )


class CancelForm(WorkflowForm):
    reason = forms.CharField(
        label="Reason (optional)", max_length=rules.CANCEL_REASON, required=False
    )


class NotArrivedForm(WorkflowForm):
    note = forms.CharField(
        label="What you know (optional)",
        max_length=rules.NOTE,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class MessageForm(WorkflowForm):
    body = forms.CharField(
        label="Your message",
        max_length=rules.MESSAGE,
        required=False,  # the service says what is missing, as to the API
        widget=forms.Textarea(attrs={"rows": 3, "required": True}),
    )


class LenderMessageForm(WorkflowForm):
    body = forms.CharField(
        label="Message to the lender",
        max_length=rules.NOTE,
        required=False,  # the service says what is missing, as to the API
        widget=forms.Textarea(attrs={"rows": 2, "required": True}),
        help_text="Sent to the lender as an ISO 18626 notification. Name no patron.",
    )


class SendAgainForm(WorkflowForm):
    """Send a message that was not delivered once more, chosen from the request's."""

    message = forms.TypedChoiceField(label="Message", coerce=int)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.TypedChoiceField, self.fields["message"])
        field.choices = [
            (m.pk, f"{m.what} of {timezone.localtime(m.created_at):%Y-%m-%d %H:%M}")
            for m in self.failed()
        ]

    def failed(self) -> list[ExchangeMessage]:
        return [
            m
            for m in exchange_of(self.subject)
            if m.direction == ExchangeMessage.Direction.OUT
            and m.state == ExchangeMessage.State.FAILED
        ]


def exchange_of(req: BorrowingRequest | None) -> list[ExchangeMessage]:
    """The request's ISO 18626 messages, in and out, oldest first (read once a page)."""
    if req is None:
        return []
    cached = req.__dict__.get("_exchange")
    if cached is None:
        cached = list(req.exchange.select_related("lender").order_by("created_at", "id"))
        req.__dict__["_exchange"] = cached
    return cached


class UnrequestedItemForm(forms.ModelForm):
    note = forms.CharField(
        label="Anything else",
        max_length=rules.NOTE,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    class Meta:
        model = UnrequestedItemReport
        fields = ["title", "slip_number", "sent_by", "note"]
        labels = {"title": "What arrived (title, author)"}


# --- The team's forms on a request's page -------------------------------------------------


class NoteForm(WorkflowForm):
    note = forms.CharField(label="Note (optional)", max_length=rules.NOTE, required=False)


class ReasonForm(WorkflowForm):
    reason = forms.CharField(
        label="Reason",
        max_length=rules.REASON,
        required=False,  # the workflow says what is missing, as to the API
        widget=forms.TextInput(attrs={"required": True}),
    )


class RequiredNoteForm(WorkflowForm):
    note = forms.CharField(
        label="What you learned",
        max_length=rules.NOTE,
        required=False,  # the workflow says what is missing, as to the API
        widget=forms.Textarea(attrs={"rows": 2, "required": True}),
        help_text="Whom you contacted (the lender, Delivery) and what they said.",
    )


class ShipmentFields(WorkflowForm):
    shipped_on = forms.DateField(label="Shipped on", widget=DATE, validators=[near_today])
    due_date = forms.DateField(label="Due date", widget=DATE, validators=[near_today])
    method = forms.ChoiceField(
        label="Shipped by", choices=ShippingMethod.choices, widget=forms.RadioSelect
    )
    tracking_number = forms.CharField(
        label="Tracking number", max_length=rules.TRACKING_NUMBER, required=False
    )


class ReplacementForm(ShipmentFields):
    note = forms.CharField(label="Note (optional)", max_length=rules.NOTE, required=False)


class ClearedForm(WorkflowForm):
    received_on = forms.DateField(
        label="Received on",
        required=False,
        widget=DATE,
        validators=[near_today],
        help_text="Leave empty for today.",
    )
    note = forms.CharField(label="Where it was (optional)", max_length=rules.NOTE, required=False)


class CorrectShipmentForm(ShipmentFields):
    lender_request_number = forms.CharField(
        label="Lender's request number (OCLC/ILL)", max_length=rules.ILL_NUMBER, required=False
    )
    note = forms.CharField(label="Note (optional)", max_length=rules.NOTE, required=False)

    @staticmethod
    def initial_from(req: BorrowingRequest) -> dict[str, Any]:
        return {
            "shipped_on": req.shipped_on,
            "due_date": req.due_date,
            "method": req.shipping_method,
            "tracking_number": req.shipping_tracking,
            "lender_request_number": req.lender_request_number,
        }


class CorrectReceiptForm(WorkflowForm):
    received_on = forms.DateField(label="Received on", widget=DATE, validators=[near_today])
    note = forms.CharField(label="Note (optional)", max_length=rules.NOTE, required=False)

    @staticmethod
    def initial_from(req: BorrowingRequest) -> dict[str, Any]:
        return {"received_on": req.received_on}


class CorrectReturnForm(WorkflowForm):
    returned_on = forms.DateField(label="Returned on", widget=DATE, validators=[near_today])
    method = forms.ChoiceField(
        label="Returned by", choices=ShippingMethod.choices, widget=forms.RadioSelect
    )
    tracking_number = forms.CharField(
        label="Tracking number",
        max_length=rules.TRACKING_NUMBER,
        required=False,
        help_text="Needed for mail.",
    )
    note = forms.CharField(label="Note (optional)", max_length=rules.NOTE, required=False)

    @staticmethod
    def initial_from(req: BorrowingRequest) -> dict[str, Any]:
        return {
            "returned_on": req.returned_on,
            "method": req.return_method,
            "tracking_number": req.return_tracking,
        }


class NoInputForm(WorkflowForm):
    """An action that needs nothing more than its button."""


class ChargeEntryForm(WorkflowForm):
    """An action on one charge of the request's ledger, chosen from those it applies to."""

    charge = forms.TypedChoiceField(label="Charge", coerce=int)

    #: Which entries the action applies to (a standing one; one not yet invoiced, paid).
    @staticmethod
    def applies_to(charge: Charge) -> bool:
        return True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.TypedChoiceField, self.fields["charge"])
        field.choices = [(c.pk, charge_label(c)) for c in self.entries()]

    def entries(self) -> list[Charge]:
        return [c for c in standing_charges(self.subject) if self.applies_to(c)]


def standing_charges(req: BorrowingRequest | None) -> list[Charge]:
    """The request's charges that stand: neither voided nor a void (read once a page)."""
    if req is None:
        return []
    cached = req.__dict__.get("_standing_charges")
    if cached is None:
        cached = [
            charge
            for charge in req.charges.select_related("voided_by").order_by("created_at", "id")
            if charge.voids_id is None and getattr(charge, "voided_by", None) is None
        ]
        req.__dict__["_standing_charges"] = cached
    return cached


def charge_label(charge: Charge) -> str:
    return (
        f"{charge.created_at:%Y-%m-%d} {charge.get_kind_display()} "
        f"{charge.amount} {charge.currency}"
        + (f" ({charge.reference})" if charge.reference else "")
    )


class VoidChargeForm(ChargeEntryForm):
    reason = forms.CharField(
        label="Why it is voided",
        max_length=rules.REASON,
        required=False,  # the service says what is missing, as to the API
        widget=forms.TextInput(attrs={"required": True}),
        help_text="For example: typed 1e3 for 10.00.",
    )


class ChargeInvoicedForm(ChargeEntryForm):
    invoiced_on = forms.DateField(
        label="Invoiced on", required=False, widget=DATE, help_text="Leave empty for today."
    )

    @staticmethod
    def applies_to(charge: Charge) -> bool:
        return charge.invoiced_on is None


class ChargePaidForm(ChargeEntryForm):
    paid_on = forms.DateField(
        label="Paid on", required=False, widget=DATE, help_text="Leave empty for today."
    )

    @staticmethod
    def applies_to(charge: Charge) -> bool:
        return charge.paid_on is None


class CodeChoiceField(forms.ModelChoiceField):
    """A row chosen by typing its code (an ILL code, an OCLC symbol) in any case: a list
    of every library or lender would weigh more than the rest of the page put together."""

    widget = forms.TextInput

    def to_python(self, value):
        return super().to_python(value.strip().upper() if isinstance(value, str) else value)


class ResolveUnrequestedForm(WorkflowForm):
    outcome = forms.ChoiceField(
        label="What became of it",
        choices=UnrequestedItemReport.Outcome.choices,
        widget=forms.RadioSelect,
    )
    request = forms.IntegerField(label="Request number (when matched)", required=False, min_value=1)
    send_to = CodeChoiceField(
        label="Send on to: the library's ILL code (when it is another library's)",
        queryset=MemberLibrary.objects.filter(is_active=True),
        required=False,
        to_field_name="ill_code",
        widget=forms.TextInput(attrs={"maxlength": length_limit(MemberLibrary, "ill_code")}),
        error_messages={"invalid_choice": "No member library has that ILL code."},
    )
    returned_to = CodeChoiceField(
        label="Lender's OCLC symbol (when it goes back, if in the directory)",
        queryset=Lender.objects.filter(is_active=True).exclude(oclc_symbol=""),
        required=False,
        to_field_name="oclc_symbol",
        widget=forms.TextInput(attrs={"maxlength": length_limit(Lender, "oclc_symbol")}),
        error_messages={"invalid_choice": "No lender in the directory has that OCLC symbol."},
    )
    note = forms.CharField(
        label="Note to the library",
        max_length=rules.NOTE,
        required=False,  # the service says what is missing, as to the API
        widget=forms.Textarea(attrs={"rows": 2, "required": True}),
        help_text="What to do with the item: where to send it, by which route.",
    )


class LenderPickerForm(forms.Form):
    """The request page's search of the lender directory, ``?lender_q=``."""

    lender_q = forms.CharField(
        label="Lender name or OCLC symbol",
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"type": "search"}),
    )


class SendToLenderForm(WorkflowForm):
    lender = forms.ModelChoiceField(
        queryset=Lender.objects.filter(is_active=True), widget=forms.HiddenInput
    )
    lender_request_number = forms.CharField(
        label="OCLC/ILL number (optional)", max_length=rules.ILL_NUMBER, required=False
    )


class LenderStringForm(WorkflowForm):
    """Up to five lenders, in order, each by its OCLC symbol (as a WorldShare lender string
    has them) or its number in the directory. The workflow checks the string itself
    (``workflow.check_lender_string``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for n in range(1, rules.LENDER_STRING + 1):
            self.fields[f"lender_{n}"] = forms.CharField(
                label=f"Lender {n}",
                max_length=20,
                required=False,
                help_text="OCLC symbol or directory number" if n == 1 else "",
            )
        self.fields["note"] = forms.CharField(
            label="Note (optional)", max_length=rules.NOTE, required=False
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        lenders = []
        for n in range(1, rules.LENDER_STRING + 1):
            given = (cleaned.get(f"lender_{n}") or "").strip()
            if not given:
                continue
            found = lender_by_code(given)
            if found is None:
                self.add_error(f"lender_{n}", f"No lender has the OCLC symbol or number {given}.")
            else:
                lenders.append(found)
        cleaned["lenders"] = lenders
        return cleaned


class ShipForm(ShipmentFields):
    """The lender's shipment."""


class AnswerRenewalForm(WorkflowForm):
    approved = forms.TypedChoiceField(
        label="The lender's answer",
        choices=[("yes", "Approved"), ("no", "Denied")],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    due_date = forms.DateField(
        label="New due date",
        widget=DATE,
        validators=[near_today],
        required=False,
        help_text="When approved.",
    )
    note = forms.CharField(label="Note (optional)", max_length=rules.NOTE, required=False)


class ChargeForm(WorkflowForm):
    kind = forms.ChoiceField(choices=ChargeKind.choices)
    amount = forms.DecimalField(
        label="Amount (USD)",
        max_digits=10,
        decimal_places=2,
        validators=[rules.check_charge_amount],
        widget=forms.NumberInput(attrs={"min": 0, "max": rules.MAX_CHARGE, "step": "0.01"}),
    )
    payer = forms.ChoiceField(label="Paid by", choices=ChargePayer.choices)
    invoiced = forms.BooleanField(required=False)
    paid = forms.BooleanField(required=False)
    reference = forms.CharField(
        max_length=100, required=False, help_text="Invoice or IFM number; a foreign amount."
    )


class MaxCostForm(ReasonForm):
    field_order = ["max_cost", "reason"]
    max_cost = forms.DecimalField(label="New max cost (USD)", max_digits=8, decimal_places=2)


class AssignForm(WorkflowForm):
    assignee = forms.ModelChoiceField(
        label="Assign to",
        queryset=team_members(),
        required=False,
        empty_label="Nobody",
    )


class RequestIdsField(forms.Field):
    """Request ids from the queue's checkboxes (``name="ids"``, one per selected row)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        try:
            return [int(item) for item in value or []][:500]
        except (TypeError, ValueError):
            raise ValidationError("Request numbers are whole numbers.") from None

    def validate(self, value):
        if not value:
            raise ValidationError("Select at least one request.")


class BulkForm(forms.Form):
    """The queue's bulk actions on the selected rows; each id is checked when acted on."""

    ids = RequestIdsField()
    action = forms.ChoiceField(
        label="With the selected",
        choices=[
            ("take", "Take (assign to me)"),
            ("assign", "Assign to…"),
            ("start_sourcing", "Start sourcing"),
        ],
    )
    assignee = AssignForm.base_fields["assignee"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("action") == "assign" and data.get("assignee") is None:
            self.add_error("assignee", "Choose whom to assign the selected requests to.")
        return data
