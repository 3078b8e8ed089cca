"""The account pages, the lender slip and the admin in a real browser, under the content
security policy (the ``page`` fixture fails on anything it blocks): two-factor set-up,
a locked account's message, the password reset form, and the admin's main pages."""

from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

PASSWORD_FIELD = "#id_password"


def test_two_factor_set_up_shows_a_scannable_code_and_turns_on(
    page, live_server, alice, login, assert_no_serious_violations, screenshot
):
    login(page, "alice")
    page.get_by_role("link", name="Two-factor").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Two-factor sign-in"
    qr = page.get_by_role("img", name="QR code for your authenticator app")
    box = qr.locator("svg").bounding_box()
    assert box["width"] >= 150 and box["height"] >= 150, "big enough to scan"
    assert_no_serious_violations(page)
    screenshot(page, "two-factor-setup")

    device = TOTPDevice.objects.get(user=alice)
    page.get_by_label("Code from your authenticator app").fill(str(totp(device.bin_key)))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    assert "Two-factor sign-in is on for your account." in page.locator(".messages").inner_text()


def test_a_locked_account_is_told_why_and_for_how_long(
    page, live_server, alice, assert_no_serious_violations, screenshot
):
    for _ in range(5):
        page.goto(f"{live_server.url}/accounts/login/")
        page.locator("#id_username").fill("alice")
        page.locator(PASSWORD_FIELD).fill("not her password")
        page.get_by_role("button", name="Log in").click()
    alert = page.get_by_role("alert").first
    assert "it is locked at this address for 15 minutes" in alert.inner_text()
    assert_no_serious_violations(page)
    screenshot(page, "login-locked")


def test_password_reset_page(page, live_server, assert_no_serious_violations):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Reset your password"
    assert_no_serious_violations(page)
    page.get_by_label("Email").fill("nobody@example.org")
    page.get_by_role("button", name="Send the link").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Check your e-mail"


def test_the_lender_slip_and_the_admin_run_under_the_policy(
    page, live_server, admin_user, request_in, login, assert_no_serious_violations, screenshot
):
    req = request_in("sourcing")
    login(page, "admin")
    page.goto(f"{live_server.url}/requests/{req.pk}/lender-slip/")
    assert (
        page.get_by_role("heading", level=1).inner_text() == f"Interlibrary loan request #{req.pk}"
    )
    assert_no_serious_violations(page)
    screenshot(page, "lender-slip")
    for path in (
        "/admin/",
        "/admin/requests_app/borrowingrequest/",
        f"/admin/requests_app/borrowingrequest/{req.pk}/change/",
        f"/admin/members/memberlibrary/{req.library_id}/change/",
        "/admin/lenders/lender/add/",
        "/admin/members/user/add/",
    ):
        response = page.goto(live_server.url + path)
        assert response.status == 200, path


def test_api_tokens_are_made_shown_once_and_revoked_by_keyboard(
    page, live_server, alice, login, assert_no_serious_violations, screenshot
):
    login(page, "alice")
    page.get_by_role("link", name="API tokens").click()
    assert page.get_by_role("heading", level=1).inner_text() == "API tokens"
    assert_no_serious_violations(page)

    page.get_by_label("What is it for?").fill("Nightly overdue report")
    page.get_by_label("Expires after").select_option("30")
    page.get_by_label("Expires after").press("Tab")
    page.keyboard.press("Enter")  # the focus is on "Make the token"
    key = page.get_by_label("Token", exact=True).input_value()
    assert key.startswith("illdesk_")
    assert "it will not be shown again" in page.locator(".new-key").inner_text()
    assert_no_serious_violations(page)
    screenshot(page, "api-tokens-new")

    page.goto(f"{live_server.url}/accounts/api-tokens/")
    assert key not in page.content()
    row = page.get_by_role("row", name="Nightly overdue report")
    row.get_by_role("button", name="Revoke the token Nightly overdue report").focus()
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    assert "no longer works" in page.locator(".messages").inner_text()
    assert "You have no working tokens." in page.content()
