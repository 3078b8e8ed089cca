"""Leaving: a library takes everything it owns (requests with their timelines and charges,
its patrons), the team the whole service, as CSV and JSON, streamed (docs/go-live.md)."""

import csv
import io
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from requests_app import exports, services
from requests_app.models import BorrowingRequest

pytestmark = pytest.mark.django_db


def download(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.content[:500]
    assert response.streaming and "attachment;" in response["Content-Disposition"]
    return b"".join(response.streaming_content).decode()


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def two_libraries(request_in, rita, bob, library_two, patron):
    ours = request_in("shipped")
    services.add_charge(ours.pk, actor=rita, kind="lending_fee", amount=Decimal("7.50"))
    theirs = BorrowingRequest.objects.create(
        library=library_two, created_by=bob, title="Another Library's Book"
    )
    return ours, theirs


def test_a_library_takes_its_own_requests_timelines_charges_and_patrons(
    client, alice, two_libraries, patron
):
    ours, theirs = two_libraries
    client.force_login(alice)
    page = client.get("/export/").content.decode()
    assert "patrons.csv" in page

    requests = rows(download(client, "/export/requests.csv"))
    assert [int(r["id"]) for r in requests] == [ours.pk]
    assert requests[0]["library"] == ours.library.ill_code and requests[0]["status"] == "shipped"
    events = rows(download(client, "/export/events.csv"))
    assert {e["action"] for e in events} >= {"submit", "send_to_lender", "ship", "add_charge"}
    assert all(int(e["request_id"]) == ours.pk for e in events)
    charges = rows(download(client, "/export/charges.csv"))
    assert [(c["kind"], c["amount"]) for c in charges] == [("lending_fee", "7.50")]
    patrons = rows(download(client, "/export/patrons.csv"))
    assert [(p["card_number"], p["name"]) for p in patrons] == [(patron.card_number, patron.name)]

    (as_json,) = json.loads(download(client, "/export/requests.json"))
    assert as_json["id"] == ours.pk and as_json["charges"][0]["amount"] == "7.50"
    assert [e["action"] for e in as_json["events"]][0] == "submit"
    assert "Another Library" not in download(client, "/export/requests.json")


def test_the_team_takes_the_whole_service_without_patron_names(client, rita, two_libraries, patron):
    ours, theirs = two_libraries
    client.force_login(rita)
    everything = rows(download(client, "/export/requests.csv"))
    assert {int(r["id"]) for r in everything} == {ours.pk, theirs.pk}
    text = download(client, "/export/requests.json")
    assert patron.name not in text and patron.email not in text
    assert patron.card_number in text  # the team reads cards, as on its pages
    one = rows(download(client, f"/export/requests.csv?library={theirs.library.ill_code}"))
    assert [int(r["id"]) for r in one] == [theirs.pk]
    assert client.get("/export/patrons.csv").status_code == 403
    assert client.get("/export/requests.csv?library=NOPE").status_code == 404
    assert client.get("/export/requests.csv?library=%00").status_code == 404
    assert client.get("/export/?library=AB%00C").status_code == 404
    assert client.get("/export/secrets.csv").status_code == 404


def test_strangers_get_nothing(client):
    assert client.get("/export/requests.csv").status_code == 302


def test_a_chunk_costs_the_same_queries_however_many_requests(client, alice, submit, monkeypatch):
    monkeypatch.setattr(exports, "CHUNK", 2)
    for _ in range(2):
        submit()
    queryset = BorrowingRequest.objects.all()
    with CaptureQueriesContext(connection) as two:
        "".join(exports.as_json(queryset))
    for _ in range(2):
        submit()
    with CaptureQueriesContext(connection) as four:
        "".join(exports.as_json(queryset))
    # A chunk: its requests, their events, their charges; and one read that finds no more.
    assert len(two) == 3 * 1 + 1 and len(four) == 3 * 2 + 1
    assert len(json.loads("".join(exports.as_json(queryset)))) == 4


def test_a_cell_a_spreadsheet_would_run_is_kept_as_text(client, alice, submit):
    submit(title='=HYPERLINK("http://evil.example","Click")')
    client.force_login(alice)
    (row,) = rows(download(client, "/export/requests.csv"))
    assert row["title"].startswith("'=HYPERLINK")
