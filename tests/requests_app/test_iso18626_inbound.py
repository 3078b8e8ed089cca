"""Reading what a lender sends: a valid message is read, anything else is refused with the
standard's error type and never expanded or fetched, and every answer is a confirmation
valid against the schema."""

import time

import pytest

from requests_app.iso18626 import inbound, messages

NS = messages.NAMESPACE


def supplying(status: str = "Loaned", extra: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ISO18626Message xmlns="{NS}" xmlns:i="{NS}" i:version="1.2">
  <supplyingAgencyMessage>
    <header>
      <supplyingAgencyId><agencyIdType>ISIL</agencyIdType><agencyIdValue>US-CVC</agencyIdValue></supplyingAgencyId>
      <requestingAgencyId><agencyIdType>ISIL</agencyIdType><agencyIdValue>US-XX-ILLDESK</agencyIdValue></requestingAgencyId>
      <multipleItemRequestId></multipleItemRequestId>
      <timestamp>2026-12-04T15:00:00Z</timestamp>
      <requestingAgencyRequestId>illdesk-12</requestingAgencyRequestId>{extra}
    </header>
    <messageInfo><reasonForMessage>StatusChange</reasonForMessage></messageInfo>
    <statusInfo><status>{status}</status><lastChange>2026-12-04T15:00:00Z</lastChange></statusInfo>
  </supplyingAgencyMessage>
</ISO18626Message>""".encode()


def assert_valid_confirmation(answer: bytes, status: str) -> None:
    assert messages.schema_errors(answer) == []
    assert f"<messageStatus>{status}</messageStatus>" in answer.decode()


def test_a_valid_message_is_read_and_confirmed_ok():
    message = inbound.read(supplying())
    assert isinstance(message, inbound.Message)
    assert message.kind == "supplyingAgencyMessage"
    assert message.text("statusInfo/status") == "Loaned"
    assert message.text("header/supplyingAgencyId/agencyIdValue") == "US-CVC"
    answer = inbound.confirmation(message)
    assert_valid_confirmation(answer, "OK")
    assert "<supplyingAgencyMessageConfirmation>" in answer.decode()
    assert "<requestingAgencyRequestId>illdesk-12</requestingAgencyRequestId>" in answer.decode()


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        (b"this is not xml", "BadlyFormedMessage"),
        (b"<ISO18626Message", "BadlyFormedMessage"),
        (supplying(status="Teleported"), "UnrecognisedDataValue"),
        (supplying(extra="<favouriteColour>blue</favouriteColour>"), "UnrecognisedDataElement"),
        (b"<a>" + b"x" * (inbound.MAX_BYTES + 1) + b"</a>", "BadlyFormedMessage"),
    ],
    ids=["not xml", "cut short", "unknown status", "unknown element", "too big"],
)
def test_a_bad_message_is_refused_with_the_standards_error_type(body, error_type):
    refusal = inbound.read(body)
    assert isinstance(refusal, inbound.Refusal)
    assert refusal.error_type == error_type
    answer = inbound.confirmation(refusal)
    assert_valid_confirmation(answer, "ERROR")
    assert f"<errorType>{error_type}</errorType>" in answer.decode()


def test_an_entity_bomb_is_refused_at_once_not_expanded():
    bomb = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<ISO18626Message>&lol9;</ISO18626Message>"""
    started = time.perf_counter()
    refusal = inbound.read(bomb)
    assert time.perf_counter() - started < 1  # not a billion "lol"s
    assert isinstance(refusal, inbound.Refusal) and refusal.error_type == "BadlyFormedMessage"


def test_an_external_entity_is_never_fetched_or_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("the team's password")
    sneaky = f"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY leak SYSTEM "file://{secret}">]>
<ISO18626Message>&leak;</ISO18626Message>""".encode()
    refusal = inbound.read(sneaky)
    assert isinstance(refusal, inbound.Refusal)
    assert "password" not in refusal.error_value
    assert "password" not in inbound.confirmation(refusal).decode()


@pytest.mark.parametrize("kind", ["request", "requestingAgencyMessage"])
def test_each_kind_is_confirmed_by_its_own_confirmation(kind, submit, lender):
    lender.agency_id_type, lender.agency_id_value = "ISIL", "US-CVC"
    req = submit(title="Hill")
    document = (
        messages.request_message(req, lender)
        if kind == "request"
        else messages.requesting_agency_message(req, lender, "Received")
    )
    message = inbound.read(document)
    assert isinstance(message, inbound.Message) and message.kind == kind
    answer = inbound.confirmation(message)
    assert_valid_confirmation(answer, "OK")
    assert f"<{inbound.CONFIRMATIONS[kind]}>" in answer.decode()
