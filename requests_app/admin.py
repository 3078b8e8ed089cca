"""Admin for borrowing requests and what hangs off them: read-mostly.

Requests are submitted, moved and charged only through ``requests_app.workflow`` and
``requests_app.services``, which check roles and rules and write the timeline. The admin
therefore never adds or deletes a request, never changes a field the workflow owns, and
shows attempts, renewals, charges, events, messages and notifications read-only. On a
request, the team may change only who it is assigned to, through ``services.assign``.

Lists are built for a million requests: no date hierarchy, no full result count, no
facet counts, filters whose choices come from small tables or fixed choices, related rows
joined in the list query, and the audit lists ordered by primary key.

Patron names appear nowhere here: a request names its patron by card number.
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.urls import reverse
from django.utils.html import format_html

from members.models import User
from members.selectors import team_members

from . import services
from .flags import CHOICES as FLAG_CHOICES
from .flags import LIST_FLAGS, OVER_MAX_COST, flags_of
from .mail import DIGEST_SUBJECTS, SUBJECTS
from .models import (
    BorrowingRequest,
    Charge,
    LenderAttempt,
    Message,
    Notification,
    RenewalRequest,
    StatusEvent,
)
from .selectors import with_flag
from .timeline import EVENT_LABELS

#: Every action a timeline event can record.
EVENT_ACTIONS = list(EVENT_LABELS)

# --- Shared pieces ----------------------------------------------------------------------


def _request_number(search_term: str) -> int | None:
    """The request id in a search such as ``1234`` or ``#1234``, else None."""
    term = search_term.strip().removeprefix("#")
    if term.isdigit() and len(term) <= 18:
        return int(term)
    return None


class RequestNumberSearchMixin(admin.ModelAdmin):
    """A search for a request number (``1234`` or ``#1234``) also finds that request's rows.

    The number is matched on the indexed id column, so it stays fast on a big table.
    """

    request_number_field = "request_id"

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        number = _request_number(search_term)
        if number is not None:
            results |= queryset.filter(**{self.request_number_field: number})
        return results, may_have_duplicates


@admin.display(description="request", ordering="request_id")
def request_link(obj):
    """Link to the request's own admin page (the list's first column opens the row)."""
    url = reverse("admin:requests_app_borrowingrequest_change", args=[obj.request_id])
    return format_html('<a href="{}">{}</a>', url, obj.request)


class FixedChoicesFilter(admin.SimpleListFilter):
    """A filter on a free-text column whose values the code knows (no SELECT DISTINCT)."""

    values: list[str] = []

    def lookups(self, request, model_admin):
        return [(value, value) for value in self.values]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{self.parameter_name: self.value()})
        return queryset


class ReadOnlyAdmin(admin.ModelAdmin):
    """A list and a view page; nothing is added, changed or deleted here."""

    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    ordering = ("-pk",)
    sortable_by = ()

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    """Rows shown on the request's page: no adding, no changing, no deleting."""

    extra = 0
    max_num = 0
    can_delete = False
    select_related: tuple[str, ...] = ()

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(*self.select_related)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- The request ------------------------------------------------------------------------


class StatusEventInline(ReadOnlyInline):
    model = StatusEvent
    fields = ("at", "action", "from_status", "to_status", "actor", "note")
    ordering = ("at", "id")
    select_related = ("actor",)
    verbose_name = "timeline event"
    verbose_name_plural = "timeline"


class LenderAttemptInline(ReadOnlyInline):
    model = LenderAttempt
    fields = (
        "sequence",
        "lender",
        "lender_request_number",
        "sent_at",
        "sent_by",
        "outcome",
        "reason",
        "resolved_at",
    )
    ordering = ("sequence",)
    select_related = ("lender", "sent_by")
    verbose_name_plural = "lender attempts"


class RenewalRequestInline(ReadOnlyInline):
    model = RenewalRequest
    fields = (
        "requested_at",
        "requested_by",
        "requested_due_date",
        "answer",
        "new_due_date",
        "answered_by",
        "answered_at",
        "note",
    )
    ordering = ("requested_at", "id")
    select_related = ("requested_by", "answered_by")


class ChargeInline(ReadOnlyInline):
    model = Charge
    fields = (
        "created_at",
        "kind",
        "amount",
        "currency",
        "payer",
        "invoiced_on",
        "paid_on",
        "reference",
        "voids",
        "reason",
        "created_by",
    )
    ordering = ("created_at", "id")
    select_related = ("created_by",)


class MessageInline(ReadOnlyInline):
    model = Message
    fields = ("created_at", "author", "body")
    ordering = ("created_at", "id")
    select_related = ("author",)


class FlagFilter(admin.SimpleListFilter):
    """The flags the background jobs set, as the staff queue reads them."""

    title = "flag"
    parameter_name = "flag"

    def lookups(self, request, model_admin):
        return FLAG_CHOICES

    def queryset(self, request, queryset):
        flag = self.value()
        if flag in LIST_FLAGS:
            return with_flag(queryset, flag)
        return queryset


class RequestAdminForm(forms.ModelForm):
    """The one field a manager may change, the assignee, offered and checked as the request
    page does: active members of the team (the current one stays a choice even if since
    deactivated), refused in the service's words."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        assignee = self.fields.get("assigned_to")
        if isinstance(assignee, forms.ModelChoiceField):
            current = self.instance.assigned_to if self.instance.pk else None
            assignee.queryset = team_members(keep=current)

    def clean_assigned_to(self) -> User | None:
        value: User | None = self.cleaned_data["assigned_to"]
        if "assigned_to" in self.changed_data:
            services.check_assignee(value)
        return value


@admin.register(BorrowingRequest)
class BorrowingRequestAdmin(RequestNumberSearchMixin, admin.ModelAdmin):
    """Requests are read here; only the assignee may be changed, through
    ``services.assign`` as on the request's page (with its timeline event).

    Status, lender, dates, flags, notes and charges belong to the workflow and services.
    """

    #: The only field a manager may change here; everything else is read-only.
    editable_fields = ("assigned_to",)
    form = RequestAdminForm
    request_number_field = "pk"

    list_display = ("id", "title", "library", "status", "lender", "created_at", "due_date")
    list_display_links = ("id", "title")
    list_filter = ("status", "format", "library__region", FlagFilter)
    list_select_related = ("library", "lender")
    search_fields = (
        "title",
        "author",
        "=isbn",
        "=oclc_number",
        "=lender_request_number",
        "=library__ill_code",
    )
    search_help_text = (
        "Title or author words; an exact ISBN, OCLC number, OCLC/ILL number, "
        "library ILL code, or request number (#1234)."
    )
    # Sorting is offered on indexed columns only.
    sortable_by = ("id", "status", "created_at", "due_date")
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    fieldsets = (
        (
            "Request",
            {
                "fields": (
                    ("library", "patron"),
                    ("created_by", "created_at"),
                    "assigned_to",
                    "status",
                    "flags",
                )
            },
        ),
        (
            "Citation",
            {
                "fields": (
                    "format",
                    "title",
                    "author",
                    ("publisher", "year"),
                    ("edition", "edition_only"),
                    "volume",
                    ("isbn", "issn", "oclc_number"),
                    "language",
                    ("dvd_region", "video_encoding"),
                )
            },
        ),
        (
            "What the library asks",
            {"fields": ("needed_by", ("max_cost", "charges_total", "cost_summary"), "notes")},
        ),
        (
            "Loan",
            {
                "fields": (
                    ("lender", "lender_request_number"),
                    ("shipped_on", "shipping_method", "shipping_tracking"),
                    "due_date",
                    "received_on",
                    ("returned_on", "return_method", "return_tracking"),
                )
            },
        ),
        (
            "Flags and dates",
            {
                "classes": ("collapse",),
                "fields": (
                    ("not_arrived_flagged_at", "overdue_flagged_at"),
                    ("updated_at", "ended_at"),
                ),
            },
        ),
    )
    inlines = (
        StatusEventInline,
        LenderAttemptInline,
        RenewalRequestInline,
        ChargeInline,
        MessageInline,
    )

    def _model_field_names(self) -> list[str]:
        return [f.name for f in self.model._meta.concrete_fields if not f.primary_key]

    def get_fieldsets(self, request, obj=None):
        """The fieldsets above, plus any model field they miss (so none is hidden)."""
        fieldsets = list(super().get_fieldsets(request, obj))
        listed = set(flatten_fieldsets(fieldsets))
        missing = [name for name in self._model_field_names() if name not in listed]
        if missing:
            fieldsets.append(("Other", {"fields": tuple(missing)}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        readonly = [f for f in self._model_field_names() if f not in self.editable_fields]
        return [*readonly, "flags", "cost_summary"]

    def save_model(self, request, obj, form, change):
        """A new assignee goes through the service, which checks it and writes the event;
        nothing else is written from here."""
        if "assigned_to" in form.changed_data:
            services.assign(obj.pk, actor=request.user, assignee=obj.assigned_to)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Assigning is the team's (services.assign); anyone else reads.
        return request.user.is_team and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="flags")
    def flags(self, obj):
        return ", ".join(LIST_FLAGS[name].label.lower() for name in flags_of(obj)) or "none"

    @admin.display(description="charges against max cost")
    def cost_summary(self, obj):
        summary = f"{obj.charges_total} of {obj.max_cost}"
        return f"{summary}: over max cost" if OVER_MAX_COST.carried_by(obj) else summary


# --- What hangs off a request, on its own lists ------------------------------------------


@admin.register(StatusEvent)
class StatusEventAdmin(RequestNumberSearchMixin, ReadOnlyAdmin):
    """The audit trail of every request: append-only, never deleted."""

    class ActionFilter(FixedChoicesFilter):
        title = "action"
        parameter_name = "action"
        values = EVENT_ACTIONS

    list_display = ("at", request_link, "action", "from_status", "to_status", "actor")
    list_select_related = ("request", "actor")
    list_filter = ("to_status", ActionFilter)
    search_fields = ("=action",)
    search_help_text = "A request number (#1234) or an exact action name."


@admin.register(Charge)
class ChargeAdmin(RequestNumberSearchMixin, ReadOnlyAdmin):
    """Charges are recorded through the request's services; a mistake is voided there by a
    reversing entry."""

    list_display = (
        "created_at",
        request_link,
        "kind",
        "amount",
        "currency",
        "payer",
        "invoiced_on",
        "paid_on",
        "reference",
        "voids",
        "created_by",
    )
    list_select_related = ("request", "created_by")
    list_filter = ("kind", "payer", ("invoiced_on", admin.EmptyFieldListFilter),
                   ("paid_on", admin.EmptyFieldListFilter))  # fmt: skip
    search_fields = ("=reference",)
    search_help_text = "A request number (#1234) or an exact reference."


@admin.register(LenderAttempt)
class LenderAttemptAdmin(RequestNumberSearchMixin, ReadOnlyAdmin):
    list_display = (
        "sent_at",
        request_link,
        "sequence",
        "lender",
        "lender_request_number",
        "outcome",
        "sent_by",
        "resolved_at",
    )
    list_select_related = ("request", "lender", "sent_by")
    list_filter = ("outcome", "lender__kind")
    search_fields = ("=lender_request_number", "=lender__oclc_symbol")
    search_help_text = "A request number (#1234), an OCLC/ILL number or a lender's OCLC symbol."


@admin.register(RenewalRequest)
class RenewalRequestAdmin(RequestNumberSearchMixin, ReadOnlyAdmin):
    list_display = (
        "requested_at",
        request_link,
        "requested_due_date",
        "requested_by",
        "answer",
        "new_due_date",
        "answered_by",
        "answered_at",
    )
    list_select_related = ("request", "requested_by", "answered_by")
    list_filter = ("answer",)
    search_fields = ("=request__lender_request_number",)
    search_help_text = "A request number (#1234) or its OCLC/ILL number."


@admin.register(Message)
class MessageAdmin(RequestNumberSearchMixin, ReadOnlyAdmin):
    # Bodies are free text that may name a patron: read them on the request, not in a list.
    list_display = ("created_at", request_link, "author")
    list_select_related = ("request", "author")
    list_filter = ("author__role",)
    search_fields = ("=author__username",)
    search_help_text = "A request number (#1234) or the author's exact username."


@admin.register(Notification)
class NotificationAdmin(RequestNumberSearchMixin, ReadOnlyAdmin):
    """The e-mail outbox. Unsent rows are retried by the outbox drain, not from here."""

    class SentFilter(admin.SimpleListFilter):
        title = "sent"
        parameter_name = "sent"

        def lookups(self, request, model_admin):
            return [("no", "Not sent yet"), ("yes", "Sent")]

        def queryset(self, request, queryset):
            if self.value() in ("no", "yes"):
                return queryset.filter(sent_at__isnull=self.value() == "no")
            return queryset

    class KindFilter(FixedChoicesFilter):
        title = "kind"
        parameter_name = "kind"
        values = [*SUBJECTS, *DIGEST_SUBJECTS]

    list_display = (
        "kind",
        request_link,
        "audience",
        "created_at",
        "sent_at",
        "attempts",
        "last_error",
    )
    list_select_related = ("request",)
    list_filter = (SentFilter, KindFilter, "audience")
    search_fields = ("=kind",)
    search_help_text = "A request number (#1234) or an exact kind."
