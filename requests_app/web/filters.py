"""The filters of request lists, as query parameters, so a view can be bookmarked.

Each filter narrows the queryset through a selector; the selectors say which index serves it.
"""

import datetime as dt
from functools import cached_property

import django_filters
from django import forms
from django.db.models import F, QuerySet
from django.utils import timezone

from lenders.models import Lender
from members.models import MemberLibrary, Region

from .. import flags, selectors
from ..models import BorrowingRequest, Status
from ..traces import STEP_CHOICES

SORTS = {"newest": ("-created_at", "-id"), "oldest": ("created_at", "id")}


class StatusTabsMixin:
    """A list with status tabs: each tab counts the rows under every filter but the status.

    The filters run once: :attr:`any_status` applies all but the status, and the list is
    that narrowed to the status (so a code looked up by a filter is looked up once).
    """

    # What the ``FilterSet`` it is mixed into provides.
    queryset: QuerySet[BorrowingRequest]
    form: forms.Form
    filters: dict[str, django_filters.Filter]

    @cached_property
    def any_status(self) -> QuerySet[BorrowingRequest]:
        """The rows under every filter but the status (the form must be valid)."""
        queryset = self.queryset.all()
        for name, value in self.form.cleaned_data.items():
            if name != "status":
                queryset = self.filters[name].filter(queryset, value)
        return queryset

    def filter_queryset(self, queryset: QuerySet[BorrowingRequest]) -> QuerySet[BorrowingRequest]:
        return self.filters["status"].filter(self.any_status, self.form.cleaned_data["status"])


class RequestFilter(StatusTabsMixin, django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Status.choices, empty_label="Any status")
    flag = django_filters.ChoiceFilter(
        label="Flag",
        choices=flags.LIBRARY_CHOICES,
        empty_label="Any flag",
        method="filter_flag",
    )
    patron = django_filters.CharFilter(
        label="Patron: card number or name", method="filter_patron", max_length=100
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

    def __init__(self, data=None, *args, library_id: int | None = None, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.library_id = library_id

    def filter_patron(self, queryset, name, value):
        return selectors.for_patron(queryset, value, library_id=self.library_id)

    def filter_text(self, queryset, name, value):
        return selectors.search(queryset, value)

    def filter_sort(self, queryset, name, value):
        return queryset.order_by(*SORTS.get(value, SORTS["newest"]))


#: Requests with no needed-by or due date sort last (PostgreSQL's default for ascending
#: order; SQLite needs telling), so the dates that matter come first.
QUEUE_SORTS = {
    "oldest": ("created_at", "id"),
    "newest": ("-created_at", "-id"),
    "needed_by": (F("needed_by").asc(nulls_last=True), "id"),
    "due_date": (F("due_date").asc(nulls_last=True), "id"),
}


class QueueFilter(StatusTabsMixin, django_filters.FilterSet):
    """The team's queue. With no status asked for, it shows the open requests."""

    status = django_filters.ChoiceFilter(
        choices=[("open", "Open"), ("all", "All"), *Status.choices],
        empty_label=None,
        method="filter_status",
    )
    library = django_filters.CharFilter(
        label="Library ILL code", method="filter_library", max_length=20
    )
    region = django_filters.CharFilter(label="Region", method="filter_region", max_length=60)
    lender = django_filters.CharFilter(
        label="Lender OCLC symbol", method="filter_lender", max_length=10
    )
    assigned = django_filters.CharFilter(
        label="Assigned to",
        method="filter_assigned",
        max_length=150,
        help_text="“mine”, “nobody”, or a username.",
    )
    flag = django_filters.ChoiceFilter(
        label="Flag",
        choices=flags.CHOICES,
        empty_label="Any flag",
        method="filter_flag",
    )
    trace = django_filters.ChoiceFilter(
        label="Not arrived: trace",
        choices=STEP_CHOICES,
        empty_label="Any",
        method="filter_trace",
    )
    needed_before = django_filters.DateFilter(
        field_name="needed_by",
        lookup_expr="lte",
        label="Needed by, on or before",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    older_than = django_filters.NumberFilter(
        label="Older than (days)", method="filter_older_than", min_value=0, max_value=36500
    )
    q = django_filters.CharFilter(
        label="Title, author, ISBN, OCLC or ILL number, library code",
        method="filter_text",
        max_length=200,
    )
    sort = django_filters.ChoiceFilter(
        label="Sort",
        choices=[
            ("oldest", "Oldest first"),
            ("newest", "Newest first"),
            ("needed_by", "Needed by"),
            ("due_date", "Due date"),
        ],
        empty_label=None,
        method="filter_sort",
    )

    #: What a view with no ``status`` or ``sort`` in its address shows.
    default_status = "open"
    default_sort = "oldest"

    def __init__(self, data=None, *args, user=None, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.user = user
        #: What a code typed in the filters named that does not exist, in words.
        self.unknown: dict[str, str] = {}

    @property
    def qs(self):
        queryset = super().qs
        if not self.form.cleaned_data.get("status"):
            queryset = self.filter_status(queryset, "status", self.default_status)
        if not self.form.cleaned_data.get("sort"):
            queryset = queryset.order_by(*QUEUE_SORTS[self.default_sort])
        return queryset

    def filter_status(self, queryset, name, value):
        if value == "open":
            return queryset.filter(status__in=selectors.OPEN_STATUSES)
        if value == "all":
            return queryset
        return queryset.filter(status=value)

    # A code is looked up first, so the database plans the list for that one library or
    # lender and walks its index in order (a join leaves it guessing how many rows match).
    def filter_library(self, queryset, name, value):
        found = MemberLibrary.objects.filter(ill_code__iexact=value.strip())
        ids = list(found.values_list("pk", flat=True)[:1])
        if not ids:
            self.unknown[name] = f"No member library has the ILL code “{value.strip()}”."
        return queryset.filter(library_id__in=ids)

    def filter_region(self, queryset, name, value):
        found = Region.objects.filter(name__iexact=value.strip())
        if not found.exists():
            self.unknown[name] = f"No region of the service is called “{value.strip()}”."
        return queryset.filter(library__region__iexact=value.strip())

    def filter_lender(self, queryset, name, value):
        found = Lender.objects.filter(oclc_symbol__iexact=value.strip())
        ids = list(found.values_list("pk", flat=True)[:1])
        if not ids:
            self.unknown[name] = (
                f"No lender in the directory has the OCLC symbol “{value.strip()}”."
            )
        return queryset.filter(lender_id__in=ids)

    def filter_assigned(self, queryset, name, value):
        value = value.strip()
        if value == "mine":
            return queryset.filter(assigned_to=self.user)
        if value == "nobody":
            return queryset.filter(assigned_to__isnull=True)
        return queryset.filter(assigned_to__username=value)

    def filter_flag(self, queryset, name, value):
        return selectors.with_flag(queryset, value)

    def filter_trace(self, queryset, name, value):
        return selectors.with_trace_step(queryset, value)

    def filter_older_than(self, queryset, name, value):
        return queryset.filter(created_at__lte=timezone.now() - dt.timedelta(days=int(value)))

    def filter_text(self, queryset, name, value):
        return selectors.search(queryset, value, team=True)

    def filter_sort(self, queryset, name, value):
        return queryset.order_by(*QUEUE_SORTS.get(value, QUEUE_SORTS["oldest"]))
