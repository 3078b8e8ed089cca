"""API credentials: a token from username and password, and nothing without one."""

from rest_framework.authtoken.models import Token

from tests.conftest import PASSWORD


def test_it_gives_a_token_for_a_username_and_password(api, alice):
    response = api().post(
        "/api/v1/auth/token/", {"username": "alice", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=alice).key}


def test_a_wrong_password_is_a_400_with_the_reason(api, alice):
    response = api().post(
        "/api/v1/auth/token/", {"username": "alice", "password": "nope"}, format="json"
    )
    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    assert not Token.objects.exists()


def test_the_token_opens_the_api(api, alice, client):
    key = (
        api()
        .post("/api/v1/auth/token/", {"username": "alice", "password": PASSWORD}, format="json")
        .json()["token"]
    )
    response = client.get("/api/v1/requests/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200


def test_without_credentials_it_answers_401(api):
    for url in ("/api/v1/requests/", "/api/v1/libraries/", "/api/v1/patrons/", "/api/v1/lenders/"):
        response = api().get(url)
        assert response.status_code == 401, url
        assert response["WWW-Authenticate"] == "Token"


def test_a_bad_token_is_a_401(client, db):
    response = client.get("/api/v1/requests/", HTTP_AUTHORIZATION="Token not-a-real-token")
    assert response.status_code == 401


def test_a_deactivated_users_token_stops_working_at_once(api, alice):
    as_alice = api(alice)
    assert as_alice.get("/api/v1/requests/").status_code == 200
    alice.is_active = False
    alice.save()
    assert as_alice.get("/api/v1/requests/").status_code == 401


def test_a_browser_session_reads_the_api_as_json(client, alice):
    """The browsable pages are off (their inline script breaks the CSP); a browser that
    opens an API address gets the JSON."""
    client.force_login(alice)
    browser_accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = client.get("/api/v1/requests/", HTTP_ACCEPT=browser_accept)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "results" in response.json()
