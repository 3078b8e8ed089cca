"""The duplicate warning in a real browser: alice asks for a book her library already asked
for, sees the open requests with links, and goes on with a reason. Checked with axe-core."""

import pytest
from playwright.sync_api import expect

from members.models import Patron
from requests_app import workflow
from requests_app.models import BorrowingRequest

pytestmark = pytest.mark.browser


def test_alice_is_warned_of_a_duplicate_and_goes_on_with_a_reason(
    page, live_server, alice, patron, login, assert_no_serious_violations, screenshot
):
    other = Patron.objects.create(library=alice.library, card_number="21234000999", name="O")
    citation = {"title": "The Overstory", "author": "Powers, Richard", "isbn": "9780393635522"}
    for_this = workflow.submit_request(
        actor=alice, library=alice.library, patron=patron, citation=citation
    )
    for_other = workflow.submit_request(
        actor=alice,
        library=alice.library,
        patron=other,
        citation=citation,
        duplicate_reason="Both are in the book group.",
    )
    login(page, "alice")

    page.goto(live_server.url + "/requests/new/")
    page.get_by_label("Patron's card number").fill(patron.card_number)
    page.get_by_label("Title").fill("Overstory")
    page.get_by_label("Author").fill("Richard Powers")
    page.get_by_role("button", name="Submit request").click()

    warning = page.get_by_role("region", name="Your library has asked for this item already")
    expect(warning).to_be_visible()
    links = warning.get_by_role("link", name="Request #")
    expect(links).to_have_count(2)
    assert links.nth(0).get_attribute("href") == f"/requests/{for_this.pk}/"
    assert links.nth(1).get_attribute("href") == f"/requests/{for_other.pk}/"
    reason = page.get_by_label("Why submit it all the same")
    assert reason.get_attribute("aria-invalid") == "true"
    assert_no_serious_violations(page)
    screenshot(page, "new-request-duplicate-warning")

    reason.fill("The patron's book group needs a second copy.")
    page.get_by_role("button", name="Submit request").click()
    req = BorrowingRequest.objects.latest("pk")
    assert page.url.endswith(f"/requests/{req.pk}/")
    expect(page.get_by_role("note").first).to_contain_text("Possible duplicate")
    assert req.possible_duplicate_of_id == for_this.pk
