"""The API's docs page in a real browser: Swagger UI from our own static files, and a
signed-in person can try a call from it."""

import pytest

pytestmark = pytest.mark.browser


def test_the_api_docs_render_from_local_files_and_try_a_call(
    page, live_server, login, alice, request_in, screenshot
):
    request_in("shipped")
    login(page, "alice")
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".opblock")
    assert page.locator(".opblock").count() >= 25  # every operation of the schema
    assert page.locator("text=/api/v1/requests/{id}/receive/").count() == 1
    screenshot(page, "api-docs", full_page=False)

    listing = page.locator(".opblock-get", has_text="List requests").first
    listing.locator(".opblock-summary").click()
    listing.locator("button.try-out__btn").click()
    listing.locator("button.execute").click()
    status = listing.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for()
    assert status.inner_text().strip() == "200"
    assert "The Wampanoag Way" in listing.locator(".live-responses-table").inner_text()
