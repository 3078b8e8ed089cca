"""The queries behind list pages: scoped to the user, with what each row shows joined in.

HTML views, API views and reports start from these, so access rules and query shapes live
in one place.
"""

from django.db.models import F, QuerySet

from members.models import User

from .models import BorrowingRequest, Status

#: The flags the background jobs set (and the one charges set), as lists filter on them.
FLAGS = {
    "not_arrived": "Not arrived",
    "overdue": "Overdue",
    "over_max_cost": "Over max cost",
}


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


def with_flag(requests: QuerySet[BorrowingRequest], flag: str) -> QuerySet[BorrowingRequest]:
    """Narrow ``requests`` to those carrying ``flag`` (one of ``FLAGS``), each on an index.

    A not-arrived or overdue flag stays on the request as history once the loan moves on;
    the flag lists show only the loans it still describes.
    """
    if flag == "not_arrived":
        return requests.filter(status=Status.SHIPPED, not_arrived_flagged_at__isnull=False)
    if flag == "overdue":
        return requests.filter(
            status__in=[Status.RECEIVED, Status.RENEWAL_REQUESTED],
            overdue_flagged_at__isnull=False,
        )
    if flag == "over_max_cost":
        return requests.filter(charges_total__gt=F("max_cost"))
    raise ValueError(f"Unknown flag: {flag}")
