"""API tokens: as strong as the login that made them, shown once, stored as a digest, and
ended by expiry, by their owner, by an admin, by a password change or a deactivation."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from members.models import ApiToken
from tests.conftest import PASSWORD, token_for

TOKEN = "/api/v1/auth/token/"


def ask_token(api, username="alice", password=PASSWORD, **more):
    return api().post(TOKEN, {"username": username, "password": password, **more}, format="json")


def works(client, key: str) -> bool:
    response = client.get("/api/v1/requests/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code in (200, 401), response.status_code
    return response.status_code == 200


def confirmed_device(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Phone", confirmed=True)


# --- Getting one --------------------------------------------------------------------------


def test_each_request_gives_a_new_token_that_lasts_the_configured_hours(api, alice, client):
    before = timezone.now()
    first, second = ask_token(api), ask_token(api)
    assert first.status_code == second.status_code == 200
    body = first.json()
    assert set(body) == {"token", "name", "expires_at"}
    assert body["token"] != second.json()["token"]
    assert first["Cache-Control"] == "no-store"  # the key is in this answer alone
    expires = parse_datetime(body["expires_at"])
    assert before + timedelta(hours=10) <= expires <= timezone.now() + timedelta(hours=10)
    assert works(client, body["token"]) and works(client, second.json()["token"])


def test_the_lifetime_is_a_setting(api, alice, settings):
    settings.API_TOKEN_HOURS = 2
    expires = parse_datetime(ask_token(api).json()["expires_at"])
    assert expires <= timezone.now() + timedelta(hours=2)


def test_the_key_is_not_stored_anywhere(api, alice):
    key = ask_token(api, name="Nightly report").json()["token"]
    token = ApiToken.objects.get()
    assert (token.name, token.user) == ("Nightly report", alice)
    assert key.startswith(token.prefix) and len(token.prefix) < len(key) // 3
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM members_apitoken")
        row = cursor.fetchone()
    assert not any(key in str(value) for value in row)


def test_a_wrong_password_is_a_400_with_the_reason(api, alice):
    response = ask_token(api, password="nope")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    assert not ApiToken.objects.exists()


def test_an_account_with_two_factor_needs_its_code_for_a_token(api, alice, client):
    """A stolen password is not enough where the login page asks for a code."""
    device = confirmed_device(alice)
    without = ask_token(api)
    assert without.status_code == 400
    assert without.json() == {"otp_token": ["Enter the code from your authenticator app."]}
    wrong = ask_token(api, otp_token=str((int(totp(device.bin_key)) + 1) % 1_000_000).zfill(6))
    assert wrong.status_code == 400 and "otp_token" in wrong.json()
    assert not ApiToken.objects.exists()
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)
    right = ask_token(api, otp_token=totp(device.bin_key))
    assert right.status_code == 200
    assert works(client, right.json()["token"])


def test_a_right_code_is_not_spent_on_an_answer_that_refuses_anyway(api, alice):
    device = confirmed_device(alice)
    code = totp(device.bin_key)
    refused = ask_token(api, otp_token=code, name="x" * 101)
    assert refused.status_code == 400 and set(refused.json()) == {"name"}
    assert ask_token(api, otp_token=code, name="Nightly").status_code == 200


def test_a_new_token_records_the_sign_in(api, alice):
    assert alice.last_login is None
    ask_token(api)
    alice.refresh_from_db()
    assert alice.last_login is not None


# --- Using one ----------------------------------------------------------------------------


def test_without_credentials_it_answers_401(api):
    for url in ("/api/v1/requests/", "/api/v1/libraries/", "/api/v1/patrons/", "/api/v1/lenders/"):
        response = api().get(url)
        assert response.status_code == 401, url
        assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize(
    "header",
    ["Token not-a-real-token", "Token", "Token two words", "Token caf\xe9", "token illdesk_x"],
)
def test_a_bad_token_is_a_401(client, db, header):
    response = client.get("/api/v1/requests/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"


def test_an_expired_token_stops_working(client, alice):
    key = token_for(alice)
    assert works(client, key)
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert not works(client, key)


def test_a_browser_session_reads_the_api_as_json(client, alice):
    """The browsable pages are off (their inline script breaks the CSP); a browser that
    opens an API address gets the JSON."""
    client.force_login(alice)
    browser_accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = client.get("/api/v1/requests/", HTTP_ACCEPT=browser_accept)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "results" in response.json()


# --- Ending one ---------------------------------------------------------------------------


def test_its_owner_revokes_the_token_in_use(client, alice):
    key, other = token_for(alice), token_for(alice)
    response = client.post("/api/v1/auth/logout/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 204
    assert not works(client, key)
    assert works(client, other)


def test_logout_without_a_token_says_so(client, alice):
    client.force_login(alice)
    response = client.post("/api/v1/auth/logout/")
    assert response.status_code == 400
    assert "not made with a token" in response.json()["detail"]


def test_a_password_change_ends_every_token(client, alice):
    key = token_for(alice)
    client.force_login(alice)
    client.post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "Fresh-Reading-Room-42",
            "new_password2": "Fresh-Reading-Room-42",
        },
    )
    assert not works(client, key)


def test_a_password_reset_ends_every_token(client, alice):
    key = token_for(alice)
    client.post("/accounts/password-reset/", {"email": alice.email})
    link = next(word for word in mail.outbox[0].body.split() if "/accounts/reset/" in word)
    form_page = client.get(link, follow=True)
    client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "Fresh-Reading-Room-42", "new_password2": "Fresh-Reading-Room-42"},
    )
    assert not works(client, key)


def test_a_password_disabled_in_the_admin_ends_every_token(admin_client, client, alice):
    key = token_for(alice)
    admin_client.post(
        f"/admin/members/user/{alice.pk}/password/",
        {"usable_password": "false", "unset-password": "Disable password-based authentication"},
    )
    alice.refresh_from_db()
    assert not alice.has_usable_password()
    assert not works(client, key)


def test_any_change_of_password_ends_the_tokens_made_before_it(client, alice):
    """Even one written around the model (a script's UPDATE), or one that lands while a
    token is being made: a token remembers the password it was made under."""
    key = token_for(alice)
    type(alice).objects.filter(pk=alice.pk).update(password="pbkdf2_sha256$1$x$y")
    assert not works(client, key)


def test_a_deactivated_users_token_stops_working_at_once_and_for_good(client, alice):
    key = token_for(alice)
    alice.is_active = False
    alice.save()
    assert not works(client, key)
    alice.is_active = True
    alice.save()
    assert not works(client, key), "reactivating the account must not revive its tokens"


def test_deactivating_in_the_admin_ends_the_tokens(admin_client, client, alice):
    key = token_for(alice)
    admin_client.post(
        "/admin/members/user/",
        {"action": "deactivate_accounts", "_selected_action": [alice.pk]},
    )
    alice.refresh_from_db()
    assert not alice.is_active
    assert not ApiToken.objects.filter(user=alice).exists()
    assert not works(client, key)


# --- The owner's page ---------------------------------------------------------------------


def test_a_person_makes_a_token_on_their_page_and_sees_its_key_once(client, alice):
    client.force_login(alice)
    made = client.post("/accounts/api-tokens/", {"name": "Nightly report", "days": "30"})
    assert made.status_code == 201
    assert made["Cache-Control"] == "no-store"
    key = made.context["new_key"]
    assert key in made.content.decode()
    assert "it will not be shown again" in made.content.decode()
    token = ApiToken.objects.get(user=alice)
    assert token.expires_at > timezone.now() + timedelta(days=29)
    assert works(client, key)
    later = client.get("/accounts/api-tokens/").content.decode()
    assert key not in later
    assert "Nightly report" in later and token.prefix in later


def test_a_lifetime_beyond_the_longest_allowed_is_refused(client, alice, settings):
    settings.API_TOKEN_MAX_DAYS = 7
    client.force_login(alice)
    refused = client.post("/accounts/api-tokens/", {"name": "Too long", "days": "30"})
    assert refused.status_code == 200
    assert "Select a valid choice" in refused.content.decode()
    assert not ApiToken.objects.exists()


def test_a_person_revokes_their_own_token_and_nobody_elses(client, alice, bob):
    key, bobs = token_for(alice), token_for(bob)
    client.force_login(alice)
    bobs_token = ApiToken.objects.get(user=bob)
    assert client.post(f"/accounts/api-tokens/{bobs_token.pk}/revoke/").status_code == 404
    assert works(client, bobs)
    response = client.post(f"/accounts/api-tokens/{ApiToken.objects.get(user=alice).pk}/revoke/")
    assert response["Location"] == "/accounts/api-tokens/"
    assert not works(client, key)


def test_the_page_asks_a_session_without_the_second_factor_to_verify_first(client, alice):
    confirmed_device(alice)
    client.force_login(alice)  # a password-only session
    response = client.post("/accounts/api-tokens/", {"name": "Script", "days": "1"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/two-factor/?next=")
    assert not ApiToken.objects.exists()


# --- The admin ----------------------------------------------------------------------------


def test_an_admin_sees_tokens_without_keys_and_revokes_them(admin_client, client, alice):
    key = token_for(alice)
    token = ApiToken.objects.get()
    listing = admin_client.get("/admin/members/apitoken/").content.decode()
    assert token.prefix in listing and "alice" in listing
    assert key not in listing and token.digest not in listing
    assert admin_client.get("/admin/members/apitoken/add/").status_code == 403
    admin_client.post(
        "/admin/members/apitoken/",
        {"action": "revoke_tokens", "_selected_action": [token.pk]},
    )
    assert not works(client, key)
