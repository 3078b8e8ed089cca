"""An item a library received but did not request: the team finds whose it is and resolves
the report; the library sees the outcome and is told; the open ones count in the team's
tabs. On the pages and in the API alike."""

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from core.errors import NotAllowedNow, NotPermitted
from requests_app import selectors, services
from requests_app.models import Notification, UnrequestedItemReport
from requests_app.notifications import deliver


@pytest.fixture
def report(alice):
    return services.report_unrequested_item(
        actor=alice, title="Hill Farming / Dana Ames", slip_number="ILL-20931", sent_by="Rowley"
    )


def test_a_report_is_matched_to_its_request_and_the_request_says_so(report, rita, request_in):
    req = request_in("shipped")
    services.resolve_unrequested_item(
        report.pk, actor=rita, outcome="matched", request_id=req.pk,
        note="It is this request's: the slip had the wrong number. Keep it.",
    )  # fmt: skip
    report.refresh_from_db()
    assert (report.outcome, report.matched_request, report.resolved_by) == ("matched", req, rita)
    event = req.events.latest("id")
    assert event.action == "unrequested_item_matched"
    assert f"report {report.pk}" in event.note and req.status == event.to_status


@pytest.mark.parametrize(
    ("given", "errors"),
    [
        ({"outcome": "matched", "note": "x"}, {"request"}),
        ({"outcome": "matched", "note": "x", "request_id": 999_999}, {"request"}),
        ({"outcome": "sent_on", "note": "x"}, {"send_to"}),
        ({"outcome": "lost", "note": "x"}, {"outcome"}),
        ({"outcome": "returned_to_lender", "note": " "}, {"note"}),
    ],
)
def test_a_resolution_says_whose_and_what_to_do(report, rita, given, errors):
    with pytest.raises(ValidationError) as refused:
        services.resolve_unrequested_item(report.pk, actor=rita, **given)
    assert set(refused.value.message_dict) == errors
    assert UnrequestedItemReport.objects.get(pk=report.pk).resolved_at is None


def test_a_report_is_resolved_once_by_the_team(report, rita, alice, library_two):
    with pytest.raises(NotPermitted):
        services.resolve_unrequested_item(
            report.pk, actor=alice, outcome="returned_to_lender", note="Back it goes."
        )
    services.resolve_unrequested_item(
        report.pk, actor=rita, outcome="sent_on", send_to=library_two, note="Send it on."
    )
    with pytest.raises(NotAllowedNow, match="was resolved on"):
        services.resolve_unrequested_item(
            report.pk, actor=rita, outcome="returned_to_lender", note="Back it goes."
        )


def test_the_library_is_told_what_to_do(report, rita, library_two, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    Notification.objects.update(sent_at="2026-01-01T00:00:00Z")
    services.resolve_unrequested_item(
        report.pk, actor=rita, outcome="sent_on", send_to=library_two,
        note="It is Borden's: send it on by Delivery.",
    )  # fmt: skip
    told = Notification.objects.get(kind="unrequested_item_resolved")
    assert told.audience == "library"
    deliver(told.pk)
    (message,) = mail.outbox
    assert message.to == [report.library.contact_email]
    assert "Hill Farming" in message.subject
    assert "send it on by Delivery" in message.body
    assert f"{library_two.name} ({library_two.ill_code})" in message.body


def test_the_library_sees_the_outcome_and_the_team_the_open_ones(
    client, report, alice, rita, library_two
):
    client.force_login(rita)
    queue = client.get("/queue/").content.decode()
    assert "Items received unasked" in queue
    assert client.get("/queue/").context["unrequested_open"] == 1
    open_list = client.get("/unrequested-items/?open=yes")
    assert [item.pk for item in open_list.context["page"]] == [report.pk]
    page = client.post(
        f"/unrequested-items/{report.pk}/",
        {"resolve-outcome": "sent_on", "resolve-send_to": library_two.ill_code,
         "resolve-note": "Send it on to Borden."},
    )  # fmt: skip
    assert page.status_code == 302
    assert client.get("/queue/").context["unrequested_open"] == 0
    assert list(client.get("/unrequested-items/?open=yes").context["page"]) == []

    client.force_login(alice)
    listed = client.get("/unrequested-items/").content.decode()
    assert "Sent on to the library it belongs to" in listed and "Send it on to Borden." in listed
    assert client.post(f"/unrequested-items/{report.pk}/", {}).status_code == 403


def test_a_refused_resolution_is_explained_beside_its_field(client, report, rita):
    client.force_login(rita)
    page = client.post(
        f"/unrequested-items/{report.pk}/", {"resolve-outcome": "matched", "resolve-note": "x"}
    )
    assert page.status_code == 400
    assert page.context["form"].errors == {
        "request": ["Give the number of the request it belongs to."]
    }


def test_the_library_and_lender_are_typed_as_codes_not_picked_from_every_row(
    client, report, rita, lender
):
    """A page listing 1,800 libraries and 5,000 lenders took 680 ms to draw: codes instead,
    in any case, each refused beside its field when nobody has it."""
    client.force_login(rita)
    page = client.get(f"/unrequested-items/{report.pk}/").content.decode()
    assert "<option" not in page
    refused = client.post(
        f"/unrequested-items/{report.pk}/",
        {"resolve-outcome": "returned_to_lender", "resolve-returned_to": "NOPE",
         "resolve-send_to": "NOPE", "resolve-note": "Back it goes."},
    )  # fmt: skip
    assert refused.status_code == 400
    assert refused.context["form"].errors == {
        "send_to": ["No member library has that ILL code."],
        "returned_to": ["No lender in the directory has that OCLC symbol."],
    }
    done = client.post(
        f"/unrequested-items/{report.pk}/",
        {"resolve-outcome": "returned_to_lender", "resolve-returned_to": lender.oclc_symbol.lower(),
         "resolve-note": "Back it goes."},
    )  # fmt: skip
    assert done.status_code == 302
    report.refresh_from_db()
    assert report.returned_to == lender


def test_the_team_is_shown_the_requests_it_may_belong_to(report, request_in, submit):
    shipped = request_in("shipped")
    from requests_app.models import BorrowingRequest

    BorrowingRequest.objects.filter(pk=shipped.pk).update(lender_request_number="ILL-20931")
    by_title = submit(title="Hill Farming")
    submit(title="Something else")
    assert [req.pk for req in selectors.possible_matches(report)] == [shipped.pk, by_title.pk]


def test_another_library_cannot_see_the_report(client, report, bob):
    client.force_login(bob)
    assert client.get(f"/unrequested-items/{report.pk}/").status_code == 404


def test_the_api_lists_reports_takes_one_and_resolves_it(api, alice, rita, bob, library_two):
    made = api(alice).post(
        "/api/v1/unrequested-items/",
        {"title": "Hill Farming", "slip_number": "ILL-1", "sent_by": "Rowley"},
        format="json",
    )
    assert made.status_code == 201, made.json()
    pk = made.json()["id"]
    assert made.json()["library"] == "ABBOT" and made.json()["outcome"] == ""
    refused = api(alice).post("/api/v1/unrequested-items/", {"title": ""}, format="json")
    assert refused.status_code == 400 and set(refused.json()) == {"title"}
    assert api(bob).get(f"/api/v1/unrequested-items/{pk}/").status_code == 404
    assert [r["id"] for r in api(rita).get("/api/v1/unrequested-items/?open=true").json()[
        "results"]] == [pk]  # fmt: skip
    forbidden = api(alice).post(
        f"/api/v1/unrequested-items/{pk}/resolve/",
        {"outcome": "returned_to_lender", "note": "Back"},
        format="json",
    )
    assert forbidden.status_code == 403
    resolved = api(rita).post(
        f"/api/v1/unrequested-items/{pk}/resolve/",
        {"outcome": "sent_on", "send_to": library_two.ill_code, "note": "Send it on."},
        format="json",
    )
    assert resolved.status_code == 200, resolved.json()
    assert (resolved.json()["outcome"], resolved.json()["send_to"]) == ("sent_on", "BORDEN")
    again = api(rita).post(
        f"/api/v1/unrequested-items/{pk}/resolve/",
        {"outcome": "sent_on", "send_to": library_two.ill_code, "note": "Send it on."},
        format="json",
    )
    assert again.status_code == 409
