"""A library's assistant in a real browser: a loan waiting on a renewal is not stuck (the
renewal can be withdrawn), and the list says whose each request is and finds a patron by
name. Every page checked with axe-core."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_pending_renewal_is_withdrawn_and_the_list_names_the_patrons(
    page, live_server, alice, patron, request_in, login, assert_no_serious_violations,
    screenshot,
):  # fmt: skip
    waiting = request_in("renewal_requested")
    asked = waiting.renewals.get().requested_due_date
    login(page, "alice")

    page.goto(f"{live_server.url}/requests/{waiting.pk}/")
    expect(page.get_by_role("note").first).to_contain_text(f"to {asked:%Y-%m-%d}, asked on")
    expect(page.get_by_role("button", name="Mark returned")).to_be_visible()
    page.get_by_text("No longer need the renewal?").click()
    assert_no_serious_violations(page)
    screenshot(page, "library-renewal-pending")
    page.get_by_role("button", name="Withdraw the renewal request").click()
    expect(page.get_by_role("status")).to_contain_text("Renewal withdrawn")
    expect(page.locator(".lead .status")).to_have_text("Received")

    page.goto(f"{live_server.url}/requests/")
    expect(page.get_by_role("columnheader", name="Patron")).to_be_visible()
    page.get_by_label("Patron: card number or name").fill(patron.name.split()[-1].lower())
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.requests tbody tr")).to_have_count(1)
    expect(page.locator("table.requests tbody")).to_contain_text(patron.card_number)
    assert_no_serious_violations(page)
    screenshot(page, "request-list-patrons")
