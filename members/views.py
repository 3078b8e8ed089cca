"""Member library profiles: the team reads every library's, a library's staff their own.

Only admins edit a profile. Every change is kept (django-simple-history) with who made it,
when and why, and the profile page shows the newest changes field by field.

A library's own staff see their profile's history too: it tells them who changed their
max cost or Delivery route, and when. Another library's profile is a 404 to them.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from core.checks import length_limit
from core.pagination import paginate
from core.text import plain_lines

from . import invitations
from .access import signed_in_user
from .forms import LibraryProfileForm, LibrarySearchForm
from .models import MemberLibrary, User
from .selectors import libraries_visible_to, search_libraries, staff_of

#: How many of a profile's changes its page shows, newest first.
HISTORY_SHOWN = 50


def library_for(user: User, pk: int) -> MemberLibrary:
    """The library if this user may read its profile; 404 otherwise (nothing revealed)."""
    return get_object_or_404(libraries_visible_to(user), pk=pk)


def admin_only(user: User) -> None:
    if user.role != User.Role.ADMIN:
        raise PermissionDenied("Only admins edit member library profiles.")


# --- The list ----------------------------------------------------------------------------


@login_required
def library_list(request: HttpRequest) -> HttpResponse:
    """Every member library for the team; a library's staff are sent to their own profile."""
    user = signed_in_user(request)
    if user.is_library_staff and user.library_id is not None:
        return redirect("library_detail", pk=user.library_id)
    if not user.is_team:
        raise PermissionDenied("This page is for the resource sharing team.")
    form = LibrarySearchForm(request.GET)
    if not form.is_valid():
        return render(request, "members/list.html", {"form": form}, status=400)
    libraries = search_libraries(
        MemberLibrary.objects.order_by("name", "id"),
        text=form.cleaned_data["q"],
        region=form.cleaned_data["region"],
        is_active=form.is_active(),
    )
    return render(
        request, "members/list.html", {"form": form, "page": paginate(request, libraries)}
    )


# --- One profile and its history ---------------------------------------------------------


@dataclass
class FieldChange:
    label: str
    old: str
    new: str


@dataclass
class HistoryEntry:
    record: object  # a HistoricalMemberLibrary
    created: bool = False
    changes: list[FieldChange] = field(default_factory=list)


#: The profile's fields by name, in the model's order (the history diffs these).
_FIELDS = {f.name: f for f in MemberLibrary._meta.fields}
_FIELD_ORDER = {name: i for i, name in enumerate(_FIELDS)}


def _shown(name: str, value: object) -> str:
    """A field's value as the page shows it: choice labels, Yes/No, "—" for empty."""
    model_field = _FIELDS[name]
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value)) or "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value) if value not in (None, "") else "—"


def _as_stored(value: object) -> object:
    return plain_lines(value) if isinstance(value, str) else value


def profile_history(library: MemberLibrary, limit: int = HISTORY_SHOWN) -> list[HistoryEntry]:
    """The profile's ``limit`` newest changes, newest first, each with what it changed.

    One query: the records come with who made them, one more than shown, so that the
    oldest shown is diffed against its predecessor (``diff_against`` compares in memory,
    where ``record.prev_record`` would cost a query per record).
    """
    records = list(
        library.history.select_related("history_user").order_by("-history_date", "-history_id")[
            : limit + 1
        ]
    )
    entries = []
    for newer, older in zip(records[:limit], [*records[1:], None], strict=False):
        if older is None:
            entries.append(HistoryEntry(newer, created=newer.history_type == "+"))
            continue
        delta = newer.diff_against(older)
        changes = sorted(
            (c for c in delta.changes if _as_stored(c.old) != _as_stored(c.new)),
            key=lambda change: _FIELD_ORDER[change.field],
        )
        if not changes:  # saved as it was (line endings aside, from before they were kept)
            continue
        entries.append(
            HistoryEntry(
                newer,
                changes=[
                    FieldChange(
                        label=str(_FIELDS[c.field].verbose_name),
                        old=_shown(c.field, c.old),
                        new=_shown(c.field, c.new),
                    )
                    for c in changes
                ],
            )
        )
    return entries


@login_required
def library_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in_user(request)
    library = library_for(user, pk)
    context = {
        "library": library,
        "history": profile_history(library),
        "history_shown": HISTORY_SHOWN,
        "can_edit": user.role == User.Role.ADMIN,
        "can_manage_staff": invitations.can_manage_library(user, library),
    }
    return render(request, "members/detail.html", context)


# --- Editing (admins) ----------------------------------------------------------------------


@login_required
def library_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in_user(request)
    admin_only(user)
    library = get_object_or_404(MemberLibrary, pk=pk)
    title = str(library)  # before the form writes the input onto the instance
    if request.method == "POST":
        form = LibraryProfileForm(request.POST, instance=library)
        if form.is_valid():
            if not form.profile_changed():
                messages.info(request, "Nothing changed: the profile is as it was.")
                return redirect("library_detail", pk=pk)
            if form.save_with_history(actor=user) is not None:
                messages.success(request, f"Profile of {library.name} saved.")
                return redirect("library_detail", pk=pk)
        status = 400
    else:
        form = LibraryProfileForm(instance=library)
        status = 200
    return render(
        request,
        "members/edit.html",
        {"form": form, "library_pk": pk, "title": title},
        status=status,
    )


# --- Staff and invitations (members.invitations) --------------------------------------------


class InviteForm(forms.Form):
    """Who to invite; the checks are ``invitations.invite_new``'s, beside each field (the
    browser keeps to the same lengths)."""

    first_name = forms.CharField(
        label="First name",
        required=False,
        widget=forms.TextInput(attrs={"maxlength": length_limit(User, "first_name")}),
    )
    last_name = forms.CharField(
        label="Last name",
        required=False,
        widget=forms.TextInput(attrs={"maxlength": length_limit(User, "last_name")}),
    )
    email = forms.CharField(
        label="E-mail address",
        required=False,
        widget=forms.EmailInput(attrs={"maxlength": length_limit(User, "email")}),
        help_text="The invitation goes there; their username is made from it.",
    )


def _staff_page(request: HttpRequest, library: MemberLibrary, form: InviteForm, status: int = 200):
    user = signed_in_user(request)
    members = staff_of(library)
    context = {
        "library": library,
        "staff": [(member, invitations.can_manage(user, member)) for member in members],
        "can_invite": invitations.can_manage_library(user, library),
        "form": form,
    }
    return render(request, "members/staff.html", context, status=status)


def _staff_library(user: User, pk: int) -> MemberLibrary:
    """The library whose staff ``user`` may see: the team any, a library's staff their own
    (its lead manages it); another library's is a 404."""
    library = library_for(user, pk)
    if not (user.is_team or user.library_id == library.pk):
        raise Http404
    return library


@login_required
def library_staff(request: HttpRequest, pk: int) -> HttpResponse:
    library = _staff_library(signed_in_user(request), pk)
    return _staff_page(request, library, InviteForm())


@login_required
@require_POST
def staff_invite(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in_user(request)
    library = _staff_library(user, pk)
    form = InviteForm(request.POST)
    form.is_valid()  # the form only shows the service's words, beside each field
    typed = {name: request.POST.get(name, "") for name in form.fields}
    try:
        member = invitations.invite_new(user, library, **typed)
    except ValidationError as error:
        for field, problems in error.message_dict.items():
            form.add_error(field if field in form.fields else None, problems)
        return _staff_page(request, library, form, status=400)
    messages.success(
        request, f"Invitation sent to {member.email}; their username is {member.username}."
    )
    return redirect("library_staff", pk=library.pk)


def _member_of(library: MemberLibrary, member_pk: int) -> User:
    return get_object_or_404(User, pk=member_pk, library=library)


@login_required
@require_POST
def staff_invite_again(request: HttpRequest, pk: int, member_pk: int) -> HttpResponse:
    user = signed_in_user(request)
    library = _staff_library(user, pk)
    member = _member_of(library, member_pk)
    try:
        invitations.send_invitation(user, member)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Invitation sent again to {member.email}.")
    return redirect("library_staff", pk=library.pk)


@login_required
@require_POST
def staff_deactivate(request: HttpRequest, pk: int, member_pk: int) -> HttpResponse:
    user = signed_in_user(request)
    library = _staff_library(user, pk)
    member = _member_of(library, member_pk)
    if request.POST.get("confirmed") != "yes":
        if not invitations.can_manage(user, member):
            raise PermissionDenied("You may not manage this person's account.")
        # It ends something: asked first, on a page of its own.
        context = {"library": library, "member": member}
        return render(request, "members/confirm_deactivate.html", context)
    invitations.deactivate(user, member)
    messages.success(request, f"{member.username} is deactivated: they can no longer sign in.")
    return redirect("library_staff", pk=library.pk)
