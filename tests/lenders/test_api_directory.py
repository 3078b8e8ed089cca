"""``/api/v1/libraries/``, ``/api/v1/patrons/`` and ``/api/v1/lenders/``, scoped as the
pages are."""

import datetime as dt

from django.utils import timezone

from lenders.models import AvailabilityReport, Lender
from members.models import Patron
from tests.queries import captured


def rows(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_library_staff_see_their_own_library_and_the_team_every_one(api, alice, rita, library_two):
    assert [r["ill_code"] for r in rows(api(alice).get("/api/v1/libraries/"))] == ["ABBOT"]
    everyone = rows(api(rita).get("/api/v1/libraries/"))
    assert [r["ill_code"] for r in everyone] == ["ABBOT", "BORDEN"]
    assert everyone[0]["max_cost"] == "25.00"
    assert api(alice).get(f"/api/v1/libraries/{library_two.pk}/").status_code == 404
    assert rows(api(rita).get("/api/v1/libraries/?q=borden"))[0]["name"] == "Borden Free Library"
    assert rows(api(rita).get("/api/v1/libraries/?region=Western"))[0]["ill_code"] == "BORDEN"


def test_patron_names_are_for_their_own_library(api, alice, bob, rita, patron):
    mine = rows(api(alice).get("/api/v1/patrons/"))
    assert mine == [
        {
            "id": patron.pk,
            "library": "ABBOT",
            "card_number": "21234000111",
            "name": "Pat Reader",
            "email": "pat@example.org",
            "homebound": False,
            "created_at": mine[0]["created_at"],
        }
    ]
    assert rows(api(bob).get("/api/v1/patrons/")) == []
    assert api(bob).get(f"/api/v1/patrons/{patron.pk}/").status_code == 404
    teams = api(rita).get(f"/api/v1/patrons/{patron.pk}/")
    assert teams.status_code == 200
    assert teams.json()["name"] is None and teams.json()["email"] is None
    assert "Pat Reader" not in teams.content.decode()
    assert "pat@example.org" not in api(rita).get("/api/v1/patrons/").content.decode()


def test_patrons_are_found_by_card(api, alice, library_one, patron):
    Patron.objects.create(library=library_one, card_number="99", name="Other")
    found = rows(api(alice).get("/api/v1/patrons/?card_number=21234000111"))
    assert [p["id"] for p in found] == [patron.pk]


def test_lenders_come_with_their_newest_availability(api, rita, lender):
    now = timezone.now()
    AvailabilityReport.objects.create(lender=lender, reported_at=now - dt.timedelta(days=9))
    newest = AvailabilityReport.objects.create(
        lender=lender, reported_at=now, lending=False, source="OCLC policies", note="Inventory"
    )
    Lender.objects.create(name="Quiet Library", kind="out_of_state")
    listed = rows(api(rita).get("/api/v1/lenders/"))
    assert [lender["name"] for lender in listed] == ["Carver College Library", "Quiet Library"]
    assert listed[0]["availability"]["id"] == newest.pk
    assert listed[0]["availability"]["lending"] is False
    assert listed[0]["availability"]["source"] == "OCLC policies"
    assert listed[0]["availability"]["note"] == "Inventory"
    assert listed[1]["availability"] is None
    assert [r["oclc_symbol"] for r in rows(api(rita).get("/api/v1/lenders/?q=cvc"))] == ["CVC"]


def test_the_lender_directory_is_the_teams(api, alice, lender):
    assert api(alice).get("/api/v1/lenders/").status_code == 403
    assert api(alice).get(f"/api/v1/lenders/{lender.pk}/").status_code == 403


def test_directory_lists_cost_the_same_queries_whatever_their_length(api, rita, library_one):
    from members.models import MemberLibrary

    for n in range(6):
        MemberLibrary.objects.create(
            name=f"Library {n}", ill_code=f"L{n}", bpl_number=f"3999{n}", library_type="public",
            region="Test",
        )  # fmt: skip
        lender = Lender.objects.create(name=f"Lender {n}", kind="in_state")
        AvailabilityReport.objects.create(lender=lender)
        Patron.objects.create(library=library_one, card_number=f"C{n}", name=f"P{n}")
    client = api(rita)
    for url in ("/api/v1/lenders/", "/api/v1/patrons/", "/api/v1/libraries/"):
        counts = []
        for size in (1, 6):
            with captured() as statements:
                response = client.get(f"{url}?page_size={size}")
            assert len(response.json()["results"]) == size
            counts.append(len(statements))
        # The token and its user, the page's ids, then their rows (lenders carry their
        # newest report in the same query; patrons their library).
        assert counts == [3, 3], url


def test_bad_directory_filters_are_400s(api, rita):
    response = api(rita).get("/api/v1/lenders/?charges_fees=maybe&kind=moon")
    assert response.status_code == 400
    assert set(response.json()) == {"charges_fees", "kind"}
