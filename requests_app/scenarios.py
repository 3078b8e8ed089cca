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


def moments(status: str, *, shipped_days_ago: int = 3, now: dt.datetime | None = None):
    """When each step to ``status`` happens, submission included: a believable past
    that ends now.

    A request that never ships happens now. One that ships was sent two days before its
    shipment, ``shipped_days_ago`` days ago in the afternoon, and came two days after it
    (or today); what follows happens now. Every step is after the one before it.
    """
    now = now or timezone.now()
    steps = ["submit", *steps_to(status)]
    if "ship" not in steps:
        return dict.fromkeys(steps, now)

    def day_at(day: dt.date, hour: int) -> dt.datetime:
        return min(now, timezone.make_aware(dt.datetime.combine(day, dt.time(hour))))

    today = timezone.localdate(now)
    shipped_on = today - dt.timedelta(days=shipped_days_ago)
    shipped = day_at(shipped_on, 15)
    planned = {
        "submit": shipped - dt.timedelta(days=2, hours=5),
        "start_sourcing": shipped - dt.timedelta(days=2, hours=4),
        "send_to_lender": shipped - dt.timedelta(days=2, hours=3),
        "ship": shipped,
        "mark_received": day_at(min(today, shipped_on + dt.timedelta(days=2)), 11),
    }
    times: dict[str, dt.datetime] = {}
    last = planned["submit"]
    for step in steps:
        last = max(last, planned.get(step, now))
        times[step] = last
    return times


def submit_for(status: str, *, shipped_days_ago: int = 3, **submission) -> BorrowingRequest:
    """Submit a request when a request that reaches ``status`` would have been
    submitted (``moments``); ``submission`` is ``workflow.submit_request``'s input."""
    at = moments(status, shipped_days_ago=shipped_days_ago)["submit"]
    return workflow.submit_request(at=at, **submission)


def drive_to(
    req: BorrowingRequest,
    status: str,
    *,
    team: User,
    staff: User,
    lender: Lender,
    shipped_days_ago: int = 3,
    times: dict[str, dt.datetime] | None = None,
) -> BorrowingRequest:
    """Take a ``submitted`` request to ``status``, as the team and the library would,
    each step at its moment (``moments``, or ``times`` by step), and never before the
    request was submitted: a request that ships on a day in the past must have been
    submitted before it (``submit_for``)."""
    planned = times or moments(status, shipped_days_ago=shipped_days_ago)
    times = {step: max(at, req.created_at) for step, at in planned.items()}
    shipped_on = timezone.localdate(times.get("ship", timezone.now()))
    received_on = timezone.localdate(times.get("mark_received", timezone.now()))
    actions = {
        "start_sourcing": lambda at: workflow.start_sourcing(req.pk, actor=team, at=at),
        "send_to_lender": lambda at: workflow.send_to_lender(
            req.pk, actor=team, lender=lender, lender_request_number=f"ILL-{req.pk:06d}", at=at
        ),
        "ship": lambda at: workflow.ship(
            req.pk,
            actor=team,
            shipped_on=shipped_on,
            due_date=shipped_on + dt.timedelta(days=28),
            method=ShippingMethod.DELIVERY,
            tracking_number="",
            at=at,
        ),
        "mark_received": lambda at: workflow.mark_received(
            req.pk, actor=staff, received_on=received_on, at=at
        ),
        "request_renewal": lambda at: workflow.request_renewal(
            req.pk, actor=staff, due_date=shipped_on + dt.timedelta(days=56), at=at
        ),
        "mark_returned": lambda at: workflow.mark_returned(
            req.pk, actor=staff, method=ShippingMethod.DELIVERY, at=at
        ),
        "complete": lambda at: workflow.complete(req.pk, actor=team, at=at),
        "cancel": lambda at: workflow.cancel(
            req.pk, actor=staff, reason="Patron no longer needs it.", at=at
        ),
        "mark_unfilled": lambda at: workflow.mark_unfilled(
            req.pk, actor=team, reason="No lender owns this edition.", at=at
        ),
        "mark_lost": lambda at: workflow.mark_lost(
            req.pk, actor=team, note="Lost in transit.", at=at
        ),
    }
    for step in steps_to(status):
        req = actions[step](times[step])
    return req
