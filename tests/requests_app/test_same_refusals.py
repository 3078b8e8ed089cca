"""The pages and the API refuse the same bad input the same way: on the same field, in the
same words, saving nothing. Every check on a request's data lives in the workflow and the
services (``requests_app.rules``, ``core.checks``); both doors only read the input.

Each case is run through the request's page (its action form) and through the API."""

import datetime as dt

import pytest
from django.utils import timezone

from requests_app.models import BorrowingRequest, StatusEvent

TODAY = timezone.localdate()
LATER = str(TODAY + dt.timedelta(days=40))
MEGABYTE = "x" * 1_048_576

SHIP = {"shipped_on": str(TODAY), "due_date": LATER, "method": "mail", "tracking_number": ""}
CHARGE = {"kind": "lending_fee", "amount": "10.00", "payer": "service", "reference": ""}
ITEM = {"format": "book", "title": "A Title"}
#: The shipment of a request ``request_in`` ships: three days ago, due in four weeks.
SHIPMENT = {"shipped_on": str(TODAY - dt.timedelta(days=3)), "due_date": LATER,
            "method": "delivery", "tracking_number": "", "lender_request_number": ""}  # fmt: skip

#: (who acts, the status the request is in, the action, its good input, what is changed,
#: the field refused). The API's address is the action's, or the list it adds to.
CASES = [
    ("rita", "sent_to_lender", "ship", SHIP, {"shipped_on": "0001-01-01"}, "shipped_on"),
    ("rita", "sent_to_lender", "ship", SHIP, {"due_date": "9999-12-31"}, "due_date"),
    # It went to the lender today: it cannot have shipped yesterday, nor tomorrow.
    ("rita", "sent_to_lender", "ship", SHIP,
     {"shipped_on": str(TODAY - dt.timedelta(days=1))}, "shipped_on"),
    ("rita", "sent_to_lender", "ship", SHIP,
     {"shipped_on": str(TODAY + dt.timedelta(days=1))}, "shipped_on"),
    ("rita", "sent_to_lender", "ship", SHIP, {"tracking_number": "9" * 101}, "tracking_number"),
    ("alice", "received", "request-renewal", {}, {"due_date": "9999-12-31"}, "due_date"),
    ("alice", "received", "request-renewal", {}, {"due_date": str(TODAY)}, "due_date"),
    ("alice", "shipped", "receive", {},
     {"received_on": str(TODAY + dt.timedelta(days=1))}, "received_on"),
    ("alice", "shipped", "receive", {},
     {"received_on": str(TODAY - dt.timedelta(days=10))}, "received_on"),
    ("alice", "shipped", "not-arrived", {}, {"note": MEGABYTE}, "note"),
    ("rita", "sent_to_lender", "lender-unfilled", {}, {"reason": ""}, "reason"),
    ("rita", "sent_to_lender", "lender-unfilled", {}, {"reason": "r" * 301}, "reason"),
    ("alice", "submitted", "cancel", {}, {"reason": "r" * 501}, "reason"),
    ("rita", "renewal_requested", "answer-renewal", {"approved": "yes"},
     {"due_date": "9999-12-31"}, "due_date"),
    ("rita", "renewal_requested", "answer-renewal", {"approved": "yes"},
     {"due_date": ""}, "due_date"),
    ("rita", "shipped", "add-charge", CHARGE, {"amount": "100000.01"}, "amount"),
    ("rita", "shipped", "add-charge", CHARGE, {"amount": "-1"}, "amount"),
    ("rita", "shipped", "add-charge", CHARGE, {"reference": "r" * 101}, "reference"),
    ("rita", "submitted", "max-cost", {"reason": "Agreed"}, {"max_cost": "-1"}, "max_cost"),
    ("rita", "submitted", "max-cost", {"max_cost": "5"}, {"reason": ""}, "reason"),
    ("alice", "submitted", "message", {}, {"body": ""}, "body"),
    ("alice", "submitted", "message", {}, {"body": "b" * 5001}, "body"),
    # Traces.
    ("rita", "shipped", "trace", {}, {"note": ""}, "note"),
    ("rita", "flagged", "replacement-shipped", SHIP, {"due_date": str(TODAY)}, "due_date"),
    ("rita", "flagged", "replacement-shipped", SHIP,
     {"shipped_on": str(TODAY - dt.timedelta(days=30))}, "shipped_on"),
    ("rita", "flagged", "cleared", {},
     {"received_on": str(TODAY + dt.timedelta(days=1))}, "received_on"),
    # Corrections.
    ("alice", "submitted", "edit-item", ITEM, {"title": ""}, "title"),
    ("rita", "sourcing", "edit-item", ITEM, {"isbn": "978-0-306-40615-8"}, "isbn"),
    ("rita", "sourcing", "edit-item", ITEM, {"format": "article"}, "format"),
    ("rita", "shipped", "correct-shipment", SHIPMENT,
     {"due_date": str(TODAY - dt.timedelta(days=4))}, "due_date"),
    ("rita", "received", "correct-shipment", SHIPMENT,
     {"shipped_on": str(TODAY)}, "shipped_on"),  # after it was received
    ("rita", "received", "correct-receipt", {},
     {"received_on": str(TODAY - dt.timedelta(days=10))}, "received_on"),
    ("rita", "returned", "correct-return", {"returned_on": str(TODAY), "method": "delivery"},
     {"method": "mail", "tracking_number": ""}, "tracking_number"),
    ("rita", "received", "reopen", {}, {"reason": ""}, "reason"),
]  # fmt: skip

#: Actions the API takes at an address of their own (the list they add to).
API_ADDRESSES = {"add-charge": "charges", "message": "messages"}
#: How the API spells a yes-or-no the page sends as a word.
API_VALUES = {"yes": True, "no": False}


def refusal_on_page(client, req, action: str, data: dict, field: str) -> list[str]:
    response = client.post(
        f"/requests/{req.pk}/{action}/", {f"{action}-{k}": v for k, v in data.items()}
    )
    assert response.status_code == 400, response.status_code
    forms = [form for _, form in response.context["actions"]]
    forms += [form for _, form in response.context["side_actions"].values()]
    (form,) = [form for form in forms if form.prefix == action]
    assert set(form.errors) == {field}, form.errors
    return list(form.errors[field])


def refusal_by_api(api, req, action: str, data: dict, field: str) -> list[str]:
    address = API_ADDRESSES.get(action, action)
    body = {key: API_VALUES.get(value, value) for key, value in data.items()}
    if body.get("due_date") == "":
        body["due_date"] = None
    response = api.post(f"/api/v1/requests/{req.pk}/{address}/", body, format="json")
    assert response.status_code == 400, (response.status_code, response.json())
    assert set(response.json()) == {field}, response.json()
    return response.json()[field]


def made(request_in, status: str, action: str):
    """A request in ``status`` that allows ``action``: one "flagged" not arrived has a
    trace to work; one to report not arrived shipped long enough ago."""
    if status == "flagged":
        req = request_in("shipped", shipped_days_ago=20)
        BorrowingRequest.objects.filter(pk=req.pk).update(not_arrived_flagged_at=timezone.now())
        return req
    if action == "not-arrived":
        return request_in(status, shipped_days_ago=20)
    return request_in(status)


def record(req) -> tuple:
    req.refresh_from_db()
    return (req.status, req.charges_total, req.max_cost, StatusEvent.objects.count())


@pytest.mark.parametrize(
    "who, status, action, good, bad, field",
    CASES,
    ids=[f"{case[2]} {case[5]} {str(list(case[4].values())[0])[:12]}" for case in CASES],
)
def test_the_page_and_the_api_refuse_it_alike(
    client, api, request_in, alice, rita, who, status, action, good, bad, field
):
    person = {"alice": alice, "rita": rita}[who]
    client.force_login(person)
    on_page, by_api = made(request_in, status, action), made(request_in, status, action)
    before = record(on_page), record(by_api)

    page_words = refusal_on_page(client, on_page, action, good | bad, field)
    api_words = refusal_by_api(api(person), by_api, action, good | bad, field)

    assert page_words == api_words
    assert (record(on_page), record(by_api)) == before


#: A new request: the good input, and each bad change with the field it is refused on.
NEW_PAGE = {"card_number": "21234000111", "format": "book", "title": "A Title", "max_cost": "5"}
NEW_API = {"patron": {"card_number": "21234000111"}, "format": "book", "title": "A Title",
           "max_cost": "5"}  # fmt: skip
NEW_CASES = [
    ({"title": ""}, "title"),
    ({"title": "t" * 501}, "title"),
    ({"notes": "n" * 2001}, "notes"),
    ({"needed_by": str(TODAY - dt.timedelta(days=1))}, "needed_by"),
    ({"needed_by": "9999-12-31"}, "needed_by"),
    ({"max_cost": "-1"}, "max_cost"),
    ({"isbn": "978-0-306-40615-8"}, "isbn"),
    ({"isbn": "9" * 41}, "isbn"),
    ({"oclc_number": "1" * 41}, "oclc_number"),
]


@pytest.mark.parametrize("bad, field", NEW_CASES, ids=[case[1] for case in NEW_CASES])
def test_a_new_request_is_refused_alike(client, api, alice, patron, bad, field):
    client.force_login(alice)
    page = client.post("/requests/new/", NEW_PAGE | bad)
    assert page.status_code == 400
    form = page.context["form"]
    assert set(form.errors) == {field}, form.errors
    response = api(alice).post("/api/v1/requests/", NEW_API | bad, format="json")
    assert response.status_code == 400
    assert response.json() == {field: list(form.errors[field])}
    assert not BorrowingRequest.objects.exists()


#: A patron by card: the page's fields, and the API's ``patron`` object, each refused on
#: (the page's field, the API's field inside ``patron``).
PATRON_CASES = [
    ({"card_number": "2" * 41}, {"card_number": "2" * 41}, "card_number", "card_number"),
    ({"card_number": "   "}, {"card_number": "   "}, "card_number", "card_number"),
    ({"card_number": "NEW-CARD"}, {"card_number": "NEW-CARD"}, "patron_name", "name"),
    ({"card_number": "NEW-CARD", "patron_name": "n" * 201},
     {"card_number": "NEW-CARD", "name": "n" * 201}, "patron_name", "name"),
]  # fmt: skip


@pytest.mark.parametrize(
    "on_page, by_api, page_field, api_field",
    PATRON_CASES,
    ids=["long card", "blank card", "new card, no name", "long name"],
)
def test_a_patron_is_refused_alike(
    client, api, alice, patron, on_page, by_api, page_field, api_field
):
    client.force_login(alice)
    page = client.post("/requests/new/", NEW_PAGE | on_page)
    assert page.status_code == 400
    form = page.context["form"]
    assert set(form.errors) == {page_field}, form.errors
    response = api(alice).post("/api/v1/requests/", NEW_API | {"patron": by_api}, format="json")
    assert response.status_code == 400
    assert response.json() == {"patron": {api_field: list(form.errors[page_field])}}
    assert not BorrowingRequest.objects.exists()


@pytest.mark.parametrize("reason", [None, " ", "r" * 301], ids=["none", "blank", "too long"])
def test_a_duplicate_is_refused_alike(client, api, alice, patron, reason):
    """The library's open request for the same item: refused on ``duplicate_reason``, in
    the same words at both doors, until a reason is given."""
    first = BorrowingRequest.objects.create(
        library=patron.library, patron=patron, created_by=alice, title="a title."
    )
    given = {} if reason is None else {"duplicate_reason": reason}
    client.force_login(alice)
    page = client.post("/requests/new/", NEW_PAGE | given)
    assert page.status_code == 400
    form = page.context["form"]
    assert set(form.errors) == {"duplicate_reason"}, form.errors
    response = api(alice).post("/api/v1/requests/", NEW_API | given, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body.pop("duplicate_reason") == list(form.errors["duplicate_reason"])
    # The matches come with the warning; a reason too long is only that.
    matches = body.pop("duplicates", [])
    assert [(match["id"], match["patron_is_same"]) for match in matches] == (
        [] if reason and reason.strip() else [(first.pk, True)]
    )
    assert body == {}
    assert list(BorrowingRequest.objects.all()) == [first]
