"""The exceptions, end to end in a real browser: a loan that never came, traced until a
replacement arrives; an item nobody asked for, resolved; a mistyped charge voided and an
ending confirmed. Every page checked with axe-core."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from requests_app import services
from requests_app.models import BorrowingRequest, UnrequestedItemReport

pytestmark = pytest.mark.browser


def test_a_loan_that_never_came_is_traced_until_its_replacement_arrives(
    page, browser, live_server, alice, rita, request_in, login, assert_no_serious_violations,
    screenshot,
):  # fmt: skip
    missing = request_in("shipped", shipped_days_ago=16)  # by Delivery: two weeks
    too_soon = request_in("shipped", shipped_days_ago=5)

    login(page, "alice")
    page.goto(f"{live_server.url}/requests/{too_soon.pk}/")
    expect(page.get_by_role("note").first).to_contain_text("you can report it not arrived")
    expect(page.get_by_role("button", name="Report not arrived")).to_have_count(0)

    page.goto(f"{live_server.url}/requests/{missing.pk}/")
    page.get_by_label("What you know (optional)").fill("Nothing in Tuesday's or Friday's bin.")
    page.get_by_role("button", name="Report not arrived").click()
    expect(page.get_by_role("status")).to_contain_text("the team will check with the lender")
    expect(page.locator(".lead")).to_contain_text("Trace: Reported")
    expect(page.get_by_role("button", name="Report not arrived")).to_have_count(0)
    assert_no_serious_violations(page)

    team = browser.new_context(viewport={"width": 1280, "height": 900})
    rita_page = team.new_page()
    rita_page.set_default_timeout(30_000)
    login(rita_page, "rita")
    rita_page.get_by_label("Not arrived: trace").select_option("reported")
    rita_page.get_by_role("button", name="Filter").click()
    assert "trace=reported" in rita_page.url
    rows = rita_page.locator("table.queue tbody tr")
    assert rows.count() == 1
    rows.first.get_by_role("link").first.click()

    # The trace leads the page: the facts first, then the next step, the rest folded.
    expect(rita_page.get_by_role("heading", name="Next step")).to_be_visible()
    rita_page.get_by_label("What you learned").fill(
        "Called Cape Cod Community College: it left on Delivery route 7, scanned out."
    )
    rita_page.get_by_role("button", name="Record the trace").click()
    expect(rita_page.get_by_role("status")).to_contain_text("Trace recorded")
    assert_no_serious_violations(rita_page)
    screenshot(rita_page, "team-trace")

    today = timezone.localdate()
    form = rita_page.locator("form[action$='/replacement-shipped/']")
    form.get_by_label("Shipped on").fill(today.isoformat())
    form.get_by_label("Due date").fill((today + dt.timedelta(days=28)).isoformat())
    form.get_by_label("Mail").check()
    form.get_by_label("Tracking number").fill("9400 1000 2000")
    form.get_by_role("button", name="Record the replacement").click()
    expect(rita_page.get_by_role("status")).to_contain_text("Replacement recorded")
    timeline = rita_page.locator(".timeline")
    expect(timeline).to_contain_text("Replacement shipped")
    expect(timeline).to_contain_text("Shipping method: Delivery")
    team.close()

    page.reload()
    expect(page.get_by_role("note").first).to_contain_text("shipped a replacement")
    assert_no_serious_violations(page)
    screenshot(page, "library-trace-replacement")
    page.get_by_role("button", name="Mark received").click()
    expect(page.get_by_role("status")).to_contain_text("Marked received.")
    missing.refresh_from_db()
    assert (missing.status, missing.trace) == ("received", "cleared")


def test_an_item_nobody_asked_for_is_resolved_and_the_library_told(
    page, browser, live_server, alice, rita, library_two, login, assert_no_serious_violations,
    screenshot,
):  # fmt: skip
    login(page, "alice")
    page.get_by_role("link", name="Received something unrequested?").click()
    page.get_by_label("What arrived (title, author)").fill("Hill Farming / Dana Ames")
    page.get_by_label("ILL or slip number").fill("ILL-20931")
    page.get_by_label("Sent by").fill("Rowley Public Library")
    page.get_by_role("button", name="Tell the team").click()
    expect(page.get_by_role("status")).to_contain_text("the team will tell you")
    expect(page.locator("table")).to_contain_text("the team is looking into it")

    team = browser.new_context(viewport={"width": 1280, "height": 900})
    rita_page = team.new_page()
    rita_page.set_default_timeout(30_000)
    login(rita_page, "rita")
    tab = rita_page.get_by_role("link", name="Items received unasked")
    expect(tab).to_contain_text("1")
    tab.click()
    rita_page.get_by_role("link", name="Resolve").click()
    assert_no_serious_violations(rita_page)
    rita_page.get_by_label("Sent on to the library it belongs to").check()
    rita_page.get_by_label("Send on to: the library's ILL code").fill(library_two.ill_code.lower())
    rita_page.get_by_label("Note to the library").fill(
        "It is Borden's loan: send it on by Delivery, slip and all."
    )
    rita_page.get_by_role("button", name="Resolve and tell the library").click()
    expect(rita_page.get_by_role("status")).to_contain_text("Resolved")
    assert_no_serious_violations(rita_page)
    screenshot(rita_page, "unrequested-item-resolved")
    team.close()

    report = UnrequestedItemReport.objects.get()
    assert (report.outcome, report.send_to) == ("sent_on", library_two)
    page.goto(f"{live_server.url}/unrequested-items/")
    expect(page.locator("table")).to_contain_text("Sent on to the library it belongs to")
    expect(page.locator("table")).to_contain_text("send it on by Delivery")
    assert_no_serious_violations(page)
    screenshot(page, "library-unrequested-list")


def test_a_mistyped_charge_is_voided_and_an_ending_asks_first(
    page, live_server, rita, request_in, login, assert_no_serious_violations, screenshot
):
    req = request_in("shipped")
    services.add_charge(req.pk, actor=rita, kind="lending_fee", amount=Decimal("1000"))
    login(page, "rita")
    page.goto(f"{live_server.url}/requests/{req.pk}/")
    expect(page.locator(".lead")).to_contain_text("Over max cost")

    page.get_by_text("Void a charge").click()
    page.get_by_label("Why it is voided").fill("Typed 1e3 for 10.00.")
    page.get_by_role("button", name="Void it").click()
    expect(page.get_by_role("status")).to_contain_text("Charge voided")
    expect(page.locator(".lead")).not_to_contain_text("Over max cost")
    expect(page.locator("tr.void")).to_contain_text("-1000.00")
    assert_no_serious_violations(page)
    screenshot(page, "team-request-charge-voided")

    page.get_by_text("Lost", exact=True).click()
    page.get_by_role("button", name="Mark lost").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Mark lost")
    expect(page.locator(".confirm")).to_contain_text("The loan ends lost")
    assert_no_serious_violations(page)
    page.get_by_role("link", name="No, go back to the request").click()
    assert BorrowingRequest.objects.get(pk=req.pk).status == "shipped"
