"""Logging in: lockout by account after repeated failures (not by address), password reset
by e-mail, Django's password rules, sessions that end when idle, and the second factor."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.sessions.models import Session
from django.core import mail
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from members.models import FailedSignIns
from tests.conftest import PASSWORD

LOGIN = "/accounts/login/"


def log_in(client, username, password=PASSWORD, **extra):
    """Post the login form; upper-case keywords (``REMOTE_ADDR``, ``HTTP_…``) are the
    request's headers, the others more fields (``otp_token``)."""
    headers = {key: value for key, value in extra.items() if key.isupper()}
    fields = {key: value for key, value in extra.items() if not key.isupper()}
    return client.post(LOGIN, {"username": username, "password": password, **fields}, **headers)


def logged_in(client) -> bool:
    """Whether the client's next page is served to an account, not sent to log in."""
    response = client.get("/accounts/password/")
    return response.status_code == 200


# --- Lockout and guard ---------------------------------------------------------------------
# django-axes locks an account at one address; the guard (members.sign_in) holds an account
# or an address under attack to the places it knows. Addresses are REMOTE_ADDR here.

HOME = "10.0.0.7"  # where alice works
STRANGER = "203.0.113.9"


def test_five_wrong_passwords_lock_the_account_here_with_a_clear_message(client, alice, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = log_in(client, "alice", "wrong")
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()
    response = log_in(client, "alice", "wrong")
    assert response.status_code == 429
    assert "it is locked at this address for 15 minutes" in response.content.decode()
    # Locked means locked: the right password does not open it either.
    response = log_in(client, "alice")
    assert response.status_code == 429
    assert not logged_in(client)


def test_a_strangers_wrong_passwords_do_not_lock_the_owner_out(client, alice):
    for _ in range(6):
        log_in(client, "alice", "wrong", REMOTE_ADDR=STRANGER)
    assert log_in(client, "alice", REMOTE_ADDR=STRANGER).status_code == 429
    assert log_in(client, "alice", REMOTE_ADDR=HOME).status_code == 302
    assert logged_in(client)


def test_one_persons_typos_do_not_lock_out_a_colleague_at_the_same_address(client, alice, bob):
    for _ in range(6):
        log_in(client, "alice", "wrong", REMOTE_ADDR=HOME)
    assert log_in(client, "bob", REMOTE_ADDR=HOME).status_code == 302
    assert logged_in(client)


def test_a_made_up_forwarded_address_does_not_escape_the_lock(client, alice, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "alice", "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
    assert log_in(client, "alice", HTTP_X_FORWARDED_FOR="198.51.100.99").status_code == 429


def test_behind_a_trusted_proxy_each_client_is_counted_apart(client, alice, settings):
    """With ILLDESK_TRUSTED_PROXIES=1 the proxy's X-Forwarded-For names the client, and
    only the address the proxy appended counts, whatever the client wrote before it."""
    settings.ILLDESK_TRUSTED_PROXIES = 1
    proxy = {"REMOTE_ADDR": "172.18.0.2"}
    for n in range(6):
        log_in(client, "alice", "wrong", HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, {STRANGER}", **proxy)
    assert log_in(client, "alice", HTTP_X_FORWARDED_FOR=STRANGER, **proxy).status_code == 429
    assert log_in(client, "alice", HTTP_X_FORWARDED_FOR=HOME, **proxy).status_code == 302


def test_a_success_starts_the_count_again(client, alice, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "alice", "wrong")
    assert log_in(client, "alice").status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "alice", "wrong")
    assert log_in(client, "alice").status_code == 302


def test_the_lock_lifts_after_the_cool_off(client, alice, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "alice", "wrong")
    assert log_in(client, "alice").status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert log_in(client, "alice").status_code == 302


def test_wrong_passwords_to_the_token_endpoint_lock_the_same_account(api, client, alice, settings):
    anonymous = api()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        anonymous.post("/api/v1/auth/token/", {"username": "alice", "password": "x"}, format="json")
    response = anonymous.post(
        "/api/v1/auth/token/", {"username": "alice", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 429
    assert "locked" in response.json()["detail"]
    assert log_in(client, "alice").status_code == 429


def test_guessing_from_many_addresses_holds_the_account_to_the_places_it_knows(
    client, alice, settings
):
    """The slower per-account limit: a few tries from each of many addresses add up, and
    then only the owner's usual place gets through."""
    assert log_in(client, "alice", REMOTE_ADDR=HOME).status_code == 302
    client.logout()
    for n in range(settings.ILLDESK_ACCOUNT_FAILURES_PER_HOUR):
        log_in(client, "alice", "wrong", REMOTE_ADDR=f"198.51.100.{n}")

    refused = log_in(client, "alice", REMOTE_ADDR="192.0.2.50")
    assert refused.status_code == 429
    assert "signs in only where it has signed in before" in refused.content.decode()
    assert not logged_in(client)
    assert log_in(client, "alice", REMOTE_ADDR=HOME).status_code == 302

    # An hour later the account takes passwords from anywhere again.
    client.logout()
    FailedSignIns.objects.update(bucket=timezone.now() - timedelta(minutes=61))
    assert log_in(client, "alice", REMOTE_ADDR="192.0.2.50").status_code == 302


def test_an_address_trying_many_accounts_may_sign_in_only_to_those_it_knows(
    client, alice, bob, settings
):
    settings.ILLDESK_ADDRESS_FAILURES_PER_HOUR = 10
    assert log_in(client, "alice", REMOTE_ADDR=STRANGER).status_code == 302
    client.logout()
    for n in range(10):
        log_in(client, f"reader{n}", "guess", REMOTE_ADDR=STRANGER)

    refused = log_in(client, "bob", REMOTE_ADDR=STRANGER)
    assert refused.status_code == 429
    assert "Too many failed sign-ins from this network" in refused.content.decode()
    assert log_in(client, "bob", REMOTE_ADDR=HOME).status_code == 302
    client.logout()
    assert log_in(client, "alice", REMOTE_ADDR=STRANGER).status_code == 302


def test_an_attack_adds_counts_not_rows(client, db, settings):
    """However many tries, the guard's counts are a row per account, address and five
    minutes, so checking them never reads more than a few dozen rows."""
    settings.AXES_FAILURE_LIMIT = 1000
    settings.ILLDESK_ACCOUNT_FAILURES_PER_HOUR = settings.ILLDESK_ADDRESS_FAILURES_PER_HOUR = 10**6
    for _ in range(40):
        log_in(client, "alice", "wrong", REMOTE_ADDR=STRANGER)
    rows = list(FailedSignIns.objects.values_list("username", "address", "count"))
    assert len(rows) <= 2  # one bucket (two, if five minutes turned meanwhile)
    assert {(user, address) for user, address, _ in rows} == {("alice", STRANGER)}
    assert sum(count for *_, count in rows) == 40


def test_one_address_alone_never_guards_the_account(client, alice, settings):
    """A guesser at one address is stopped by the lock there; knocking at it for an hour
    must not hold the owner to their known places."""
    for _ in range(settings.ILLDESK_ACCOUNT_FAILURES_PER_HOUR * 2):
        log_in(client, "alice", "wrong", REMOTE_ADDR=STRANGER)
    assert log_in(client, "alice", REMOTE_ADDR=STRANGER).status_code == 429  # locked there
    # Only the tries that reached a password count: the lock's refusals do not.
    assert sum(FailedSignIns.objects.values_list("count", flat=True)) == (
        settings.AXES_FAILURE_LIMIT
    )
    assert log_in(client, "alice", REMOTE_ADDR="192.0.2.50").status_code == 302


def test_an_ipv6_client_is_its_network(client, alice, settings):
    """A home or phone holds a whole /64 and changes address within it: a new address
    there is the same client to the lock."""
    for n in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "alice", "wrong", REMOTE_ADDR=f"2001:db8:1:2::{n + 1:x}")
    assert log_in(client, "alice", REMOTE_ADDR="2001:db8:1:2:ffff::9").status_code == 429
    assert log_in(client, "alice", REMOTE_ADDR="2001:db8:1:3::1").status_code == 302


def test_a_reset_lifts_the_guard_and_the_authenticators_hold_back(client, alice, settings):
    device = TOTPDevice.objects.create(user=alice, name="Phone", confirmed=True)
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_count=12, throttling_failure_timestamp=timezone.now()
    )
    for n in range(settings.ILLDESK_ACCOUNT_FAILURES_PER_HOUR):
        log_in(client, "alice", "wrong", REMOTE_ADDR=f"198.51.100.{n}")
    link = reset_link(client, alice.email)
    form_page = client.get(link, follow=True)
    client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "Fresh-Reading-Room-42", "new_password2": "Fresh-Reading-Room-42"},
    )
    device.refresh_from_db()
    assert device.throttling_failure_count == 0
    response = log_in(
        client,
        "alice",
        "Fresh-Reading-Room-42",
        otp_token=totp(device.bin_key),
        REMOTE_ADDR="192.0.2.50",
    )
    assert response.status_code == 302


def test_the_guard_refuses_the_api_too(api, alice, settings):
    for n in range(settings.ILLDESK_ACCOUNT_FAILURES_PER_HOUR):
        api().post(
            "/api/v1/auth/token/",
            {"username": "alice", "password": "x"},
            format="json",
            REMOTE_ADDR=f"198.51.100.{n}",
        )
    response = api().post(
        "/api/v1/auth/token/",
        {"username": "alice", "password": PASSWORD},
        format="json",
        REMOTE_ADDR="192.0.2.50",
    )
    assert response.status_code == 429
    assert "signs in only where it has signed in before" in response.json()["detail"]
    assert response["Retry-After"] == "3600"


# --- Password reset and rules ---------------------------------------------------------------


def reset_link(client, email) -> str:
    response = client.post("/accounts/password-reset/", {"email": email})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password-reset/sent/"
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    return next(word for word in body.split() if "/accounts/reset/" in word)


def test_password_reset_by_e_mail_sets_a_new_password(client, alice):
    link = reset_link(client, alice.email)
    assert mail.outbox[0].to == [alice.email]
    form_page = client.get(link, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "Fresh-Reading-Room-42", "new_password2": "Fresh-Reading-Room-42"},
    )
    assert done["Location"] == "/accounts/reset/done/"
    assert log_in(client, "alice").status_code == 200  # the old password no longer works
    assert log_in(client, "alice", "Fresh-Reading-Room-42").status_code == 302
    # The link works once.
    assert "already been used" in client.get(link, follow=True).content.decode()


def test_a_reset_lifts_a_lockout(client, alice, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "alice", "wrong")
    link = reset_link(client, alice.email)
    form_page = client.get(link, follow=True)
    client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "Fresh-Reading-Room-42", "new_password2": "Fresh-Reading-Room-42"},
    )
    assert log_in(client, "alice", "Fresh-Reading-Room-42").status_code == 302


def test_reset_does_not_say_whether_an_address_has_an_account(client, alice):
    unknown = client.post("/accounts/password-reset/", {"email": "nobody@example.org"})
    assert unknown["Location"] == "/accounts/password-reset/sent/"
    alice.is_active = False
    alice.save()
    inactive = client.post("/accounts/password-reset/", {"email": alice.email})
    assert inactive["Location"] == "/accounts/password-reset/sent/"
    assert mail.outbox == []


def test_a_mail_server_fault_is_logged_by_account_id_and_tells_nobody_anything(
    client, alice, settings, caplog
):
    """The page reads the same as ever, so it cannot reveal which addresses have accounts;
    the log names the account by id, not by address."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    response = client.post("/accounts/password-reset/", {"email": alice.email})
    assert response["Location"] == "/accounts/password-reset/sent/"
    assert f"Failed to send password reset email to {alice.pk}" in caplog.text
    assert alice.email not in caplog.text


@pytest.mark.parametrize(
    "password, message",
    [
        ("short1!", "This password is too short"),
        ("password123", "This password is too common"),
        ("4815162342", "This password is entirely numeric"),
        ("example.org1", "The password is too similar"),
    ],
)
def test_django_password_rules_apply_to_a_new_password(client, alice, password, message):
    alice.first_name, alice.last_name = "Alice", "Abbot"
    alice.save()
    client.force_login(alice)
    response = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": password, "new_password2": password},
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


# --- Sessions -----------------------------------------------------------------------------


def test_each_page_view_renews_the_session_and_an_idle_one_ends(client, alice, settings):
    log_in(client, "alice")
    session = Session.objects.get()
    Session.objects.update(expire_date=timezone.now() + timedelta(minutes=5))
    assert logged_in(client)
    renewed = Session.objects.get(pk=session.pk).expire_date
    assert renewed > timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE - 60)
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_a_page_view_soon_after_a_renewal_writes_nothing(client, alice, settings):
    """Renewal is at most once every SESSION_RENEW_SECONDS: a view in between neither
    writes the session's row nor commits (core/sessions.py)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    log_in(client, "alice")
    session = Session.objects.get()
    left = timedelta(seconds=settings.SESSION_COOKIE_AGE - settings.SESSION_RENEW_SECONDS + 30)
    Session.objects.update(expire_date=timezone.now() + left)
    with CaptureQueriesContext(connection) as queries:
        assert logged_in(client)
    assert not [q for q in queries if "UPDATE" in q["sql"] and "django_session" in q["sql"]]
    assert Session.objects.get(pk=session.pk).expire_date <= timezone.now() + left
    Session.objects.update(expire_date=timezone.now() + left - timedelta(seconds=60))
    assert logged_in(client)
    renewed = Session.objects.get(pk=session.pk).expire_date
    assert renewed > timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE - 60)


def test_a_deactivated_account_is_logged_out_at_once(client, alice):
    client.force_login(alice)
    assert logged_in(client)
    alice.is_active = False
    alice.save()
    assert not logged_in(client)


# --- Second factor ------------------------------------------------------------------------


def as_if_time_passed(device):
    """A code is good once, and a wrong one holds the next try back a second or more
    (django-otp's throttle); tests act faster than people do."""
    TOTPDevice.objects.filter(pk=device.pk).update(
        last_t=-1, throttling_failure_count=0, throttling_failure_timestamp=None
    )


def turn_on_two_factor(client, user) -> TOTPDevice:
    client.force_login(user)
    page = client.get("/accounts/two-factor/").content.decode()
    assert "<svg" in page and "Enter this key instead" in page
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    wrong = client.post("/accounts/two-factor/", {"token": "000000"})
    assert "That code is not right" in wrong.content.decode()
    as_if_time_passed(device)
    client.post("/accounts/two-factor/", {"token": totp(device.bin_key)})
    device.refresh_from_db()
    assert device.confirmed
    client.logout()
    as_if_time_passed(device)
    return device


def test_with_two_factor_on_logging_in_asks_for_the_code(client, admin_user):
    device = turn_on_two_factor(client, admin_user)
    without = log_in(client, "admin")
    assert without.status_code == 200
    assert "Enter the code from your authenticator app" in without.content.decode()
    assert not logged_in(client)
    wrong = log_in(client, "admin", otp_token=str((totp(device.bin_key) + 1) % 1_000_000))
    assert "That code is not right" in wrong.content.decode()
    as_if_time_passed(device)
    assert log_in(client, "admin", otp_token=totp(device.bin_key)).status_code == 302
    assert logged_in(client)


def test_without_a_second_factor_the_code_is_not_asked(client, alice):
    assert log_in(client, "alice").status_code == 302


def test_the_admin_site_can_require_a_verified_second_factor(client, admin_user, settings):
    settings.ILLDESK_ADMIN_REQUIRE_2FA = False
    client.force_login(admin_user)
    assert client.get("/admin/").status_code == 200

    settings.ILLDESK_ADMIN_REQUIRE_2FA = True
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/accounts/two-factor/?next=")
    assert "Turn on two-factor sign-in" in response.content.decode()

    device = turn_on_two_factor(client, admin_user)
    client.force_login(admin_user)  # logged in with a password only: not yet verified
    page = client.get("/admin/", follow=True)
    assert "Verify this session" in page.content.decode()
    verified = client.post(page.redirect_chain[-1][0], {"token": totp(device.bin_key)})
    assert verified["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_two_factor_cannot_send_you_to_another_site(client, alice):
    client.force_login(alice)
    client.get("/accounts/two-factor/")
    device = TOTPDevice.objects.get(user=alice)
    response = client.post(
        "/accounts/two-factor/?next=https://evil.example/", {"token": totp(device.bin_key)}
    )
    assert response["Location"] == "/accounts/two-factor/"


def test_turning_two_factor_off_needs_a_current_code(client, alice):
    device = turn_on_two_factor(client, alice)
    log_in(client, "alice", otp_token=totp(device.bin_key))
    as_if_time_passed(device)
    refused = client.post("/accounts/two-factor/", {"token": "not-it"})
    assert refused.status_code == 200
    assert TOTPDevice.objects.filter(user=alice).exists()
    as_if_time_passed(device)
    client.post("/accounts/two-factor/", {"token": totp(device.bin_key)})
    assert not TOTPDevice.objects.filter(user=alice).exists()


def test_a_wrong_code_counts_as_a_wrong_password(client, admin_user, settings):
    device = turn_on_two_factor(client, admin_user)
    wrong = str((int(totp(device.bin_key)) + 1) % 1_000_000).zfill(6)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        as_if_time_passed(device)
        log_in(client, "admin", otp_token=wrong)
    as_if_time_passed(device)
    assert log_in(client, "admin", otp_token=totp(device.bin_key)).status_code == 429


def test_the_admin_has_no_login_form_of_its_own_to_skip_the_code(client, admin_user):
    """The admin's login address sends people to the one login page, which asks for the
    second factor; its own form would have taken the password alone."""
    turn_on_two_factor(client, admin_user)
    response = client.get("/admin/login/?next=/admin/members/user/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2Fmembers%2Fuser%2F"
    client.post("/admin/login/", {"username": "admin", "password": PASSWORD})
    assert client.get("/admin/").status_code == 302
    assert not logged_in(client)
