"""On a phone (390 px wide) no page scrolls sideways: the queue was 946 px wide. A wide
table scrolls in a region of its own, which the keyboard can reach."""

import pytest

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def _width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_the_teams_and_the_librarys_pages_fit_a_phone(
    page, live_server, alice, rita, request_in, login, assert_no_serious_violations
):
    shipped = request_in("shipped")
    request_in("renewal_requested")
    page.set_viewport_size(PHONE)
    login(page, "rita")
    for path in ("/queue/", f"/requests/{shipped.pk}/", "/libraries/", "/lenders/", "/reports/"):
        page.goto(live_server.url + path)
        assert _width(page) <= PHONE["width"], path
    assert_no_serious_violations(page)
    page.context.clear_cookies()
    login(page, "alice")
    for path in ("/", "/requests/", "/requests/new/", f"/requests/{shipped.pk}/", "/lenders/"):
        page.goto(live_server.url + path)
        assert _width(page) <= PHONE["width"], path
    assert_no_serious_violations(page)


def test_a_forms_button_sits_below_its_last_field(page, live_server, alice, login):
    """The login's and two-factor's buttons sat beside the code box, as if part of it."""
    below = """() => { const b = document.querySelector('form.stacked > button[type=submit]');
        const fields = b.form.querySelectorAll('input:not([type=hidden])');
        const last = fields[fields.length - 1].getBoundingClientRect();
        return b.getBoundingClientRect().top >= last.bottom; }"""
    page.goto(live_server.url + "/accounts/login/")
    assert page.evaluate(below)
    login(page, "alice")
    page.goto(live_server.url + "/accounts/two-factor/")
    assert page.evaluate(below)
