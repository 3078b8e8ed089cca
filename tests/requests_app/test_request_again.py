"""Lender unfilled, then what: an unfilled request shows why and offers the library to
ask again, as a new request for the same item, linked to the first."""

from decimal import Decimal

import pytest

from core.errors import NotAllowedNow
from requests_app import services, workflow
from requests_app.models import BorrowingRequest


def test_asking_again_makes_a_new_request_linked_to_the_first(request_in, alice):
    first = request_in("unfilled")
    BorrowingRequest.objects.filter(pk=first.pk).update(
        isbn="9780306406157", edition="2nd", notes="Any copy will do."
    )
    again = workflow.request_again(first.pk, actor=alice)
    first.refresh_from_db()
    assert (again.status, again.follows, again.patron, again.library) == (
        "submitted", first, first.patron, first.library
    )  # fmt: skip
    assert (again.title, again.isbn, again.edition) == (first.title, first.isbn, first.edition)
    assert again.notes == f"Asked again after #{first.pk} went unfilled. Any copy will do."
    assert first.status == "unfilled"
    assert first.events.latest("id").note == f"Requested again as #{again.pk}."
    with pytest.raises(NotAllowedNow, match=f"as #{again.pk}"):
        workflow.request_again(first.pk, actor=alice)


def test_a_max_cost_the_team_raised_goes_back_to_the_librarys(request_in, alice, rita):
    first = request_in("sourcing")
    services.set_max_cost(first.pk, actor=rita, max_cost=Decimal("60"), reason="Agreed")
    workflow.mark_unfilled(first.pk, actor=rita, reason="Nobody lends it.")
    by_library = workflow.request_again(first.pk, actor=alice)
    assert by_library.max_cost == alice.library.max_cost


def test_a_patron_aged_out_cannot_be_asked_for_again(request_in, alice):
    first = request_in("unfilled")
    BorrowingRequest.objects.filter(pk=first.pk).update(patron=None)
    with pytest.raises(NotAllowedNow, match="aged out"):
        workflow.request_again(first.pk, actor=alice)


def test_the_page_shows_the_reason_and_asks_again(client, request_in, alice):
    first = request_in("unfilled")
    client.force_login(alice)
    page = client.get(f"/requests/{first.pk}/")
    html = page.content.decode()
    assert "No lender could supply it:</strong> No lender owns this edition." in html
    assert [a.slug for a, _ in page.context["next_steps"]] == ["request-again"]
    response = client.post(f"/requests/{first.pk}/request-again/", {})
    again = BorrowingRequest.objects.get(follows=first)
    assert response["Location"] == f"/requests/{again.pk}/"
    html = client.get(f"/requests/{first.pk}/").content.decode()
    assert f'asked for again as <a href="/requests/{again.pk}/">request #{again.pk}</a>' in html
    asked = client.get(f"/requests/{first.pk}/").context["actions"]
    assert "request-again" not in [action.slug for action, _ in asked]  # once only


def test_the_api_asks_again_and_answers_the_new_request(api, request_in, alice, bob):
    first = request_in("unfilled")
    assert api(bob).post(f"/api/v1/requests/{first.pk}/request-again/").status_code == 404
    response = api(alice).post(f"/api/v1/requests/{first.pk}/request-again/")
    assert response.status_code == 201
    assert response.json()["follows"] == first.pk
    assert response["Location"].endswith(f"/api/v1/requests/{response.json()['id']}/")
    assert api(alice).post(f"/api/v1/requests/{first.pk}/request-again/").status_code == 409
    shipped = request_in("shipped")
    assert api(alice).post(f"/api/v1/requests/{shipped.pk}/request-again/").status_code == 409
