"""The login page in a real browser: accessible, usable with the keyboard alone, and it
logs people in and out."""

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

LOGIN = "/accounts/login/"


def focused(page) -> str:
    """A short description of the element that has the keyboard focus."""
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            if (!el || el === document.body) return 'body';
            if (el.id) return '#' + el.id;
            if (el.matches('button[type=submit]')) return 'submit:' + el.textContent.trim();
            return el.tagName.toLowerCase() + ':' + el.textContent.trim();
        }"""
    )


def from_the_top(page):
    """Put the keyboard where it is after tabbing in from the address bar: before the first
    element of the page (a focused, then removed, marker at the start of <body>)."""
    page.evaluate(
        """() => {
            const marker = document.createElement('span');
            marker.tabIndex = -1;
            document.body.prepend(marker);
            marker.focus();
            marker.remove();
        }"""
    )


def test_login_page_is_accessible_and_logs_in_and_out(
    page, live_server, alice, login, assert_no_serious_violations, screenshot
):
    page.goto(live_server.url + LOGIN)
    assert page.title() == "Log in · illdesk"
    assert page.get_by_role("heading", level=1).inner_text() == "Log in to illdesk"
    assert_no_serious_violations(page)
    screenshot(page, "login")

    login(page, "alice")
    assert urlsplit(page.url).path == "/"
    header = page.get_by_role("banner")
    assert "Alice" in header.inner_text()
    assert "ABBOT" in header.inner_text()

    with page.expect_navigation():
        header.get_by_role("button", name="Log out").click()
    assert page.get_by_role("button", name="Log out").count() == 0
    page.goto(live_server.url + "/")
    assert urlsplit(page.url).path == LOGIN, "after logging out, / should ask to log in"


def test_wrong_password_is_announced(page, live_server, alice):
    page.goto(live_server.url + LOGIN)
    page.locator("#id_username").fill("alice")
    page.locator("#id_password").fill("not-the-password")
    with page.expect_navigation():
        page.locator("button[type=submit]").click()
    assert urlsplit(page.url).path == LOGIN
    assert "correct username and password" in page.get_by_role("alert").inner_text()
    assert page.get_by_role("button", name="Log out").count() == 0


def test_tab_order_and_enter_submits(page, live_server, alice):
    page.goto(live_server.url + LOGIN)
    # Chromium moves the focus to an autofocus field at its next rendering step, not at
    # once: wait for it (a busy machine showed "body" when asked straight away).
    expect(page.locator("#id_username")).to_be_focused()

    from_the_top(page)
    page.keyboard.press("Tab")
    assert focused(page) == "a:Skip to main content"
    skip_link = page.get_by_role("link", name="Skip to main content")
    box = skip_link.bounding_box()
    assert box and box["x"] >= 0 and box["y"] >= 0, "the focused skip link must be on screen"

    stops = []
    for _ in range(6):
        page.keyboard.press("Tab")
        stops.append(focused(page))
    # The header's "illdesk" home link sits between the skip link and the form; the code
    # field (for accounts with two-factor sign-in) is after the password.
    assert stops == [
        "a:illdesk",
        "#id_username",
        "#id_password",
        "#id_otp_token",
        "submit:Log in",
        "a:Forgot your password?",
    ]

    for _ in range(4):
        page.keyboard.press("Shift+Tab")
    assert focused(page) == "#id_username"
    page.keyboard.type("alice")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert focused(page) == "submit:Log in"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert urlsplit(page.url).path == "/"
    assert "Alice" in page.get_by_role("banner").inner_text()


def test_skip_link_jumps_to_the_form(page, live_server):
    page.goto(live_server.url + LOGIN)
    from_the_top(page)
    page.keyboard.press("Tab")
    assert focused(page) == "a:Skip to main content"
    page.keyboard.press("Enter")
    # The jump lands a moment after the key press: wait for it rather than race it.
    expect(page).to_have_url(re.compile(r"#main$"))
    page.keyboard.press("Tab")
    assert focused(page) == "#id_username"
