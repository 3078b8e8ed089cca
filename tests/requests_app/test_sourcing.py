"""Lender strings and sourcing suggestions (docs/sourcing.md): the string's automatic steps,
typed and by ISO 18626, the lenders it skips and its running out; the ranking's reasons; and
that a library's staff see neither."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from lenders.models import AvailabilityReport, Lender
from members.models import User
from requests_app import flags, jobs, services, sourcing, workflow
from requests_app.models import (
    BorrowingRequest,
    LenderAttempt,
    LenderStringEntry,
    Notification,
    Status,
)
from requests_app.scenarios import drive_to, submit_for
from tests.iso18626 import partner

TODAY = timezone.localdate()
ISBN = "9780306406157"


def make_lender(symbol: str, name: str = "", **fields) -> Lender:
    fields.setdefault("email", f"ill@{symbol.lower()}.example.org")
    return Lender.objects.create(
        name=name or f"{symbol} Public Library", oclc_symbol=symbol, kind="in_state", **fields
    )


@pytest.fixture
def three():
    return [make_lender("AAA"), make_lender("BBB"), make_lender("CCC")]


@pytest.fixture
def sourcing_request(request_in):
    return request_in("sourcing")


def service_events(req):
    return list(
        req.events.filter(actor__username=User.SERVICE_USERNAME)
        .order_by("id")
        .values_list("action", "note")
    )


# --- The string's steps ---------------------------------------------------------------


def test_a_string_set_while_sourcing_goes_to_its_first_lender_at_once(
    sourcing_request, rita, three
):
    req = workflow.set_lender_string(sourcing_request.pk, actor=rita, lenders=three)
    assert (req.status, req.lender) == (Status.SENT_TO_LENDER, three[0])
    entries = LenderStringEntry.objects.filter(request=req).order_by("position")
    assert [(e.lender, e.state) for e in entries] == [
        (three[0], "sent"), (three[1], "waiting"), (three[2], "waiting"),
    ]  # fmt: skip
    set_event = req.events.get(action="set_lender_string")
    assert set_event.actor == rita and "1. AAA Public Library (AAA); 2. BBB" in set_event.note
    # The send is the service's step, saying why; the lender is asked by e-mail.
    assert service_events(req) == [
        (
            "send_to_lender",
            "Sent to AAA Public Library (AAA) (attempt 1). First in the lender string.",
        )
    ]
    asked = Notification.objects.get(request=req, audience="lender")
    assert (asked.kind, asked.lender) == ("lender_request", three[0])


def test_cannot_supply_typed_by_the_team_goes_on_to_the_next_lender(sourcing_request, rita, three):
    workflow.set_lender_string(sourcing_request.pk, actor=rita, lenders=three)
    req = workflow.lender_unfilled(sourcing_request.pk, actor=rita, reason="Missing")
    assert (req.status, req.lender) == (Status.SENT_TO_LENDER, three[1])
    attempts = LenderAttempt.objects.filter(request=req).order_by("sequence")
    assert [(a.lender, a.outcome) for a in attempts] == [
        (three[0], "unfilled"), (three[1], "pending"),
    ]  # fmt: skip
    unfilled = req.events.get(action="lender_unfilled")
    assert unfilled.actor == rita
    assert service_events(req)[-1] == (
        "send_to_lender",
        "Sent to BBB Public Library (BBB) (attempt 2). "
        "Next in the lender string after AAA Public Library (AAA).",
    )
    assert attempts[1].sent_by.username == User.SERVICE_USERNAME


def test_an_iso18626_unfilled_goes_on_to_the_next_lender(client, sourcing_request, rita):
    from requests_app.models import ExchangeMessage
    from tests.requests_app.test_iso18626_exchange import said

    first = partner()
    second = partner("Essex Athenaeum", agency="US-MA-ESX")
    workflow.set_lender_string(sourcing_request.pk, actor=rita, lenders=[first, second])
    said(client, sourcing_request, "Unfilled", reason_unfilled="NotHeld")
    req = sourcing_request
    req.refresh_from_db()
    assert (req.status, req.lender) == (Status.SENT_TO_LENDER, second)
    # The next lender is asked by its own ISO 18626 request, not by e-mail.
    asked = ExchangeMessage.objects.filter(request=req, direction="out", kind="request")
    assert [m.lender for m in asked.order_by("id")] == [first, second]
    assert not Notification.objects.filter(request=req, audience="lender").exists()
    assert service_events(req)[-1][0] == "send_to_lender"


def test_closed_not_lending_and_unreachable_lenders_are_skipped_with_why(
    sourcing_request, rita, three
):
    closed, not_lending, open_one = three
    AvailabilityReport.objects.create(
        lender=closed, closed_from=TODAY - dt.timedelta(days=1), closed_until=TODAY
    )
    AvailabilityReport.objects.create(lender=not_lending, lending=False)
    no_address = make_lender("DDD", email="")
    string = [closed, not_lending, no_address, open_one]
    req = workflow.set_lender_string(sourcing_request.pk, actor=rita, lenders=string)
    assert req.lender == open_one
    skipped = [note for action, note in service_events(req) if action == "string_skipped"]
    assert skipped == [
        f"Skipped AAA Public Library (AAA) in the lender string: closed "
        f"{TODAY - dt.timedelta(days=1):%Y-%m-%d} to {TODAY:%Y-%m-%d}.",
        f"Skipped BBB Public Library (BBB) in the lender string: not lending "
        f"(reported {TODAY:%Y-%m-%d}).",
        "Skipped DDD Public Library (DDD) in the lender string: it has no ISO 18626 "
        "address or e-mail to send the request to.",
    ]
    states = LenderStringEntry.objects.filter(request=req).order_by("position")
    assert [e.state for e in states] == ["skipped", "skipped", "skipped", "sent"]
    assert states[0].note.startswith("closed")


def test_a_string_that_runs_out_comes_back_to_the_team_flagged(
    client, sourcing_request, rita, three
):
    workflow.set_lender_string(sourcing_request.pk, actor=rita, lenders=three[:2])
    workflow.lender_unfilled(sourcing_request.pk, actor=rita, reason="Non-circulating")
    req = workflow.lender_unfilled(sourcing_request.pk, actor=rita, reason="Lost")
    assert (req.status, req.lender) == (Status.SOURCING, None)
    assert req.string_exhausted_at is not None
    assert flags.flags_of(req) == ["string_exhausted"]
    assert service_events(req)[-1] == (
        "string_exhausted",
        "The lender string ran out: choose the next lender.",
    )
    client.force_login(rita)
    queue = client.get("/queue/?flag=string_exhausted").content.decode()
    assert f"/requests/{req.pk}/" in queue
    # Sent on by hand, it is no longer flagged.
    req = workflow.send_to_lender(req.pk, actor=rita, lender=three[2])
    assert req.string_exhausted_at is None and flags.flags_of(req) == []


def test_a_new_string_drops_the_old_ones_waiting_lenders(sourcing_request, rita, three):
    workflow.set_lender_string(sourcing_request.pk, actor=rita, lenders=three)
    fourth = make_lender("EEE")
    workflow.set_lender_string(sourcing_request.pk, actor=rita, lenders=[fourth])
    states = LenderStringEntry.objects.filter(request=sourcing_request).order_by("position")
    assert [(e.lender, e.state) for e in states] == [
        (three[0], "sent"), (three[1], "dropped"), (three[2], "dropped"), (fourth, "waiting"),
    ]  # fmt: skip
    req = workflow.lender_unfilled(sourcing_request.pk, actor=rita, reason="No")
    assert req.lender == fourth


def test_the_lenders_email_names_the_item_and_where_to_ship_it_and_no_patron(
    sourcing_request, rita, three
):
    from requests_app.mail import compose

    workflow.set_lender_string(sourcing_request.pk, actor=rita, lenders=three)
    asked = Notification.objects.get(request=sourcing_request, audience="lender")
    recipient, subject, body, _ = compose(asked)
    assert recipient == "ill@aaa.example.org"
    assert subject == f"Interlibrary loan request #{sourcing_request.pk}: The Wampanoag Way"
    assert "Title: The Wampanoag Way" in body and "Please ship it to:" in body
    assert sourcing_request.library.name in body
    patron = sourcing_request.patron
    assert patron.name not in body and patron.card_number not in body


# --- Refusals ---------------------------------------------------------------------------


def string_post(api, user, req, lenders):
    return api(user).post(
        f"/api/v1/requests/{req.pk}/lender-string/", {"lenders": lenders}, format="json"
    )


def test_a_bad_string_is_a_400_on_lenders_and_changes_nothing(api, sourcing_request, rita, three):
    inactive = make_lender("ZZZ", is_active=False)
    extra = [make_lender(code) for code in ("FFF", "GGG", "HHH")]
    for lenders, words in [
        ([lender.pk for lender in three + extra], "5 lenders at most"),
        ([three[0].pk, three[0].pk], "in the string twice"),
        ([inactive.pk], "not active in the directory"),
        ([999_999], "Invalid pk"),
    ]:
        response = string_post(api, rita, sourcing_request, lenders)
        assert response.status_code == 400, lenders
        assert words in str(response.json()["lenders"]), response.json()
    sourcing_request.refresh_from_db()
    assert sourcing_request.status == Status.SOURCING
    assert not LenderStringEntry.objects.exists()
    assert not sourcing_request.events.filter(action="set_lender_string").exists()


def test_the_lender_that_has_it_cannot_be_in_its_string(api, request_in, rita, lender):
    req = request_in("sent_to_lender")
    response = string_post(api, rita, req, [lender.pk])
    assert response.status_code == 400 and "has the request now" in str(response.json())


def test_a_string_is_the_teams_and_only_while_a_lender_is_found(
    api, request_in, rita, alice, bob, three
):
    submitted = request_in("submitted")
    assert string_post(api, rita, submitted, [three[0].pk]).status_code == 409
    req = request_in("sourcing")
    assert string_post(api, alice, req, [three[0].pk]).status_code == 403
    assert string_post(api, bob, req, [three[0].pk]).status_code == 404
    ok = string_post(api, rita, req, [lender.pk for lender in three])
    assert ok.status_code == 200
    shown = ok.json()
    assert shown["status"] == "sent_to_lender" and shown["lender"] == three[0].pk
    assert [(e["lender"], e["state"]) for e in shown["lenders"]] == [
        (three[0].pk, "sent"), (three[1].pk, "waiting"), (three[2].pk, "waiting"),
    ]  # fmt: skip
    assert api(rita).get(f"/api/v1/requests/{req.pk}/lender-string/").json() == shown


def test_library_staff_see_neither_the_string_nor_the_suggestions(
    api, client, sourcing_request, rita, alice, three
):
    req = sourcing_request
    workflow.set_lender_string(req.pk, actor=rita, lenders=three)
    workflow.lender_unfilled(req.pk, actor=rita, reason="No")
    for path in ("lender-string", "suggested-lenders"):
        assert api(alice).get(f"/api/v1/requests/{req.pk}/{path}/").status_code == 403
    events = api(alice).get(f"/api/v1/requests/{req.pk}/events/").json()
    assert not {"set_lender_string", "string_skipped", "string_exhausted"} & {
        e["action"] for e in events
    }
    client.force_login(alice)
    page = client.get(f"/requests/{req.pk}/").content.decode()
    assert "Lender string" not in page and "Suggested lenders" not in page
    assert "CCC Public Library" not in page  # the string's next lender
    client.force_login(rita)
    page = client.get(f"/requests/{req.pk}/").content.decode()
    assert "Lender string" in page and "Suggested lenders" in page and "CCC Public" in page


# --- The page ---------------------------------------------------------------------------


def test_the_team_sets_a_string_on_the_page_by_oclc_symbols(client, sourcing_request, rita, three):
    client.force_login(rita)
    url = f"/requests/{sourcing_request.pk}/lender-string/"
    refused = client.post(url, {"lender-string-lender_1": "AAA", "lender-string-lender_2": "QQQ"})
    assert refused.status_code == 400
    assert "No lender has the OCLC symbol or number QQQ." in refused.content.decode()
    assert not LenderStringEntry.objects.exists()
    done = client.post(
        url,
        {"lender-string-lender_1": "bbb", "lender-string-lender_2": str(three[0].pk)},
        follow=True,
    )
    assert done.status_code == 200 and "Lender string set." in done.content.decode()
    sourcing_request.refresh_from_db()
    assert sourcing_request.lender == three[1]
    page = client.get(f"/requests/{sourcing_request.pk}/").content.decode()
    assert '<li>AAA Public Library (AAA): <span class="string-waiting">Next in the string' in page


# --- Suggestions --------------------------------------------------------------------------


def filled_by(lender, *, rita, alice, patron, item="", fmt="book", days_ago=30):
    """A loan of ``lender``'s, completed: of the ISBN ``ISBN``, or of OCLC number ``item``."""
    citation = {"title": f"Item {item}", "oclc_number": item} if item else {"isbn": ISBN}
    req = submit_for(
        "completed",
        shipped_days_ago=days_ago,
        actor=alice,
        library=alice.library,
        patron=patron,
        citation={"title": "Item", "format": fmt, **citation},
        duplicate_reason="Another patron",
    )
    return drive_to(
        req, "completed", team=rita, staff=alice, lender=lender, shipped_days_ago=days_ago
    )


def refused_by(lender, *, rita, alice, patron):
    req = submit_for(
        "sourcing", actor=alice, library=alice.library, patron=patron,
        citation={"title": "Item", "isbn": ISBN}, duplicate_reason="Another patron",
    )  # fmt: skip
    drive_to(req, "sourcing", team=rita, staff=alice, lender=lender)
    workflow.send_to_lender(req.pk, actor=rita, lender=lender)
    return workflow.lender_unfilled(req.pk, actor=rita, reason="Not on shelf")


def test_suggestions_rank_by_the_service_record_with_reasons(
    api, rita, alice, patron, sourcing_request
):
    had_it = make_lender("HAD", on_delivery=True)
    refused = make_lender("REF")
    steady = make_lender("STD")
    closed = make_lender("CLO")
    dear = make_lender("DER", charges_fees=True, usual_fee=Decimal("25.00"))
    people = {"rita": rita, "alice": alice, "patron": patron}
    filled_by(had_it, **people)
    refused_by(refused, **people)
    for n in range(3):
        filled_by(steady, item=f"10{n}", **people)
        filled_by(closed, item=f"20{n}", **people)
    costly = filled_by(dear, item="300", **people)
    services.add_charge(costly.pk, actor=rita, kind="lending_fee", amount=Decimal("25.00"))
    AvailabilityReport.objects.create(lender=closed, closed_from=TODAY, closed_until=None)
    jobs.record_lenders()

    wanted = submit_for(
        "sourcing", actor=alice, library=alice.library, patron=patron,
        citation={"title": "Same item, typed otherwise", "isbn": ISBN},
        max_cost=Decimal("10"), duplicate_reason="Another patron",
    )  # fmt: skip
    drive_to(wanted, "sourcing", team=rita, staff=alice, lender=steady)
    body = api(rita).get(f"/api/v1/requests/{wanted.pk}/suggested-lenders/").json()
    names = [s["name"] for s in body]
    assert names[0] == "HAD Public Library (HAD)"
    reasons = {s["name"][:3]: [r["words"] for r in s["reasons"]] for s in body}
    assert "Supplied this item before (once)" in reasons["HAD"]
    assert "On the Delivery route" in reasons["HAD"]
    assert "Said it cannot supply this item before (once)" in reasons["REF"]
    assert "Filled 3 of 3 books asked in the last year (100 %)" in reasons["STD"]
    assert any(words.startswith("Ships in") for words in reasons["STD"])
    assert f"Closed from {TODAY:%Y-%m-%d}" in reasons["CLO"]
    assert "Its loans usually cost 25.00, above the max cost 10.00" in reasons["DER"]
    assert names.index("HAD Public Library (HAD)") < names.index("STD Public Library (STD)")
    assert names.index("STD Public Library (STD)") < names.index("REF Public Library (REF)")
    assert names[-1] == "CLO Public Library (CLO)"  # cannot take it now: last
    assert not next(s for s in body if s["name"].startswith("CLO"))["usable"]


def test_the_ranking_weighs_each_fact():
    need = sourcing.Need(
        format="video", max_cost=Decimal("0"), needed_by=TODAY + dt.timedelta(days=10),
        on_delivery=True, today=TODAY,
    )  # fmt: skip
    good = sourcing.LenderFacts(1, "Good", sourcing.Record(asked=20, filled=18), on_delivery=True)
    poor = sourcing.LenderFacts(2, "Poor", sourcing.Record(asked=20, filled=4))
    fee = sourcing.LenderFacts(
        3, "Fee", sourcing.Record(asked=20, filled=18), directory_fee=Decimal("5")
    )
    reopens = sourcing.LenderFacts(
        4, "Reopens", sourcing.Record(asked=20, filled=18), cannot_take="closed a while",
        closed_until=TODAY + dt.timedelta(days=3),
    )  # fmt: skip
    ranked = sourcing.rank(need, [poor, fee, reopens, good])
    # A fee above the max cost weighs more than a poor fill rate: the library would pay.
    assert [s.name for s in ranked] == ["Good", "Reopens", "Poor", "Fee"]
    words = {s.name: [r.words for r in s.reasons] for s in ranked}
    assert "Filled 18 of 20 DVDs and Blu-rays asked in the last year (90 %)" in words["Good"]
    assert "Its fee is 5.00, above the max cost 0.00" in words["Fee"]
    assert "Closed a while: reopens before the needed-by date" in words["Reopens"]
    assert ranked[1].usable is False


def test_tally_takes_medians_of_the_filled():
    sent = TODAY - dt.timedelta(days=20)
    day = dt.timedelta(days=1)
    rows = [
        (1, "book", "shipped", sent, sent + 2 * day, sent + 6 * day, Decimal("0")),
        (1, "book", "shipped", sent, sent + 4 * day, None, Decimal("10")),
        (1, "book", "unfilled", sent, None, None, Decimal("0")),
        (2, "video", "unfilled", sent, None, None, Decimal("0")),
    ]  # fmt: skip
    records = sourcing.tally(rows)
    assert records[(1, "book")] == sourcing.Record(3, 2, 3.0, 4.0, Decimal("5"))
    assert records[(2, "video")] == sourcing.Record(1, 0, None, None, None)


def test_the_suggestions_cost_the_same_queries_at_any_number_of_lenders(
    api, rita, alice, patron, sourcing_request
):
    people = {"rita": rita, "alice": alice, "patron": patron}

    def queries() -> int:
        jobs.record_lenders()
        req = BorrowingRequest.objects.select_related("library").get(pk=sourcing_request.pk)
        with CaptureQueriesContext(connection) as captured:
            sourcing.suggested_lenders(req)
        return len(captured)

    filled_by(make_lender("L00"), **people)
    few = queries()
    for n in range(1, 8):
        filled_by(make_lender(f"L{n:02}"), item=f"40{n}", **people)
    assert queries() == few == 3
