"""The member library portal: dashboard, request list, new request, request page actions."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from members.models import Patron
from requests_app import selectors, traces, workflow
from requests_app.models import (
    BorrowingRequest,
    Message,
    Notification,
    StatusEvent,
    UnrequestedItemReport,
)
from tests.queries import assert_same_count, captured

TODAY = timezone.localdate


@pytest.fixture
def as_alice(client, alice):
    client.force_login(alice)
    return client


def detail(req) -> str:
    return reverse("request_detail", args=[req.pk])


def act(req, action: str) -> str:
    return reverse("request_action", args=[req.pk, action])


# --- Dashboard ----------------------------------------------------------------------


def test_the_dashboard_shows_what_needs_the_librarys_attention(as_alice, request_in, alice, rita):
    shipped = request_in("shipped")
    overdue = request_in("received", shipped_days_ago=40)
    due_soon = request_in("received", shipped_days_ago=25)  # due in 3 days
    missing = request_in("shipped", shipped_days_ago=20)
    traces.report_not_arrived(missing.pk, actor=alice)
    renewed = request_in("renewal_requested")
    workflow.answer_renewal(renewed.pk, actor=rita, approved=False)
    request_in("submitted")
    page = as_alice.get("/")
    assert page.status_code == 200
    assert {row.pk for row in page.context["shipped"]} == {shipped.pk, missing.pk}
    assert [row.pk for row in page.context["overdue"]] == [overdue.pk]
    assert [row.pk for row in page.context["due_soon"]] == [due_soon.pk]
    assert [row.pk for row in page.context["not_arrived"]] == [missing.pk]
    assert [r.request_id for r in page.context["renewals"]] == [renewed.pk]
    assert page.context["counts"]["submitted"] == 1
    assert page.context["counts"]["shipped"] == 2
    assert 'href="/requests/new/"' in page.content.decode()


def test_the_team_lands_on_its_queue(client, rita):
    client.force_login(rita)
    assert client.get("/")["Location"] == reverse("queue")


@pytest.mark.parametrize("count", [1, 8])
def test_the_dashboard_costs_the_same_queries_at_any_size(as_alice, request_in, count):
    for _ in range(count):
        request_in("shipped")
        request_in("received", shipped_days_ago=40)
    with captured() as queries:
        assert as_alice.get("/").status_code == 200
    # session, user, user's library (header), counts, shipped, not arrived, overdue, due soon,
    # renewals answered.
    queries.expect(9)


# --- The request list -------------------------------------------------------------------


def test_status_tabs_count_what_the_other_filters_leave(as_alice, request_in):
    request_in("shipped")
    request_in("shipped")
    request_in("received")
    page = as_alice.get("/requests/?status=shipped")
    assert len(page.context["page"]) == 2
    assert page.context["counts"]["shipped"] == 2
    assert page.context["counts"]["received"] == 1
    assert page.context["total"] == 3


def test_past_the_cap_a_tab_says_so(as_alice, request_in, monkeypatch):
    monkeypatch.setattr(selectors, "COUNT_CAP", 1)
    request_in("shipped")
    request_in("shipped")
    request_in("received")
    html = as_alice.get("/requests/").content.decode()
    assert 'Shipped <span class="count">1+</span>' in html
    assert 'Received <span class="count">1</span>' in html
    assert 'All <span class="count">1+</span>' in html


def test_the_list_filters_by_flag_patron_and_text(as_alice, request_in, submit, alice):
    flagged = request_in("shipped", shipped_days_ago=20)
    traces.report_not_arrived(flagged.pk, actor=alice)
    other = Patron.objects.create(library=alice.library, card_number="555", name="Other")
    by_isbn = workflow.submit_request(
        actor=alice, library=alice.library, patron=other,
        citation={"title": "Numbers", "isbn": "0-306-40615-2"},
    )  # fmt: skip

    def titles(query):
        return [r.pk for r in as_alice.get(f"/requests/?{query}").context["page"]]

    assert titles("flag=not_arrived") == [flagged.pk]
    assert titles("patron=555") == [by_isbn.pk]
    # By name too, any part and any case: the library's staff know their patrons.
    assert titles("patron=oth") == [by_isbn.pk]
    assert titles("patron=ot") == []  # too short to stand for a name: a card number only
    assert titles("patron=Nobody%20Here") == []
    assert titles("q=0306406152") == [by_isbn.pk]
    assert titles("q=numb") == [by_isbn.pk]
    assert titles("sort=oldest")[0] == flagged.pk


def test_the_library_sees_whose_request_each_row_is(as_alice, submit, patron, request_in):
    """Name and card, in the list and on the dashboard: the library's own patrons."""
    req = submit(title="For a patron")
    html = as_alice.get("/requests/").content.decode()
    assert '<th scope="col">Patron</th>' in html
    row = html[html.index(f'<a href="/requests/{req.pk}/">{req.pk}</a>') :]
    row = row[: row.index("</tr>")]
    assert f"{patron.name}<br>{patron.card_number}" in row
    request_in("shipped")
    dashboard = as_alice.get("/").content.decode()
    assert '<th scope="col">Patron</th>' in dashboard and patron.card_number in dashboard


def test_a_list_row_shows_the_request_and_escapes_what_people_typed(as_alice, submit):
    req = submit(title="<i>Moby</i> & Dick", author="<b>Melville</b>")
    html = as_alice.get("/requests/").content.decode()
    row = html[html.index(f'<a href="/requests/{req.pk}/">{req.pk}</a>') :]
    row = row[: row.index("</tr>")]
    assert "&lt;i&gt;Moby&lt;/i&gt; &amp; Dick" in row
    assert "/ &lt;b&gt;Melville&lt;/b&gt;" in row
    assert '<span class="status status-submitted">Submitted</span>' in row
    assert "<i>" not in row and "<b>" not in row
    # A library's own staff see no library code: every row is theirs.
    assert req.library.ill_code not in row


def test_a_bad_filter_is_a_400_with_the_field_named(as_alice):
    page = as_alice.get("/requests/?status=teleported")
    assert page.status_code == 400
    assert "Select a valid choice" in page.content.decode()


@pytest.mark.parametrize(("asked", "given"), [("2", 2), ("999", 500), ("x", 50)])
def test_page_size_is_bounded(as_alice, asked, given):
    assert as_alice.get(f"/requests/?page_size={asked}").context["page"].page_size == given


@pytest.mark.parametrize("page_size", [1, 10])
def test_the_list_costs_the_same_queries_at_any_page_size(as_alice, request_in, page_size):
    for status in ["renewal_requested", "received", "submitted"] * 3:
        request_in(status)
    with captured() as queries:
        page = as_alice.get(f"/requests/?page_size={page_size}&flag=renewal_pending&q=a")
    assert page.status_code == 200
    # session, user, user's library, the tabs' capped counts (one statement), the page's
    # ids, its rows. Nothing counts the library's whole list.
    assert not [q for q in queries if "COUNT(" in q and "LIMIT" not in q]
    queries.expect(6)


# --- A new request ----------------------------------------------------------------------

GOOD = {
    "card_number": "21234000111",
    "format": "book",
    "title": "The Overstory",
    "author": "Powers, Richard",
    "isbn": "978-0-393-63552-2",
    "max_cost": "10.00",
}


def test_openurl_fills_the_form(as_alice):
    page = as_alice.get(
        "/requests/new/?url_ver=Z39.88-2004&rft.btitle=The+Overstory&rft.au=Powers,+Richard"
        "&rft.isbn=978-0-393-63552-2&rft.date=2018&rft.genre=book"
    )
    form = page.context["form"]
    assert form.initial["title"] == "The Overstory"
    assert form.initial["author"] == "Powers, Richard"
    assert form.initial["max_cost"] == Decimal("25.00")
    assert 'value="The Overstory"' in page.content.decode()


def test_openurl_values_are_escaped_in_the_page(as_alice):
    page = as_alice.get('/requests/new/?rft.btitle=<script>alert("x")</script>')
    html = page.content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert" in html


def test_submitting_a_request_for_a_known_patron(as_alice, patron):
    response = as_alice.post("/requests/new/", GOOD)
    req = BorrowingRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == detail(req)
    assert (req.patron, req.isbn, req.max_cost) == (patron, "9780393635522", Decimal("10.00"))


def test_a_new_patron_is_added_with_the_request(as_alice, alice):
    as_alice.post("/requests/new/", GOOD | {"card_number": "999000", "patron_name": "New Reader"})
    assert BorrowingRequest.objects.get().patron.name == "New Reader"
    assert Patron.objects.get(card_number="999000").library == alice.library


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"title": ""}, "title", "cannot be blank"),
        ({"isbn": "978-0-393-63552-3"}, "isbn", "check digit"),
        ({"oclc_number": "abc"}, "oclc_number", "OCLC number"),
        ({"max_cost": "-1"}, "max_cost", "Enter an amount from 0 to"),
        ({"max_cost": "25.01"}, "max_cost", "at most 25.00"),
        ({"format": "article"}, "format", "document delivery"),
        ({"format": "ebook"}, "format", "returnable items only"),
        ({"needed_by": "2001-01-01"}, "needed_by", "past"),
        ({"card_number": "424242"}, "patron_name", "add their name"),
    ],
)
def test_bad_input_is_explained_next_to_its_field_and_nothing_is_saved(
    as_alice, patron, change, field, words
):
    response = as_alice.post("/requests/new/", GOOD | change)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors, errors
    assert words in " ".join(errors[field])
    assert f'id="id_{field}_error"' in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode()
    assert BorrowingRequest.objects.count() == 0
    assert Patron.objects.count() == 1


def test_the_team_does_not_use_the_librarys_form(client, rita):
    client.force_login(rita)
    assert client.get("/requests/new/").status_code == 403


# --- The request page and its actions -----------------------------------------------------


def test_the_page_offers_only_what_the_workflow_allows_now(as_alice, request_in):
    def offered(req):
        page = as_alice.get(detail(req))
        return [a.slug for a, _ in page.context["actions"]] + sorted(page.context["side_actions"])

    assert offered(request_in("shipped")) == ["receive", "message"]
    assert offered(request_in("shipped", shipped_days_ago=14)) == [
        "receive", "not-arrived", "message"
    ]  # fmt: skip
    assert offered(request_in("received")) == ["return", "request-renewal", "message"]
    assert offered(request_in("submitted")) == ["edit-item", "cancel", "message"]
    assert offered(request_in("unfilled")) == ["request-again", "message"]


def test_marking_received_then_renewing_then_returning(as_alice, request_in):
    req = request_in("shipped")
    response = as_alice.post(act(req, "receive"), {})
    assert response.status_code == 302
    req.refresh_from_db()
    assert (req.status, req.received_on) == ("received", TODAY())

    wanted = req.due_date + dt.timedelta(days=14)
    as_alice.post(act(req, "request-renewal"), {"request-renewal-due_date": wanted.isoformat()})
    req.refresh_from_db()
    assert req.status == "renewal_requested"
    assert req.renewals.get().requested_due_date == wanted


def test_returning_by_mail_without_tracking_is_explained(as_alice, request_in):
    req = request_in("received")
    response = as_alice.post(act(req, "return"), {"return-method": "mail"})
    assert response.status_code == 400
    assert "need a tracking number" in response.content.decode()
    req.refresh_from_db()
    assert req.status == "received"
    response = as_alice.post(
        act(req, "return"), {"return-method": "mail", "return-tracking_number": "EZ1"}
    )
    req.refresh_from_db()
    assert (req.status, req.return_tracking) == ("returned", "EZ1")


def test_a_move_someone_else_made_first_is_a_clear_message(as_alice, request_in, rita):
    req = request_in("shipped")
    workflow.mark_received(req.pk, actor=rita)
    response = as_alice.post(act(req, "receive"), {}, follow=True)
    assert response.status_code == 200
    assert "Cannot mark received: the request is received." in response.content.decode()
    assert StatusEvent.objects.filter(request=req, action="mark_received").count() == 1


def test_cancel_report_not_arrived_and_message(as_alice, request_in):
    submitted = request_in("submitted")
    asked = as_alice.post(act(submitted, "cancel"), {"cancel-reason": "Bought it"})
    assert "Yes, cancel this request" in asked.content.decode()
    as_alice.post(act(submitted, "cancel"), {"cancel-reason": "Bought it", "confirmed": "yes"})
    submitted.refresh_from_db()
    assert submitted.status == "cancelled"

    shipped = request_in("shipped", shipped_days_ago=15)
    as_alice.post(act(shipped, "not-arrived"), {"not-arrived-note": "Nothing yet"})
    shipped.refresh_from_db()
    assert shipped.not_arrived_flagged_at is not None

    as_alice.post(act(shipped, "message"), {"message-body": "Any news?"})
    assert Message.objects.get().body == "Any news?"
    assert as_alice.post(act(shipped, "message"), {"message-body": " "}).status_code == 400


def test_an_unknown_action_is_a_404(as_alice, request_in):
    assert as_alice.post(act(request_in("shipped"), "teleport"), {}).status_code == 404


def test_the_request_page_costs_the_same_queries_however_long_its_history(
    as_alice, request_in, alice
):
    runs = []
    for messages in (0, 6):
        req = request_in("received")
        for n in range(messages):
            Message.objects.create(request=req, author=alice, body=f"note {n}")
        with captured() as statements:
            as_alice.get(detail(req))
        runs.append(statements)
    assert_same_count(*runs)


# --- Another library's data ------------------------------------------------------------


def test_another_librarys_staff_get_404_on_every_request_url(client, request_in, bob):
    req = request_in("shipped")
    client.force_login(bob)
    assert client.get(detail(req)).status_code == 404
    for action in ["receive", "not-arrived", "request-renewal", "return", "cancel", "message"]:
        assert client.post(act(req, action), {}).status_code == 404
    req.refresh_from_db()
    assert req.status == "shipped"
    assert not Message.objects.exists()


def test_anonymous_users_are_sent_to_log_in_everywhere(client, request_in):
    req = request_in("shipped")
    for url in ["/", "/requests/", "/requests/new/", detail(req), "/unrequested-items/",
                "/unrequested-items/new/"]:  # fmt: skip
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/")
    assert client.post(act(req, "receive"), {}).status_code == 302
    req.refresh_from_db()
    assert req.status == "shipped"


# --- Items received but not requested ----------------------------------------------------


def test_reporting_an_item_we_did_not_request(as_alice, alice, client, bob):
    response = as_alice.post(
        "/unrequested-items/new/",
        {"title": "Gardening in Zone 5", "slip_number": "OCLC 123456", "sent_by": "NVQ"},
    )
    assert response.status_code == 302
    report = UnrequestedItemReport.objects.get()
    assert (report.library, report.reported_by) == (alice.library, alice)
    notification = Notification.objects.get(unrequested_item=report)
    assert notification.audience == "team"
    assert "Gardening in Zone 5" in as_alice.get("/unrequested-items/").content.decode()

    client.force_login(bob)
    assert "Gardening" not in client.get("/unrequested-items/").content.decode()


def test_an_unrequested_item_report_needs_to_say_what_arrived(as_alice):
    response = as_alice.post("/unrequested-items/new/", {"title": ""})
    assert response.status_code == 400
    assert not UnrequestedItemReport.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_form_checks_the_patron_outside_any_transaction(client, alice, patron):
    """Views run in autocommit, not in a test's transaction: a lock taken while checking the
    form would be refused there (PostgreSQL raises; this caught it)."""
    client.force_login(alice)
    response = client.post("/requests/new/", GOOD | {"card_number": "424242"})
    assert response.status_code == 400
    assert "add their name" in response.content.decode()


def test_a_disc_request_starts_from_what_the_librarys_players_play(as_alice, alice):
    """A US library's form starts at Region 1 and NTSC, not "any" (which brought PAL
    discs); a library with region-free players starts at "any"."""
    form = as_alice.get("/requests/new/").context["form"]
    assert (form["dvd_region"].value(), form["video_encoding"].value()) == ("1", "ntsc")
    library = alice.library
    library.dvd_region, library.video_encoding = "2", "pal"
    library.save()
    form = as_alice.get("/requests/new/").context["form"]
    assert (form["dvd_region"].value(), form["video_encoding"].value()) == ("2", "pal")
    library.dvd_region = library.video_encoding = ""
    library.save()
    form = as_alice.get("/requests/new/").context["form"]
    assert (form["dvd_region"].value(), form["video_encoding"].value()) == ("", "")


def test_an_article_link_is_refused_at_once_with_where_to_go(as_alice, settings):
    """An OpenURL for an article filled the form and was refused only on submit; the
    document-delivery address is a link, on the page and beside the field alike."""
    settings.ILLDESK_DOCUMENT_DELIVERY_URL = "https://dd.example.org/ask"
    page = as_alice.get("/requests/new/?genre=article&atitle=A+study&title=J.+Stud.")
    html = page.content.decode()
    notice = html[html.index("This link is for an item") :][:600]
    assert '<a href="https://dd.example.org/ask' in notice
    refused = as_alice.post("/requests/new/", {"format": "article", "title": "A study"})
    assert refused.status_code == 400
    assert '<a href="https://dd.example.org/ask' in refused.content.decode()
    assert "This link is for an item" not in as_alice.get("/requests/new/").content.decode()
