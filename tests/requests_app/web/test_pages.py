"""The foundation's pages: login, the request list, the request detail, the health check."""

import pytest
from django.urls import reverse

from requests_app import workflow
from tests.queries import captured


def test_pages_ask_anonymous_users_to_log_in(client, request_in):
    req = request_in("submitted")
    for url in (reverse("home"), reverse("request_detail", args=[req.pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_login_page_has_labelled_fields(client, db):
    page = client.get("/accounts/login/").content.decode()
    assert '<label for="id_username">Username:</label>' in page
    assert '<label for="id_password">Password:</label>' in page


def test_a_user_logs_in_with_their_own_account(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "illdesk-test-pw"})
    assert response.status_code == 302
    assert client.get("/requests/").context["user"] == alice


def test_library_staff_see_only_their_librarys_requests(client, request_in, bob, library_two):
    ours = request_in("submitted")
    workflow.submit_request(
        actor=bob, library=library_two, patron=None, citation={"title": "Borden's book"}
    )
    client.force_login(bob)

    page = client.get("/requests/")
    assert [r.title for r in page.context["page"]] == ["Borden's book"]
    assert client.get(reverse("request_detail", args=[ours.pk])).status_code == 404


def test_the_team_sees_every_library(client, request_in, rita, bob, library_two):
    request_in("submitted")
    workflow.submit_request(
        actor=bob, library=library_two, patron=None, citation={"title": "Borden's book"}
    )
    client.force_login(rita)
    assert client.get("/requests/")["Location"] == "/queue/"
    assert len(client.get("/queue/").context["page"]) == 2


@pytest.mark.parametrize("count", [1, 12])
def test_the_request_list_costs_the_same_queries_at_any_length(client, request_in, alice, count):
    for status in ["shipped"] * count:
        request_in(status)
    client.force_login(alice)
    with captured() as queries:
        response = client.get("/requests/")
    assert response.status_code == 200
    # 1 session, 2 user, 3 counts by status, 4 count for the pager, 5 the page of requests
    # joined with library, lender and assignee, 6 the user's library for the header.
    queries.expect(6)


def test_the_detail_page_shows_the_timeline(client, request_in, alice):
    req = request_in("shipped")
    client.force_login(alice)
    page = client.get(reverse("request_detail", args=[req.pk])).content.decode()
    assert "Sent to lender → Shipped" in page
    assert "New → Submitted" in page


def test_the_patron_is_named_to_their_library_and_only_carded_to_the_team(
    client, request_in, alice, rita
):
    req = request_in("shipped")
    url = reverse("request_detail", args=[req.pk])
    client.force_login(alice)
    assert f"Card {req.patron.card_number}, Pat Reader" in client.get(url).content.decode()
    client.force_login(rita)
    page = client.get(url).content.decode()
    assert f"Card {req.patron.card_number}" in page
    assert "Pat Reader" not in page


def test_healthz_answers_when_the_database_does(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
