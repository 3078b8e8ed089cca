"""The reports in a real browser: accessible, their charts drawn, their CSV downloadable."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_rita_reads_the_reports_and_downloads_a_table(
    page, live_server, rita, request_in, login, assert_no_serious_violations, screenshot
):
    for status in ("completed", "received", "unfilled", "cancelled", "shipped"):
        request_in(status)
    login(page, "rita")
    page.get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reports")
    assert_no_serious_violations(page)

    page.get_by_role("link", name="Requests by month").click()
    chart = page.get_by_role("img", name="Stacked bars of requests per month")
    expect(chart).to_be_visible()
    # The SVG loads and is drawn (a broken image has no natural width).
    page.wait_for_function(
        "() => { const img = document.querySelector('.chart img');"
        " return img.complete && img.naturalWidth > 0; }"
    )
    table = page.get_by_role("table").first
    expect(table).to_contain_text("Fill rate (%)")
    assert_no_serious_violations(page)
    screenshot(page, "report-requests")

    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile(r"Download CSV\W+Every library, by month")).click()
    assert download.value.suggested_filename.startswith("illdesk-requests-overall-")
    lines = open(download.value.path(), encoding="utf-8-sig").read().splitlines()
    assert lines[0].startswith("Month,Filled,Unfilled,Cancelled,Lost,Open,Total")

    page.get_by_role("link", name="Fill rate and turnaround").click()
    expect(page.get_by_role("img", name="How many loans took each number of days")).to_be_visible()
    assert_no_serious_violations(page)
    screenshot(page, "report-turnaround")

    # A period that ends before it starts is explained next to the field.
    page.get_by_label("From:", exact=True).fill("2026-05-01")
    page.get_by_label("To:", exact=True).fill("2026-01-01")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("alert")).to_contain_text("The start must be on or before the end.")
    assert_no_serious_violations(page)
