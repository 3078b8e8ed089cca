"""``/api/v1/requests/``: the list, one request, and submitting a new one."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from members.models import Patron
from requests_app import services, traces, workflow
from requests_app.models import BorrowingRequest, StatusEvent
from tests.queries import Statements, assert_same_count, captured


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


# --- The list ------------------------------------------------------------------------------


def test_library_staff_list_their_own_librarys_requests_only(api, submit, bob, library_two, rita):
    ours = submit()
    theirs = workflow.submit_request(
        actor=bob, library=library_two, patron=None, citation={"title": "Hill Farming"}
    )
    from members.models import User

    alice = User.objects.get(username="alice")
    assert ids(api(alice).get("/api/v1/requests/")) == [ours.pk]
    assert ids(api(bob).get("/api/v1/requests/")) == [theirs.pk]
    assert ids(api(rita).get("/api/v1/requests/")) == [theirs.pk, ours.pk]
    # Naming another library's code finds nothing: it does not widen the scope.
    assert ids(api(alice).get("/api/v1/requests/?library=BORDEN")) == []


def test_the_list_filters_as_the_queue_does(api, rita, alice, request_in, bob, library_two):
    shipped = request_in("shipped", shipped_days_ago=20)
    traces.report_not_arrived(shipped.pk, actor=alice)
    late = request_in("received")
    BorrowingRequest.objects.filter(pk=late.pk).update(
        due_date=timezone.localdate() - dt.timedelta(days=1)
    )
    sent = request_in("sent_to_lender")
    theirs = workflow.submit_request(
        actor=bob, library=library_two, patron=None, citation={"title": "Hill Farming"}
    )
    as_rita = api(rita)

    def found(query):
        return set(ids(as_rita.get(f"/api/v1/requests/?{query}")))

    assert found("status=sent_to_lender") == {sent.pk}
    assert found("status=open") == {shipped.pk, late.pk, sent.pk, theirs.pk}
    assert found("library=borden") == {theirs.pk}
    assert found("lender=CVC") == {shipped.pk, late.pk, sent.pk}
    assert found("not_arrived=true") == {shipped.pk}
    assert found("not_arrived=false") == {late.pk, sent.pk, theirs.pk}
    assert found("overdue=true") == {late.pk}
    assert found("overdue=false") == {shipped.pk, sent.pk, theirs.pk}
    assert found("q=hill+farm") == {theirs.pk}
    assert found(f"q={sent.lender_request_number}") == {sent.pk}
    assert found("patron=21234000111") == {shipped.pk, late.pk, sent.pk}


def test_a_bad_filter_is_a_400_naming_it(api, rita):
    response = api(rita).get("/api/v1/requests/?status=misplaced&overdue=perhaps")
    assert response.status_code == 400
    assert set(response.json()) == {"status", "overdue"}


def test_the_list_is_newest_first_and_paged_without_counting(api, rita, submit):
    made = [submit(title=f"Book {n}") for n in range(5)]
    as_rita = api(rita)
    first = as_rita.get("/api/v1/requests/?page_size=2").json()
    assert [row["id"] for row in first["results"]] == [made[4].pk, made[3].pk]
    assert first["page"] == 1 and first["page_size"] == 2 and first["previous"] is None
    assert "count" not in first
    second = as_rita.get(first["next"].replace("http://testserver", "")).json()
    last = as_rita.get(second["next"].replace("http://testserver", "")).json()
    assert [row["id"] for row in last["results"]] == [made[0].pk]
    assert last["next"] is None
    assert "page=2" in last["previous"]


def test_paging_stops_at_the_last_page_it_serves(api, rita, submit, settings, monkeypatch):
    from core import pagination

    monkeypatch.setattr(pagination, "MAX_PAGE", 2)
    for n in range(4):
        submit(title=f"Book {n}")
    page = api(rita).get("/api/v1/requests/?page_size=1&page=2").json()
    assert len(page["results"]) == 1
    assert page["next"] is None  # a script following next stops instead of looping


def test_page_size_stops_at_500(api, rita, submit):
    submit()
    assert api(rita).get("/api/v1/requests/?page_size=100000").json()["page_size"] == 500


@pytest.mark.parametrize("user", ["rita", "alice"])
def test_the_list_costs_the_same_queries_whatever_its_length(api, request_in, rita, alice, user):
    for status in ("submitted", "shipped", "received", "renewal_requested", "completed"):
        req = request_in(status)
    services.add_charge(req.pk, actor=rita, kind="shipping", amount=Decimal("3.50"))
    client = api({"rita": rita, "alice": alice}[user])

    def queries(page_size: int) -> Statements:
        with captured() as statements:
            response = client.get(f"/api/v1/requests/?page_size={page_size}")
        assert response.status_code == 200
        assert len(response.json()["results"]) == page_size
        return statements

    few, more = queries(1), queries(5)
    assert_same_count(few, more)
    # 1 the token and its user, 2 the page's ids, 3 those requests with their library,
    # lender, assignee and creator, 4 their charges with who recorded each, 5 their
    # renewals with who asked and who answered.
    more.expect(5)


# --- One request ---------------------------------------------------------------------------


def test_one_request_shows_the_contracted_fields(api, request_in, alice, rita):
    req = request_in("renewal_requested")
    services.add_charge(req.pk, actor=rita, kind="lending_fee", amount=Decimal("12.00"))
    body = api(alice).get(f"/api/v1/requests/{req.pk}/").json()
    for field in (
        "id", "status", "library", "format", "title", "author", "publisher", "year",
        "edition", "edition_only", "volume", "isbn", "issn", "oclc_number", "language",
        "needed_by", "max_cost", "lender", "shipped_on", "due_date", "received_on",
        "returned_on", "not_arrived_flagged_at", "created_at", "updated_at", "charges",
        "charges_total", "renewals", "trace", "follows",
    ):  # fmt: skip
        assert field in body, field
    assert body["status"] == "renewal_requested"
    assert body["library"] == "ABBOT"
    assert body["max_cost"] == "25.00"
    assert body["lender"]["oclc_symbol"] == "CVC"
    assert body["charges_total"] == "12.00"
    assert [c["amount"] for c in body["charges"]] == ["12.00"]
    assert body["renewals"][0]["answer"] == "pending"
    assert body["flags"] == ["renewal_pending"]
    assert body["actions"] == ["withdraw-renewal", "return"]  # waiting, but not stuck
    assert api(rita).get(f"/api/v1/requests/{req.pk}/").json()["actions"] == [
        "answer-renewal",
        "mark-lost",
        "edit-item",
        "correct-shipment",
        "correct-receipt",
    ]


def test_it_never_shows_the_patrons_name(api, request_in, alice, rita):
    req = request_in("submitted")
    for user in (alice, rita):
        text = api(user).get(f"/api/v1/requests/{req.pk}/").content.decode()
        assert "Pat Reader" not in text
        assert f'"patron":{req.patron_id}' in text


def test_another_librarys_request_is_a_404(api, request_in, bob):
    req = request_in("shipped")
    as_bob = api(bob)
    for suffix in ("", "events/", "charges/", "messages/"):
        assert as_bob.get(f"/api/v1/requests/{req.pk}/{suffix}").status_code == 404, suffix
    assert as_bob.get("/api/v1/requests/999999/").status_code == 404
    assert as_bob.get("/api/v1/requests/nope/").status_code == 404


def test_the_timeline_comes_oldest_first(api, request_in, alice):
    req = request_in("shipped")
    events = api(alice).get(f"/api/v1/requests/{req.pk}/events/").json()
    assert [(e["from_status"], e["to_status"]) for e in events] == [
        ("", "submitted"),
        ("submitted", "sourcing"),
        ("sourcing", "sent_to_lender"),
        ("sent_to_lender", "shipped"),
    ]
    assert events[0]["actor"] == "alice" and events[1]["actor"] == "rita"
    assert set(events[0]) == {
        "id", "action", "from_status", "to_status", "actor", "at", "note", "changes"
    }  # fmt: skip


# --- Submitting ----------------------------------------------------------------------------

NEW = {"title": "The Wampanoag Way", "author": "Ann Peters", "format": "book"}


def test_library_staff_submit_for_a_new_patron(api, alice):
    response = api(alice).post(
        "/api/v1/requests/",
        {**NEW, "patron": {"card_number": "2999000123", "name": "Ruth Hale"}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert response["Location"] == f"/api/v1/requests/{body['id']}/"
    assert body["status"] == "submitted" and body["library"] == "ABBOT"
    assert body["max_cost"] == "25.00"  # the library's, by default
    patron = Patron.objects.get(card_number="2999000123")
    assert (patron.name, patron.library.ill_code, body["patron"]) == (
        "Ruth Hale",
        "ABBOT",
        patron.pk,
    )
    assert StatusEvent.objects.get(request_id=body["id"]).actor == alice


def test_library_staff_submit_for_a_known_patron_by_id(api, alice, patron):
    response = api(alice).post(
        "/api/v1/requests/",
        {**NEW, "patron": patron.pk, "isbn": "0-306-40615-2", "max_cost": "10"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["isbn"] == "9780306406157"
    assert response.json()["max_cost"] == "10.00"


@pytest.mark.parametrize(
    ("asked", "says"),
    [("article", "document delivery"), ("ebook", "returnable items only")],
)
def test_articles_and_ebooks_are_refused_with_where_to_go(api, alice, patron, asked, says):
    response = api(alice).post(
        "/api/v1/requests/", {**NEW, "patron": patron.pk, "format": asked}, format="json"
    )
    assert response.status_code == 400
    assert says in response.json()["format"][0]
    assert not BorrowingRequest.objects.exists()


def test_bad_input_is_a_400_by_field_and_saves_nothing(api, alice):
    response = api(alice).post(
        "/api/v1/requests/",
        {
            "title": "",
            "isbn": "978-0-306-40615-8",
            "needed_by": "2001-01-01",
            "max_cost": "99.00",
            "patron": {"card_number": "555"},
        },
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) >= {"title"}
    assert not BorrowingRequest.objects.exists()
    # Once the citation is right, the workflow's own checks speak by field too.
    response = api(alice).post(
        "/api/v1/requests/",
        {**NEW, "isbn": "978-0-306-40615-8", "needed_by": "2001-01-01", "max_cost": "99.00",
         "patron": {"card_number": "555", "name": "New Reader"}},
        format="json",
    )  # fmt: skip
    assert response.status_code == 400
    assert set(response.json()) == {"isbn", "needed_by", "max_cost"}
    assert not BorrowingRequest.objects.exists()
    assert not Patron.objects.filter(card_number="555").exists()  # nothing half-saved


def test_a_new_card_needs_a_name_and_errors_nest_under_patron(api, alice):
    response = api(alice).post(
        "/api/v1/requests/", {**NEW, "patron": {"card_number": "777"}}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["patron"]
    assert "add their name" in response.json()["patron"]["name"][0]
    response = api(alice).post(
        "/api/v1/requests/", {**NEW, "patron": {"card_number": "", "name": "X"}}, format="json"
    )
    assert response.status_code == 400 and "card_number" in response.json()["patron"]


def test_another_librarys_patron_or_library_is_refused(api, alice, bob, library_two, patron):
    theirs = Patron.objects.create(library=library_two, card_number="1", name="Someone")
    response = api(alice).post("/api/v1/requests/", {**NEW, "patron": theirs.pk}, format="json")
    assert response.status_code == 400
    assert response.json() == {"patron": ["No patron with this id at ABBOT."]}
    response = api(alice).post(
        "/api/v1/requests/", {**NEW, "patron": patron.pk, "library": "BORDEN"}, format="json"
    )
    assert response.status_code == 400 and "library" in response.json()
    assert not BorrowingRequest.objects.exists()


def test_the_team_names_the_library_and_may_exceed_its_max_cost(api, rita, patron):
    response = api(rita).post(
        "/api/v1/requests/", {**NEW, "patron": patron.pk, "max_cost": "60"}, format="json"
    )
    assert response.status_code == 400 and "library" in response.json()
    response = api(rita).post(
        "/api/v1/requests/",
        {**NEW, "patron": patron.pk, "max_cost": "60", "library": "abbot"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["max_cost"] == "60.00"
    assert response.json()["library"] == "ABBOT"


@pytest.mark.parametrize("patron_value", [None, True, "x", [], {"name": "No Card"}])
def test_a_patron_must_be_an_id_or_a_card(api, alice, patron_value):
    response = api(alice).post("/api/v1/requests/", {**NEW, "patron": patron_value}, format="json")
    assert response.status_code == 400
    assert "patron" in response.json()
