"""Who may open which pages: the checks views share."""

from typing import cast

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from .models import User


def signed_in_user(request: HttpRequest) -> User:
    """The account behind a request to a view that lets only signed-in users through
    (``login_required`` on pages, ``IsAuthenticated`` on the API): never anonymous."""
    return cast(User, request.user)


def team_only(user: User) -> None:
    if not user.is_team:
        raise PermissionDenied("This page is for the resource sharing team.")


def library_staff_only(user: User) -> None:
    if not user.is_library_staff:
        raise PermissionDenied("This page is for member library staff.")
