"""The team reads a loan's ISO 18626 exchange on the request page, opens a message's XML
from the keyboard, sends a failed message again and clears the flag, in a real browser;
each page checked with axe-core."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from requests_app import exchange, workflow
from requests_app.models import ExchangeMessage
from tests.iso18626 import lender_message, partner

pytestmark = pytest.mark.browser


@pytest.fixture
def exchanged(request_in, rita):
    """A loan shipped by the partner's own message, and a later message not delivered."""
    lender = partner()
    req = request_in("sourcing")
    workflow.send_to_lender(req.pk, actor=rita, lender=lender)
    ExchangeMessage.objects.filter(request=req).update(state="sent")
    shipped = lender_message(
        f"illdesk-{req.pk}", "Loaned", sent=timezone.now(), sent_via="Delivery",
        due=timezone.localdate() + dt.timedelta(days=28), note="Tracking: 1Z999AA1", costs="8.00",
    )  # fmt: skip
    exchange.receive(lender, shipped)
    workflow.mark_received(req.pk, actor=rita)
    received = ExchangeMessage.objects.get(request=req, what="Received")
    ExchangeMessage.objects.filter(pk=received.pk).update(
        state="failed", attempts=6, error="Not delivered after 6 tries"
    )
    from requests_app.iso18626.outbox import flag_failing

    flag_failing(req.pk, "Received to Mystic Seaport Library: not delivered after 6 tries")
    return req


def test_the_team_reads_the_exchange_and_settles_a_failure(
    page, live_server, rita, exchanged, login, assert_no_serious_violations, screenshot
):
    login(page, "rita")
    page.goto(f"{live_server.url}/requests/{exchanged.pk}/")
    section = page.get_by_role("region", name="Exchange with the lender (ISO 18626)")
    rows = section.locator("table.exchange tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(1)).to_contain_text("Shipped")
    expect(rows.nth(2)).to_contain_text("Not delivered")
    expect(section.get_by_role("note")).to_contain_text("Exchange failing")
    assert_no_serious_violations(page)

    summary = rows.nth(1).locator("summary")
    summary.focus()
    page.keyboard.press("Enter")
    expect(rows.nth(1).locator("pre").first).to_contain_text("<status>Loaned</status>")
    screenshot(page, "request-exchange")

    page.get_by_text("Send a message again").click()
    page.get_by_role("button", name="Send again").click()
    expect(page.get_by_role("status")).to_contain_text("Queued to be sent again")
    page.get_by_text("Clear “exchange failing”").click()
    page.locator("#id_clear-exchange-note").fill("Sent again; the lender has it.")
    page.get_by_role("button", name="Clear the flag").click()
    expect(
        page.get_by_role("region", name="Exchange with the lender (ISO 18626)")
    ).not_to_contain_text("Exchange failing since")
    assert_no_serious_violations(page)
