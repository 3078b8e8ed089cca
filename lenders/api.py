"""The API for the lender directory (the team's, as its pages are), each lender with its
newest availability report."""

from typing import TYPE_CHECKING, Any, TypedDict

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.permissions import BasePermission

from core.api import READ_ERRORS, WRITE_ERRORS
from core.forms import yes_no_filter

from .models import Lender
from .selectors import lenders_with_availability, search_lenders

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
            "availability",
        ]
        read_only_fields = fields

    @extend_schema_field(AvailabilitySerializer(allow_null=True))
    def get_availability(
        self, lender: "WithAnnotations[Lender, _NewestReport]"
    ) -> dict[str, Any] | None:
        if lender.availability_id is None:
            return None
        return AvailabilitySerializer(lender).data


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
)
class LenderViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = LenderSerializer
    filterset_class = LenderFilter
    permission_classes = [IsTeam]

    def get_queryset(self):
        return lenders_with_availability()
