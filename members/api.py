"""The API for member libraries and their patrons, scoped as the pages are."""

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, viewsets

from core.api import READ_ERRORS, WRITE_ERRORS
from core.forms import yes_no_filter

from .models import MemberLibrary, Patron
from .selectors import (
    libraries_visible_to,
    patrons_visible_to,
    search_libraries,
    sees_patron_names,
)


class LibrarySerializer(serializers.ModelSerializer):
    contact_email = serializers.CharField(read_only=True, help_text="An e-mail address, or empty.")

    class Meta:
        model = MemberLibrary
        fields = ["id", *MemberLibrary.PROFILE_FIELDS]
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
    """A patron; the name and e-mail only for their own library (docs/privacy.md)."""

    library: serializers.SlugRelatedField[MemberLibrary] = serializers.SlugRelatedField(
        slug_field="ill_code", read_only=True
    )
    name = serializers.SerializerMethodField()
    email = serializers.SerializerMethodField()

    class Meta:
        model = Patron
        fields = ["id", "library", "card_number", "name", "email", "homebound", "created_at"]
        read_only_fields = fields

    def _private(self, patron: Patron, field: str) -> str | None:
        return getattr(patron, field) if sees_patron_names(self.context["request"].user) else None

    @extend_schema_field(
        serializers.CharField(
            allow_null=True, help_text="Null for the team: names stay with the patron's library."
        )
    )
    def get_name(self, patron: Patron) -> str | None:
        return self._private(patron, "name")

    @extend_schema_field(
        serializers.CharField(
            allow_null=True, help_text="An e-mail address, empty, or null for the team."
        )
    )
    def get_email(self, patron: Patron) -> str | None:
        return self._private(patron, "email")


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
        "every library's by card number only: `name` and `email` are null for it.",
        responses={200: PatronSerializer(many=True), **_LIST_ERRORS},
    ),
    retrieve=extend_schema(summary="One patron", responses={200: PatronSerializer, **READ_ERRORS}),
)
class PatronViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = PatronSerializer
    filterset_class = PatronFilter

    def get_queryset(self):
        return patrons_visible_to(self.request.user)
