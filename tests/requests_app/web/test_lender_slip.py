"""The lender slip: what a lender needs to send the right item in time and within our
cost, and never the patron."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from requests_app.models import BorrowingRequest
from requests_app.scenarios import drive_to, submit_for


@pytest.fixture
def slip(client, rita):
    client.force_login(rita)

    def _slip(req) -> str:
        response = client.get(f"/requests/{req.pk}/lender-slip/")
        assert response.status_code == 200
        return response.content.decode()

    return _slip


@pytest.fixture
def shipped(alice, rita, lender, patron) -> BorrowingRequest:
    req = submit_for(
        "shipped",
        actor=alice,
        library=alice.library,
        patron=patron,
        citation={"title": "Calculus", "edition": "3rd", "edition_only": True},
        needed_by=timezone.localdate() + dt.timedelta(days=30),
        max_cost=Decimal("15.00"),
        notes="3rd edition only, please:\nthe class uses its numbering.",
    )
    return drive_to(req, "shipped", team=rita, staff=alice, lender=lender)


def test_it_gives_the_due_date_the_max_cost_and_the_librarys_notes(slip, shipped):
    html = slip(shipped)
    assert f"<dt>Due date</dt><dd>{shipped.due_date:%Y-%m-%d}</dd>" in html
    assert "<dt>Max cost</dt><dd>15.00 USD</dd>" in html
    assert "3rd edition only, please:<br>the class uses its numbering." in html
    assert f"<dt>Needed by</dt><dd>{shipped.needed_by:%Y-%m-%d}</dd>" in html
    assert f"<dt>OCLC/ILL number</dt><dd>ILL-{shipped.pk:06d}</dd>" in html
    assert "3rd (this edition only)" in html


def test_before_it_ships_there_is_no_due_date_and_free_lenders_only_says_so(
    slip, request_in, patron
):
    req = request_in("sourcing")
    BorrowingRequest.objects.filter(pk=req.pk).update(max_cost=Decimal("0.00"))
    html = slip(req)
    assert "Due date" not in html
    assert "<dt>Max cost</dt><dd>0.00 USD (free lenders only)</dd>" in html
    assert "Notes" not in html  # none given


def test_it_never_shows_the_patron(slip, shipped, patron):
    html = slip(shipped)
    assert not [s for s in (patron.name, patron.card_number, patron.email) if s in html]


def test_the_new_request_form_says_lenders_read_the_notes(client, alice):
    client.force_login(alice)
    html = client.get("/requests/new/").content.decode()
    assert "The lender sees them on its slip: do not name the patron." in html
