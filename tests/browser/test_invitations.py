"""A library's lead invites a colleague, who opens the e-mailed link, chooses a password
and signs in, in a real browser; each page checked with axe-core."""

import pytest
from django.core import mail
from playwright.sync_api import expect

from members.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def lead(library_one):
    return User.objects.create_user(
        "lena", "lena@abbot.example.org", PASSWORD, role="library_staff", library=library_one,
        is_library_lead=True, first_name="Lena", last_name="Lead",
    )  # fmt: skip


def test_a_lead_invites_a_colleague_who_signs_in_with_a_password_of_her_own(
    page, live_server, lead, alice, login, assert_no_serious_violations, screenshot
):
    login(page, "lena")
    page.goto(f"{live_server.url}/libraries/{lead.library_id}/")
    page.get_by_role("link", name="Staff and invitations").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Staff of")
    page.get_by_label("First name").fill("Noor")
    page.get_by_label("Last name").fill("Newcomer")
    page.get_by_label("E-mail address").fill("noor@abbot.example.org")
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.get_by_role("status")).to_contain_text("Invitation sent to noor@abbot.example.org")
    row = page.locator("table.staff tbody tr").filter(has_text="noor")
    expect(row).to_contain_text("Invited")
    expect(row).to_contain_text("no password yet")
    assert_no_serious_violations(page)
    screenshot(page, "library-staff")

    (invitation,) = [m for m in mail.outbox if m.to == ["noor@abbot.example.org"]]
    link = next(word for word in invitation.body.split() if "/accounts/welcome/" in word)
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    page.get_by_role("button", name="Log out").click()
    page.goto(live_server.url + path)
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome to illdesk")
    page.get_by_label("New password:", exact=True).fill("a long password of my own")
    page.get_by_label("New password confirmation:").fill("a long password of my own")
    assert_no_serious_violations(page)
    page.get_by_role("button", name="Set my password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password is set")
    page.locator("#id_username").fill("noor")
    page.locator("#id_password").fill("a long password of my own")
    page.locator("button[type=submit]").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.locator(".account")).to_contain_text("Noor")


def test_a_library_finds_its_export_from_the_reports(
    page, live_server, alice, login, assert_no_serious_violations, screenshot
):
    login(page, "alice")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    page.get_by_role("link", name="Export").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Export")
    expect(page.get_by_role("link", name="patrons.csv")).to_be_visible()
    assert_no_serious_violations(page)
    screenshot(page, "export")
    with page.expect_download() as download:
        page.get_by_role("link", name="requests.csv").click()
    assert download.value.suggested_filename.endswith("-requests.csv")
