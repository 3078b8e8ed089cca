"""A loan that has not arrived: reported once its shipping method's days have passed,
traced with the lender, replaced, cleared or lost; each step where the library sees it and
the queue filters on it."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.errors import NotAllowedNow
from requests_app import jobs, traces, workflow
from requests_app.models import BorrowingRequest, Notification

TODAY = timezone.localdate


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def by_mail(req: BorrowingRequest) -> BorrowingRequest:
    BorrowingRequest.objects.filter(pk=req.pk).update(shipping_method="mail")
    req.refresh_from_db()
    return req


def flagged(req: BorrowingRequest) -> BorrowingRequest:
    """As the not-arrived job leaves a loan: flagged, nobody on it yet."""
    BorrowingRequest.objects.filter(pk=req.pk).update(not_arrived_flagged_at=timezone.now())
    req.refresh_from_db()
    return req


# --- The library's report --------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "shipped_days_ago", "allowed"),
    [("delivery", 13, False), ("delivery", 14, True), ("mail", 20, False), ("mail", 21, True)],
)
def test_the_library_reports_once_its_methods_days_have_passed(
    request_in, alice, method, shipped_days_ago, allowed
):
    req = request_in("shipped", shipped_days_ago=shipped_days_ago)
    if method == "mail":
        req = by_mail(req)
    if allowed:
        traces.report_not_arrived(req.pk, actor=alice)
        req.refresh_from_db()
        assert req.trace == "reported"
    else:
        first_day = req.shipped_on + days(14 if method == "delivery" else 21)
        with pytest.raises(NotAllowedNow, match=f"from {first_day:%Y-%m-%d}"):
            traces.report_not_arrived(req.pk, actor=alice)
        assert "report_not_arrived" not in workflow.allowed_actions(req, alice)


def test_the_days_are_a_setting_by_method(request_in, alice, settings):
    settings.ILLDESK_NOT_ARRIVED_DAYS = {"delivery": 7, "mail": 10}
    req = request_in("shipped", shipped_days_ago=7)
    traces.report_not_arrived(req.pk, actor=alice)
    assert BorrowingRequest.objects.get(pk=req.pk).trace == "reported"


def test_a_loan_the_job_flagged_can_still_be_reported_once(request_in, alice):
    req = request_in("shipped", shipped_days_ago=15)
    assert jobs.flag_not_arrived().count == 1
    req.refresh_from_db()
    assert traces.step_of(req) == "flagged"
    stamp = req.not_arrived_flagged_at
    traces.report_not_arrived(req.pk, actor=alice, note="Not in the bin")
    req.refresh_from_db()
    assert (req.trace, req.not_arrived_flagged_at) == ("reported", stamp)  # the job's stamp
    with pytest.raises(NotAllowedNow, match="reported already"):
        traces.report_not_arrived(req.pk, actor=alice)
    told = Notification.objects.get(kind="not_arrived_reported")
    assert told.event.note == "Reported not arrived. Not in the bin"


# --- The team's trace ------------------------------------------------------------------------


def test_a_trace_says_whom_the_team_asked_and_flags_the_loan(request_in, rita):
    req = request_in("shipped")
    with pytest.raises(ValidationError) as refused:
        traces.trace(req.pk, actor=rita, note=" ")
    assert refused.value.message_dict == {"note": ["Say whom you contacted and what they said."]}
    traces.trace(req.pk, actor=rita, note="Called the lender: shipped on the 3rd.")
    req.refresh_from_db()
    assert req.trace == "tracing" and req.not_arrived_flagged_at is not None
    event = req.events.latest("id")
    assert (event.action, event.changes) == ("trace", {"trace": ["", "tracing"]})


def test_a_replacement_becomes_the_shipment_and_the_first_stays_in_the_timeline(
    request_in, rita, alice
):
    req = traces.report_not_arrived(request_in("shipped", shipped_days_ago=16).pk, actor=alice)
    first = (req.shipped_on, req.due_date, req.shipping_method)
    traces.replacement_shipped(
        req.pk, actor=rita, shipped_on=TODAY(), due_date=TODAY() + days(30), method="mail",
        tracking_number="9400 77", note="The first is lost in the post.",
    )  # fmt: skip
    req.refresh_from_db()
    assert (req.status, req.trace, req.shipped_on, req.shipping_tracking) == (
        "shipped", "replacement_shipped", TODAY(), "9400 77"
    )  # fmt: skip
    changes = req.events.latest("id").changes
    assert changes["shipped_on"] == [first[0].isoformat(), TODAY().isoformat()]
    assert changes["due_date"] == [first[1].isoformat(), (TODAY() + days(30)).isoformat()]
    assert changes["shipping_method"] == [first[2], "mail"]
    assert Notification.objects.filter(request=req, kind="replacement_shipped").exists()


def test_a_replacement_ships_after_the_first_and_needs_an_open_trace(request_in, rita):
    quiet = request_in("shipped")
    with pytest.raises(NotAllowedNow, match="No trace is open"):
        traces.replacement_shipped(
            quiet.pk, actor=rita, shipped_on=TODAY(), due_date=TODAY() + days(9), method="mail"
        )
    req = flagged(request_in("shipped", shipped_days_ago=20))
    with pytest.raises(ValidationError) as refused:
        traces.replacement_shipped(
            req.pk, actor=rita, shipped_on=req.shipped_on - days(1),
            due_date=TODAY() + days(9), method="mail",
        )  # fmt: skip
    assert "after the first shipment" in refused.value.message_dict["shipped_on"][0]


def test_cleared_receives_it_for_the_library_and_ends_the_trace(request_in, rita):
    req = flagged(request_in("shipped", shipped_days_ago=20))
    traces.cleared(req.pk, actor=rita, note="On the Delivery shelf.")
    req.refresh_from_db()
    assert (req.status, req.trace, req.received_on) == ("received", "cleared", TODAY())
    assert req.events.latest("id").note == "It turned up. On the Delivery shelf."


def test_the_library_marking_it_received_clears_the_trace(request_in, alice, rita):
    req = request_in("shipped", shipped_days_ago=20)
    traces.trace(req.pk, actor=rita, note="Asked the lender.")
    workflow.mark_received(req.pk, actor=alice)
    req.refresh_from_db()
    assert (req.status, req.trace) == ("received", "cleared")


def test_lost_ends_the_trace_lost(request_in, rita):
    req = request_in("shipped", shipped_days_ago=20)
    traces.trace(req.pk, actor=rita, note="The lender never sent it.")
    workflow.mark_lost(req.pk, actor=rita)
    req.refresh_from_db()
    assert (req.status, req.trace) == ("lost", "lost")


# --- Where the library and the queue see it -----------------------------------------------


def test_the_library_sees_the_step_and_when_it_may_report(client, alice, rita, request_in):
    client.force_login(alice)
    soon = request_in("shipped", shipped_days_ago=5)
    page = client.get(f"/requests/{soon.pk}/").content.decode()
    reportable = (soon.shipped_on + days(14)).isoformat()
    assert f"from {reportable} you can report it not arrived" in page
    traced = request_in("shipped", shipped_days_ago=20)
    traces.trace(traced.pk, actor=rita, note="Asked the lender.")
    page = client.get(f"/requests/{traced.pk}/").content.decode()
    assert "Trace: Tracing" in page
    assert traces.STEP_WORDS["tracing"] in page


@pytest.mark.parametrize("step", [step for step, _label in traces.STEP_CHOICES])
def test_the_queue_and_the_api_filter_on_each_step(client, api, rita, alice, request_in, step):
    by_step = {
        "flagged": lambda req: flagged(req),
        "reported": lambda req: traces.report_not_arrived(req.pk, actor=alice),
        "tracing": lambda req: traces.trace(req.pk, actor=rita, note="Asked."),
        "replacement_shipped": lambda req: traces.replacement_shipped(
            flagged(req).pk,
            actor=rita,
            shipped_on=TODAY(),
            due_date=TODAY() + days(20),
            method="mail",
        ),  # fmt: skip
        "cleared": lambda req: traces.cleared(flagged(req).pk, actor=rita),
        "lost": lambda req: workflow.mark_lost(
            traces.trace(req.pk, actor=rita, note="Gone.").pk, actor=rita
        ),
    }
    made = {
        name: make(request_in("shipped", shipped_days_ago=20)) for name, make in by_step.items()
    }
    request_in("shipped", shipped_days_ago=20)  # never traced
    client.force_login(rita)
    page = client.get(f"/queue/?status=all&trace={step}")
    assert [req.pk for req in page.context["page"]] == [made[step].pk]
    # Each row says where a trace the team still works stands.
    badge = f"Trace: {traces.STEP_BADGES[step]}"
    assert (badge in page.content.decode()) == (step in traces.OPEN_STEPS)
    listed = api(rita).get(f"/api/v1/requests/?trace={step}").json()["results"]
    assert [req["id"] for req in listed] == [made[step].pk]


def test_the_trace_filter_uses_its_index(rita, request_in):
    """``request_traced`` serves a stored step: the plan names it (PostgreSQL only)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the plan is PostgreSQL's")
    from requests_app import selectors

    request_in("shipped", shipped_days_ago=20)
    query = selectors.with_trace_step(BorrowingRequest.objects.all(), "tracing").order_by(
        "-created_at"
    )
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a test table is small
    plan = query.explain()
    assert "request_traced" in plan, plan


def test_the_team_receives_a_traced_loan_by_its_trace_step(client, rita, request_in):
    req = flagged(request_in("shipped", shipped_days_ago=20))
    client.force_login(rita)
    page = client.get(f"/requests/{req.pk}/")
    slugs = [action.slug for action, _ in page.context["next_steps"]]
    assert "receive" not in slugs
    assert slugs[:3] == ["trace", "replacement-shipped", "cleared"]
