"""The team's queue: every library's requests, filtered in the URL, fast at any size."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from lenders.models import AvailabilityReport, Lender
from requests_app import selectors, services, traces, workflow
from requests_app.flags import OVER_MAX_COST
from requests_app.models import BorrowingRequest, Status, StatusEvent
from requests_app.web.actions import BY_SLUG
from tests.queries import captured


@pytest.fixture
def as_rita(client, rita):
    client.force_login(rita)
    return client


def ids(client, query=""):
    response = client.get(f"/queue/?{query}")
    assert response.status_code == 200, response.content.decode()[:2000]
    return [req.pk for req in response.context["page"]]


def test_the_queue_is_the_teams(client, alice, rita):
    assert client.get("/queue/")["Location"].startswith("/accounts/login/")
    client.force_login(alice)
    assert client.get("/queue/").status_code == 403
    assert client.post("/queue/bulk/", {"ids": ["1"], "action": "take"}).status_code == 403


def test_by_default_it_shows_open_requests_oldest_first(as_rita, request_in):
    # One that ships was submitted days before it shipped, so before one submitted now.
    first = request_in("shipped")
    second = request_in("submitted")
    request_in("completed")
    request_in("cancelled")
    assert ids(as_rita) == [first.pk, second.pk]
    assert len(ids(as_rita, "status=all")) == 4
    assert ids(as_rita, "status=completed") != []


def test_filters_by_library_region_lender_and_text(as_rita, request_in, bob, library_two):
    ours = request_in("sent_to_lender")
    theirs = workflow.submit_request(
        actor=bob, library=library_two, patron=None, citation={"title": "Hill Farming"}
    )
    assert ids(as_rita, "library=abbot") == [ours.pk]
    assert ids(as_rita, "library=Abbot") == [ours.pk]
    assert ids(as_rita, "region=western") == [theirs.pk]
    assert ids(as_rita, "region=Western") == [theirs.pk]
    assert ids(as_rita, "lender=cvc") == [ours.pk]
    assert ids(as_rita, f"q={ours.lender_request_number}") == [ours.pk]
    assert ids(as_rita, "q=BORDEN") == [theirs.pk]
    assert ids(as_rita, "q=hill farm") == [theirs.pk]


def test_the_list_and_its_tabs_share_one_run_of_the_filters(as_rita, request_in):
    shipped = request_in("shipped")
    request_in("sourcing")
    with captured() as queries:
        response = as_rita.get("/queue/?library=abbot&lender=cvc&status=shipped")
    assert [r.pk for r in response.context["page"]] == [shipped.pk]
    # The tabs count under the same filters, every status.
    assert response.context["counts"]["shipped"] == 1
    assert response.context["counts"]["sent_to_lender"] == 0
    assert response.context["counts"]["sourcing"] == 0  # not at that lender
    # Each code is looked up once, for the list and the tabs alike.
    for table in ("members_memberlibrary", "lenders_lender"):
        lookups = [q for q in queries if q.startswith(f'SELECT "{table}"."id"')]
        assert len(lookups) == 1, [q for q in queries]


def test_filters_by_assignee(as_rita, request_in, rita, admin_user):
    mine = request_in("sourcing")  # starting to source assigns it to rita
    nobodys = request_in("submitted")
    theirs = request_in("submitted")
    services.assign(theirs.pk, actor=rita, assignee=admin_user)
    assert ids(as_rita, "assigned=mine") == [mine.pk]
    assert ids(as_rita, "assigned=nobody") == [nobodys.pk]
    assert ids(as_rita, "assigned=admin") == [theirs.pk]


def test_filters_by_flag_date_and_age(as_rita, request_in, alice, rita):
    flagged = request_in("shipped", shipped_days_ago=20)
    traces.report_not_arrived(flagged.pk, actor=alice)
    pricey = request_in("shipped")
    services.add_charge(pricey.pk, actor=rita, kind="lending_fee", amount=Decimal("30"))
    renewing = request_in("renewal_requested")
    urgent = request_in("submitted")
    BorrowingRequest.objects.filter(pk=urgent.pk).update(
        needed_by=timezone.localdate() + dt.timedelta(days=3),
        created_at=timezone.now() - dt.timedelta(days=30),
    )
    assert ids(as_rita, "flag=not_arrived") == [flagged.pk]
    assert ids(as_rita, "flag=over_max_cost") == [pricey.pk]
    assert ids(as_rita, "flag=renewal_pending") == [renewing.pk]
    soon = (timezone.localdate() + dt.timedelta(days=5)).isoformat()
    assert ids(as_rita, f"needed_before={soon}") == [urgent.pk]
    assert ids(as_rita, "older_than=25") == [urgent.pk]
    assert ids(as_rita, "sort=needed_by")[0] == urgent.pk
    assert ids(as_rita, "sort=newest")[-1] == urgent.pk
    assert ids(as_rita, "sort=oldest")[0] == urgent.pk


def test_a_row_shows_the_request_and_escapes_what_people_typed(as_rita, submit, rita, lender):
    req = submit(title="<script>alert(1)</script> & more", author='Ann "A" <b>', isbn="")
    workflow.start_sourcing(req.pk, actor=rita)
    html = as_rita.get("/queue/").content.decode()
    row = html[html.index(f'id="select-{req.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in row
    assert "/ Ann &quot;A&quot; &lt;b&gt;" in row
    assert "<script>" not in html and "<b>" not in row
    assert f'<a href="/requests/{req.pk}/">{req.pk}</a>' in row
    assert '<span class="status status-sourcing">Sourcing</span>' in row
    assert f"{req.library.ill_code}</abbr>" in row


def test_the_filter_fields_keep_each_addresses_values(as_rita, request_in):
    request_in("submitted")
    first = as_rita.get("/queue/?q=wampanoag").content.decode()
    again = as_rita.get("/queue/?q=wampanoag").content.decode()
    other = as_rita.get("/queue/?q=bears").content.decode()
    assert 'name="q" value="wampanoag"' in first and 'name="q" value="wampanoag"' in again
    assert 'name="q" value="bears"' in other and "wampanoag" not in other
    # A bad filter is never served from, or put into, the cache: its fields show its errors.
    bad = as_rita.get("/queue/?q=wampanoag&older_than=x")
    assert bad.status_code == 400
    assert 'aria-invalid="true"' in bad.content.decode()
    assert 'aria-invalid="true"' not in as_rita.get("/queue/?q=wampanoag").content.decode()


def test_a_bad_filter_is_explained(as_rita):
    response = as_rita.get("/queue/?older_than=soon&needed_before=tomorrow")
    assert response.status_code == 400
    assert "Older than (days): Enter a number." in response.content.decode()
    assert "Needed by, on or before: Enter a valid date." in response.content.decode()


def test_tabs_count_each_status_up_to_the_cap(request_in):
    for status in ["submitted", "submitted", "completed", "completed", "completed"]:
        request_in(status)
    for _ in range(3):
        request_in("shipped")
    counts = selectors.capped_status_counts(BorrowingRequest.objects.all(), cap=2)
    assert counts["submitted"] == 2
    assert counts["completed"] is None  # more than the cap: shown as "2+"
    assert counts["shipped"] is None  # an open status too: a backlog costs no more
    assert counts["lost"] == 0


def test_the_open_tab_says_at_least_the_cap_when_an_open_status_reached_it(
    as_rita, request_in, monkeypatch
):
    monkeypatch.setattr(selectors, "COUNT_CAP", 2)
    for status in ["submitted", "shipped", "shipped", "shipped"]:
        request_in(status)
    response = as_rita.get("/queue/")
    assert response.context["open_count"] is None
    assert 'Open <span class="count">2+</span>' in response.content.decode()
    monkeypatch.setattr(selectors, "COUNT_CAP", 10)
    response = as_rita.get("/queue/")
    assert response.context["open_count"] == 4
    assert 'Open <span class="count">4</span>' in response.content.decode()


def test_paging_needs_no_count_of_the_whole_table(as_rita, request_in):
    made = [request_in("submitted").pk for _ in range(5)]
    first = as_rita.get("/queue/?page_size=2").context["page"]
    assert [r.pk for r in first] == made[:2]
    assert first.has_next
    last = as_rita.get("/queue/?page_size=2&page=3").context["page"]
    assert [r.pk for r in last] == made[4:]
    assert not last.has_next
    with captured() as queries:
        as_rita.get("/queue/?page_size=2&page=2")
    counts = [q for q in queries if "COUNT(" in q.upper()]
    # The tabs only: one statement, of one count a status, each stopped by a LIMIT, and
    # the open unrequested items, stopped the same way. Nothing counts the page's rows.
    assert len(counts) == 2, counts
    tabs, unrequested = counts
    assert tabs.upper().count("COUNT(") == tabs.upper().count("LIMIT") == len(Status.values)
    assert "requests_app_unrequesteditemreport" in unrequested and "LIMIT" in unrequested


def test_odd_page_numbers_and_sizes_are_tamed(as_rita, request_in):
    request_in("submitted")
    for query in ["page=99999999999999999999", "page=-3", "page=x", "page_size=0",
                  "page_size=-5", "page=9223372036854775807&page_size=500"]:  # fmt: skip
        assert as_rita.get(f"/queue/?{query}").status_code == 200, query


@pytest.mark.parametrize("page_size, page", [(1, 1), (20, 1), (2, 5)])
def test_the_queue_costs_the_same_queries_at_any_page_size(as_rita, request_in, page_size, page):
    for status in ["submitted", "sent_to_lender", "shipped", "received"] * 3:
        request_in(status)
    with captured() as queries:
        response = as_rita.get(f"/queue/?page_size={page_size}&page={page}&status=all")
    assert response.status_code == 200
    assert len(response.context["page"]) == min(page_size, 12 - (page - 1) * page_size)
    # session, user, the tabs' capped counts (one statement), the open unrequested items'
    # capped count, the page's ids, its rows (joined with library, lender and assignee),
    # the assignee choices for the bulk form.
    queries.expect(7)


# --- Bulk actions ------------------------------------------------------------------------


def test_bulk_take_assign_and_start_sourcing(as_rita, request_in, rita, admin_user):
    a, b = request_in("submitted"), request_in("submitted")
    response = as_rita.post(
        "/queue/bulk/", {"ids": [a.pk, b.pk], "action": "take", "back": "status=open"}
    )
    assert response["Location"] == "/queue/?status=open"
    assert set(BorrowingRequest.objects.values_list("assigned_to", flat=True)) == {rita.pk}
    assert StatusEvent.objects.filter(action="assign", request=a).exists()

    as_rita.post("/queue/bulk/", {"ids": [a.pk], "action": "assign", "assignee": admin_user.pk})
    a.refresh_from_db()
    assert a.assigned_to == admin_user

    as_rita.post("/queue/bulk/", {"ids": [a.pk, b.pk], "action": "start_sourcing"})
    assert set(BorrowingRequest.objects.values_list("status", flat=True)) == {"sourcing"}


def test_bulk_reports_the_ones_someone_else_moved(as_rita, request_in):
    fresh, moved = request_in("submitted"), request_in("shipped")
    response = as_rita.post(
        "/queue/bulk/", {"ids": [fresh.pk, moved.pk, 999999], "action": "start_sourcing"},
        follow=True,
    )  # fmt: skip
    page = response.content.decode()
    assert f"Done for 1 request: #{fresh.pk}." in page
    assert f"#{moved.pk}: Cannot start sourcing: the request is shipped." in page
    assert "#999999: no such request." in page


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("library=MFLP", "No member library has the ILL code “MFLP”."),
        ("lender=nope", "No lender in the directory has the OCLC symbol “nope”."),
    ],
)
def test_a_code_nobody_has_is_said_not_a_500(as_rita, request_in, query, said):
    request_in("submitted")
    page = as_rita.get(f"/queue/?{query}")
    assert page.status_code == 200
    assert list(page.context["page"]) == []
    assert said in page.content.decode()


def test_bulk_without_a_selection_says_so(as_rita):
    response = as_rita.post("/queue/bulk/", {"action": "take"}, follow=True)
    assert "Select at least one request." in response.content.decode()


def test_bulk_assign_needs_an_assignee(as_rita, request_in, rita):
    req = request_in("sourcing")
    response = as_rita.post("/queue/bulk/", {"ids": [req.pk], "action": "assign"}, follow=True)
    assert "Choose whom to assign" in response.content.decode()
    req.refresh_from_db()
    assert req.assigned_to == rita


# --- The team's request page --------------------------------------------------------------


def act(req, slug):
    return reverse("request_action", args=[req.pk, slug])


def test_the_team_sees_its_next_steps(as_rita, request_in):
    page = as_rita.get(reverse("request_detail", args=[request_in("submitted").pk]))
    slugs = [action.slug for action, _ in page.context["actions"]]
    assert slugs == ["start-sourcing", "edit-item", "mark-unfilled", "cancel"]
    assert [action.slug for action, _ in page.context["next_steps"]] == ["start-sourcing"]
    assert set(page.context["side_actions"]) == {"add-charge", "max-cost", "assign", "message"}


def test_finding_a_lender_warns_without_blocking(as_rita, request_in, rita):
    closed = Lender.objects.create(
        name="Dover Free Library", oclc_symbol="DOV", kind="in_state",
        charges_fees=True, usual_fee=Decimal("40.00"),
    )  # fmt: skip
    AvailabilityReport.objects.create(lender=closed, lending=False, source="e-mail")
    req = request_in("sourcing")
    page = as_rita.get(reverse("request_detail", args=[req.pk]) + "?lender_q=dov")
    html = page.content.decode()
    assert "Dover Free Library" in html
    assert '<span class="flag">Warning</span> not lending (reported' in html
    assert "usual fee 40.00 above this request&#x27;s max cost 25.00" in html

    as_rita.post(act(req, "send-to-lender"), {
        "send-to-lender-lender": closed.pk, "send-to-lender-lender_request_number": "OCLC-77",
    })  # fmt: skip
    req.refresh_from_db()
    assert (req.status, req.lender, req.lender_request_number) == (
        "sent_to_lender",
        closed,
        "OCLC-77",
    )


def test_the_team_ships_answers_renewals_and_completes(as_rita, request_in, alice):
    req = request_in("sent_to_lender")
    today = timezone.localdate()
    response = as_rita.post(act(req, "ship"), {
        "ship-shipped_on": today.isoformat(), "ship-due_date": today.isoformat(),
        "ship-method": "mail",
    })  # fmt: skip
    assert response.status_code == 400
    assert "after the shipped-on date" in response.content.decode()
    as_rita.post(act(req, "ship"), {
        "ship-shipped_on": today.isoformat(),
        "ship-due_date": (today + dt.timedelta(days=28)).isoformat(),
        "ship-method": "mail", "ship-tracking_number": "9400",
    })  # fmt: skip
    req.refresh_from_db()
    assert req.status == "shipped"

    workflow.mark_received(req.pk, actor=alice)
    workflow.request_renewal(req.pk, actor=alice, due_date=req.due_date + dt.timedelta(days=30))
    as_rita.post(act(req, "answer-renewal"), {"answer-renewal-approved": "no"})
    req.refresh_from_db()
    assert req.status == "received"
    assert req.renewals.get().answer == "denied"


def test_charges_and_a_raised_max_cost_show_in_the_timeline(as_rita, request_in):
    req = request_in("shipped")
    as_rita.post(act(req, "add-charge"), {
        "add-charge-kind": "lending_fee", "add-charge-amount": "30.00",
        "add-charge-payer": "library", "add-charge-reference": "INV-1",
    })  # fmt: skip
    req.refresh_from_db()
    assert req.charges_total == Decimal("30.00")
    assert OVER_MAX_COST.carried_by(req)

    response = as_rita.post(
        act(req, "max-cost"), {"max-cost-max_cost": "35", "max-cost-reason": ""}
    )
    assert response.status_code == 400
    as_rita.post(act(req, "max-cost"), {
        "max-cost-max_cost": "35.00", "max-cost-reason": "Library agreed by phone",
    })  # fmt: skip
    req.refresh_from_db()
    assert req.max_cost == Decimal("35.00")
    assert not OVER_MAX_COST.carried_by(req)
    event = req.events.get(action="set_max_cost")
    assert event.note == "Max cost 25.00 → 35.00: Library agreed by phone"


def test_library_staff_cannot_take_team_actions(client, alice, request_in):
    req = request_in("sent_to_lender")
    client.force_login(alice)
    today = timezone.localdate().isoformat()
    assert client.post(act(req, "ship"), {
        "ship-shipped_on": today, "ship-due_date": "2099-01-01", "ship-method": "mail",
    }).status_code == 403  # fmt: skip
    assert client.post(act(req, "add-charge"), {
        "add-charge-kind": "shipping", "add-charge-amount": "1", "add-charge-payer": "library",
    }).status_code == 403  # fmt: skip
    req.refresh_from_db()
    assert req.status == "sent_to_lender"
    assert not req.charges.exists()


def test_a_team_move_someone_made_first_is_a_message(as_rita, request_in, rita):
    req = request_in("submitted")
    workflow.start_sourcing(req.pk, actor=rita)
    response = as_rita.post(act(req, "start-sourcing"), {}, follow=True)
    assert "Cannot start sourcing: the request is sourcing." in response.content.decode()
    assert req.events.filter(action="start_sourcing").count() == 1


def test_a_lender_not_taking_returns_is_shown_before_the_item_goes_back(
    client, as_rita, request_in, lender, alice
):
    req = request_in("received")
    AvailabilityReport.objects.create(lender=lender, lending=True, accepting_returns=False)
    assert "Lender not taking returns" in as_rita.get("/queue/").content.decode()
    client.force_login(alice)
    page = client.get(reverse("request_detail", args=[req.pk])).content.decode()
    assert "Lender not accepting returns" in page
    AvailabilityReport.objects.create(lender=lender, lending=True, accepting_returns=True)
    assert (
        "not accepting returns"
        not in client.get(reverse("request_detail", args=[req.pk])).content.decode()
    )


def test_the_team_closes_out_loans_from_the_page(as_rita, request_in):
    lost = request_in("received")
    asked = as_rita.post(act(lost, "mark-lost"), {"mark-lost-note": "Patron moved away"})
    assert asked.status_code == 200 and "The loan ends lost" in asked.content.decode()
    lost.refresh_from_db()
    assert lost.status == "received"  # only asked, not done
    as_rita.post(
        act(lost, "mark-lost"), {"mark-lost-note": "Patron moved away", "confirmed": "yes"}
    )
    returned = request_in("returned")
    as_rita.post(act(returned, "complete"), {})
    sourcing = request_in("sent_to_lender")
    assert as_rita.post(act(sourcing, "lender-unfilled"), {}).status_code == 400
    as_rita.post(act(sourcing, "lender-unfilled"), {"lender-unfilled-reason": "Non-circulating"})
    sourcing.refresh_from_db()
    assert sourcing.status == "sourcing"
    as_rita.post(
        act(sourcing, "mark-unfilled"),
        {"mark-unfilled-reason": "No other holder", "confirmed": "yes"},
    )
    statuses = {
        req.pk: req.status
        for req in BorrowingRequest.objects.filter(pk__in=[lost.pk, returned.pk, sourcing.pk])
    }
    assert statuses == {lost.pk: "lost", returned.pk: "completed", sourcing.pk: "unfilled"}


def test_the_role_is_checked_before_the_input(client, alice, request_in):
    req = request_in("shipped")
    client.force_login(alice)
    assert client.post(act(req, "max-cost"), {"max-cost-max_cost": "x"}).status_code == 403


def test_a_charge_above_the_forms_limit_is_refused(as_rita, request_in):
    req = request_in("shipped")
    big = {"add-charge-kind": "invoice", "add-charge-payer": "service"}
    assert (
        as_rita.post(act(req, "add-charge"), big | {"add-charge-amount": "100001"}).status_code
        == 400
    )
    for _ in range(2):
        services.add_charge(req.pk, actor=req.assigned_to, kind="invoice", amount=Decimal("99999"))
    req.refresh_from_db()
    assert req.charges_total == Decimal("199998.00")


def test_an_ending_is_tried_first_and_only_a_possible_one_is_asked_about(as_rita, request_in, rita):
    req = request_in("sourcing")
    events = req.events.count()
    missing_reason = as_rita.post(act(req, "mark-unfilled"), {"mark-unfilled-reason": ""})
    assert missing_reason.status_code == 400  # said at once, not after the question
    form = dict(missing_reason.context["actions"])[BY_SLUG["mark-unfilled"]]
    assert form.errors == {"reason": ["Say why no lender could be found."]}

    asked = as_rita.post(act(req, "mark-unfilled"), {"mark-unfilled-reason": "Non-circulating"})
    page = asked.content.decode()
    assert asked.status_code == 200
    assert "Yes, mark unfilled" in page
    assert 'name="mark-unfilled-reason" value="Non-circulating"' in page
    req.refresh_from_db()
    assert (req.status, req.events.count()) == ("sourcing", events)  # the try left nothing
    assert not req.notifications.filter(kind="unfilled").exists()

    renewed = request_in("renewal_requested")
    workflow.answer_renewal(renewed.pk, actor=rita, approved=False)
    refused = as_rita.post(act(renewed, "reopen"), {"reopen-reason": "Oops"}, follow=True)
    assert "Only a step just taken by mistake can be taken back" in refused.content.decode()
