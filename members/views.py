"""Member library profiles: the team reads every library's, a library's staff their own.

Only admins edit a profile. Every change is kept (django-simple-history) with who made it,
when and why, and the profile page shows the newest changes field by field.

A library's own staff see their profile's history too: it tells them who changed their
max cost or Delivery route, and when. Another library's profile is a 404 to them.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from core.pagination import paginate
from core.text import plain_lines

from .access import signed_in_user
from .forms import LibraryProfileForm, LibrarySearchForm
from .models import MemberLibrary, User
from .selectors import libraries_visible_to, search_libraries

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
