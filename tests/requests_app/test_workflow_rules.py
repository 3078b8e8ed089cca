"""The actions' own rules: dates, lenders, renewals, returns, and what each one records."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.errors import NotAllowedNow
from lenders.models import Lender
from requests_app import services, traces, workflow
from requests_app.flags import flags_of
from requests_app.models import LenderAttempt, Notification, RenewalRequest

TODAY = timezone.localdate


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def test_a_shipment_needs_a_due_date_after_the_shipped_on_date(request_in, rita):
    req = request_in("sent_to_lender")
    with pytest.raises(ValidationError) as refused:
        workflow.ship(req.pk, actor=rita, shipped_on=TODAY(), due_date=None, method="mail")
    assert "due_date" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        workflow.ship(req.pk, actor=rita, shipped_on=TODAY(), due_date=TODAY(), method="mail")
    assert "due_date" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        workflow.ship(
            req.pk,
            actor=rita,
            shipped_on=TODAY() + days(1),
            due_date=TODAY() + days(30),
            method="mail",
        )
    assert "shipped_on" in refused.value.message_dict
    req.refresh_from_db()
    assert req.status == "sent_to_lender"
    assert req.due_date is None


def test_shipping_records_the_loan_and_closes_the_attempt(request_in, rita, lender):
    req = request_in("sent_to_lender")
    workflow.ship(
        req.pk,
        actor=rita,
        shipped_on=TODAY(),
        due_date=TODAY() + days(28),
        method="mail",
        tracking_number=" 9400 1000 ",
    )
    req.refresh_from_db()
    assert (req.shipped_on, req.due_date, req.shipping_method, req.shipping_tracking) == (
        TODAY(),
        TODAY() + days(28),
        "mail",
        "9400 1000",
    )
    assert req.attempts.get().outcome == LenderAttempt.Outcome.SHIPPED
    assert Notification.objects.filter(request=req, kind="shipped", audience="library").exists()


def test_attempts_are_kept_in_order_when_a_lender_cannot_supply(request_in, rita, lender):
    second = Lender.objects.create(name="Dover Library", oclc_symbol="DOV", kind="out_of_state")
    req = request_in("sent_to_lender")
    with pytest.raises(ValidationError):
        workflow.lender_unfilled(req.pk, actor=rita, reason=" ")

    workflow.lender_unfilled(req.pk, actor=rita, reason="Non-circulating")
    req.refresh_from_db()
    assert req.status == "sourcing"
    assert req.lender is None
    workflow.send_to_lender(req.pk, actor=rita, lender=second, lender_request_number="OCLC-2")

    attempts = list(req.attempts.values_list("sequence", "lender__name", "outcome", "reason"))
    assert attempts == [
        (1, lender.name, "unfilled", "Non-circulating"),
        (2, "Dover Library", "pending", ""),
    ]
    req.refresh_from_db()
    assert (req.lender, req.lender_request_number) == (second, "OCLC-2")


def test_an_inactive_lender_cannot_be_sent_to(request_in, rita):
    gone = Lender.objects.create(name="Closed Library", kind="in_state", is_active=False)
    req = request_in("sourcing")
    with pytest.raises(ValidationError):
        workflow.send_to_lender(req.pk, actor=rita, lender=gone)
    req.refresh_from_db()
    assert req.status == "sourcing"
    assert not req.attempts.exists()


def test_received_on_cannot_be_before_shipping(request_in, alice):
    req = request_in("shipped", shipped_days_ago=5)
    with pytest.raises(ValidationError) as refused:
        workflow.mark_received(req.pk, actor=alice, received_on=TODAY() - days(6))
    assert "received_on" in refused.value.message_dict
    workflow.mark_received(req.pk, actor=alice)
    req.refresh_from_db()
    assert req.received_on == TODAY()


def test_a_renewal_must_ask_for_a_date_after_the_current_due_date(request_in, alice):
    req = request_in("received")
    for wanted in (req.due_date, req.due_date - days(1), None):
        with pytest.raises(ValidationError) as refused:
            workflow.request_renewal(req.pk, actor=alice, due_date=wanted)
        assert "due_date" in refused.value.message_dict
    req.refresh_from_db()
    assert req.status == "received"
    assert not req.renewals.exists()


def test_an_approved_renewal_moves_the_due_date(request_in, alice, rita):
    req = request_in("received")
    old_due = req.due_date
    workflow.request_renewal(req.pk, actor=alice, due_date=old_due + days(21))
    with pytest.raises(ValidationError):
        workflow.answer_renewal(req.pk, actor=rita, approved=True, due_date=None)

    workflow.answer_renewal(req.pk, actor=rita, approved=True, due_date=old_due + days(14))

    req.refresh_from_db()
    renewal = req.renewals.get()
    assert req.status == "received"
    assert req.due_date == old_due + days(14)
    assert (renewal.answer, renewal.new_due_date, renewal.answered_by) == (
        "approved",
        old_due + days(14),
        rita,
    )
    assert renewal.requested_due_date == old_due + days(21)
    kinds = list(Notification.objects.filter(request=req).values_list("kind", "audience"))
    assert ("renewal_requested", "team") in kinds
    assert ("renewal_answered", "library") in kinds


def test_a_denied_renewal_keeps_the_due_date(request_in, alice, rita):
    req = request_in("received")
    old_due = req.due_date
    workflow.request_renewal(req.pk, actor=alice, due_date=old_due + days(21))
    workflow.answer_renewal(req.pk, actor=rita, approved=False, note="High demand")
    req.refresh_from_db()
    assert req.due_date == old_due
    assert req.renewals.get().answer == RenewalRequest.Answer.DENIED
    assert req.events.last().note == "Renewal denied. High demand"


def test_returning_by_mail_needs_a_tracking_number(request_in, alice):
    req = request_in("received")
    with pytest.raises(ValidationError) as refused:
        workflow.mark_returned(req.pk, actor=alice, method="mail", tracking_number="  ")
    assert "tracking_number" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        workflow.mark_returned(req.pk, actor=alice, method="pigeon")
    assert "method" in refused.value.message_dict

    workflow.mark_returned(req.pk, actor=alice, method="mail", tracking_number="EZ123")
    req.refresh_from_db()
    assert (req.status, req.return_method, req.return_tracking, req.returned_on) == (
        "returned",
        "mail",
        "EZ123",
        TODAY(),
    )


@pytest.mark.parametrize("status", ["completed", "cancelled", "unfilled", "lost"])
def test_ending_a_request_stamps_when_it_ended(request_in, status):
    req = request_in(status)
    assert req.ended_at is not None
    assert req.is_final


def test_cancelling_while_with_a_lender_withdraws_the_attempt(request_in, alice):
    req = request_in("sent_to_lender")
    workflow.cancel(req.pk, actor=alice, reason="Bought a copy")
    assert req.attempts.get().outcome == LenderAttempt.Outcome.WITHDRAWN
    assert not Notification.objects.filter(request=req, kind="cancelled").exists()


def test_the_team_cancelling_tells_the_library(request_in, rita):
    req = request_in("submitted")
    workflow.cancel(req.pk, actor=rita, reason="Duplicate")
    assert Notification.objects.filter(request=req, kind="cancelled", audience="library").exists()


def test_a_rolled_back_change_leaves_no_event_and_no_notification(request_in, rita):
    req = request_in("sent_to_lender")
    events = req.events.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        workflow.ship(
            req.pk, actor=rita, shipped_on=TODAY(), due_date=TODAY() + days(28), method="mail"
        )
        raise RuntimeError("the caller's transaction fails after the move")
    req.refresh_from_db()
    assert req.status == "sent_to_lender"
    assert req.events.count() == events
    assert not Notification.objects.filter(request=req, kind="shipped").exists()


def test_an_item_cannot_go_back_before_it_arrived(request_in, alice):
    req = request_in("received", shipped_days_ago=10)
    with pytest.raises(ValidationError) as refused:
        workflow.mark_returned(
            req.pk, actor=alice, method="delivery", returned_on=req.received_on - days(1)
        )
    assert "returned_on" in refused.value.message_dict


def test_the_library_cancelling_tells_the_team(request_in, alice):
    req = request_in("sent_to_lender")
    workflow.cancel(req.pk, actor=alice)
    assert Notification.objects.filter(
        request=req, kind="cancelled_by_library", audience="team"
    ).exists()


def test_the_library_reports_a_missing_item_once(request_in, alice):
    req = request_in("shipped", shipped_days_ago=20)
    traces.report_not_arrived(req.pk, actor=alice, note="Not in Tuesday's bin")
    req.refresh_from_db()
    assert req.not_arrived_flagged_at is not None
    assert flags_of(req) == ["not_arrived"]
    assert req.events.last().note == "Reported not arrived. Not in Tuesday's bin"
    with pytest.raises(NotAllowedNow, match="reported already"):
        traces.report_not_arrived(req.pk, actor=alice)
    assert Notification.objects.filter(request=req, kind="not_arrived_reported").count() == 1


# --- The clock: steps recorded at a past moment (demo data, imports) ----------------------


def test_a_step_at_a_past_moment_keeps_the_timeline_in_order(request_in, rita):
    req = request_in("sent_to_lender")
    last = req.events.order_by("-at").first().at
    with pytest.raises(ValidationError) as refused:
        workflow.lender_unfilled(req.pk, actor=rita, reason="No copy", at=last - days(1))
    assert "before" in refused.value.message_dict["at"][0]
    with pytest.raises(ValidationError) as refused:
        workflow.lender_unfilled(req.pk, actor=rita, reason="No copy", at=timezone.now() + days(1))
    assert "future" in refused.value.message_dict["at"][0]
    with pytest.raises(ValueError, match="time zone"):
        workflow.lender_unfilled(req.pk, actor=rita, reason="No copy", at=timezone.make_naive(last))
    req.refresh_from_db()
    assert req.status == "sent_to_lender"


def test_a_charge_may_be_dated_among_the_steps_but_not_before_the_request(request_in, rita):
    req = request_in("shipped", shipped_days_ago=10)
    between = req.created_at + dt.timedelta(hours=1)
    assert between < req.events.order_by("-at").first().at
    charge = services.add_charge(
        req.pk, actor=rita, kind="lending_fee", amount=Decimal("5"), at=between
    )
    assert charge.created_at == between
    with pytest.raises(ValidationError) as refused:
        services.add_charge(
            req.pk,
            actor=rita,
            kind="lending_fee",
            amount=Decimal("5"),
            at=req.created_at - dt.timedelta(minutes=1),
        )
    assert "at" in refused.value.message_dict
    assert req.charges.count() == 1


def test_a_request_submitted_at_a_past_moment_judges_needed_by_from_that_day(alice, patron):
    submitted = timezone.now() - days(10)
    req = workflow.submit_request(
        actor=alice,
        library=alice.library,
        patron=patron,
        citation={"title": "An Old Request"},
        needed_by=TODAY() - days(5),
        at=submitted,
    )
    assert req.created_at == submitted
    with pytest.raises(ValidationError) as refused:
        workflow.submit_request(
            actor=alice,
            library=alice.library,
            patron=patron,
            citation={"title": "An Old Request"},
            needed_by=TODAY() - days(11),
            at=submitted,
        )
    assert "needed_by" in refused.value.message_dict
