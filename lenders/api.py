"""The API for the lender directory (the team's, as its pages are), each lender with its
newest availability report."""

from typing import TYPE_CHECKING, Any, TypedDict

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response

from core.api import READ_ERRORS, WRITE_ERRORS
from core.forms import yes_no_filter
from members.models import User

from .models import Lender
from .selectors import lenders_with_availability, search_lenders
from .services import LENDER_FIELDS, save_lender

if TYPE_CHECKING:
    # django-stubs' type of an annotated model (a dev dependency: for mypy only).
    from django_stubs_ext import WithAnnotations


class _NewestReport(TypedDict):
    """The annotation ``lenders_with_availability`` names the newest report by."""

    availability_id: int | None


class IsTeam(BasePermission):
    message = "The lender directory is for the resource sharing team."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_team)


class AvailabilitySerializer(serializers.Serializer):
    """The newest availability report, read from the lender's annotations."""

    id = serializers.IntegerField(source="availability_id")
    reported_at = serializers.DateTimeField()
    lending = serializers.BooleanField()
    accepting_returns = serializers.BooleanField()
    closed_from = serializers.DateField(allow_null=True)
    closed_until = serializers.DateField(allow_null=True)
    # DRF's metaclass takes declared fields out of the class: this does not replace
    # ``Field.source``, as mypy thinks.
    source = serializers.CharField(help_text="Where the report came from.")  # type: ignore[assignment]
    note = serializers.CharField()


class LenderSerializer(serializers.ModelSerializer):
    email = serializers.CharField(read_only=True, help_text="An e-mail address, or empty.")
    iso18626_address = serializers.CharField(
        read_only=True, help_text="Where illdesk posts ISO 18626 messages, or empty."
    )
    availability = serializers.SerializerMethodField()

    class Meta:
        model = Lender
        fields = [
            "id",
            "name",
            "oclc_symbol",
            "kind",
            "country",
            "address",
            "email",
            "charges_fees",
            "usual_fee",
            "fee_currency",
            "accepts_ifm",
            "accepts_ifla_vouchers",
            "on_delivery",
            "interstate_delivery_code",
            "is_active",
            "notes",
            "iso18626_address",
            "agency_id_type",
            "agency_id_value",
            "has_iso18626_password",
            "availability",
        ]
        read_only_fields = fields

    has_iso18626_password = serializers.SerializerMethodField(
        help_text="Whether a partner password is set (it is never shown)."
    )

    def get_has_iso18626_password(self, lender: Lender) -> bool:
        return bool(lender.iso18626_password_sealed)

    @extend_schema_field(AvailabilitySerializer(allow_null=True))
    def get_availability(
        self, lender: "WithAnnotations[Lender, _NewestReport]"
    ) -> dict[str, Any] | None:
        if lender.availability_id is None:
            return None
        return AvailabilitySerializer(lender).data


class LenderWriteSerializer(serializers.ModelSerializer):
    """What an admin sends to add or change a lender: the fields the list shows and its
    ISO 18626 partnership, with a write-only password (left out: kept; "": removed)."""

    iso18626_password = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=200, trim_whitespace=False
    )

    class Meta:
        model = Lender
        fields = [*LENDER_FIELDS, "iso18626_password"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The model's checks run in ``save_lender``, the one place for every door.
        return attrs


class IsTeamToReadAdminToWrite(IsTeam):
    message = "The lender directory is for the resource sharing team; admins change it."

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        if request.method in SAFE_METHODS or request.method.lower() not in view.http_method_names:
            return True  # reading, or a method the view lacks (which answers 405)
        return request.user.role == User.Role.ADMIN


class LenderFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label="Name or OCLC symbol", method="filter_text", max_length=100)
    kind = django_filters.ChoiceFilter(choices=Lender.Kind.choices)
    charges_fees = yes_no_filter()
    is_active = yes_no_filter()

    def filter_text(self, queryset, name, value):
        return search_lenders(queryset, text=value)


@extend_schema_view(
    list=extend_schema(
        summary="Lenders",
        responses={200: LenderSerializer(many=True), 400: WRITE_ERRORS[400], **READ_ERRORS},
    ),
    retrieve=extend_schema(summary="One lender", responses={200: LenderSerializer, **READ_ERRORS}),
    create=extend_schema(
        summary="Add a lender (admins)",
        request=LenderWriteSerializer,
        responses={201: LenderSerializer, **WRITE_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Change a lender (admins)",
        request=LenderWriteSerializer,
        responses={200: LenderSerializer, **WRITE_ERRORS},
    ),
)
class LenderViewSet(
    mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet
):
    serializer_class = LenderSerializer
    filterset_class = LenderFilter
    permission_classes = [IsTeamToReadAdminToWrite]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return lenders_with_availability()

    def create(self, request, *args, **kwargs):
        return self._write(None, request.data, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        return self._write(self.get_object(), request.data, status.HTTP_200_OK)

    def _write(self, lender: Lender | None, data: Any, answer: int) -> Response:
        given = LenderWriteSerializer(lender, data=data, partial=lender is not None)
        given.is_valid(raise_exception=True)
        values = dict(given.validated_data)
        password = values.pop("iso18626_password", None)
        saved = save_lender(lender, values, iso18626_password=password)
        shown = self.get_queryset().get(pk=saved.pk)
        return Response(LenderSerializer(shown).data, status=answer)
