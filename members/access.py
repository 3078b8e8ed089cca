"""Who may open which pages: the checks views share."""

from django.core.exceptions import PermissionDenied

from .models import User


def team_only(user: User) -> None:
    if not user.is_team:
        raise PermissionDenied("This page is for the resource sharing team.")


def library_staff_only(user: User) -> None:
    if not user.is_library_staff:
        raise PermissionDenied("This page is for member library staff.")
