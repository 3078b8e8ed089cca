"""A member library asks "which lenders are accepting returns?", and holds or sends back
a loan whose lender is not, in a real browser; every page checked with axe-core."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from lenders.models import AvailabilityReport, Lender

pytestmark = pytest.mark.browser


def report(lender, days_ago, **fields):
    return AvailabilityReport.objects.create(
        lender=lender, reported_at=timezone.now() - dt.timedelta(days=days_ago), **fields
    )


@pytest.fixture
def directory(lender):
    """Carver (the loan's lender) stopped taking returns; others say other things."""
    report(lender, 40, source="OCLC Policies Directory", note="Lends all formats.")
    report(lender, 2, lending=False, accepting_returns=False,
           source="E-mail from the ILL office",
           note="Closed for renovation: hold returns until we reopen in March.")  # fmt: skip
    dover = Lender.objects.create(name="Dover Free Library", oclc_symbol="DOV", kind="in_state")
    report(dover, 6, closed_from=timezone.localdate() + dt.timedelta(days=18),
           closed_until=timezone.localdate() + dt.timedelta(days=29),
           source="MLS-ILL list", note="Closed for the winter break.")  # fmt: skip
    Lender.objects.create(name="Mayo Clinic Library", oclc_symbol="MYO", kind="out_of_state")
    estrie = Lender.objects.create(
        name="Bibliothèque de l'Université de l'Estrie", oclc_symbol="UEQ", kind="canada"
    )
    report(estrie, 9, lending=False, accepting_returns=False, source="E-mail from the lender",
           note="Not lending to US libraries while postal service is suspended.")  # fmt: skip
    return lender


def test_library_staff_see_which_lenders_are_accepting_returns(
    page, live_server, alice, directory, login, assert_no_serious_violations, screenshot
):
    login(page, "alice")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Lenders").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lenders: returns and lending")
    rows = page.locator("table.lenders tbody tr")
    expect(rows).to_have_count(4)
    carver = rows.filter(has_text="Carver College Library")
    expect(carver).to_contain_text("Not accepting returns")
    expect(carver).to_contain_text("Closed for renovation")
    expect(rows.filter(has_text="Mayo Clinic Library")).to_contain_text("No report yet")
    assert_no_serious_violations(page)
    screenshot(page, "library-lenders")

    page.get_by_label("Returns").select_option("not_accepting")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(2)
    page.get_by_label("Name or OCLC symbol").fill("cvc")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Carver College Library")
    assert_no_serious_violations(page)


def test_a_return_to_a_lender_not_accepting_returns_is_held_or_sent_anyway(
    page, live_server, alice, request_in, directory, login, assert_no_serious_violations,
    screenshot,
):  # fmt: skip
    req = request_in("received")
    login(page, "alice")
    page.goto(f"{live_server.url}/requests/{req.pk}/")
    notice = page.get_by_role("note").filter(has_text="not accepting returns")
    expect(notice).to_contain_text("Closed for renovation")
    page.get_by_label("Mail").check()
    page.get_by_label("Tracking number").fill("9400 1118 9956")
    page.get_by_role("button", name="Mark returned").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("not accepting returns")
    expect(page.get_by_role("alert")).to_contain_text("holding it, or sending it anyway")
    assert_no_serious_violations(page)
    screenshot(page, "library-return-not-accepting")

    # Holding it: nothing changes.
    page.get_by_role("button", name="We are holding it").click()
    expect(page.get_by_role("status")).to_contain_text("Not marked returned")
    expect(page.locator(".lead")).to_contain_text("Received")
    req.refresh_from_db()
    assert req.status == "received"

    # The link on the page leads to the lender's availability.
    notice.get_by_role("link", name="see the lender's availability").click()
    expect(page.locator("table.lenders tbody tr")).to_have_count(1)
    page.go_back()

    # Sending it anyway: returned, with the note on the timeline.
    page.get_by_label("Delivery").check()
    page.get_by_role("button", name="Mark returned").click()
    page.get_by_role("button", name="Send it anyway").click()
    expect(page.get_by_role("status")).to_contain_text("Marked returned.")
    expect(page.locator(".timeline")).to_contain_text(
        "Sent although Carver College Library was not accepting returns"
    )
    assert_no_serious_violations(page)
    req.refresh_from_db()
    assert req.status == "returned"
