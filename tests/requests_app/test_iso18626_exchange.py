"""The exchange with a lender over ISO 18626: what illdesk sends (after commit, retried,
given up and flagged), and what a lender's messages do to a request, through the same
workflow as the pages (docs/iso18626.md)."""

import datetime as dt
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from members.models import User
from members.selectors import team_members
from members.services import service_account
from requests_app import services, workflow
from requests_app.iso18626 import messages, outbox
from requests_app.models import (
    ExchangeMessage,
    LenderAttempt,
    Notification,
    ShippingMethod,
    Status,
    StatusEvent,
)
from tests.iso18626 import PASSWORD, basic, lender_message, partner

pytestmark = pytest.mark.django_db
OK = "<messageStatus>OK</messageStatus>"
ERROR = "<messageStatus>ERROR</messageStatus>"


@pytest.fixture
def carver(db):
    return partner()


@pytest.fixture
def sent(request_in, rita, carver):
    """A request sent to the exchanging lender Carver, its ``request`` message queued."""
    req = request_in("sourcing")
    return workflow.send_to_lender(req.pk, actor=rita, lender=carver)


def post(client, body: bytes, agency: str = "US-MA-MYS", password: str = PASSWORD):
    return client.post(
        "/iso18626/", data=body, content_type="application/xml",
        HTTP_AUTHORIZATION=basic(agency, password),
    )  # fmt: skip


def said(client, req, status, **fields):
    """Post the lender's message about ``req``; the answer's text."""
    response = post(client, lender_message(f"illdesk-{req.pk}", status, **fields))
    assert response.status_code == 200
    assert messages.schema_errors(response.content) == []
    return response.content.decode()


def loaned(client, req, **fields):
    fields = {
        "sent": timezone.now(),
        "due": timezone.localdate() + dt.timedelta(days=28),
        "sent_via": "Delivery",
        "note": "Tracking: 1Z999AA10123456784",
    } | fields
    return said(client, req, "Loaned", **fields)


# --- Outbound ------------------------------------------------------------------------------


def test_sending_to_a_partner_queues_a_request_message_with_no_patron_in_it(sent, patron):
    message = ExchangeMessage.objects.get(request=sent)
    assert (message.direction, message.kind, message.state) == ("out", "request", "pending")
    assert messages.schema_errors(message.body.encode()) == []
    assert f"illdesk-{sent.pk}" in message.body
    assert patron.name not in message.body and patron.card_number not in message.body


def test_a_lender_that_does_not_exchange_gets_no_message(request_in, rita, lender):
    req = request_in("sourcing")
    workflow.send_to_lender(req.pk, actor=rita, lender=lender)
    assert not ExchangeMessage.objects.exists()


class Lending(BaseHTTPRequestHandler):
    """A lender's endpoint that records what it is sent and answers ``answer``."""

    answer = b""
    received: list[tuple[str, bytes]] = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.headers.get("Authorization", ""), body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(type(self).answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def lending_server():
    """A lender's ISO 18626 endpoint on a free port; ``(address, handler class)``."""
    handler = type("Handler", (Lending,), {"received": []})
    handler.answer = confirmation("OK")
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/iso", handler
    server.shutdown()
    server.server_close()


def confirmation(status: str, error: str = "") -> bytes:
    error_data = (
        f"<errorData><errorType>UnrecognisedDataValue</errorType><errorValue>{error}</errorValue>"
        "</errorData>"
        if error
        else ""
    )
    return (
        f'<ISO18626Message xmlns="{messages.NAMESPACE}"><requestConfirmation><confirmationHeader>'
        "<timestamp>2026-12-05T10:00:00Z</timestamp><timestampReceived>2026-12-05T10:00:00Z"
        f"</timestampReceived><messageStatus>{status}</messageStatus></confirmationHeader>"
        f"{error_data}</requestConfirmation></ISO18626Message>"
    ).encode()


def test_a_message_is_posted_once_as_illdesk_with_the_lenders_password(
    sent, carver, lending_server, settings
):
    address, handler = lending_server
    carver.iso18626_address = address
    carver.save()
    message = ExchangeMessage.objects.get(request=sent)

    assert outbox.deliver(message.pk) == "sent"
    assert outbox.deliver(message.pk) == "not ready, already sent or being sent"

    assert len(handler.received) == 1
    authorization, body = handler.received[0]
    assert authorization == basic(settings.ILLDESK_AGENCY_ID_VALUE, PASSWORD)
    assert body.decode() == message.body
    message.refresh_from_db()
    assert message.state == "sent" and OK in message.answer and message.attempts == 1


def test_an_unreachable_lender_is_tried_again_then_given_up_and_the_request_flagged(sent):
    message = ExchangeMessage.objects.get(request=sent)  # Carver's address: port 9, closed
    assert outbox.deliver(message.pk) == "failed; will retry"
    message.refresh_from_db()
    assert message.state == "pending" and message.not_before > timezone.now()
    assert outbox.deliver(message.pk) == "not ready, already sent or being sent"  # backing off

    for _ in range(outbox.MAX_ATTEMPTS - 1):
        ExchangeMessage.objects.filter(pk=message.pk).update(not_before=None)
        result = outbox.deliver(message.pk)
    assert result == "failed; given up"
    message.refresh_from_db()
    assert message.state == "failed" and message.attempts == outbox.MAX_ATTEMPTS
    sent.refresh_from_db()
    assert sent.exchange_failed_at is not None
    event = StatusEvent.objects.get(request=sent, action="exchange_failed")
    assert "Request to Mystic Seaport Library" in event.note
    assert Notification.objects.filter(request=sent, kind="exchange_failed", audience="team")


def test_a_lender_that_refuses_a_message_flags_the_request_at_once(sent, carver, lending_server):
    address, handler = lending_server
    handler.answer = confirmation("ERROR", "We do not know this title")
    carver.iso18626_address = address
    carver.save()
    message = ExchangeMessage.objects.get(request=sent)

    assert outbox.deliver(message.pk) == "refused"
    message.refresh_from_db()
    assert message.state == "failed" and "We do not know this title" in message.error
    sent.refresh_from_db()
    assert sent.exchange_failed_at is not None


def test_the_library_and_the_team_tell_the_lender_of_their_steps(client, sent, alice, rita):
    loaned(client, sent)
    workflow.mark_received(sent.pk, actor=alice)
    workflow.request_renewal(
        sent.pk, actor=alice, due_date=timezone.localdate() + dt.timedelta(days=60)
    )
    workflow.mark_returned(sent.pk, actor=alice, method="mail", tracking_number="9400 1000")
    services.message_lender(sent.pk, actor=rita, body="It went back in a padded bag.")

    out = ExchangeMessage.objects.filter(request=sent, direction="out").order_by("id")
    assert [m.what for m in out] == [
        "Request",
        "Received",
        "Renew",
        "ShippedReturn",
        "Notification",
    ]
    for message in out:
        assert messages.schema_errors(message.body.encode()) == []
    assert "tracking 9400 1000" in out[3].body
    assert "It went back in a padded bag." in out[4].body


def test_a_cancel_tells_the_lender_without_the_librarys_reason(sent, alice):
    workflow.cancel(sent.pk, actor=alice, reason="Pat Reader found a copy")
    cancel = ExchangeMessage.objects.get(request=sent, what="Cancel")
    assert "<action>Cancel</action>" in cancel.body and "Pat" not in cancel.body


def test_only_a_lender_that_exchanges_can_be_messaged(request_in, rita):
    req = request_in("sent_to_lender")
    with pytest.raises(workflow.NotAllowedNow):
        services.message_lender(req.pk, actor=rita, body="Hello")


# --- Inbound: what each status does -------------------------------------------------------


def test_loaned_ships_the_request_with_its_dates_method_tracking_and_fee(client, sent):
    due = timezone.localdate() + dt.timedelta(days=28)
    answer = loaned(client, sent, due=due, costs="12.50")

    assert OK in answer
    sent.refresh_from_db()
    assert sent.status == Status.SHIPPED
    assert (sent.shipped_on, sent.due_date) == (timezone.localdate(), due)
    assert sent.shipping_method == ShippingMethod.DELIVERY
    assert sent.shipping_tracking == "1Z999AA10123456784"
    assert sent.charges_total == Decimal("12.50")
    event = StatusEvent.objects.get(request=sent, action="ship")
    assert event.actor.username == User.SERVICE_USERNAME
    record = ExchangeMessage.objects.get(request=sent, direction="in")
    assert (record.what, record.state) == ("Loaned", "accepted")
    assert "Shipped" in record.summary and OK in record.answer
    assert Notification.objects.filter(request=sent, kind="shipped", audience="library")


def test_a_fee_over_the_max_cost_is_flagged(client, sent):
    loaned(client, sent, costs="40.00")
    sent.refresh_from_db()
    assert sent.charges_total > sent.max_cost
    assert "over_max_cost" in workflow_flags(sent)


def workflow_flags(req):
    from requests_app.flags import flags_of

    return flags_of(req)


def test_the_same_message_again_changes_nothing(client, sent):
    now = timezone.now()
    loan = {
        "sent": now, "last_change": now, "costs": "5.00",
        "due": timezone.localdate() + dt.timedelta(days=20),
    }  # fmt: skip
    first = lender_message(f"illdesk-{sent.pk}", "Loaned", **loan)
    assert OK in post(client, first).content.decode()
    assert OK in post(client, first).content.decode()  # the very same bytes
    restamped = lender_message(
        f"illdesk-{sent.pk}", "Loaned", timestamp=now + dt.timedelta(minutes=3), **loan
    )
    assert OK in post(client, restamped).content.decode()

    assert StatusEvent.objects.filter(request=sent, action="ship").count() == 1
    sent.refresh_from_db()
    assert sent.charges_total == Decimal("5.00")
    # The exact copy is not even recorded; the restamped one is, as changing nothing.
    received = ExchangeMessage.objects.filter(request=sent, direction="in").order_by("id")
    assert [m.summary.split(".")[0] for m in received][1:] == ["Shipped already: nothing changed"]


def test_unfilled_sends_the_request_back_to_sourcing_with_the_lenders_reason(client, sent):
    answer = said(
        client, sent, "Unfilled", reason="RequestResponse",
        reason_unfilled="NotAvailableForILL", note="On reserve",
    )  # fmt: skip
    assert OK in answer
    sent.refresh_from_db()
    assert sent.status == Status.SOURCING and sent.lender is None
    attempt = LenderAttempt.objects.get(request=sent)
    assert attempt.outcome == "unfilled" and "NotAvailableForILL On reserve" in attempt.reason


@pytest.mark.parametrize("status", ["RequestReceived", "ExpectToSupply", "WillSupply"])
def test_the_lenders_progress_is_noted_on_the_timeline(client, sent, status):
    assert OK in said(client, sent, status, reason="RequestResponse")
    sent.refresh_from_db()
    assert sent.status == Status.SENT_TO_LENDER
    note = StatusEvent.objects.get(request=sent, action="lender_status").note
    assert note.startswith("Mystic Seaport Library ")


def test_a_renewal_answered_yes_moves_the_due_date_and_no_keeps_it(client, sent, alice):
    loaned(client, sent)
    workflow.mark_received(sent.pk, actor=alice)
    asked = timezone.localdate() + dt.timedelta(days=50)
    workflow.request_renewal(sent.pk, actor=alice, due_date=asked)
    assert OK in said(client, sent, "Loaned", reason="RenewResponse", answer="Y", due=asked)
    sent.refresh_from_db()
    assert (sent.status, sent.due_date) == (Status.RECEIVED, asked)

    workflow.request_renewal(sent.pk, actor=alice, due_date=asked + dt.timedelta(days=9))
    assert OK in said(client, sent, "Loaned", reason="RenewResponse", answer="N")
    sent.refresh_from_db()
    assert (sent.status, sent.due_date) == (Status.RECEIVED, asked)
    assert sent.renewals.filter(answer="denied").count() == 1


def test_a_recall_moves_the_due_date_flags_the_loan_and_tells_the_library(client, sent, alice):
    loaned(client, sent)
    workflow.mark_received(sent.pk, actor=alice)
    sooner = timezone.localdate() + dt.timedelta(days=5)
    assert OK in said(client, sent, "Recalled", due=sooner)
    sent.refresh_from_db()
    assert sent.due_date == sooner and "recalled" in workflow_flags(sent)
    assert Notification.objects.filter(request=sent, kind="recalled", audience="library")


def test_an_overdue_notice_flags_the_loan(client, sent, alice):
    loaned(client, sent)
    workflow.mark_received(sent.pk, actor=alice)
    assert OK in said(client, sent, "Overdue")
    sent.refresh_from_db()
    assert sent.overdue_flagged_at is not None
    assert StatusEvent.objects.filter(request=sent, action="lender_overdue").exists()


def test_loan_completed_before_the_return_is_refused_recorded_and_flagged(client, sent, alice):
    loaned(client, sent)
    answer = said(client, sent, "LoanCompleted")

    assert ERROR in answer and "<errorType>UnrecognisedDataValue</errorType>" in answer
    assert "Cannot complete: the request is shipped." in answer
    sent.refresh_from_db()
    assert sent.status == Status.SHIPPED and sent.exchange_failed_at is not None
    refused = ExchangeMessage.objects.get(request=sent, what="LoanCompleted")
    assert refused.state == "refused" and "Cannot complete" in refused.error

    workflow.mark_received(sent.pk, actor=alice)
    workflow.mark_returned(sent.pk, actor=alice, method="delivery")
    assert OK in said(client, sent, "LoanCompleted", note="Checked in")
    sent.refresh_from_db()
    assert sent.status == Status.COMPLETED


def test_cancelled_confirms_the_librarys_cancel(client, sent, alice):
    workflow.cancel(sent.pk, actor=alice)
    assert OK in said(client, sent, "Cancelled", reason="CancelResponse", answer="Y")
    note = StatusEvent.objects.get(request=sent, action="lender_status").note
    assert note == "Mystic Seaport Library confirms the cancellation."


def test_a_notification_is_a_message_on_the_request(client, sent):
    assert OK in said(client, sent, "ExpectToSupply", reason="Notification", note="Next week")
    message = sent.messages.get()
    assert message.body == "From Mystic Seaport Library: Next week"


def test_a_charge_in_another_currency_is_refused_and_nothing_changes(client, sent):
    answer = loaned(client, sent, costs="9.00", currency="EUR")
    assert ERROR in answer and "Record the amount in USD" in answer
    sent.refresh_from_db()
    assert sent.status == Status.SENT_TO_LENDER and sent.charges_total == 0


def test_a_status_illdesk_does_not_act_on_is_refused(client, sent):
    answer = said(client, sent, "RetryPossible")
    assert ERROR in answer and "does not act on the status RetryPossible" in answer


def test_a_request_sent_to_illdesk_is_an_unsupported_action(client, carver, sent):
    body = messages.request_message(sent, carver)
    answer = post(client, body).content.decode()
    assert "<requestConfirmation>" in answer and "UnsupportedActionType" in answer


# --- Inbound: who may say what ------------------------------------------------------------


def test_a_lender_cannot_touch_a_request_that_is_not_with_it(client, sent):
    partner(name="Dover Public Library", agency="US-MA-DOV")
    due = timezone.localdate() + dt.timedelta(days=9)
    body = lender_message(
        f"illdesk-{sent.pk}", "Loaned", agency="US-MA-DOV", sent=timezone.now(), due=due
    )

    answer = post(client, body, agency="US-MA-DOV").content.decode()

    assert ERROR in answer and "is with your agency" in answer
    sent.refresh_from_db()
    assert sent.status == Status.SENT_TO_LENDER and sent.exchange_failed_at is None


def test_a_lender_cannot_speak_as_another_agency(client, sent):
    partner(name="Dover Public Library", agency="US-MA-DOV")
    body = lender_message(f"illdesk-{sent.pk}", "Unfilled")  # Carver's agency in the header

    answer = post(client, body, agency="US-MA-DOV").content.decode()

    assert ERROR in answer and "is not the agency you signed in as" in answer
    sent.refresh_from_db()
    assert sent.status == Status.SENT_TO_LENDER


def test_a_message_to_another_requesting_agency_is_refused(client, sent):
    answer = said(client, sent, "Unfilled", requester="US-XX-ELSEWHERE")
    assert ERROR in answer and "is not illdesk" in answer


@pytest.mark.parametrize("request_id", ["illdesk-999999", "ILL-12", "illdesk-", "illdesk-1e3"])
def test_an_unknown_request_is_refused(client, carver, request_id):
    answer = post(client, lender_message(request_id, "Unfilled")).content.decode()
    assert ERROR in answer and "is with your agency" in answer


@pytest.mark.parametrize(
    "authorization",
    [None, basic("US-MA-MYS", "wrong"), basic("US-MA-NOBODY"), "Basic !!!", "Bearer x"],
    ids=["none", "wrong password", "unknown agency", "not base64", "another scheme"],
)
def test_a_lender_must_sign_in(client, sent, authorization):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    body = lender_message(f"illdesk-{sent.pk}", "Unfilled")
    response = client.post("/iso18626/", data=body, content_type="application/xml", **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    sent.refresh_from_db()
    assert sent.status == Status.SENT_TO_LENDER and not ExchangeMessage.objects.filter(
        direction="in"
    )


def test_a_lender_no_longer_active_cannot_sign_in(client, sent, carver):
    carver.is_active = False
    carver.save()
    assert post(client, lender_message(f"illdesk-{sent.pk}", "Unfilled")).status_code == 401


def test_guessing_passwords_from_one_address_is_held_back(client, carver):
    for _ in range(20):
        assert post(client, b"<x/>", password="guess").status_code == 401
    held = post(client, b"<x/>")  # the right password too, from that address, for a while
    assert held.status_code == 429 and int(held["Retry-After"]) > 0


def test_only_post_is_answered(client):
    assert client.get("/iso18626/").status_code == 405


def test_a_bad_message_is_answered_and_recorded(client, carver):
    answer = post(client, b"<not-closed").content.decode()
    assert ERROR in answer and "BadlyFormedMessage" in answer
    refused = ExchangeMessage.objects.get(direction="in")
    assert refused.state == "refused" and refused.request is None


# --- The team's side ----------------------------------------------------------------------


def test_the_team_sends_a_failed_message_again_and_clears_the_flag(sent, rita):
    message = ExchangeMessage.objects.get(request=sent)
    ExchangeMessage.objects.filter(pk=message.pk).update(state="failed")
    outbox.flag_failing(sent.pk, "Request to Carver: not delivered")

    again = services.send_again(message.pk, actor=rita)
    assert (again.state, again.body, again.what) == ("pending", message.body, "Request")
    with pytest.raises(workflow.NotAllowedNow):
        services.send_again(again.pk, actor=rita)  # not failed

    services.clear_exchange_failure(sent.pk, actor=rita, note="Phoned them")
    sent.refresh_from_db()
    assert sent.exchange_failed_at is None
    assert StatusEvent.objects.get(request=sent, action="exchange_cleared").note == "Phoned them"


def test_the_library_cannot_clear_or_resend(sent, alice):
    outbox.flag_failing(sent.pk, "x")
    with pytest.raises(workflow.NotPermitted):
        services.clear_exchange_failure(sent.pk, actor=alice)
    with pytest.raises(workflow.NotPermitted):
        services.message_lender(sent.pk, actor=alice, body="hi")


def test_the_service_account_takes_no_assignments_and_cannot_sign_in(client, rita):
    account = service_account()
    assert account not in team_members()
    assert not account.has_usable_password()
    with pytest.raises(Exception, match="active members of the team"):
        services.check_assignee(account)


def test_the_team_sees_the_exchange_and_the_library_does_not(client, api, sent, alice, rita):
    loaned(client, sent)
    outbox.flag_failing(sent.pk, "Received to Mystic Seaport Library: not delivered")
    page = f"/requests/{sent.pk}/"

    client.force_login(rita)
    team_page = client.get(page).content.decode()
    assert "Exchange with the lender (ISO 18626)" in team_page
    assert "Exchange failing" in team_page and "The XML" in team_page
    assert "&lt;status&gt;Loaned&lt;/status&gt;" in team_page  # the raw message, escaped

    client.force_login(alice)
    library_page = client.get(page).content.decode()
    assert "Exchange" not in library_page and "The XML" not in library_page
    assert "exchange_failing" not in api(alice).get(f"/api/v1/requests/{sent.pk}/").json()["flags"]
    assert "exchange_failing" in api(rita).get(f"/api/v1/requests/{sent.pk}/").json()["flags"]
    library_events = api(alice).get(f"/api/v1/requests/{sent.pk}/events/").json()
    assert "exchange_failed" not in {event["action"] for event in library_events}
    team_events = api(rita).get(f"/api/v1/requests/{sent.pk}/events/").json()
    assert "exchange_failed" in {event["action"] for event in team_events}


def test_the_queue_filters_on_exchange_failing(client, sent, request_in, rita):
    other = request_in("sourcing")
    outbox.flag_failing(sent.pk, "not delivered")
    client.force_login(rita)
    page = client.get("/queue/?flag=exchange_failing").content.decode()
    assert f"/requests/{sent.pk}/" in page and f"/requests/{other.pk}/" not in page


# --- What a real lender does that tripped the first version (a review's findings) --------


def test_a_second_renewal_denied_in_the_same_words_is_still_taken(client, sent, alice):
    """A lender's ``lastChange`` is the loan's, not the message's: two denials of two
    renewals can be the same but for the timestamp, and both count."""
    loaned(client, sent)
    workflow.mark_received(sent.pk, actor=alice)
    last_change = timezone.now()
    for days, stamp in ((40, 1), (45, 2)):
        workflow.request_renewal(
            sent.pk, actor=alice, due_date=timezone.localdate() + dt.timedelta(days=days)
        )
        denial = lender_message(
            f"illdesk-{sent.pk}", "Loaned", reason="RenewResponse", answer="N",
            last_change=last_change, timestamp=last_change + dt.timedelta(minutes=stamp),
        )  # fmt: skip
        assert OK in post(client, denial).content.decode()
        sent.refresh_from_db()
        assert sent.status == Status.RECEIVED
    assert sent.renewals.filter(answer="denied").count() == 2


def test_the_fee_is_charged_once_from_the_loan_never_from_an_offer_or_a_note(client, sent):
    body = lender_message(f"illdesk-{sent.pk}", "ExpectToSupply", reason="RequestResponse")
    offer = body.replace(
        b"</messageInfo>",
        b"<offeredCosts><currencyCode>USD</currencyCode><monetaryValue>10.00</monetaryValue>"
        b"</offeredCosts></messageInfo>",
    )
    assert OK in post(client, offer).content.decode()
    loaned(client, sent, costs="10.00")
    said(client, sent, "Loaned", reason="Notification", note="Invoice follows")
    sent.refresh_from_db()
    assert sent.charges_total == Decimal("10.00")


def test_unfilled_after_illdeskss_cancel_confirms_it(client, sent, alice):
    workflow.cancel(sent.pk, actor=alice)
    assert OK in said(client, sent, "Unfilled", reason="CancelResponse", answer="Y")
    assert OK in said(client, sent, "Cancelled", reason="StatusChange")  # said again
    sent.refresh_from_db()
    assert sent.exchange_failed_at is None
    assert StatusEvent.objects.filter(request=sent, action="lender_status").count() == 1


def test_a_status_the_loan_is_past_changes_nothing(client, sent):
    loaned(client, sent)
    assert OK in said(client, sent, "Loaned", reason="StatusRequestResponse")
    assert OK in said(client, sent, "ExpectToSupply", reason="RequestResponse")
    sent.refresh_from_db()
    assert sent.status == Status.SHIPPED and sent.exchange_failed_at is None


def test_a_request_that_left_the_lender_may_be_said_unfilled_again_to_no_effect(client, sent):
    assert OK in said(client, sent, "Unfilled", reason="RequestResponse")
    assert OK in said(client, sent, "Unfilled", reason="StatusChange", note="Still not")
    answer = loaned(client, sent)  # but nothing else: it is not with the lender now
    assert ERROR in answer and "is with your agency" in answer
    sent.refresh_from_db()
    assert sent.status == Status.SOURCING


def test_a_long_reason_is_kept_shortened_not_refused(client, sent):
    assert OK in said(client, sent, "Unfilled", note="On reserve. " * 200)
    assert len(LenderAttempt.objects.get(request=sent).reason) <= 300


def test_a_message_in_another_encoding_or_with_an_odd_number_is_answered(client, sent):
    latin = lender_message(f"illdesk-{sent.pk}", "WillSupply", note="Très bientôt")
    latin = latin.decode().replace("UTF-8", "ISO-8859-1").encode("latin-1")
    assert OK in post(client, latin).content.decode()
    assert "Très bientôt" in ExchangeMessage.objects.get(what="WillSupply").body
    odd = post(client, lender_message("illdesk-\u00b2", "WillSupply"))
    assert odd.status_code == 200 and ERROR in odd.content.decode()


def test_a_message_is_sent_again_once_and_only_where_it_still_applies(sent, rita, alice):
    message = ExchangeMessage.objects.get(request=sent)
    ExchangeMessage.objects.filter(pk=message.pk).update(state="failed")
    services.send_again(message.pk, actor=rita)
    with pytest.raises(workflow.NotAllowedNow, match="only once"):
        services.send_again(message.pk, actor=rita)
    assert ExchangeMessage.objects.filter(request=sent, state="pending").count() == 1

    ExchangeMessage.objects.filter(request=sent).update(state="failed")
    workflow.cancel(sent.pk, actor=alice)
    with pytest.raises(workflow.NotAllowedNow, match="waits for no lender"):
        services.send_again(message.pk, actor=rita)


def test_a_later_message_waits_for_the_one_before_it(sent, alice):
    request_message = ExchangeMessage.objects.get(request=sent)
    assert outbox.deliver(request_message.pk) == "failed; will retry"  # port 9: backing off
    workflow.cancel(sent.pk, actor=alice)
    cancel = ExchangeMessage.objects.get(request=sent, what="Cancel")
    assert outbox.deliver(cancel.pk) == "not ready, already sent or being sent"
    cancel.refresh_from_db()
    assert cancel.attempts == 0


class Redirecting(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_POST(self):  # noqa: N802
        type(self).hits.append(f"POST {self.path} {self.headers.get('Authorization', '')}")
        self.send_response(302)
        self.send_header("Location", "/elsewhere")
        self.end_headers()

    def do_GET(self):  # noqa: N802
        type(self).hits.append(f"GET {self.path} {self.headers.get('Authorization', '')}")
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_redirect_is_not_followed_with_the_password(sent, carver):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        carver.iso18626_address = f"http://127.0.0.1:{server.server_address[1]}/iso"
        carver.save()
        message = ExchangeMessage.objects.get(request=sent)
        assert outbox.deliver(message.pk) == "failed; will retry"
    finally:
        server.shutdown()
        server.server_close()
    assert [hit.split()[0:2] for hit in Redirecting.hits] == [["POST", "/iso"]]
    message.refresh_from_db()
    assert "HTTP 302" in message.error


def test_an_unexpected_fault_is_tried_again_and_a_stranded_message_given_up(
    sent, carver, monkeypatch
):
    message = ExchangeMessage.objects.get(request=sent)

    def broken(lender, body):
        raise RuntimeError("the lender's answer made no sense")

    monkeypatch.setattr(outbox, "post", broken)
    assert outbox.deliver(message.pk) == "failed; will retry"
    # A worker that died mid-post at the last try leaves the row claimed: the drain ends it.
    ExchangeMessage.objects.filter(pk=message.pk).update(
        attempts=outbox.MAX_ATTEMPTS, claimed_at=timezone.now() - dt.timedelta(hours=1)
    )
    outbox.drain()
    message.refresh_from_db()
    sent.refresh_from_db()
    assert message.state == "failed" and sent.exchange_failed_at is not None


def test_two_lenders_with_one_agency_value_cannot_sign_in(client, sent, carver):
    from lenders.models import Lender

    twin = Lender(
        name="Mystic Twin", oclc_symbol="MYT", kind="in_state", agency_id_type="OCLC",
        agency_id_value=carver.agency_id_value, iso18626_address="http://127.0.0.1:9/twin/",
    )  # fmt: skip
    twin.set_iso18626_password(PASSWORD)
    twin.save()
    assert post(client, lender_message(f"illdesk-{sent.pk}", "WillSupply")).status_code == 401


def test_the_lender_picker_says_which_lenders_exchange(client, request_in, rita, carver, lender):
    req = request_in("sourcing")
    client.force_login(rita)
    exchanging = client.get(f"/requests/{req.pk}/?lender_q=MYS").content.decode()
    assert "ISO 18626: sent, and its answers taken in, by themselves" in exchanging
    plain = client.get(f"/requests/{req.pk}/?lender_q=CVC").content.decode()
    assert "Carver College Library" in plain and "ISO 18626: sent" not in plain


def test_runjobs_queues_a_message_whose_backoff_has_passed(sent, monkeypatch):
    import io

    from django.core.management import call_command

    queued = []
    monkeypatch.setattr(outbox, "enqueue", queued.append)
    message = ExchangeMessage.objects.get(request=sent)
    ExchangeMessage.objects.filter(pk=message.pk).update(
        created_at=timezone.now() - dt.timedelta(minutes=5)
    )
    out = io.StringIO()
    call_command("runjobs", stdout=out)
    assert queued == [message.pk]
    assert "1 e-mail(s) and ISO 18626 message(s) queued again" in out.getvalue()
