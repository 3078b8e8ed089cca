"""Drive a request through the workflow to any status, the way people would.

Used by ``seed_demo`` and by the tests, so demo data and fixtures are made by the same
workflow functions as real requests, with real events.
"""

import datetime as dt

from django.utils import timezone

from lenders.models import Lender
from members.models import User

from . import workflow
from .models import BorrowingRequest, ShippingMethod, Status

#: The path to each status: the status it is reached from, and the step that reaches it.
PATHS: dict[str, tuple[str | None, str]] = {
    Status.SUBMITTED: (None, "submit"),
    Status.SOURCING: (Status.SUBMITTED, "start_sourcing"),
    Status.SENT_TO_LENDER: (Status.SOURCING, "send_to_lender"),
    Status.SHIPPED: (Status.SENT_TO_LENDER, "ship"),
    Status.RECEIVED: (Status.SHIPPED, "mark_received"),
    Status.RENEWAL_REQUESTED: (Status.RECEIVED, "request_renewal"),
    Status.RETURNED: (Status.RECEIVED, "mark_returned"),
    Status.COMPLETED: (Status.RETURNED, "complete"),
    Status.CANCELLED: (Status.SUBMITTED, "cancel"),
    Status.UNFILLED: (Status.SOURCING, "mark_unfilled"),
    Status.LOST: (Status.SHIPPED, "mark_lost"),
}


def steps_to(status: str) -> list[str]:
    """The workflow actions, in order, that take a new submission to ``status``."""
    steps: list[str] = []
    current: str | None = status
    while current is not None:
        previous, step = PATHS[current]
        if step != "submit":
            steps.append(step)
        current = previous
    return list(reversed(steps))


def drive_to(
    req: BorrowingRequest,
    status: str,
    *,
    team: User,
    staff: User,
    lender: Lender,
    shipped_days_ago: int = 3,
) -> BorrowingRequest:
    """Take a ``submitted`` request to ``status``, as the team and the library would."""
    today = timezone.localdate()
    shipped_on = today - dt.timedelta(days=shipped_days_ago)
    actions = {
        "start_sourcing": lambda: workflow.start_sourcing(req.pk, actor=team),
        "send_to_lender": lambda: workflow.send_to_lender(
            req.pk, actor=team, lender=lender, lender_request_number=f"ILL-{req.pk:06d}"
        ),
        "ship": lambda: workflow.ship(
            req.pk,
            actor=team,
            shipped_on=shipped_on,
            due_date=shipped_on + dt.timedelta(days=28),
            method=ShippingMethod.DELIVERY,
            tracking_number="",
        ),
        "mark_received": lambda: workflow.mark_received(
            req.pk, actor=staff, received_on=min(today, shipped_on + dt.timedelta(days=2))
        ),
        "request_renewal": lambda: workflow.request_renewal(
            req.pk, actor=staff, due_date=shipped_on + dt.timedelta(days=56)
        ),
        "mark_returned": lambda: workflow.mark_returned(
            req.pk, actor=staff, method=ShippingMethod.DELIVERY
        ),
        "complete": lambda: workflow.complete(req.pk, actor=team),
        "cancel": lambda: workflow.cancel(req.pk, actor=staff, reason="Patron no longer needs it."),
        "mark_unfilled": lambda: workflow.mark_unfilled(
            req.pk, actor=team, reason="No lender owns this edition."
        ),
        "mark_lost": lambda: workflow.mark_lost(req.pk, actor=team, note="Lost in transit."),
    }
    for step in steps_to(status):
        req = actions[step]()
    return req
