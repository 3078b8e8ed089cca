"""The filters of request lists, as query parameters, so a view can be bookmarked.

Each filter narrows the queryset through a selector; the selectors say which index serves it.
"""

import django_filters

from . import selectors
from .models import Status

SORTS = {"newest": ("-created_at", "-id"), "oldest": ("created_at", "id")}


class RequestFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Status.choices, empty_label="Any status")
    flag = django_filters.ChoiceFilter(
        label="Flag",
        choices=list(selectors.FLAGS.items()),
        empty_label="Any flag",
        method="filter_flag",
    )
    patron = django_filters.CharFilter(
        label="Patron's card number", method="filter_patron", max_length=40
    )
    q = django_filters.CharFilter(
        label="Title, author, ISBN or OCLC number", method="filter_text", max_length=200
    )
    sort = django_filters.ChoiceFilter(
        label="Sort",
        choices=[("newest", "Newest first"), ("oldest", "Oldest first")],
        empty_label=None,
        method="filter_sort",
    )

    def filter_flag(self, queryset, name, value):
        return selectors.with_flag(queryset, value)

    def filter_patron(self, queryset, name, value):
        return queryset.filter(patron__card_number=value.strip())

    def filter_text(self, queryset, name, value):
        return selectors.search(queryset, value)

    def filter_sort(self, queryset, name, value):
        return queryset.order_by(*SORTS.get(value, SORTS["newest"]))
