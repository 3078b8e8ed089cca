"""The admin: the managers' tool for libraries, lenders, accounts, and a read-mostly view
of requests and everything that hangs off them."""

import datetime as dt
import re
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.urls import reverse

from lenders.models import AvailabilityReport, Lender
from members.models import MemberLibrary, Patron, User
from requests_app import services
from requests_app.models import (
    BorrowingRequest,
    Charge,
    LenderAttempt,
    Message,
    Notification,
    RenewalRequest,
    StatusEvent,
)
from tests.queries import assert_same_count, captured

pytestmark = pytest.mark.django_db


# --- Helpers ----------------------------------------------------------------------------


class _FormFields(HTMLParser):
    """What a browser would submit from the form with the given id."""

    def __init__(self, form_id: str):
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.in_form = False
        self.data: list[tuple[str, str]] = []
        self._select: dict | None = None
        self._option_value: str | None = None
        self._textarea: str | None = None
        self._textarea_text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.in_form = attrs.get("id") == self.form_id
            return
        if not self.in_form:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.data.append((name, attrs.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select" and name:
            self._select = {
                "name": name,
                "multiple": "multiple" in attrs,
                "first": None,
                "chosen": [],
            }
        elif tag == "option" and self._select is not None:
            value = attrs.get("value", "")
            if self._select["first"] is None:
                self._select["first"] = value
            if "selected" in attrs:
                self._select["chosen"].append(value)
        elif tag == "textarea" and name:
            self._textarea, self._textarea_text = name, []

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea_text.append(data)

    def handle_endtag(self, tag):
        if tag == "form":
            self.in_form = False
        elif tag == "select" and self._select is not None:
            select, self._select = self._select, None
            chosen = select["chosen"]
            if not chosen and not select["multiple"] and select["first"] is not None:
                chosen = [select["first"]]
            self.data.extend((select["name"], value) for value in chosen)
        elif tag == "textarea" and self._textarea is not None:
            text = "".join(self._textarea_text)
            self.data.append((self._textarea, text.removeprefix("\n")))
            self._textarea = None


def form_data(response, form_id: str) -> dict:
    """The fields of an admin change form as the page shows them, ready to post back."""
    assert response.status_code == 200
    parser = _FormFields(form_id)
    parser.feed(response.content.decode())
    data: dict = {}
    for name, value in parser.data:
        data.setdefault(name, [])
        data[name].append(value)
    assert data, f"no form #{form_id} on the page"
    return {name: values if len(values) > 1 else values[0] for name, values in data.items()}


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def busy_request(request_in, rita, alice):
    """A request with something in every table: attempts, a renewal, charges, messages."""
    req = request_in("renewal_requested")
    services.add_charge(req.pk, actor=rita, kind="lending_fee", amount=Decimal("15.00"))
    services.post_message(req.pk, actor=alice, body="The patron asks whether it can be renewed.")
    return BorrowingRequest.objects.get(pk=req.pk)


# --- Every page answers -----------------------------------------------------------------


def test_every_registered_model_has_a_working_list_and_change_page(
    admin_client, busy_request, lender, admin_user
):
    AvailabilityReport.objects.create(lender=lender, lending=False, recorded_by=admin_user)
    expected = {
        MemberLibrary,
        Patron,
        User,
        BorrowingRequest,
        Charge,
        StatusEvent,
        LenderAttempt,
        RenewalRequest,
        Message,
        Notification,
        AvailabilityReport,
        Lender,
    }
    assert expected <= set(admin.site._registry)
    for model in admin.site._registry:
        response = admin_client.get(admin_url(model, "changelist"))
        assert response.status_code == 200, model
        obj = model._default_manager.order_by("pk").first()
        if obj is None:
            continue
        response = admin_client.get(admin_url(model, "change", obj.pk))
        assert response.status_code == 200, model


@pytest.mark.parametrize(
    "model, query",
    [
        (BorrowingRequest, {"status__exact": "renewal_requested"}),
        (BorrowingRequest, {"format__exact": "book"}),
        (BorrowingRequest, {"library__region": "Northeast"}),
        (BorrowingRequest, {"flag": "not_arrived"}),
        (BorrowingRequest, {"flag": "overdue"}),
        (BorrowingRequest, {"flag": "over_max_cost"}),
        (BorrowingRequest, {"q": "Wampanoag"}),
        (BorrowingRequest, {"q": "ABBOT"}),
        (StatusEvent, {"action": "ship"}),
        (StatusEvent, {"q": "#1"}),
        (Charge, {"kind__exact": "lending_fee"}),
        (LenderAttempt, {"outcome__exact": "shipped"}),
        (RenewalRequest, {"answer__exact": "pending"}),
        (Message, {"author__role__exact": "library_staff"}),
        (Notification, {"sent": "no"}),
        (Notification, {"kind": "shipped"}),
        (User, {"role__exact": "team", "is_active__exact": "1"}),
        (MemberLibrary, {"region": "Northeast", "on_delivery__exact": "1"}),
    ],
)
def test_list_filters_and_searches_answer(admin_client, busy_request, model, query):
    response = admin_client.get(admin_url(model, "changelist"), query)
    assert response.status_code == 200  # an unknown lookup would redirect with ?e=1


# --- Member libraries -------------------------------------------------------------------


def test_library_list_search_by_ill_code_finds_the_library(admin_client, library_one, library_two):
    response = admin_client.get(admin_url(MemberLibrary, "changelist"), {"q": "ABBOT"})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [library_one]


def test_changing_max_cost_is_recorded_in_the_history_with_who_did_it(
    admin_client, admin_user, library_one
):
    url = admin_url(MemberLibrary, "change", library_one.pk)
    data = form_data(admin_client.get(url), "memberlibrary_form")
    assert data["max_cost"] == "25.00"
    data["max_cost"] = "40.00"

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context and response.context["errors"]
    library_one.refresh_from_db()
    assert library_one.max_cost == Decimal("40.00")
    latest = library_one.history.first()
    assert latest.history_user == admin_user
    assert latest.max_cost == Decimal("40.00")
    page = admin_client.get(f"/admin/members/memberlibrary/{library_one.pk}/history/")
    assert page.status_code == 200
    html = page.content.decode()
    # The "Changes" column names the field with its old and new value ...
    assert re.search(r"Max cost:</strong>\s*25\.00\s*&nbsp;&rarr;&nbsp;&nbsp;40\.00", html)
    # ... and "Changed by" names the admin who made the change.
    user_url = admin_url(User, "change", admin_user.pk)
    assert f'<a href="{user_url}">{admin_user.username}</a>' in html


def test_library_page_does_not_show_its_patrons(admin_client, library_one, patron):
    response = admin_client.get(admin_url(MemberLibrary, "change", library_one.pk))
    assert response.status_code == 200
    assert patron.name not in response.content.decode()
    assert patron.card_number not in response.content.decode()


def test_patron_list_shows_card_numbers_not_names_and_searches_by_card_number(admin_client, patron):
    url = admin_url(Patron, "changelist")
    listing = admin_client.get(url).content.decode()
    assert patron.card_number in listing
    assert patron.name not in listing
    assert list(admin_client.get(url, {"q": patron.card_number}).context["cl"].result_list) == [
        patron
    ]
    # Names and partial numbers find nobody.
    assert not admin_client.get(url, {"q": "Pat Reader"}).context["cl"].result_list
    assert not admin_client.get(url, {"q": patron.card_number[:5]}).context["cl"].result_list


# --- Accounts ---------------------------------------------------------------------------


def test_user_list_shows_role_library_and_active(admin_client, alice, rita):
    response = admin_client.get(admin_url(User, "changelist"))
    cl = response.context["cl"]
    assert {"role", "library", "is_active"} <= set(cl.list_display)
    inactive = admin_client.get(admin_url(User, "changelist"), {"is_active__exact": "0"})
    assert alice not in inactive.context["cl"].result_list


def test_admin_can_deactivate_an_account(admin_client, alice):
    response = admin_client.post(
        admin_url(User, "changelist"),
        {"action": "deactivate_accounts", "_selected_action": [alice.pk]},
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.is_active is False


def test_admin_cannot_deactivate_their_own_account(admin_client, admin_user):
    admin_client.post(
        admin_url(User, "changelist"),
        {"action": "deactivate_accounts", "_selected_action": [admin_user.pk]},
    )
    admin_user.refresh_from_db()
    assert admin_user.is_active is True


def test_adding_library_staff_without_a_library_is_refused_with_a_message(admin_client):
    response = admin_client.post(
        admin_url(User, "add"),
        {
            "username": "newstaff",
            "usable_password": "true",
            "password1": "a-long-Passphrase-42",
            "password2": "a-long-Passphrase-42",
            "role": "library_staff",
            "library": "",
            "email": "new@example.org",
        },
    )
    assert response.status_code == 200
    assert "needs the library it acts for" in response.content.decode()
    assert not User.objects.filter(username="newstaff").exists()


def test_admin_can_add_a_staff_account_with_role_and_library(admin_client, library_one):
    response = admin_client.post(
        admin_url(User, "add"),
        {
            "username": "newstaff",
            "usable_password": "true",
            "password1": "a-long-Passphrase-42",
            "password2": "a-long-Passphrase-42",
            "role": "library_staff",
            "library": library_one.pk,
            "email": "new@example.org",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="newstaff")
    assert (user.role, user.library) == ("library_staff", library_one)


# --- Lenders ----------------------------------------------------------------------------


def test_adding_an_availability_report_on_the_lender_page_records_who(
    admin_client, admin_user, lender
):
    url = admin_url(Lender, "change", lender.pk)
    data = form_data(admin_client.get(url), "lender_form")
    data.pop("availability_reports-0-lending")  # untick "lending"
    data["availability_reports-0-source"] = "E-mail from the lender"
    data["availability_reports-0-closed_from"] = "2030-07-01"
    data["availability_reports-0-closed_until"] = "2030-07-14"

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context and response.context["errors"]
    report = AvailabilityReport.objects.get(lender=lender)
    assert report.recorded_by == admin_user
    assert report.lending is False
    assert report.source == "E-mail from the lender"
    assert lender.current_availability() == report


def test_lender_page_lists_reports_newest_first_with_their_dates(admin_client, lender):
    old = AvailabilityReport.objects.create(
        lender=lender, reported_at=dt.datetime(2024, 1, 5, 12, tzinfo=dt.UTC), source="old one"
    )
    new = AvailabilityReport.objects.create(
        lender=lender, reported_at=dt.datetime(2025, 3, 9, 12, tzinfo=dt.UTC), source="new one"
    )
    html = admin_client.get(admin_url(Lender, "change", lender.pk)).content.decode()
    assert html.index(new.source) < html.index(old.source)
    assert "2024" in html and "2025" in html
    assert "As of 2025-03-09" in html


def test_an_inverted_closure_is_refused_with_a_message(admin_client, lender):
    url = admin_url(Lender, "change", lender.pk)
    data = form_data(admin_client.get(url), "lender_form")
    data["availability_reports-0-closed_from"] = "2030-07-14"
    data["availability_reports-0-closed_until"] = "2030-07-01"
    response = admin_client.post(url, data)
    assert response.status_code == 200
    # The service's words, as on the lender directory's page.
    assert _closure_message() in response.content.decode()
    assert not AvailabilityReport.objects.exists()


def _closure_message() -> str:
    from lenders.services import _closed_range_message

    return _closed_range_message()


def test_a_report_added_in_the_admin_goes_through_the_service(admin_client, lender, admin_user):
    url = admin_url(Lender, "change", lender.pk)
    data = form_data(admin_client.get(url), "lender_form")
    data["availability_reports-0-lending"] = ""
    data["availability_reports-0-source"] = "E-mail from the lender"
    response = admin_client.post(url, data)
    assert response.status_code == 302
    report = AvailabilityReport.objects.get()
    assert (report.lending, report.recorded_by) == (False, admin_user)
    # Recorded, it is history: no change form, no delete.
    assert admin_client.get(admin_url(AvailabilityReport, "change", report.pk)).status_code == 200
    changed = admin_client.post(
        admin_url(AvailabilityReport, "change", report.pk), {"source": "edited"}
    )
    assert changed.status_code == 403
    report.refresh_from_db()
    assert report.source == "E-mail from the lender"


# --- Requests: read-mostly --------------------------------------------------------------


def test_request_admin_refuses_add_and_delete(admin_client, busy_request):
    assert admin_client.get(admin_url(BorrowingRequest, "add")).status_code == 403
    delete_url = admin_url(BorrowingRequest, "delete", busy_request.pk)
    assert admin_client.get(delete_url).status_code == 403
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert BorrowingRequest.objects.filter(pk=busy_request.pk).exists()


@pytest.mark.parametrize("model", [Charge, StatusEvent])
def test_charges_and_events_cannot_be_deleted(admin_client, busy_request, model):
    obj = model.objects.filter(request=busy_request).first()
    delete_url = admin_url(model, "delete", obj.pk)
    assert admin_client.get(delete_url).status_code == 403
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    changelist = admin_client.get(admin_url(model, "changelist"))
    assert "delete_selected" not in changelist.context["cl"].model_admin.get_actions(
        changelist.wsgi_request
    )
    assert model.objects.filter(pk=obj.pk).exists()


@pytest.mark.parametrize(
    "model", [Charge, StatusEvent, LenderAttempt, RenewalRequest, Message, Notification]
)
def test_request_records_are_read_only(admin_client, busy_request, model):
    obj = model.objects.filter(request=busy_request).first()
    assert admin_client.get(admin_url(model, "add")).status_code == 403
    page = admin_client.get(admin_url(model, "change", obj.pk))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert admin_client.post(admin_url(model, "change", obj.pk), {}).status_code == 403


def test_request_page_shows_the_timeline_and_everything_on_the_request(admin_client, busy_request):
    html = admin_client.get(admin_url(BorrowingRequest, "change", busy_request.pk)).content.decode()
    events = list(busy_request.events.order_by("at", "id"))
    assert [e.action for e in events][:4] == ["submit", "start_sourcing", "send_to_lender", "ship"]
    for event in events:
        assert event.action in html
    assert html.index("start_sourcing") < html.index("send_to_lender") < html.index("mark_received")
    assert "Shipped " in html  # the shipment event's note
    assert "Timeline" in html
    assert "15.00" in html  # the charge
    assert "can be renewed" in html  # the message
    assert busy_request.lender_request_number in html  # the lender attempt
    assert "Waiting for the lender" in html  # the pending renewal


def test_request_list_and_page_never_show_the_patron_name(admin_client, busy_request, patron):
    listing = admin_client.get(admin_url(BorrowingRequest, "changelist")).content.decode()
    assert busy_request.title in listing
    assert patron.name not in listing
    page = admin_client.get(admin_url(BorrowingRequest, "change", busy_request.pk)).content.decode()
    assert patron.name not in page
    assert patron.card_number in page


def test_posting_the_request_form_changes_only_the_assignee_through_the_service(
    admin_client, busy_request
):
    tess = User.objects.create_user("tess", role="team")
    url = admin_url(BorrowingRequest, "change", busy_request.pk)
    data = form_data(admin_client.get(url), "borrowingrequest_form")
    assert "status" not in data and "due_date" not in data
    data.update(
        status="cancelled",
        due_date="2099-01-01",
        charges_total="0.00",
        title="Something else",
        notes="Call the patron when it arrives.",
        assigned_to=tess.pk,
    )
    events_before = busy_request.events.count()

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context and response.context["errors"]
    after = BorrowingRequest.objects.get(pk=busy_request.pk)
    assert after.status == "renewal_requested"
    assert after.due_date == busy_request.due_date
    assert after.charges_total == Decimal("15.00")
    assert after.title == busy_request.title
    assert after.notes == busy_request.notes  # notes are the library's words: read-only
    assert after.assigned_to == tess
    # As on the request's page: the assignment is on the timeline, with who did it.
    assert after.events.count() == events_before + 1
    assert after.events.order_by("-id").first().action == "assign"


def test_the_admin_offers_and_takes_only_team_members(admin_client, busy_request, alice):
    url = admin_url(BorrowingRequest, "change", busy_request.pk)
    data = form_data(admin_client.get(url), "borrowingrequest_form")
    data["assigned_to"] = alice.pk
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()  # not even offered
    busy_request.refresh_from_db()
    assert busy_request.assigned_to != alice


def test_saving_the_request_form_never_overwrites_what_the_workflow_wrote_meanwhile(
    admin_client, busy_request, rita, monkeypatch
):
    """The admin loads the row, the workflow moves it, then the admin saves its copy."""
    from requests_app import workflow
    from requests_app.admin import BorrowingRequestAdmin

    url = admin_url(BorrowingRequest, "change", busy_request.pk)
    data = form_data(admin_client.get(url), "borrowingrequest_form")
    data["assigned_to"] = rita.pk
    new_due = busy_request.due_date + dt.timedelta(days=30)
    load = BorrowingRequestAdmin.get_object

    def load_then_workflow_acts(self, request, object_id, from_field=None):
        stale = load(self, request, object_id, from_field)
        if request.method == "POST":
            workflow.answer_renewal(busy_request.pk, actor=rita, approved=True, due_date=new_due)
        return stale

    monkeypatch.setattr(BorrowingRequestAdmin, "get_object", load_then_workflow_acts)

    response = admin_client.post(url, data)

    assert response.status_code == 302
    after = BorrowingRequest.objects.get(pk=busy_request.pk)
    assert after.assigned_to == rita
    assert (after.status, after.due_date) == ("received", new_due)


def test_recorded_availability_reports_are_not_editable_on_the_lender_page(admin_client, lender):
    report = AvailabilityReport.objects.create(lender=lender, source="Phone call")
    url = admin_url(Lender, "change", lender.pk)
    data = form_data(admin_client.get(url), "lender_form")
    assert "availability_reports-0-source" not in data  # shown, not an input
    assert "availability_reports-1-source" in data  # the blank row for a new report
    data["availability_reports-0-source"] = "Rewritten"
    assert admin_client.post(url, data).status_code == 302
    report.refresh_from_db()
    assert report.source == "Phone call"
    assert AvailabilityReport.objects.count() == 1


def test_only_the_team_may_change_a_request_in_the_admin(client, admin_client, busy_request):
    """Staff rights on a library staff account (a superuser flag set by mistake) let it
    read the admin, not assign work: assigning is the team's."""
    url = admin_url(BorrowingRequest, "change", busy_request.pk)
    data = form_data(admin_client.get(url), "borrowingrequest_form")
    tess = User.objects.create_user("tess", role="team")
    data["assigned_to"] = tess.pk
    clerk = User.objects.create_user(
        "clerk", role="library_staff", library=busy_request.library, is_staff=True,
        is_superuser=True,
    )  # fmt: skip
    client.force_login(clerk)
    assert client.get(url).status_code == 200
    assert client.post(url, data).status_code == 403
    assert BorrowingRequest.objects.get(pk=busy_request.pk).assigned_to != tess


def test_request_can_be_assigned_to_the_team_only(admin_client, busy_request, alice):
    url = admin_url(BorrowingRequest, "change", busy_request.pk)
    data = form_data(admin_client.get(url), "borrowingrequest_form")
    data["assigned_to"] = alice.pk
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert BorrowingRequest.objects.get(pk=busy_request.pk).assigned_to != alice


def test_request_search_by_number_and_library_code(admin_client, busy_request, submit):
    other = submit(title="Another book")
    url = admin_url(BorrowingRequest, "changelist")
    found = admin_client.get(url, {"q": f"#{busy_request.pk}"}).context["cl"].result_list
    assert list(found) == [busy_request]
    found = admin_client.get(url, {"q": "abbot"}).context["cl"].result_list
    assert set(found) == {busy_request, other}


def test_flag_filter_finds_requests_over_max_cost(admin_client, busy_request, submit, rita):
    cheap = submit(title="Cheap book")
    BorrowingRequest.objects.filter(pk=busy_request.pk).update(max_cost=Decimal("10.00"))
    url = admin_url(BorrowingRequest, "changelist")
    found = admin_client.get(url, {"flag": "over_max_cost"}).context["cl"].result_list
    assert list(found) == [busy_request]
    assert cheap not in found


def test_outbox_filter_separates_sent_from_waiting(admin_client, busy_request):
    waiting = Notification.objects.filter(request=busy_request).first()
    sent = Notification.objects.create(
        request=busy_request, kind="shipped", audience="library", sent_at=busy_request.created_at
    )
    Notification.objects.exclude(pk__in=[waiting.pk, sent.pk]).update(sent_at=None)
    url = admin_url(Notification, "changelist")
    not_sent = admin_client.get(url, {"sent": "no"}).context["cl"].result_list
    assert waiting in not_sent and sent not in not_sent
    assert list(admin_client.get(url, {"sent": "yes"}).context["cl"].result_list) == [sent]


@pytest.mark.parametrize(
    "model", [BorrowingRequest, StatusEvent, Charge, LenderAttempt, Notification, Message]
)
def test_big_lists_take_the_same_number_of_queries_for_more_rows(
    admin_client, request_in, rita, alice, model
):
    def grow():
        req = request_in("received")
        services.add_charge(req.pk, actor=rita, kind="shipping", amount=Decimal("2.00"))
        services.post_message(req.pk, actor=alice, body="Thanks.")

    url = admin_url(model, "changelist")
    grow()
    with captured() as few:
        assert admin_client.get(url).status_code == 200
    for _ in range(3):
        grow()
    with captured() as more:
        assert admin_client.get(url).status_code == 200
    assert_same_count(few, more)


# --- Who gets in ------------------------------------------------------------------------


def test_non_staff_user_is_sent_to_the_admin_login(client, alice):
    client.force_login(alice)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")
    response = client.get(admin_url(MemberLibrary, "changelist"))
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")
