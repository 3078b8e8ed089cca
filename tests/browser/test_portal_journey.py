"""Alice's day in a real browser: from an OpenURL to a returned loan, every page checked
with axe-core (no serious or critical WCAG 2.1 AA violation)."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from requests_app import workflow
from requests_app.models import BorrowingRequest

pytestmark = pytest.mark.browser

OPENURL = (
    "/requests/new/?url_ver=Z39.88-2004&rft_val_fmt=info:ofi/fmt:kev:mtx:book"
    "&rft.genre=book&rft.btitle=The+Overstory&rft.au=Powers,+Richard"
    "&rft.isbn=978-0-393-63552-2&rft.date=2018&rft.pub=W.+W.+Norton"
)


def test_alice_requests_receives_renews_and_returns_a_loan(
    page, live_server, alice, rita, lender, patron, login, assert_no_serious_violations,
    screenshot,
):  # fmt: skip
    login(page, "alice")
    assert page.get_by_role("heading", level=1).inner_text() == alice.library.name
    assert_no_serious_violations(page)
    screenshot(page, "dashboard")

    # A catalogue's "request through ILL" link fills the form.
    page.goto(live_server.url + OPENURL)
    assert page.get_by_label("Title").input_value() == "The Overstory"
    assert page.get_by_label("Author").input_value() == "Powers, Richard"
    assert page.get_by_label("Max cost (USD)").input_value() == "25.00"
    # DVD fields are for video only.
    assert page.locator("#video-fields").is_hidden()
    page.get_by_label("Format").select_option("video")
    assert page.locator("#video-fields").is_visible()
    page.get_by_label("Format").select_option("book")
    assert_no_serious_violations(page)

    # A mistyped card number and a max cost above the profile: both explained at once.
    page.get_by_label("Patron's card number").fill("99999")
    page.get_by_label("Max cost (USD)").fill("40")
    page.get_by_role("button", name="Submit request").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("There are 2 problems")
    expect(summary).to_contain_text("at most 25.00")
    assert page.get_by_label("Max cost (USD)").get_attribute("aria-invalid") == "true"
    assert_no_serious_violations(page)
    screenshot(page, "new-request-with-errors")

    page.get_by_label("Patron's card number").fill(patron.card_number)
    page.get_by_label("Max cost (USD)").fill("25.00")
    page.get_by_role("button", name="Submit request").click()
    req = BorrowingRequest.objects.get(title="The Overstory")
    assert page.url.endswith(f"/requests/{req.pk}/")
    expect(page.get_by_role("status")).to_contain_text("submitted")

    page.get_by_role("link", name="Our requests").click()
    assert page.get_by_role("link", name="The Overstory").is_visible()
    assert_no_serious_violations(page)
    screenshot(page, "request-list")

    # The team finds a lender and records the shipment.
    today = timezone.localdate()
    workflow.start_sourcing(req.pk, actor=rita)
    workflow.send_to_lender(req.pk, actor=rita, lender=lender)
    workflow.ship(
        req.pk, actor=rita, shipped_on=today,
        due_date=today + dt.timedelta(days=26), method="delivery",
    )  # fmt: skip

    page.goto(f"{live_server.url}/requests/{req.pk}/")
    assert_no_serious_violations(page)
    screenshot(page, "request-detail-shipped")
    page.get_by_role("button", name="Mark received").click()
    expect(page.get_by_role("status")).to_contain_text("Marked received.")

    # A renewal date before the due date is explained next to the field.
    page.get_by_label("Due date you would like").fill(today.isoformat())
    page.get_by_role("button", name="Request renewal").click()
    assert (
        "after the current due date"
        in page.locator("#id_request-renewal-due_date_error").inner_text()
    )
    wanted = today + dt.timedelta(days=40)
    page.get_by_label("Due date you would like").fill(wanted.isoformat())
    page.get_by_role("button", name="Request renewal").click()
    expect(page.get_by_role("status")).to_contain_text("Renewal requested")

    workflow.answer_renewal(req.pk, actor=rita, approved=True, due_date=wanted)
    page.reload()
    page.get_by_label("Mail").check()
    page.get_by_label("Tracking number").fill("9400 1000 0000 0000 0000 00")
    page.get_by_role("button", name="Mark returned").click()
    expect(page.get_by_role("status")).to_contain_text("Marked returned.")
    assert_no_serious_violations(page)
    screenshot(page, "request-detail-returned")

    req.refresh_from_db()
    assert req.status == "returned"
    assert list(req.events.values_list("action", flat=True)) == [
        "submit", "start_sourcing", "send_to_lender", "ship", "mark_received",
        "request_renewal", "answer_renewal", "mark_returned",
    ]  # fmt: skip
