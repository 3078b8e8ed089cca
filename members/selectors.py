"""Who may read which libraries and patrons: the scoped querysets pages and the API share."""

from typing import TypeVar

from django.contrib.auth.models import AnonymousUser
from django.db.models import Model, Q, QuerySet

from .models import MemberLibrary, Patron, User

_M = TypeVar("_M", bound=Model)


def scoped_to_library(
    queryset: QuerySet[_M], user: User | AnonymousUser, library_field: str
) -> QuerySet[_M]:
    """The rule behind every "visible to" query: the team sees all of ``queryset``, a
    library's staff the rows whose ``library_field`` is their library, anyone else none."""
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.is_team:
        return queryset
    if user.is_library_staff and user.library_id is not None:
        return queryset.filter(**{library_field: user.library_id})
    return queryset.none()


def libraries_visible_to(user: User | AnonymousUser) -> QuerySet[MemberLibrary]:
    """Every library for the team; a library's staff see their own profile only."""
    return scoped_to_library(MemberLibrary.objects.order_by("name", "id"), user, "pk")


def patrons_visible_to(user: User | AnonymousUser) -> QuerySet[Patron]:
    """A library's staff see their own patrons; the team sees every library's, but reads
    only card numbers (see ``sees_patron_names``)."""
    patrons = Patron.objects.select_related("library").order_by("library_id", "card_number")
    return scoped_to_library(patrons, user, "library_id")


def team_members(*, keep: User | None = None) -> QuerySet[User]:
    """Whom a request may be assigned to: active members of the team (admins act as the
    team), by username; ``keep`` stays among them even if since deactivated."""
    team = Q(is_active=True, role__in=User.TEAM_ROLES) & ~Q(username=User.SERVICE_USERNAME)
    if keep is not None:
        team |= Q(pk=keep.pk)
    return User.objects.filter(team).order_by("username")


def sees_patron_names(user: User | AnonymousUser) -> bool:
    """Only the patron's own library sees a name and e-mail (docs/privacy.md)."""
    return user.is_authenticated and user.is_library_staff


def search_libraries(
    libraries: QuerySet[MemberLibrary],
    *,
    text: str = "",
    region: str = "",
    is_active: bool | None = None,
) -> QuerySet[MemberLibrary]:
    """Narrow by name (contains), ILL code (exact, any case) or BPL number, region, active."""
    text = text.strip()
    if text:
        libraries = libraries.filter(
            Q(name__icontains=text) | Q(ill_code__iexact=text) | Q(bpl_number=text)
        )
    if region:
        libraries = libraries.filter(region=region)
    if is_active is not None:
        libraries = libraries.filter(is_active=is_active)
    return libraries


def staff_of(library: MemberLibrary) -> QuerySet[User]:
    """A library's staff accounts for its Staff page: the active first, by name, with who
    invited each (one query)."""
    return (
        User.objects.filter(library=library, role=User.Role.LIBRARY_STAFF)
        .select_related("invited_by")
        .order_by("-is_active", "last_name", "first_name", "username")
    )
