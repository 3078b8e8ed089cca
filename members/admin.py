"""Admin for member libraries, their patrons, and the people who log in.

The admin is the managers' tool: they edit library profiles (codes, contacts, Delivery
route, the most a library pays), staff accounts and roles. A library profile keeps a
history of every change, with who made it and when (django-simple-history).

Patron data is confidential: patrons are not shown on a library's page, the patron list
shows card numbers only, and it is searched by card number only.

API tokens are listed by owner, name and first characters (their keys are not stored);
an admin may revoke them but never make one for somebody else.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, OuterRef, Subquery
from django.utils.translation import ngettext
from import_export.admin import ImportMixin
from simple_history.admin import SimpleHistoryAdmin

from .forms import region_choices
from .invitations import send_invitation
from .models import ApiToken, MemberLibrary, Patron, Region, User
from .resources import LibraryResource, RegionResource, StaffResource
from .tokens import revoke

LIBRARY_STAFF_NEEDS_LIBRARY = "A member library staff account needs the library it acts for."


def _in_use(region: Region | None) -> bool:
    return region is not None and MemberLibrary.objects.filter(region=region.name).exists()


class WholeFileImport(ImportMixin):
    """The admin's import, all or nothing as the command is: a row refused at the confirm
    step rolls back the rows before it."""

    def get_import_data_kwargs(self, **kwargs):
        return {**super().get_import_data_kwargs(**kwargs), "rollback_on_validation_errors": True}


@admin.register(Region)
class RegionAdmin(WholeFileImport, admin.ModelAdmin):
    resource_classes = [RegionResource]
    """The service's regions: a library's profile chooses one. A region a library still
    names can be neither renamed nor deleted: move the libraries to another first."""

    list_display = ("name", "libraries")
    search_fields = ("name",)

    def get_queryset(self, request):
        # Each region's libraries counted in the list's one query, not a query a row.
        naming = MemberLibrary.objects.filter(region=OuterRef("name")).order_by()
        counted = naming.values("region").annotate(n=Count("pk")).values("n")
        return super().get_queryset(request).annotate(library_count=Subquery(counted))

    @admin.display(description="libraries", ordering="library_count")
    def libraries(self, region: Region) -> int:
        return getattr(region, "library_count", None) or 0

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and not _in_use(obj)

    def get_readonly_fields(self, request, obj=None):
        # Libraries name their region: renamed under them, they would name none.
        return ("name",) if _in_use(obj) else ()

    def get_actions(self, request):
        # One at a time, so a region in use is never deleted along with others.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(MemberLibrary)
class MemberLibraryAdmin(WholeFileImport, SimpleHistoryAdmin):
    resource_classes = [LibraryResource]
    list_display = (
        "name",
        "ill_code",
        "bpl_number",
        "region",
        "library_type",
        "on_delivery",
        "max_cost",
        "is_active",
    )
    list_display_links = ("name", "ill_code")
    search_fields = ("name", "ill_code", "bpl_number", "oclc_symbol", "contact_name")
    list_filter = ("region", "library_type", "on_delivery", "is_active")
    ordering = ("name",)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "region":  # the service's list, not free text
            return forms.ChoiceField(label="Region", choices=[("", "---------"), *region_choices()])
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (
            "Identity and codes",
            {
                "fields": (
                    "name",
                    ("ill_code", "bpl_number", "oclc_symbol"),
                    ("library_type", "region"),
                    "is_active",
                )
            },
        ),
        ("Delivery", {"fields": ("on_delivery", "delivery_route_code", "address")}),
        ("Contact", {"fields": ("contact_name", "contact_email", "contact_phone")}),
        ("Money", {"fields": ("max_cost",)}),
        ("Notes", {"fields": ("notes",)}),
        ("Record", {"classes": ("collapse",), "fields": ("created_at", "updated_at")}),
    )


@admin.register(Patron)
class PatronAdmin(admin.ModelAdmin):
    """Patrons are found by card number only; their names never appear in a list."""

    list_display = ("card_number", "library", "homebound")
    list_select_related = ("library",)
    # Exact card numbers only: a partial number must not let anyone browse patrons.
    search_fields = ("=card_number",)
    search_help_text = "Enter a patron's full card number."
    list_filter = ("homebound",)
    fields = ("library", "card_number", "name", "email", "homebound", "created_at")
    readonly_fields = ("created_at",)
    show_facets = admin.ShowFacets.NEVER


class _LibraryStaffNeedsLibrary(forms.BaseForm):
    """Say plainly what the ``user_library_staff_has_library`` constraint wants."""

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if "role" in self.fields and "library" in self.fields:
            if cleaned.get("role") == User.Role.LIBRARY_STAFF and not cleaned.get("library"):
                self.add_error("library", LIBRARY_STAFF_NEEDS_LIBRARY)
        return cleaned


class IlldeskUserChangeForm(_LibraryStaffNeedsLibrary, UserChangeForm):
    # django-stubs does not declare the ``Meta`` of Django's own forms.
    class Meta(UserChangeForm.Meta):  # type: ignore[name-defined]
        model = User


class IlldeskUserCreationForm(_LibraryStaffNeedsLibrary, AdminUserCreationForm):
    # django-stubs does not declare the ``Meta`` of Django's own forms.
    class Meta(AdminUserCreationForm.Meta):  # type: ignore[name-defined]
        model = User
        fields = ("username",)


@admin.register(User)
class UserAdmin(WholeFileImport, DjangoUserAdmin):
    """Staff accounts: one per person, with a role and, for library staff, a library.

    Accounts are deactivated (``is_active``), not deleted: requests, events and charges
    keep pointing at the person who acted.
    """

    form = IlldeskUserChangeForm
    add_form = IlldeskUserCreationForm
    resource_classes = [StaffResource]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (
            "Role, library and status",
            {"fields": ("role", "library", "is_library_lead", "is_active")},
        ),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        (
            "Admin site access and permissions",
            {
                "classes": ("collapse",),
                "fields": ("is_staff", "is_superuser", "groups", "user_permissions"),
            },
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "usable_password", "password1", "password2"),
            },
        ),
        (
            "Role and library",
            {"classes": ("wide",), "fields": ("role", "library", "email")},
        ),
    )
    list_display = (
        "username",
        "first_name",
        "last_name",
        "email",
        "role",
        "library",
        "is_active",
        "is_staff",
        "last_login",
    )
    list_select_related = ("library",)
    list_filter = (
        "role",
        "is_active",
        "is_staff",
        "is_superuser",
        ("library", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = ("username", "first_name", "last_name", "email", "=library__ill_code")
    readonly_fields = ("last_login", "date_joined")
    actions = ("send_invitations", "deactivate_accounts", "reactivate_accounts")

    @admin.action(description="Send an invitation (to set a password)", permissions=["change"])
    def send_invitations(self, request, queryset):
        sent, refused = 0, []
        for account in queryset:
            try:
                send_invitation(request.user, account)
            except (ValidationError, PermissionDenied) as error:
                refused.append(
                    f"{account.username}: {' '.join(getattr(error, 'messages', [str(error)]))}"
                )
            else:
                sent += 1
        self.message_user(
            request,
            ngettext("Sent %d invitation.", "Sent %d invitations.", sent) % sent,
            level=messages.SUCCESS,
        )
        for line in refused:
            self.message_user(request, line, level=messages.WARNING)

    @admin.action(description="Deactivate the selected accounts", permissions=["change"])
    def deactivate_accounts(self, request, queryset):
        if queryset.filter(pk=request.user.pk).exists():
            self.message_user(
                request, "You cannot deactivate your own account.", level=messages.ERROR
            )
            queryset = queryset.exclude(pk=request.user.pk)
        # One save each, not an update: saving an inactive account ends its API tokens.
        accounts = list(queryset.filter(is_active=True))
        for account in accounts:
            account.is_active = False
            account.save(update_fields=["is_active"])
        count = len(accounts)
        self.message_user(
            request,
            ngettext("Deactivated %d account.", "Deactivated %d accounts.", count) % count,
            level=messages.SUCCESS,
        )

    @admin.action(description="Reactivate the selected accounts", permissions=["change"])
    def reactivate_accounts(self, request, queryset):
        count = queryset.filter(is_active=False).update(is_active=True)
        self.message_user(
            request,
            ngettext("Reactivated %d account.", "Reactivated %d accounts.", count) % count,
            level=messages.SUCCESS,
        )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Everyone's API tokens, to revoke one that is lost or misused. Nothing here makes or
    changes a token: a person makes their own, after signing in in full."""

    list_display = ("prefix", "name", "user", "created_at", "expires_at")
    list_select_related = ("user",)
    search_fields = ("user__username", "=prefix", "name")
    fields = ("user", "name", "prefix", "created_at", "expires_at")
    readonly_fields = fields
    actions = ("revoke_tokens",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description="Revoke the selected tokens", permissions=["delete"])
    def revoke_tokens(self, request, queryset):
        tokens = list(queryset.select_related("user"))
        for token in tokens:
            revoke(token, actor=request.user)
        self.message_user(
            request,
            ngettext("Revoked %d token.", "Revoked %d tokens.", len(tokens)) % len(tokens),
            level=messages.SUCCESS,
        )

    def delete_model(self, request, obj):
        revoke(obj, actor=request.user)
