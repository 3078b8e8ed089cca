"""``POST /api/v1/requests/{id}/{action}/``: each workflow action, with the pages' rules."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from requests_app.models import Charge, Message, StatusEvent

TODAY = timezone.localdate()


def action_endpoints() -> list[str]:
    """The addresses of the request's action endpoints (``/api/v1/requests/{id}/<here>/``)."""
    from requests_app.api.views import RequestViewSet

    return [
        extra.url_path
        for extra in RequestViewSet.get_extra_actions()
        if extra.detail and "post" in extra.mapping
    ]


def post(client, req, action, data=None):
    return client.post(f"/api/v1/requests/{req.pk}/{action}/", data or {}, format="json")


def test_a_loan_goes_its_whole_way_through_the_api(api, submit, alice, rita, lender):
    req = submit()
    library, team = api(alice), api(rita)
    later = str(TODAY + dt.timedelta(days=40))
    shipment = {
        "shipped_on": str(TODAY),  # it went to the lender today, and came back at once
        "due_date": str(TODAY + dt.timedelta(days=26)),
        "method": "mail",
        "tracking_number": "9400 1",
    }
    steps = [
        (team, "start-sourcing", {}, "sourcing"),
        (team, "send-to-lender", {"lender": lender.pk, "lender_request_number": "1"}, "sent_to_lender"),  # noqa: E501
        (team, "lender-unfilled", {"reason": "Missing on shelf"}, "sourcing"),
        (team, "send-to-lender", {"lender": lender.pk}, "sent_to_lender"),
        (team, "ship", shipment, "shipped"),
        (library, "receive", {}, "received"),
        (library, "request-renewal", {"due_date": later}, "renewal_requested"),
        (team, "answer-renewal", {"approved": True, "due_date": later}, "received"),
        (library, "return", {"method": "mail", "tracking_number": "9400 2"}, "returned"),
        (team, "complete", {"note": "Checked in"}, "completed"),
    ]  # fmt: skip
    for client, action, data, expected in steps:
        response = post(client, req, action, data)
        assert response.status_code == 200, (action, response.json())
        assert response.json()["status"] == expected, action
        assert response.json()["id"] == req.pk
    req.refresh_from_db()
    assert req.due_date == TODAY + dt.timedelta(days=40)
    assert req.return_tracking == "9400 2"
    assert req.attempts.count() == 2
    assert StatusEvent.objects.filter(request=req).count() == 1 + len(steps)


@pytest.mark.parametrize(
    ("status", "action", "body", "ends_in"),
    [
        ("submitted", "cancel", {"reason": "Patron moved away"}, "cancelled"),
        ("sourcing", "mark-unfilled", {"reason": "No lender owns it"}, "unfilled"),
        ("shipped", "mark-lost", {"note": "Lost in the mail"}, "lost"),
    ],
)
def test_the_ways_a_request_ends(api, request_in, rita, status, action, body, ends_in):
    req = request_in(status)
    response = post(api(rita), req, action, body)
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == ends_in
    assert response.json()["ended_at"] is not None
    assert req.events.last().note == next(iter(body.values()))


def test_a_move_the_status_does_not_allow_is_a_409_naming_it(api, request_in, alice):
    req = request_in("received")
    events = req.events.count()
    response = post(api(alice), req, "receive")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "Cannot mark received: the request is received.",
        "status": "received",
    }
    assert req.events.count() == events


def test_a_move_the_status_forbids_is_a_409_whatever_the_input(api, request_in, rita):
    req = request_in("shipped")
    response = post(api(rita), req, "ship", {})
    assert response.status_code == 409
    assert response.json()["status"] == "shipped"


def test_a_role_that_may_not_act_gets_a_403(api, request_in, alice, rita):
    shipped = request_in("sent_to_lender")
    response = post(api(alice), shipped, "ship", {})
    assert response.status_code == 403
    assert "detail" in response.json()
    received = request_in("received")
    assert (
        post(api(rita), received, "request-renewal", {"due_date": "2099-01-01"}).status_code == 403
    )
    assert post(api(alice), received, "mark-lost").status_code == 403
    assert post(api(alice), received, "assign", {"assignee": None}).status_code == 403
    assert (
        post(api(alice), received, "max-cost", {"max_cost": "9", "reason": "x"}).status_code == 403
    )
    shipped.refresh_from_db()
    assert shipped.status == "sent_to_lender"


def test_another_librarys_request_is_a_404_for_every_action(api, request_in, bob):
    req = request_in("shipped")
    for action in action_endpoints():
        assert post(api(bob), req, action).status_code == 404, action
    req.refresh_from_db()
    assert req.status == "shipped" and not Message.objects.exists()


def test_bad_input_is_a_400_by_field_and_changes_nothing(api, request_in, rita, alice):
    req = request_in("sent_to_lender")
    response = post(api(rita), req, "ship", {"shipped_on": "not a date", "method": "pigeon"})
    assert response.status_code == 400
    assert set(response.json()) == {"shipped_on", "due_date", "method"}
    # The workflow's own rules answer by field too.
    response = post(
        api(rita), req, "ship",
        {"shipped_on": str(TODAY), "due_date": str(TODAY - dt.timedelta(days=1)), "method": "mail"},
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json() == {"due_date": ["The due date must be after the shipped-on date."]}
    req.refresh_from_db()
    assert req.status == "sent_to_lender" and req.shipped_on is None


def test_a_renewal_must_ask_for_a_later_date(api, request_in, alice):
    req = request_in("received")
    response = post(api(alice), req, "request-renewal", {"due_date": str(req.due_date)})
    assert response.status_code == 400
    assert "after the current due date" in response.json()["due_date"][0]


def test_a_return_by_mail_needs_tracking(api, request_in, alice):
    req = request_in("received")
    response = post(api(alice), req, "return", {"method": "mail"})
    assert response.status_code == 400
    assert response.json() == {
        "tracking_number": ["Items returned by mail need a tracking number."]
    }


def test_an_inactive_lender_cannot_be_sent_to(api, request_in, rita, lender):
    req = request_in("sourcing")
    lender.is_active = False
    lender.save()
    response = post(api(rita), req, "send-to-lender", {"lender": lender.pk})
    assert response.status_code == 400
    assert response.json() == {"lender": ["This lender is not active in the directory."]}


def test_the_library_reports_a_loan_not_arrived_once_its_days_have_passed(api, request_in, alice):
    too_soon = request_in("shipped", shipped_days_ago=13)  # Delivery: two weeks
    early = post(api(alice), too_soon, "not-arrived")
    assert early.status_code == 409
    assert "You can report it not arrived from" in early.json()["detail"]
    req = request_in("shipped", shipped_days_ago=14)
    response = post(api(alice), req, "not-arrived", {"note": "Nothing in Delivery"})
    assert response.status_code == 200
    assert (response.json()["flags"], response.json()["trace"]) == (["not_arrived"], "reported")
    again = post(api(alice), req, "not-arrived")
    assert again.status_code == 409 and again.json()["status"] == "shipped"
    assert "reported already" in again.json()["detail"]


def test_the_team_assigns_and_raises_the_max_cost(api, request_in, rita, admin_user):
    req = request_in("submitted")
    response = post(api(rita), req, "assign", {"assignee": "admin"})
    assert response.status_code == 200 and response.json()["assigned_to"] == "admin"
    response = post(api(rita), req, "assign", {"assignee": "alice"})
    assert response.status_code == 400
    assert response.json() == {"assignee": ["Requests go to active members of the team."]}
    response = post(api(rita), req, "max-cost", {"max_cost": "40.00", "reason": "Agreed"})
    assert response.status_code == 200 and response.json()["max_cost"] == "40.00"


def test_charges_are_recorded_by_the_team_and_read_by_the_library(api, request_in, rita, alice):
    req = request_in("shipped")
    response = api(rita).post(
        f"/api/v1/requests/{req.pk}/charges/",
        {"kind": "lending_fee", "amount": "30.00", "reference": "IFM 1"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["amount"] == "30.00" and response.json()["created_by"] == "rita"
    refused = api(alice).post(
        f"/api/v1/requests/{req.pk}/charges/", {"kind": "shipping", "amount": "1"}, format="json"
    )
    assert refused.status_code == 403
    bad = api(rita).post(
        f"/api/v1/requests/{req.pk}/charges/", {"kind": "bribe", "amount": "-1"}, format="json"
    )
    assert bad.status_code == 400 and set(bad.json()) == {"kind", "amount"}
    listed = api(alice).get(f"/api/v1/requests/{req.pk}/charges/").json()
    assert [c["kind"] for c in listed] == ["lending_fee"]
    shown = api(alice).get(f"/api/v1/requests/{req.pk}/").json()
    assert shown["charges_total"] == "30.00" and "over_max_cost" in shown["flags"]
    assert Charge.objects.get().amount == Decimal("30.00")


def test_messages_go_both_ways(api, request_in, rita, alice):
    req = request_in("submitted")
    sent = api(alice).post(
        f"/api/v1/requests/{req.pk}/messages/", {"body": "Any edition will do."}, format="json"
    )
    assert sent.status_code == 201 and sent.json()["author"] == "alice"
    api(rita).post(f"/api/v1/requests/{req.pk}/messages/", {"body": "Noted."}, format="json")
    listed = api(alice).get(f"/api/v1/requests/{req.pk}/messages/").json()
    assert [(m["author"], m["body"]) for m in listed] == [
        ("alice", "Any edition will do."),
        ("rita", "Noted."),
    ]
    empty = api(alice).post(f"/api/v1/requests/{req.pk}/messages/", {"body": " "}, format="json")
    assert empty.status_code == 400


CONTRACT_ACTIONS = [
    "receive", "request-renewal", "return", "cancel", "start-sourcing", "send-to-lender",
    "lender-unfilled", "ship", "answer-renewal", "mark-unfilled", "mark-lost", "complete",
]  # fmt: skip


def test_every_workflow_move_has_its_contracted_endpoint():
    from django.urls import reverse

    from requests_app.workflow import MOVES

    for slug in CONTRACT_ACTIONS:
        assert reverse(f"api:request-{slug}", args=[1]) == f"/api/v1/requests/1/{slug}/"
    assert {move.slug for move in MOVES.values()} <= set(action_endpoints())


def test_the_exceptions_and_corrections_go_through_the_api(api, request_in, alice, rita):
    """Each trace step and correction under its name, as the page offers it."""
    team = api(rita)
    missing = request_in("shipped", shipped_days_ago=20)
    for action, data, check in [
        ("trace", {"note": "Called the lender."}, lambda body: body["trace"] == "tracing"),
        (
            "replacement-shipped",
            {"shipped_on": str(TODAY), "due_date": str(TODAY + dt.timedelta(days=28)),
             "method": "mail", "tracking_number": "9400 3"},
            lambda body: body["shipping_tracking"] == "9400 3",
        ),
        ("cleared", {"note": "Came at last."}, lambda body: body["status"] == "received"),
        ("correct-receipt", {"received_on": str(TODAY), "note": "The slip's date."},
         lambda body: body["received_on"] == str(TODAY)),
        ("edit-item", {"oclc_number": "(OCoLC)123"}, lambda body: body["oclc_number"] == "123"),
        ("correct-shipment", {"lender_request_number": "ILL-9"},
         lambda body: body["lender_request_number"] == "ILL-9"),
        ("reopen", {"reason": "Received by mistake."}, lambda body: body["status"] == "shipped"),
    ]:  # fmt: skip
        response = post(team, missing, action, data)
        assert response.status_code == 200, (action, response.json())
        assert check(response.json()), action
    events = team.get(f"/api/v1/requests/{missing.pk}/events/").json()
    assert events[-1]["action"] == "reopen" and events[-1]["changes"]["received_on"][1] == ""

    returned = request_in("returned")
    response = post(team, returned, "correct-return", {"method": "mail", "tracking_number": "EZ"})
    assert response.status_code == 200 and response.json()["return_method"] == "mail"
    mine = request_in("submitted")
    assert post(api(alice), mine, "edit-item", {"title": "Corrected"}).json()["title"] == (
        "Corrected"
    )
    refused = post(api(alice), request_in("sourcing"), "edit-item", {"title": "Late"})
    assert refused.status_code == 409 and "ask them in a message" in refused.json()["detail"]
