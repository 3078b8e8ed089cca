"""The API's shapes of a borrowing request and of the input to each action.

Like the forms, serializers only read and tidy input: the rules (who may, from which
status, which dates make sense) live in the workflow and services, which the API views call.
Action serializers read the same keys as the pages' forms.
"""

from typing import Any, cast

from django.core.validators import MaxLengthValidator
from django.db import models
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.checks import length_limit
from lenders.models import Lender
from members.access import signed_in_user
from members.models import MemberLibrary, Patron, User

from .. import rules, workflow
from ..duplicates import Duplicate
from ..flags import CHOICES as FLAG_CHOICES
from ..flags import TEAM_ONLY, flags_of
from ..models import (
    BorrowingRequest,
    Charge,
    ChargeKind,
    ChargePayer,
    DvdRegion,
    Format,
    LenderStringEntry,
    Message,
    RenewalRequest,
    ShippingMethod,
    Status,
    StatusEvent,
    UnrequestedItemReport,
    VideoEncoding,
)


class Text(serializers.CharField):
    """Text the workflow checks: its limit is in the schema (``maxLength``), but the
    workflow refuses what is longer, in the words the pages use too."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators = [v for v in self.validators if not isinstance(v, MaxLengthValidator)]


def _text(max_length: int, **kwargs) -> Text:
    return Text(max_length=max_length, required=False, allow_blank=True, default="", **kwargs)


def _limit_of(field: str) -> int:
    return length_limit(BorrowingRequest, field)


def _username(**kwargs) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(slug_field="username", read_only=True, **kwargs)


# --- Reading ------------------------------------------------------------------------------


class LenderBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Lender
        fields = ["id", "name", "oclc_symbol"]


class ChargeSerializer(serializers.ModelSerializer):
    """An entry of the request's ledger. A void is an entry of its own: the amount negated,
    ``voids`` naming the entry it cancels, with its ``reason``."""

    created_by = _username()
    invoiced = serializers.BooleanField(read_only=True, help_text="Has an invoiced date.")
    paid = serializers.BooleanField(read_only=True, help_text="Has a paid date.")
    voided_by = serializers.SerializerMethodField()

    class Meta:
        model = Charge
        fields = [
            "id",
            "kind",
            "amount",
            "currency",
            "payer",
            "invoiced",
            "invoiced_on",
            "paid",
            "paid_on",
            "reference",
            "voids",
            "voided_by",
            "reason",
            "created_by",
            "created_at",
        ]

    @extend_schema_field(
        serializers.IntegerField(allow_null=True, help_text="The void of this entry, if any.")
    )
    def get_voided_by(self, charge: Charge) -> int | None:
        voided = getattr(charge, "voided_by", None)
        return voided.pk if voided is not None else None


class RenewalSerializer(serializers.ModelSerializer):
    requested_by = _username()
    answered_by = _username(allow_null=True)

    class Meta:
        model = RenewalRequest
        fields = [
            "id",
            "requested_due_date",
            "requested_by",
            "requested_at",
            "answer",
            "new_due_date",
            "answered_by",
            "answered_at",
            "note",
        ]


class EventSerializer(serializers.ModelSerializer):
    actor = _username(allow_null=True, help_text="Null when a background job acted.")
    changes = serializers.JSONField(
        allow_null=True,
        help_text="What a correction changed: {field: [before, after]}, values as text.",
    )

    class Meta:
        model = StatusEvent
        fields = ["id", "action", "from_status", "to_status", "actor", "at", "note", "changes"]


class MessageSerializer(serializers.ModelSerializer):
    author = _username()

    class Meta:
        model = Message
        fields = ["id", "author", "body", "created_at"]


class RequestSerializer(serializers.ModelSerializer):
    """A request as ``GET /api/v1/requests/{id}/`` shows it. The patron is an id only:
    their name is for their own library (``/api/v1/patrons/{id}/``).

    Output only (its fields are not marked read-only so that the schema keeps the blank
    choice, "", of fields such as ``shipping_method``)."""

    library: serializers.SlugRelatedField[MemberLibrary] = serializers.SlugRelatedField(
        slug_field="ill_code", read_only=True
    )
    created_by = _username()
    assigned_to = _username(allow_null=True)
    lender = LenderBriefSerializer(read_only=True, allow_null=True)
    charges = ChargeSerializer(many=True, read_only=True)
    renewals = RenewalSerializer(many=True, read_only=True)
    flags = serializers.SerializerMethodField()
    actions = serializers.SerializerMethodField()

    class Meta:
        model = BorrowingRequest
        fields = [
            "id",
            "status",
            "library",
            "patron",
            "created_by",
            "assigned_to",
            *workflow.CITATION_FIELDS,
            "needed_by",
            "max_cost",
            "notes",
            "lender",
            "lender_request_number",
            "shipped_on",
            "shipping_method",
            "shipping_tracking",
            "due_date",
            "received_on",
            "returned_on",
            "return_method",
            "return_tracking",
            "flags",
            "trace",
            "follows",
            "possible_duplicate_of",
            "not_arrived_flagged_at",
            "overdue_flagged_at",
            "charges",
            "charges_total",
            "renewals",
            "actions",
            "created_at",
            "updated_at",
            "ended_at",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=FLAG_CHOICES)))
    def get_flags(self, req: BorrowingRequest) -> list[str]:
        user = self.context["request"].user
        hidden = set() if user.is_team else TEAM_ONLY
        return [name for name in flags_of(req) if name not in hidden]

    @extend_schema_field(
        serializers.ListField(
            child=serializers.CharField(),
            help_text="The workflow actions the caller may take now, as "
            "POST /api/v1/requests/{id}/{action}/.",
        )
    )
    def get_actions(self, req: BorrowingRequest) -> list[str]:
        user = signed_in_user(self.context["request"])
        return [workflow.MOVES[move].slug for move in workflow.allowed_actions(req, user)]


# --- A new request -----------------------------------------------------------------------


class FormatField(serializers.ChoiceField):
    """A format the service borrows; an article or e-book is refused with where to go."""

    def __init__(self, **kwargs):
        super().__init__(choices=Format.choices, **kwargs)

    def to_internal_value(self, data):
        refusal = workflow.refused_format_message(str(data))
        if refusal:
            raise serializers.ValidationError(refusal)
        return super().to_internal_value(data)


class NewPatronSerializer(serializers.Serializer):
    card_number = Text(
        max_length=length_limit(Patron, "card_number"), allow_blank=True, help_text="Required."
    )
    name = _text(length_limit(Patron, "name"), help_text="Needed when new.")
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    homebound = serializers.BooleanField(required=False, default=False)


PATRON_SCHEMA = {
    "oneOf": [
        {"type": "integer", "description": "An existing patron of the library, by id."},
        {
            "type": "object",
            "description": "The patron by card number, registered first if new (with name).",
            "properties": {
                "card_number": {"type": "string", "minLength": 1, "maxLength": 40},
                "name": {"type": "string", "maxLength": 200},
                "email": {"type": "string", "format": "email"},
                "homebound": {"type": "boolean"},
            },
            "required": ["card_number"],
        },
    ]
}


@extend_schema_field(PATRON_SCHEMA)
class PatronField(serializers.Field):
    """A patron by id, or by card number (with a name, when new to the library)."""

    def to_internal_value(self, data):
        if isinstance(data, int) and not isinstance(data, bool):
            return data
        if isinstance(data, str) and data.isdigit() and data.isascii():
            return int(data)
        if isinstance(data, dict):
            card = NewPatronSerializer(data=data)
            card.is_valid(raise_exception=True)
            return dict(card.validated_data)
        raise serializers.ValidationError(
            "Give the patron's id, or an object with their card_number (and name, if new)."
        )

    def to_representation(self, value):
        return value


class NewRequestSerializer(serializers.ModelSerializer):
    library = serializers.CharField(
        max_length=20,
        required=False,
        allow_blank=True,
        help_text="ILL code. Library staff submit for their own library (leave it out); "
        "the team names the library.",
    )
    patron = PatronField()
    format = FormatField(required=False, default=Format.BOOK)
    #: Written any way a catalogue writes them (hyphens, spaces, an ``ocm`` prefix), so
    #: longer than stored; the workflow says what is wrong with one in the pages' words.
    isbn = _text(40)
    issn = _text(20)
    oclc_number = _text(40)
    max_cost = serializers.DecimalField(
        max_digits=8,
        decimal_places=2,
        required=False,
        help_text="Defaults to the library's max cost; only the team may go above it.",
    )
    duplicate_reason = _text(
        rules.REASON,
        help_text="Why submit it although the library has an open request for the same "
        "item (a 400 lists them under duplicates). Kept on the submission's event.",
    )

    #: The model's text fields as ``Text``: the workflow's full_clean refuses too long a
    #: title in the words the page uses.
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: Text,
        models.TextField: Text,
    }

    class Meta:
        model = BorrowingRequest
        fields = [
            "library",
            "patron",
            *workflow.CITATION_FIELDS,
            "needed_by",
            "max_cost",
            "notes",
            "duplicate_reason",
        ]
        extra_kwargs = {"title": {"error_messages": {"blank": rules.BLANK}}}

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        actor = signed_in_user(self.context["request"])
        data["library"] = self._library(actor, data.get("library", ""))
        return data

    @staticmethod
    def _library(actor: User, code: str) -> MemberLibrary:
        code = code.strip()
        if not actor.is_team:
            # Library staff always have a library (the ``user_library_staff_has_library`` check).
            own = cast(MemberLibrary, actor.library)
            if code and code.upper() != own.ill_code.upper():
                raise serializers.ValidationError(
                    {"library": [f"You submit for your own library ({own.ill_code})."]}
                )
            return own
        if not code:
            raise serializers.ValidationError({"library": ["Name the library by its ILL code."]})
        library = MemberLibrary.objects.filter(ill_code__iexact=code).first()
        if library is None:
            raise serializers.ValidationError({"library": ["No library has this ILL code."]})
        return library


class DuplicateSerializer(serializers.Serializer):
    """An open request of the library's for the same item, as a refused submission lists
    it: no patron's details, only whether it is for the same patron."""

    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Status.choices)
    title = serializers.CharField()
    created_at = serializers.DateTimeField()
    patron_is_same = serializers.BooleanField()
    url = serializers.SerializerMethodField(help_text="The request in the API.")

    def get_url(self, duplicate: Duplicate) -> str:
        return reverse("api:request-detail", args=[duplicate.id])


class SubmissionErrorsSerializer(serializers.Serializer):
    """A refused submission: messages by field, and the open requests for the same item
    when it was refused on ``duplicate_reason``."""

    non_field_errors = serializers.ListField(child=serializers.CharField(), required=False)
    duplicate_reason = serializers.ListField(child=serializers.CharField(), required=False)
    duplicates = DuplicateSerializer(many=True, required=False)


# --- The actions' input: the same keys as the pages' forms ----------------------------------


class ReceiveSerializer(serializers.Serializer):
    received_on = serializers.DateField(
        required=False, allow_null=True, default=None, help_text="Today when left out."
    )


class RenewalRequestSerializer(serializers.Serializer):
    due_date = serializers.DateField(help_text="The due date the library would like.")


class ReturnSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=ShippingMethod.choices)
    tracking_number = _text(rules.TRACKING_NUMBER, help_text="Needed for mail.")


class NoteSerializer(serializers.Serializer):
    note = _text(rules.NOTE)


class CancelSerializer(serializers.Serializer):
    reason = _text(rules.CANCEL_REASON)


class ReasonSerializer(serializers.Serializer):
    reason = _text(rules.REASON)


class SendToLenderSerializer(serializers.Serializer):
    lender = serializers.PrimaryKeyRelatedField(
        queryset=Lender.objects.all(), help_text="The lender's id (an active one)."
    )
    lender_request_number = _text(rules.ILL_NUMBER, help_text="OCLC/ILL number.")


class LenderStringSerializer(serializers.Serializer):
    lenders = serializers.ListField(
        child=serializers.PrimaryKeyRelatedField(queryset=Lender.objects.all()),
        allow_empty=True,
        max_length=rules.LENDER_STRING,
        error_messages={"max_length": rules.LENDER_STRING_TOO_LONG},
        help_text="The lenders' ids, in the order to try them; [] clears the string.",
    )
    note = _text(rules.NOTE)


class StringEntrySerializer(serializers.ModelSerializer):
    lender_name = serializers.CharField(source="lender.name", read_only=True)

    class Meta:
        model = LenderStringEntry
        fields = ["position", "lender", "lender_name", "state", "note", "set_at"]
        read_only_fields = fields


class LenderStringViewSerializer(serializers.Serializer):
    """A request's lender string, as the team set it last."""

    status = serializers.CharField()
    lender = serializers.IntegerField(allow_null=True, help_text="The lender it is with now.")
    string_exhausted = serializers.BooleanField()
    lenders = StringEntrySerializer(many=True)


class SuggestionReasonSerializer(serializers.Serializer):
    words = serializers.CharField()
    points = serializers.FloatField()


class SuggestionSerializer(serializers.Serializer):
    lender = serializers.IntegerField(source="lender_id")
    name = serializers.CharField()
    score = serializers.FloatField()
    usable = serializers.BooleanField(help_text="It can take the request today.")
    reasons = SuggestionReasonSerializer(many=True)


class ShipSerializer(serializers.Serializer):
    shipped_on = serializers.DateField()
    due_date = serializers.DateField()
    method = serializers.ChoiceField(choices=ShippingMethod.choices)
    tracking_number = _text(rules.TRACKING_NUMBER)


class AnswerRenewalSerializer(serializers.Serializer):
    approved = serializers.BooleanField()
    due_date = serializers.DateField(
        required=False, allow_null=True, default=None, help_text="The new due date, if approved."
    )
    note = _text(rules.NOTE)


class AssignSerializer(serializers.Serializer):
    assignee = serializers.SlugRelatedField(
        slug_field="username",
        queryset=User.objects.all(),
        allow_null=True,
        help_text="A team member's username, or null for nobody.",
    )


class MaxCostSerializer(serializers.Serializer):
    max_cost = serializers.DecimalField(max_digits=8, decimal_places=2)
    reason = _text(rules.REASON)


class NewChargeSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ChargeKind.choices)
    amount = serializers.DecimalField(
        max_digits=10,
        decimal_places=2,
        validators=[rules.check_charge_amount],
        help_text=f"0 to {rules.MAX_CHARGE}.",
    )
    currency = _text(3, help_text="The service's currency; leave it out.")
    payer = serializers.ChoiceField(choices=ChargePayer.choices, default=ChargePayer.SERVICE)
    invoiced = serializers.BooleanField(required=False, default=False)
    paid = serializers.BooleanField(required=False, default=False)
    reference = _text(100, help_text="Invoice or IFM number; a foreign amount.")


class NewMessageSerializer(serializers.Serializer):
    body = _text(rules.MESSAGE)


# --- Traces and corrections ------------------------------------------------------------


class TraceSerializer(serializers.Serializer):
    note = _text(rules.NOTE, help_text="Whom you contacted and what they said (required).")


class ReplacementSerializer(ShipSerializer):
    note = _text(rules.NOTE)


class ClearedSerializer(serializers.Serializer):
    received_on = serializers.DateField(
        required=False, allow_null=True, default=None, help_text="Today when left out."
    )
    note = _text(rules.NOTE)


class EditItemSerializer(serializers.Serializer):
    """The item's fields to change; those left out stay as they are."""

    format = FormatField(required=False)
    title = Text(max_length=_limit_of("title"), required=False, allow_blank=True)
    author = Text(max_length=_limit_of("author"), required=False, allow_blank=True)
    publisher = Text(max_length=_limit_of("publisher"), required=False, allow_blank=True)
    year = Text(max_length=_limit_of("year"), required=False, allow_blank=True)
    edition = Text(max_length=_limit_of("edition"), required=False, allow_blank=True)
    edition_only = serializers.BooleanField(required=False)
    volume = Text(max_length=_limit_of("volume"), required=False, allow_blank=True)
    isbn = Text(max_length=40, required=False, allow_blank=True)
    issn = Text(max_length=20, required=False, allow_blank=True)
    oclc_number = Text(max_length=40, required=False, allow_blank=True)
    language = Text(max_length=_limit_of("language"), required=False, allow_blank=True)
    dvd_region = serializers.ChoiceField(
        choices=DvdRegion.choices,
        required=False,
        allow_blank=True,
    )
    video_encoding = serializers.ChoiceField(
        choices=VideoEncoding.choices,
        required=False,
        allow_blank=True,
    )


class CorrectShipmentSerializer(serializers.Serializer):
    """The shipment's fields to correct; those left out stay as they are."""

    shipped_on = serializers.DateField(required=False, allow_null=True, default=None)
    due_date = serializers.DateField(required=False, allow_null=True, default=None)
    method = serializers.ChoiceField(
        choices=ShippingMethod.choices, required=False, allow_null=True, default=None
    )
    tracking_number = Text(
        max_length=rules.TRACKING_NUMBER, required=False, allow_blank=True, allow_null=True,
        default=None,
    )  # fmt: skip
    lender_request_number = Text(
        max_length=rules.ILL_NUMBER, required=False, allow_blank=True, allow_null=True,
        default=None, help_text="The lender's own request number (OCLC/ILL number).",
    )  # fmt: skip
    note = _text(rules.NOTE)


class CorrectReceiptSerializer(serializers.Serializer):
    received_on = serializers.DateField(allow_null=True)
    note = _text(rules.NOTE)


class CorrectReturnSerializer(serializers.Serializer):
    """The return's fields to correct; those left out stay as they are."""

    returned_on = serializers.DateField(required=False, allow_null=True, default=None)
    method = serializers.ChoiceField(
        choices=ShippingMethod.choices, required=False, allow_null=True, default=None
    )
    tracking_number = Text(
        max_length=rules.TRACKING_NUMBER, required=False, allow_blank=True, allow_null=True,
        default=None,
    )  # fmt: skip
    note = _text(rules.NOTE)


class ChargeEntrySerializer(serializers.Serializer):
    charge = serializers.IntegerField(help_text="The charge's id, on this request.")


class VoidChargeSerializer(ChargeEntrySerializer):
    reason = _text(rules.REASON, help_text="Why it is voided (required).")


class ChargeInvoicedSerializer(ChargeEntrySerializer):
    invoiced_on = serializers.DateField(
        required=False, allow_null=True, default=None, help_text="Today when left out."
    )


class ChargePaidSerializer(ChargeEntrySerializer):
    paid_on = serializers.DateField(
        required=False, allow_null=True, default=None, help_text="Today when left out."
    )


# --- Items received but not requested --------------------------------------------------


class UnrequestedItemSerializer(serializers.ModelSerializer):
    """A report of an item a library received unasked, and what the team found ("" while
    it is open). Output only (not marked read-only, so the schema keeps the blank choice
    of ``outcome``, as ``RequestSerializer`` does)."""

    library: serializers.SlugRelatedField[MemberLibrary] = serializers.SlugRelatedField(
        slug_field="ill_code", read_only=True
    )
    reported_by = _username()
    send_to: serializers.SlugRelatedField[MemberLibrary] = serializers.SlugRelatedField(
        slug_field="ill_code", read_only=True, allow_null=True
    )
    resolved_by = _username(allow_null=True)

    class Meta:
        model = UnrequestedItemReport
        fields = [
            "id",
            "library",
            "reported_by",
            "title",
            "slip_number",
            "sent_by",
            "note",
            "created_at",
            "outcome",
            "matched_request",
            "send_to",
            "returned_to",
            "resolution",
            "resolved_by",
            "resolved_at",
        ]


class NewUnrequestedItemSerializer(serializers.Serializer):
    title = Text(max_length=length_limit(UnrequestedItemReport, "title"))
    slip_number = _text(length_limit(UnrequestedItemReport, "slip_number"))
    sent_by = _text(length_limit(UnrequestedItemReport, "sent_by"))
    note = _text(rules.NOTE)


class ResolveSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=UnrequestedItemReport.Outcome.choices)
    note = _text(rules.NOTE, help_text="What the library is to do with the item (required).")
    request = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="When matched: its number."
    )
    send_to = serializers.SlugRelatedField(
        slug_field="ill_code",
        queryset=MemberLibrary.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        default=None,
        help_text="When sent on: the library's ILL code.",
    )
    returned_to = serializers.PrimaryKeyRelatedField(
        queryset=Lender.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text="When returned: the lender's id, if it is in the directory.",
    )
