"""Rita works the queue in a real browser: filter, take, send to a lender, record the
shipment; then alice sees her request as shipped. Every page checked with axe-core."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from lenders.models import AvailabilityReport, Lender
from requests_app import workflow

pytestmark = pytest.mark.browser


def test_rita_takes_a_request_sends_it_and_records_the_shipment(
    page, browser, live_server, alice, bob, rita, library_two, lender, submit, login,
    assert_no_serious_violations, screenshot,
):  # fmt: skip
    ours = submit(title="The Overstory", author="Powers, Richard")
    workflow.submit_request(
        actor=bob, library=library_two, patron=None, citation={"title": "Hill Farming"}
    )
    AvailabilityReport.objects.create(lender=lender, lending=True, source="OCLC policies")
    fee_lender = Lender.objects.create(
        name="Carver Medical Library", oclc_symbol="CVM", kind="special",
        charges_fees=True, usual_fee="40.00",
    )  # fmt: skip

    login(page, "rita")
    assert page.get_by_role("heading", level=1).inner_text() == "Queue"
    assert_no_serious_violations(page)

    page.get_by_label("Library ILL code").fill("abbot")
    page.get_by_role("button", name="Filter").click()
    assert "library=abbot" in page.url
    rows = page.locator("table.queue tbody tr")
    assert rows.count() == 1
    screenshot(page, "queue")

    page.get_by_label(f"Select request {ours.pk}").check()
    page.get_by_label("With the selected").select_option("take")
    page.get_by_role("button", name="Apply to selected").click()
    expect(page.get_by_role("status")).to_contain_text(f"Done for 1 request: #{ours.pk}.")
    assert "library=abbot" in page.url

    page.get_by_role("link", name="The Overstory").click()
    page.get_by_role("button", name="Start sourcing").click()
    page.get_by_label("Lender name or OCLC symbol").fill("carver")
    page.get_by_role("button", name="Search the directory").click()
    results = page.locator(".lender-results")
    assert "Carver Medical Library" in results.inner_text()
    assert "above this request's max cost" in results.inner_text()
    assert_no_serious_violations(page)
    screenshot(page, "team-request-send-to-lender")
    page.get_by_role("button", name=f"Send to {lender.oclc_symbol}").click()
    expect(page.get_by_role("status")).to_contain_text("Sent to the lender.")

    today = timezone.localdate()
    page.get_by_label("Shipped on").fill(today.isoformat())
    page.locator("#id_ship-due_date").fill((today + dt.timedelta(days=27)).isoformat())
    page.get_by_label("Mail").check()
    page.get_by_label("Tracking number").fill("9400 1111")
    page.get_by_role("button", name="Record shipment").click()
    expect(page.get_by_role("status")).to_contain_text("Shipment recorded")
    assert_no_serious_violations(page)
    screenshot(page, "team-request-shipped")

    ours.refresh_from_db()
    assert (ours.status, ours.lender, ours.assigned_to) == ("shipped", lender, rita)
    assert fee_lender.requests.count() == 0

    page.get_by_role("link", name="Lenders").click()
    assert_no_serious_violations(page)
    screenshot(page, "lender-directory")
    page.get_by_role("link", name="Libraries").click()
    page.get_by_role("link", name=alice.library.name).click()
    assert_no_serious_violations(page)
    screenshot(page, "library-profile")

    library_page = browser.new_context().new_page()
    login(library_page, "alice")
    library_page.goto(f"{live_server.url}/requests/{ours.pk}/")
    assert "Shipped" in library_page.locator(".lead").inner_text()
    assert library_page.get_by_role("button", name="Mark received").is_visible()
    library_page.context.close()
