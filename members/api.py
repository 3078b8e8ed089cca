"""The API for member libraries and their patrons, scoped as the pages are."""

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, viewsets

from illdesk.api import READ_ERRORS, WRITE_ERRORS, yes_no_filter

from .models import MemberLibrary, Patron
from .selectors import (
    libraries_visible_to,
    patrons_visible_to,
    search_libraries,
    sees_patron_names,
)


class LibrarySerializer(serializers.ModelSerializer):
    class Meta:
        model = MemberLibrary
        fields = [
            "id",
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
        ]
        read_only_fields = fields


class LibraryFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label="Name, ILL code or BPL number", method="filter_text", max_length=200
    )
    region = django_filters.CharFilter(max_length=60)
    is_active = yes_no_filter()

    def filter_text(self, queryset, name, value):
        return search_libraries(queryset, text=value)


_LIST_ERRORS = {400: WRITE_ERRORS[400], **READ_ERRORS}


@extend_schema_view(
    list=extend_schema(
        summary="Member libraries",
        description="Every library for the team; its own profile for a library's staff.",
        responses={200: LibrarySerializer(many=True), **_LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One member library", responses={200: LibrarySerializer, **READ_ERRORS}
    ),
)
class LibraryViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = LibrarySerializer
    filterset_class = LibraryFilter

    def get_queryset(self):
        return libraries_visible_to(self.request.user)


class PatronSerializer(serializers.ModelSerializer):
    """A patron as their own library's staff see them."""

    library = serializers.SlugRelatedField(slug_field="ill_code", read_only=True)

    class Meta:
        model = Patron
        fields = ["id", "library", "card_number", "name", "email", "homebound", "created_at"]
        read_only_fields = fields


class PatronCardSerializer(PatronSerializer):
    """A patron as the team sees them: the card, never the name (docs/privacy.md)."""

    class Meta(PatronSerializer.Meta):
        fields = ["id", "library", "card_number", "homebound", "created_at"]
        read_only_fields = fields


class PatronFilter(django_filters.FilterSet):
    card_number = django_filters.CharFilter(max_length=40)
    library = django_filters.CharFilter(
        field_name="library__ill_code",
        lookup_expr="iexact",
        label="Library ILL code",
        max_length=20,
    )


@extend_schema_view(
    list=extend_schema(
        summary="Patrons",
        description="A library's staff see their own patrons, with names. The team sees "
        "every library's by card number only: `name` and `email` are left out for it.",
        responses={200: PatronSerializer(many=True), **_LIST_ERRORS},
    ),
    retrieve=extend_schema(summary="One patron", responses={200: PatronSerializer, **READ_ERRORS}),
)
class PatronViewSet(viewsets.ReadOnlyModelViewSet):
    filterset_class = PatronFilter

    def get_queryset(self):
        return patrons_visible_to(self.request.user)

    def get_serializer_class(self):
        return PatronSerializer if sees_patron_names(self.request.user) else PatronCardSerializer
