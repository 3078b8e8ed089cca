"""Library staff ask "which lenders are accepting returns?": at /lenders/ they get a
read-only page of each lender's newest report on returns and lending, its date and note;
the team keeps its directory there, and the rest of the directory stays the team's."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from lenders.models import AvailabilityReport, Lender
from tests.queries import assert_queries, assert_same_count, captured


@pytest.fixture
def as_alice(client, alice):
    client.force_login(alice)
    return client


def report(lender, days_ago=0, **fields):
    """An availability report dated ``days_ago`` days back."""
    return AvailabilityReport.objects.create(
        lender=lender, reported_at=timezone.now() - dt.timedelta(days=days_ago), **fields
    )


@pytest.fixture
def lenders(lender):
    """Carver (never reported), Dover (not accepting returns), Estrie (accepting again)."""
    dover = Lender.objects.create(name="Dover Free Library", oclc_symbol="DOV", kind="in_state")
    estrie = Lender.objects.create(
        name="Bibliothèque de l'Estrie", oclc_symbol="UEQ", kind="canada"
    )
    report(dover, days_ago=4, accepting_returns=False, lending=False,
           source="E-mail from the ILL office", note="Flooded basement: hold returns.")  # fmt: skip
    report(estrie, days_ago=30, accepting_returns=False)
    report(estrie, days_ago=2, accepting_returns=True, closed_from=timezone.localdate()
           + dt.timedelta(days=10), note="Open again; closed for inventory soon.")  # fmt: skip
    return {"carver": lender, "dover": dover, "estrie": estrie}


def names(client, query=""):
    response = client.get(f"/lenders/?{query}")
    assert response.status_code == 200, response.content.decode()[:2000]
    return [lender.name for lender, _, _ in response.context["rows"]]


def test_library_staff_get_the_read_only_page_at_the_directorys_address(as_alice, lenders):
    response = as_alice.get("/lenders/")
    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "lenders/availability.html"
    html = response.content.decode()
    assert "Lenders: returns and lending" in html
    # Read-only: no link to a lender's page, nor to the admin, nor a form that records.
    assert reverse("lender_detail", args=[lenders["dover"].pk]) not in html
    assert 'method="post"' not in html.split("<main", 1)[1]
    assert "admin" not in html.split("<main", 1)[1]


def test_the_rest_of_the_directory_stays_the_teams(as_alice, lenders):
    dover = lenders["dover"]
    assert as_alice.get(reverse("lender_detail", args=[dover.pk])).status_code == 403
    new_report = reverse("lender_availability_new", args=[dover.pk])
    refused = as_alice.post(new_report, {"lending": "yes", "accepting_returns": "yes"})
    assert refused.status_code == 403
    assert dover.availability_reports.count() == 1


def test_the_team_keeps_its_directory(client, rita, lenders):
    client.force_login(rita)
    response = client.get("/lenders/")
    assert [t.name for t in response.templates][0] == "lenders/list.html"


def test_each_row_says_returns_and_lending_with_the_reports_date_and_note(as_alice, lenders):
    response = as_alice.get("/lenders/")
    rows = {lender.oclc_symbol: (availability, closure)
            for lender, availability, closure in response.context["rows"]}  # fmt: skip
    dover, _ = rows["DOV"]
    assert dover.not_accepting_returns and dover.lending is False
    assert dover.reported_on == timezone.localdate() - dt.timedelta(days=4)
    estrie, closure = rows["UEQ"]
    assert not estrie.not_accepting_returns  # the newest report counts
    assert closure.startswith("Closed from ")
    assert not rows["CVC"][0].reported
    html = response.content.decode()
    assert "Flooded basement: hold returns." in html
    assert "E-mail from the ILL office" not in html  # where the team heard it is its own
    assert f"{dover.reported_on:%Y-%m-%d}" in html
    assert "Not accepting returns</span>" in html
    assert "No report yet" in html
    # The team's working data is not on it.
    assert "Kind" not in html and "Fee" not in html


def test_it_searches_by_oclc_symbol_or_name(as_alice, lenders):
    assert names(as_alice) == ["Bibliothèque de l'Estrie", "Carver College Library",
                               "Dover Free Library"]  # fmt: skip
    assert names(as_alice, "q=dov") == ["Dover Free Library"]  # the symbol, any case
    assert names(as_alice, "q=estrie") == ["Bibliothèque de l'Estrie"]  # part of the name
    assert names(as_alice, "q=zzz") == []
    assert "No lender matches." in as_alice.get("/lenders/?q=zzz").content.decode()


def test_it_filters_on_returns_by_the_one_rule(as_alice, lenders):
    assert names(as_alice, "returns=not_accepting") == ["Dover Free Library"]
    # Never reported counts as accepting: the rule is never unknown.
    assert names(as_alice, "returns=accepting") == [
        "Bibliothèque de l'Estrie", "Carver College Library",
    ]  # fmt: skip
    assert names(as_alice, "returns=not_accepting&q=estrie") == []


@pytest.mark.parametrize(
    "query", ["returns=maybe", "q=" + "x" * 101, "q=a%00b"], ids=["choice", "long", "nul"]
)
def test_bad_input_is_a_400_with_the_message_by_its_field(as_alice, lenders, query):
    response = as_alice.get(f"/lenders/?{query}")
    assert response.status_code == 400
    assert response.context["form"].errors
    assert 'aria-invalid="true"' in response.content.decode()


def test_it_is_paginated(as_alice, lenders):
    first = as_alice.get("/lenders/?page_size=2")
    assert len(first.context["rows"]) == 2
    assert "Page 1 of 2" in first.content.decode()
    second = as_alice.get("/lenders/?page_size=2&page=2")
    assert [lender.name for lender, _, _ in second.context["rows"]] == ["Dover Free Library"]


def test_library_staff_find_it_in_their_menu(as_alice, lenders):
    html = as_alice.get("/").content.decode()
    assert 'href="/lenders/"' in html
    assert 'href="/lenders/" aria-current="page"' in as_alice.get("/lenders/").content.decode()


def test_it_costs_the_same_queries_for_one_lender_or_many(as_alice):
    def load(count, first=0):
        for number in range(first, first + count):
            lender = Lender.objects.create(name=f"Lender {number:02}", kind="in_state",
                                           oclc_symbol=f"L{number:02}")  # fmt: skip
            report(lender, days_ago=5, accepting_returns=False)
            report(lender, days_ago=1, accepting_returns=number % 2 == 0, note="Said so")
        with captured() as statements:
            response = as_alice.get("/lenders/?page_size=50&q=lender")
        assert response.status_code == 200
        assert len(response.context["rows"]) == first + count
        return statements

    few = load(1)
    many = load(11, first=1)
    assert_same_count(few, many)
    with assert_queries(5):
        # session, user, pager count, the page (the newest report's fields by subqueries),
        # the user's library (the header's ILL code). The session is not written: it is
        # renewed at most every SESSION_RENEW_SECONDS (core/sessions.py).
        as_alice.get("/lenders/?page_size=50&q=lender&returns=not_accepting")


def test_the_teams_own_records_stay_the_teams(as_alice, lenders):
    """A lender the service no longer uses, and where the team heard a report from, are
    the team's business: libraries see active lenders and what each said."""
    Lender.objects.create(name="Gone Library", oclc_symbol="GON", kind="in_state", is_active=False)
    assert "Gone Library" not in names(as_alice)
    page = as_alice.get("/lenders/?q=DOV").content.decode()
    assert "Flooded basement: hold returns." in page
    assert "E-mail from the ILL office" not in page
