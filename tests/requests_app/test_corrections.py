"""Corrections: the item, a shipment, a receipt and a return put right, and a step taken
by mistake taken back; each on the timeline with every field's before and after, each
checked as the step it corrects, and the reports follow."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.errors import NotAllowedNow
from requests_app import corrections, traces, workflow
from requests_app.models import BorrowingRequest, Notification
from requests_app.reports import queries as reports

TODAY = timezone.localdate


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def last_event(req: BorrowingRequest):
    return req.events.order_by("-id").first()


# --- The item ------------------------------------------------------------------------------


def test_the_team_adds_the_oclc_number_found_while_sourcing(request_in, rita):
    req = request_in("sourcing")
    corrections.edit_item(req.pk, actor=rita, citation={"oclc_number": "ocm00012345"})
    req.refresh_from_db()
    assert req.oclc_number == "12345"
    event = last_event(req)
    assert (event.action, event.actor, event.to_status) == ("edit_item", rita, "sourcing")
    assert event.changes == {"oclc_number": ["", "12345"]}
    assert event.note == "Item details corrected by the team."


def test_the_library_edits_the_item_only_while_it_is_submitted(request_in, alice, rita):
    submitted = request_in("submitted")
    corrections.edit_item(submitted.pk, actor=alice, citation={"title": "The Wampanoag Way, 2nd"})
    assert BorrowingRequest.objects.get(pk=submitted.pk).title == "The Wampanoag Way, 2nd"
    sourcing = request_in("sourcing")
    with pytest.raises(NotAllowedNow, match="ask them in a message"):
        corrections.edit_item(sourcing.pk, actor=alice, citation={"title": "Other"})
    completed = request_in("completed")
    with pytest.raises(NotAllowedNow, match="the request is completed"):
        corrections.edit_item(completed.pk, actor=rita, citation={"title": "Other"})


def test_an_edit_is_checked_as_a_submission_is_and_saves_nothing_when_refused(request_in, rita):
    req = request_in("sourcing")
    events = req.events.count()
    with pytest.raises(ValidationError) as refused:
        corrections.edit_item(
            req.pk, actor=rita, citation={"title": "", "isbn": "978-0-306-40615-8",
                                          "format": "article"},
        )  # fmt: skip
    assert set(refused.value.message_dict) == {"title", "isbn", "format"}
    req.refresh_from_db()
    assert (req.title, req.isbn, req.events.count()) == ("The Wampanoag Way", "", events)


def test_an_edit_that_changes_nothing_records_nothing(request_in, rita):
    req = request_in("sourcing")
    events = req.events.count()
    corrections.edit_item(req.pk, actor=rita, citation={"title": "The Wampanoag Way"})
    assert req.events.count() == events


def test_a_disc_edited_into_a_book_loses_its_region(request_in, rita):
    req = request_in("sourcing")
    corrections.edit_item(
        req.pk, actor=rita, citation={"format": "video", "dvd_region": "2", "video_encoding": "pal"}
    )
    corrections.edit_item(req.pk, actor=rita, citation={"format": "book"})
    req.refresh_from_db()
    assert (req.dvd_region, req.video_encoding) == ("", "")
    assert last_event(req).changes["dvd_region"] == ["2", ""]


# --- The shipment, the receipt, the return --------------------------------------------------


def test_a_shipment_is_corrected_field_by_field(request_in, rita):
    req = request_in("received")
    shipped_on, due = req.shipped_on, req.due_date
    corrections.correct_shipment(
        req.pk, actor=rita, shipped_on=shipped_on - days(1), tracking_number="9400 5",
        lender_request_number="ILL-777", note="Typed from the wrong slip.",
    )  # fmt: skip
    req.refresh_from_db()
    assert (req.shipped_on, req.due_date, req.shipping_tracking) == (
        shipped_on - days(1), due, "9400 5"
    )  # fmt: skip
    assert req.attempts.get().lender_request_number == "ILL-777"
    event = last_event(req)
    assert event.changes == {
        "shipped_on": [shipped_on.isoformat(), (shipped_on - days(1)).isoformat()],
        "shipping_tracking": ["", "9400 5"],
        "lender_request_number": [f"ILL-{req.pk:06d}", "ILL-777"],
    }
    assert event.note == "Shipment corrected. Typed from the wrong slip."


def test_a_corrected_shipment_is_still_possible(request_in, rita):
    req = request_in("received")
    with pytest.raises(ValidationError) as refused:
        corrections.correct_shipment(req.pk, actor=rita, shipped_on=req.received_on + days(1))
    assert "after it was received" in refused.value.message_dict["shipped_on"][0]
    with pytest.raises(ValidationError) as refused:
        corrections.correct_shipment(req.pk, actor=rita, due_date=req.shipped_on)
    assert refused.value.message_dict == {
        "due_date": ["The due date must be after the shipped-on date."]
    }
    before = BorrowingRequest.objects.get(pk=req.pk)
    assert (before.shipped_on, before.due_date) == (req.shipped_on, req.due_date)


def test_a_due_date_corrected_later_lifts_the_overdue_flag(request_in, rita):
    req = request_in("received", shipped_days_ago=40)
    BorrowingRequest.objects.filter(pk=req.pk).update(overdue_flagged_at=timezone.now())
    corrections.correct_shipment(req.pk, actor=rita, due_date=TODAY() + days(7))
    req.refresh_from_db()
    assert req.overdue_flagged_at is None


def test_a_receipt_is_corrected_between_the_shipment_and_the_return(request_in, rita):
    req = request_in("returned", shipped_days_ago=10)
    BorrowingRequest.objects.filter(pk=req.pk).update(returned_on=req.received_on + days(2))
    corrections.correct_receipt(req.pk, actor=rita, received_on=req.shipped_on)
    req.refresh_from_db()
    assert req.received_on == req.shipped_on
    for bad, words in [
        (req.shipped_on - days(1), "before it shipped"),
        (req.returned_on + days(1), "after it went back"),
    ]:
        with pytest.raises(ValidationError, match=words):
            corrections.correct_receipt(req.pk, actor=rita, received_on=bad)


def test_a_return_is_corrected_and_mail_still_needs_tracking(request_in, rita):
    req = request_in("returned")
    with pytest.raises(ValidationError) as refused:
        corrections.correct_return(req.pk, actor=rita, method="mail")
    assert refused.value.message_dict == {
        "tracking_number": ["Items returned by mail need a tracking number."]
    }
    corrections.correct_return(req.pk, actor=rita, method="mail", tracking_number="EZ 9")
    req.refresh_from_db()
    assert (req.return_method, req.return_tracking) == ("mail", "EZ 9")
    assert last_event(req).changes == {
        "return_method": ["delivery", "mail"], "return_tracking": ["", "EZ 9"]
    }  # fmt: skip


def test_corrections_are_the_teams(request_in, alice):
    req = request_in("returned")
    from core.errors import NotPermitted

    for correct, kwargs in [
        (corrections.correct_shipment, {"tracking_number": "1"}),
        (corrections.correct_receipt, {"received_on": req.received_on}),
        (corrections.correct_return, {"tracking_number": "1"}),
        (corrections.reopen, {"reason": "Oops"}),
    ]:
        with pytest.raises(NotPermitted):
            correct(req.pk, actor=alice, **kwargs)


# --- Reopen ------------------------------------------------------------------------------------


def test_reopen_takes_a_receipt_back_to_shipped(request_in, rita):
    req = request_in("received")
    corrections.reopen(req.pk, actor=rita, reason="Marked on the wrong request.")
    req.refresh_from_db()
    assert (req.status, req.received_on) == ("shipped", None)
    event = last_event(req)
    assert (event.from_status, event.to_status) == ("received", "shipped")
    assert event.note == "Back to shipped: Marked on the wrong request."
    assert event.changes["received_on"][1] == ""
    told = Notification.objects.get(request=req, kind="reopened")
    assert told.event == event


def test_reopen_takes_a_return_back_and_a_loss_back_to_where_it_was(request_in, rita):
    returned = request_in("returned")
    corrections.reopen(returned.pk, actor=rita, reason="Still on our shelf.")
    returned.refresh_from_db()
    assert (returned.status, returned.returned_on, returned.return_method) == ("received", None, "")

    lost = request_in("received")
    workflow.mark_lost(lost.pk, actor=rita)
    lost.refresh_from_db()
    assert lost.ended_at is not None
    corrections.reopen(lost.pk, actor=rita, reason="Found it under the desk.")
    lost.refresh_from_db()
    assert (lost.status, lost.ended_at) == ("received", None)


def test_reopen_brings_back_the_trace_a_clearing_ended(request_in, rita):
    req = request_in("shipped", shipped_days_ago=20)
    traces.trace(req.pk, actor=rita, note="Asked the lender.")
    traces.cleared(req.pk, actor=rita)
    corrections.reopen(req.pk, actor=rita, reason="That was another copy.")
    req.refresh_from_db()
    assert (req.status, req.trace, req.received_on) == ("shipped", "tracing", None)


def test_only_the_last_step_can_be_taken_back(request_in, rita):
    req = request_in("renewal_requested")
    workflow.answer_renewal(req.pk, actor=rita, approved=False)
    with pytest.raises(NotAllowedNow, match="from renewal requested to received"):
        corrections.reopen(req.pk, actor=rita, reason="Oops")


def test_reopen_needs_a_reason(request_in, rita):
    req = request_in("received")
    with pytest.raises(ValidationError) as refused:
        corrections.reopen(req.pk, actor=rita, reason="")
    assert refused.value.message_dict == {"reason": ["Say what was marked by mistake."]}
    assert BorrowingRequest.objects.get(pk=req.pk).status == "received"


# --- Reports follow ----------------------------------------------------------------------------


def test_a_corrected_receipt_changes_the_turnaround(request_in, rita, admin_user):
    req = request_in("completed", shipped_days_ago=20)
    scope = reports.Scope(admin_user, TODAY() - days(60), TODAY())

    def received_days() -> list:
        (row,) = reports.turnaround_by_library(scope)
        return [row.arrive_median]

    before = received_days()
    corrections.correct_receipt(req.pk, actor=rita, received_on=req.received_on + days(5))
    assert received_days() == [before[0] + 5]
