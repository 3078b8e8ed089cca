"""Returning an item whose lender is not accepting returns: the request page says so and
links to the lenders page; "Mark returned" asks, on a page of its own, whether the library
is holding the item (nothing changes) or sending it anyway (returned, and the timeline
says the lender was not accepting returns). The API answers 200 with the same note."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from lenders.models import AvailabilityReport
from requests_app import workflow
from requests_app.models import StatusEvent

NOTE = "Closed for renovation; hold returns until March."
SENT_ANYWAY = "Sent although Carver College Library was not accepting returns"


@pytest.fixture
def as_alice(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def not_accepting(lender):
    return AvailabilityReport.objects.create(
        lender=lender,
        reported_at=timezone.now() - dt.timedelta(days=2),
        lending=False,
        accepting_returns=False,
        source="E-mail from the ILL office",
        note=NOTE,
    )


def detail(req) -> str:
    return reverse("request_detail", args=[req.pk])


def act(req) -> str:
    return reverse("request_action", args=[req.pk, "return"])


BY_MAIL = {"return-method": "mail", "return-tracking_number": "9400 111"}


def test_the_page_says_so_before_it_goes_back_and_links_to_the_lenders(
    as_alice, request_in, not_accepting
):
    req = request_in("received")
    html = as_alice.get(detail(req)).content.decode()
    assert "Lender not accepting returns" in html
    assert NOTE in html
    assert f"{timezone.localtime(not_accepting.reported_at):%Y-%m-%d}" in html
    assert 'href="/lenders/?q=CVC"' in html
    assert "You will be asked to confirm." in html


def test_mark_returned_asks_first_and_changes_nothing(as_alice, request_in, not_accepting):
    req = request_in("received")
    events = StatusEvent.objects.filter(request=req).count()
    response = as_alice.post(act(req), BY_MAIL)
    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "requests_app/confirm_return.html"
    html = response.content.decode()
    assert "Are you holding it, or sending it anyway?" in html
    assert NOTE in html and 'href="/lenders/?q=CVC"' in html
    assert 'name="confirmed" value="no"' in html and 'name="confirmed" value="yes"' in html
    assert 'value="9400 111"' in html  # the input goes with either answer
    req.refresh_from_db()
    assert req.status == "received" and req.returned_on is None
    assert StatusEvent.objects.filter(request=req).count() == events


def test_holding_it_is_not_marking_it_returned(as_alice, request_in, not_accepting):
    req = request_in("received")
    events = StatusEvent.objects.filter(request=req).count()
    response = as_alice.post(act(req), {**BY_MAIL, "confirmed": "no"}, follow=True)
    assert "Not marked returned: nothing has changed." in response.content.decode()
    req.refresh_from_db()
    assert (req.status, req.returned_on, req.return_tracking) == ("received", None, "")
    assert StatusEvent.objects.filter(request=req).count() == events


def test_holding_it_changes_nothing_even_if_the_lender_took_returns_meanwhile(
    as_alice, request_in, not_accepting, lender
):
    req = request_in("received")
    as_alice.post(act(req), BY_MAIL)  # asked
    AvailabilityReport.objects.create(lender=lender, accepting_returns=True)
    as_alice.post(act(req), {**BY_MAIL, "confirmed": "no"})
    req.refresh_from_db()
    assert req.status == "received"


def test_sending_it_anyway_marks_it_returned_with_a_note(as_alice, request_in, not_accepting):
    req = request_in("received")
    response = as_alice.post(act(req), {**BY_MAIL, "confirmed": "yes"}, follow=True)
    assert "Marked returned." in response.content.decode()
    req.refresh_from_db()
    assert (req.status, req.return_tracking) == ("returned", "9400 111")
    event = req.events.get(action="mark_returned")
    reported = timezone.localtime(not_accepting.reported_at)
    assert event.note == (
        f"Returned by Mail, tracking 9400 111. {SENT_ANYWAY} (its report of {reported:%Y-%m-%d})."
    )
    assert SENT_ANYWAY in response.content.decode()  # on the timeline


def test_bad_input_is_refused_on_its_field_before_asking(as_alice, request_in, not_accepting):
    req = request_in("received")
    response = as_alice.post(act(req), {"return-method": "mail"})
    assert response.status_code == 400
    assert "Items returned by mail need a tracking number." in response.content.decode()
    assert "Are you holding it" not in response.content.decode()


def test_a_lender_accepting_returns_is_not_asked_about(as_alice, request_in, lender):
    nine_days_ago = timezone.now() - dt.timedelta(days=9)
    AvailabilityReport.objects.create(
        lender=lender, accepting_returns=False, reported_at=nine_days_ago
    )
    AvailabilityReport.objects.create(lender=lender, accepting_returns=True)
    req = request_in("received")
    html = as_alice.get(detail(req)).content.decode()
    assert "not accepting returns" not in html and "You will be asked" not in html
    as_alice.post(act(req), BY_MAIL)
    req.refresh_from_db()
    assert req.status == "returned"
    assert "not accepting" not in req.events.get(action="mark_returned").note


def test_the_queue_says_so_from_the_same_rule(client, rita, request_in, not_accepting):
    req = request_in("received")
    client.force_login(rita)
    assert "Lender not taking returns" in client.get("/queue/").content.decode()
    workflow.mark_returned(req.pk, actor=req.created_by, method="delivery")
    assert "Lender not taking returns" not in client.get("/queue/").content.decode()


def test_a_return_dated_before_the_lender_stopped_taking_them_has_no_note(
    alice, request_in, lender
):
    req = request_in("received", shipped_days_ago=10)
    AvailabilityReport.objects.create(
        lender=lender, accepting_returns=False, reported_at=timezone.now() - dt.timedelta(days=1)
    )
    workflow.mark_returned(
        req.pk, actor=alice, method="delivery", at=timezone.now() - dt.timedelta(days=3)
    )
    assert "not accepting" not in req.events.get(action="mark_returned").note


def test_the_api_returns_it_with_the_same_note(api, alice, request_in, not_accepting):
    req = request_in("received")
    response = api(alice).post(
        f"/api/v1/requests/{req.pk}/return/", {"method": "delivery"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "returned"
    assert SENT_ANYWAY in req.events.get(action="mark_returned").note
