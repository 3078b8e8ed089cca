"""The queries behind list pages: scoped to the user, with what each row shows joined in.

HTML views, API views and reports start from these, so access rules and query shapes live
in one place.
"""

from django.db.models import QuerySet

from members.models import User

from .models import BorrowingRequest


def requests_visible_to(user: User) -> QuerySet[BorrowingRequest]:
    """Every request for the team; the user's own library's for its staff; none otherwise."""
    requests = BorrowingRequest.objects.all()
    if not user.is_authenticated or not user.is_active:
        return requests.none()
    if user.is_team:
        return requests
    if user.is_library_staff and user.library_id is not None:
        return requests.filter(library_id=user.library_id)
    return requests.none()


def requests_for_list(user: User) -> QuerySet[BorrowingRequest]:
    """``requests_visible_to`` with the columns a list row shows, in one query."""
    return requests_visible_to(user).select_related("library", "lender", "assigned_to")
