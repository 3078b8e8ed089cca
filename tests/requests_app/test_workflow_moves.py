"""Every move of the workflow table, from every status, by every role.

For each action: it succeeds from each status it allows (one event, the right target);
from every other status it is refused with ``NotAllowedNow`` naming the action and the
status; by every actor who may not take it, it is refused with ``NotPermitted``; and a
refused move changes nothing and writes no event.
"""

import datetime as dt

import pytest
from django.forms.models import model_to_dict
from django.utils import timezone

from core.errors import NotAllowedNow, NotPermitted
from requests_app import workflow
from requests_app.models import (
    BorrowingRequest,
    LenderAttempt,
    Notification,
    RenewalRequest,
    Status,
    StatusEvent,
)
from requests_app.workflow import LIBRARY, MOVES, TEAM

# The table of DESIGN.md, written out again by hand so a change to MOVES must be deliberate.
EXPECTED_TABLE = {
    "start_sourcing": ({"submitted"}, "sourcing", {TEAM}),
    "send_to_lender": ({"sourcing"}, "sent_to_lender", {TEAM}),
    "lender_unfilled": ({"sent_to_lender"}, "sourcing", {TEAM}),
    "ship": ({"sent_to_lender"}, "shipped", {TEAM}),
    "mark_received": ({"shipped"}, "received", {LIBRARY, TEAM}),
    "report_not_arrived": ({"shipped"}, "shipped", {LIBRARY}),
    "request_renewal": ({"received"}, "renewal_requested", {LIBRARY}),
    "answer_renewal": ({"renewal_requested"}, "received", {TEAM}),
    "mark_returned": ({"received"}, "returned", {LIBRARY}),
    "complete": ({"returned"}, "completed", {TEAM}),
    "cancel": ({"submitted", "sourcing", "sent_to_lender"}, "cancelled", {LIBRARY, TEAM}),
    "mark_unfilled": ({"submitted", "sourcing", "sent_to_lender"}, "unfilled", {TEAM}),
    "mark_lost": ({"shipped", "received", "renewal_requested", "returned"}, "lost", {TEAM}),
}

ALLOWED = [(a, s) for a, (sources, _, _) in EXPECTED_TABLE.items() for s in sorted(sources)]
REFUSED = [
    (a, s)
    for a, (sources, _, _) in EXPECTED_TABLE.items()
    for s in Status.values
    if s not in sources
]


def perform(action: str, req: BorrowingRequest, actor, lender):
    """Call the workflow function for ``action`` with valid arguments."""
    today = timezone.localdate()
    later = (req.due_date or today) + dt.timedelta(days=30)
    kwargs = {
        "start_sourcing": {},
        "send_to_lender": {"lender": lender},
        "lender_unfilled": {"reason": "Missing from shelf"},
        "ship": {"shipped_on": today, "due_date": today + dt.timedelta(days=28), "method": "mail"},
        "mark_received": {},
        "report_not_arrived": {"note": "Nothing in Tuesday's Delivery"},
        "request_renewal": {"due_date": later},
        "answer_renewal": {"approved": True, "due_date": later},
        "mark_returned": {"method": "delivery"},
        "complete": {},
        "cancel": {},
        "mark_unfilled": {"reason": "No lender owns it"},
        "mark_lost": {},
    }[action]
    return getattr(workflow, action)(req.pk, actor=actor, **kwargs)


def snapshot(req: BorrowingRequest) -> dict:
    req.refresh_from_db()
    return {
        "request": model_to_dict(req) | {"updated_at": req.updated_at},
        "events": StatusEvent.objects.filter(request=req).count(),
        "attempts": list(LenderAttempt.objects.filter(request=req).values()),
        "renewals": list(RenewalRequest.objects.filter(request=req).values()),
        "notifications": Notification.objects.filter(request=req).count(),
    }


def test_the_table_is_the_designed_one():
    actual = {
        action: (set(move.sources), move.target, set(move.sides)) for action, move in MOVES.items()
    }
    assert actual == EXPECTED_TABLE


@pytest.mark.parametrize(("action", "from_status"), ALLOWED)
def test_allowed_move_changes_status_and_writes_one_event(
    action, from_status, request_in, rita, alice, lender
):
    req = request_in(from_status)
    actor = rita if TEAM in EXPECTED_TABLE[action][2] else alice
    events_before = req.events.count()

    result = perform(action, req, actor, lender)

    target = EXPECTED_TABLE[action][1]
    req.refresh_from_db()
    assert result.status == req.status == target
    new_events = list(req.events.order_by("id"))[events_before:]
    assert [(e.action, e.from_status, e.to_status, e.actor_id) for e in new_events] == [
        (action, from_status, target, actor.pk)
    ]


@pytest.mark.parametrize(("action", "from_status"), REFUSED)
def test_move_from_a_status_it_does_not_allow_is_refused_and_changes_nothing(
    action, from_status, request_in, rita, alice, lender
):
    req = request_in(from_status)
    actor = rita if TEAM in EXPECTED_TABLE[action][2] else alice
    before = snapshot(req)

    with pytest.raises(NotAllowedNow) as refused:
        perform(action, req, actor, lender)

    assert refused.value.action == action
    assert refused.value.status == from_status
    assert Status(from_status).label.lower() in str(refused.value)
    assert snapshot(req) == before


ACTORS = ["alice", "bob", "rita", "admin_user", "inactive_rita"]


def side_of(actor_name: str) -> str | None:
    return {"alice": LIBRARY, "rita": TEAM, "admin_user": TEAM}.get(actor_name)


@pytest.fixture
def inactive_rita(rita):
    rita.is_active = False
    rita.save()
    return rita


@pytest.mark.parametrize("actor_name", ACTORS)
@pytest.mark.parametrize("action", list(EXPECTED_TABLE))
def test_only_the_roles_in_the_table_may_act(action, actor_name, request, request_in, lender):
    sources, target, sides = EXPECTED_TABLE[action]
    req = request_in(sorted(sources)[0])
    actor = request.getfixturevalue(actor_name)
    before = snapshot(req)

    if side_of(actor_name) in sides:
        assert perform(action, req, actor, lender).status == target
    else:
        with pytest.raises(NotPermitted) as refused:
            perform(action, req, actor, lender)
        assert refused.value.action == action
        assert snapshot(req) == before


def test_allowed_actions_lists_what_the_user_may_do_now(request_in, alice, bob, rita):
    req = request_in("received")
    assert workflow.allowed_actions(req, alice) == ["request_renewal", "mark_returned"]
    shipped = request_in("shipped")
    assert workflow.allowed_actions(shipped, alice) == ["mark_received", "report_not_arrived"]
    assert workflow.allowed_actions(req, rita) == ["mark_lost"]
    assert workflow.allowed_actions(req, bob) == []
