"""Two people at the same move on the same request: the row lock lets exactly one win."""

import threading

import pytest

from core.errors import NotAllowedNow
from requests_app import workflow
from requests_app.models import StatusEvent
from tests.conftest import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_concurrent_mark_received_end_with_one_success_and_one_event(request_in, alice, rita):
    req = request_in("shipped")

    results = race(2, lambda: workflow.mark_received(req.pk, actor=alice))

    refusals = [r for r in results if isinstance(r, NotAllowedNow)]
    successes = [r for r in results if not isinstance(r, Exception)]
    assert (len(successes), len(refusals)) == (1, 1), results
    assert refusals[0].status == "received"
    assert StatusEvent.objects.filter(request=req, action="mark_received").count() == 1


def test_the_library_cancelling_while_the_team_ships_ends_one_way_only(request_in, alice, rita):
    import datetime as dt

    from django.utils import timezone

    req = request_in("sent_to_lender")
    today = timezone.localdate()
    moves = iter(
        [
            lambda: workflow.cancel(req.pk, actor=alice),
            lambda: workflow.ship(
                req.pk,
                actor=rita,
                shipped_on=today,
                due_date=today + dt.timedelta(days=28),
                method="mail",
            ),
        ]
    )
    lock = threading.Lock()

    def next_move():
        with lock:
            move = next(moves)
        return move()

    results = race(2, next_move)

    assert sum(isinstance(r, NotAllowedNow) for r in results) == 1, results
    req.refresh_from_db()
    assert req.status in {"cancelled", "shipped"}
    later_events = StatusEvent.objects.filter(request=req, action__in=["cancel", "ship"])
    assert list(later_events.values_list("to_status", flat=True)) == [req.status]


def test_two_submissions_for_the_same_new_card_register_one_patron(alice, library_one):
    from members.models import Patron
    from requests_app import services

    volumes = iter(["Vol. 1", "Vol. 2"])  # two items, so neither is the other's duplicate

    def submit():
        return services.submit_for_card(
            actor=alice,
            library=library_one,
            card_number="29990000555",
            patron_name="Ruth Hale",
            citation={"title": "The Island of Lost Maps", "volume": next(volumes)},
        )

    results = race(2, submit)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert Patron.objects.filter(card_number="29990000555").count() == 1
    assert {r.patron_id for r in results} == {Patron.objects.get(card_number="29990000555").pk}
