"""The API's shapes of a borrowing request and of the input to each action.

Like the forms, serializers only read and tidy input: the rules (who may, from which
status, which dates make sense) live in the workflow and services, which the API views call.
Action serializers read the same keys as the pages' forms.
"""

from typing import Any, cast

from django.core.validators import MaxLengthValidator
from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.checks import length_limit
from lenders.models import Lender
from members.access import signed_in_user
from members.models import MemberLibrary, Patron, User

from .. import rules, workflow
from ..flags import CHOICES as FLAG_CHOICES
from ..flags import flags_of
from ..models import (
    BorrowingRequest,
    Charge,
    ChargeKind,
    ChargePayer,
    Format,
    Message,
    RenewalRequest,
    ShippingMethod,
    StatusEvent,
)


class Text(serializers.CharField):
    """Text the workflow checks: its limit is in the schema (``maxLength``), but the
    workflow refuses what is longer, in the words the pages use too."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators = [v for v in self.validators if not isinstance(v, MaxLengthValidator)]


def _text(max_length: int, **kwargs) -> Text:
    return Text(max_length=max_length, required=False, allow_blank=True, default="", **kwargs)


def _username(**kwargs) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(slug_field="username", read_only=True, **kwargs)


# --- Reading ------------------------------------------------------------------------------


class LenderBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Lender
        fields = ["id", "name", "oclc_symbol"]


class ChargeSerializer(serializers.ModelSerializer):
    created_by = _username()

    class Meta:
        model = Charge
        fields = [
            "id",
            "kind",
            "amount",
            "currency",
            "payer",
            "invoiced",
            "paid",
            "reference",
            "created_by",
            "created_at",
        ]


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

    class Meta:
        model = StatusEvent
        fields = ["id", "action", "from_status", "to_status", "actor", "at", "note"]


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
        return flags_of(req)

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

    #: The model's text fields as ``Text``: the workflow's full_clean refuses too long a
    #: title in the words the page uses.
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: Text,
        models.TextField: Text,
    }

    class Meta:
        model = BorrowingRequest
        fields = ["library", "patron", *workflow.CITATION_FIELDS, "needed_by", "max_cost", "notes"]
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
