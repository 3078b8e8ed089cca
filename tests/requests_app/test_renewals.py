"""A pending renewal does not freeze the loan: the library may withdraw it or send the
item back, and both sides see what was asked and when."""

import pytest
from django.utils import timezone

from requests_app import corrections, workflow
from requests_app.models import Notification, RenewalRequest, Status

WITHDRAWN = RenewalRequest.Answer.WITHDRAWN


def pending_renewal(req):
    return req.renewals.get()


def test_returning_the_item_withdraws_the_renewal_and_tells_the_team(request_in, alice):
    req = request_in("renewal_requested")
    asked = pending_renewal(req).requested_due_date

    workflow.mark_returned(req.pk, actor=alice, method="delivery")

    req.refresh_from_db()
    renewal = pending_renewal(req)
    assert req.status == Status.RETURNED
    assert (renewal.answer, renewal.answered_by, renewal.note) == (
        WITHDRAWN,
        alice,
        "Returned before the lender answered.",
    )
    event = req.events.latest("at", "id")
    assert event.from_status == Status.RENEWAL_REQUESTED
    assert f"The renewal to {asked:%Y-%m-%d} is withdrawn." in event.note
    told = Notification.objects.get(request=req, kind="renewal_withdrawn")
    assert (told.audience, told.event) == (Notification.Audience.TEAM, event)


def test_withdrawing_keeps_the_due_date_and_a_new_renewal_may_be_asked(request_in, alice):
    req = request_in("renewal_requested")
    due = req.due_date

    workflow.withdraw_renewal(req.pk, actor=alice, note="The patron finished early.")

    req.refresh_from_db()
    assert (req.status, req.due_date) == (Status.RECEIVED, due)
    renewal = pending_renewal(req)
    assert (renewal.answer, renewal.note) == (WITHDRAWN, "The patron finished early.")
    assert req.events.latest("at", "id").note.startswith("Renewal to ")
    assert Notification.objects.filter(request=req, kind="renewal_withdrawn").count() == 1
    workflow.request_renewal(req.pk, actor=alice, due_date=renewal.requested_due_date)
    assert req.renewals.filter(answer=RenewalRequest.Answer.PENDING).count() == 1


def test_a_loss_closes_the_renewal_it_was_waiting_on(request_in, rita):
    req = request_in("renewal_requested")
    workflow.mark_lost(req.pk, actor=rita, note="Patron moved away.")
    assert pending_renewal(req).answer == WITHDRAWN


def test_reopening_such_a_return_goes_back_to_received(request_in, alice, rita):
    """The return withdrew the renewal: taking the return back leaves a loan with no
    renewal pending, so it is received, not waiting for an answer nobody will record."""
    req = request_in("renewal_requested")
    workflow.mark_returned(req.pk, actor=alice, method="delivery")
    corrections.reopen(req.pk, actor=rita, reason="Marked returned on the wrong request.")
    req.refresh_from_db()
    assert req.status == Status.RECEIVED


def test_a_loss_recorded_before_losses_closed_renewals_is_reopened_cleanly(request_in, rita, alice):
    """A loss recorded before mark_lost closed pending renewals left one pending: reopening
    it must not leave a received loan with a renewal nobody can answer or ask again."""
    req = request_in("renewal_requested")
    workflow.mark_lost(req.pk, actor=rita)
    RenewalRequest.objects.filter(request=req).update(
        answer=RenewalRequest.Answer.PENDING, answered_by=None, answered_at=None, note=""
    )
    corrections.reopen(req.pk, actor=rita, reason="Found on the sorting shelf.")
    req.refresh_from_db()
    assert req.status == Status.RECEIVED
    assert not req.renewals.filter(answer=RenewalRequest.Answer.PENDING).exists()
    later = pending_renewal(req).requested_due_date
    workflow.request_renewal(req.pk, actor=alice, due_date=later)


def test_the_page_says_what_was_asked_and_offers_both_ways_out(client, request_in, alice):
    req = request_in("renewal_requested")
    renewal = pending_renewal(req)
    client.force_login(alice)
    page = client.get(f"/requests/{req.pk}/").content.decode()
    assert (
        f"to {renewal.requested_due_date:%Y-%m-%d}, "
        f"asked on {timezone.localtime(renewal.requested_at):%Y-%m-%d}; "
        "waiting for the lender."
    ) in page
    assert "Withdraw the renewal request" in page and "Mark returned" in page

    done = client.post(f"/requests/{req.pk}/withdraw-renewal/", {"withdraw-renewal-note": ""})
    assert done.status_code == 302
    req.refresh_from_db()
    assert req.status == Status.RECEIVED


def test_the_teams_answer_is_filled_in_with_the_date_asked_for(client, request_in, rita):
    req = request_in("renewal_requested")
    client.force_login(rita)
    page = client.get(f"/requests/{req.pk}/")
    forms = dict(page.context["actions"])
    answer = next(form for action, form in forms.items() if action.slug == "answer-renewal")
    assert answer.initial == {"due_date": pending_renewal(req).requested_due_date}


@pytest.mark.parametrize("action", ["withdraw-renewal", "return"])
def test_the_api_offers_both_and_withdraws(api, request_in, alice, action):
    req = request_in("renewal_requested")
    body = {"method": "delivery"} if action == "return" else {"note": ""}
    answer = api(alice).post(f"/api/v1/requests/{req.pk}/{action}/", body, format="json")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["renewals"][0]["answer"] == "withdrawn"
    again = api(alice).post(f"/api/v1/requests/{req.pk}/withdraw-renewal/", {}, format="json")
    assert again.status_code == 409
