"""The ISO 18626 messages illdesk sends are valid against the standard's schema, say what
the lender needs, and carry nothing of the patron."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from lxml import etree

from requests_app import workflow
from requests_app.iso18626 import messages

NS = {"i": messages.NAMESPACE}


@pytest.fixture
def partner(lender):
    lender.iso18626_address = "https://ill.lakeside.example.edu/iso18626"
    lender.agency_id_type, lender.agency_id_value = "ISIL", "US-CVC"
    lender.save()
    return lender


def test_a_request_for_a_full_citation_is_valid_and_says_what_the_lender_needs(
    alice, partner, patron
):
    req = workflow.submit_request(
        actor=alice, library=alice.library, patron=patron,
        citation={
            "title": "The Overstory", "author": "Richard Powers", "edition": "1st ed.",
            "volume": "v. 1", "isbn": "9780393635522", "oclc_number": "1003589123",
            "publisher": "W. W. Norton", "year": "2018", "edition_only": True,
        },
        max_cost=Decimal("20.00"),
        needed_by=timezone.localdate() + dt.timedelta(days=20),
    )  # fmt: skip
    document = messages.request_message(req, partner)
    assert messages.schema_errors(document) == []
    parsed = etree.fromstring(document)

    def text(path: str) -> str:
        return parsed.findtext(path, namespaces=NS)

    assert text("i:request/i:header/i:supplyingAgencyId/i:agencyIdValue") == "US-CVC"
    assert text("i:request/i:header/i:requestingAgencyRequestId") == f"illdesk-{req.pk}"
    assert text("i:request/i:bibliographicInfo/i:title") == "The Overstory"
    assert text("i:request/i:serviceInfo/i:serviceType") == "Loan"
    assert text("i:request/i:serviceInfo/i:anyEdition") == "N"
    assert text("i:request/i:billingInfo/i:maximumCosts/i:monetaryValue") == "20.00"
    assert "Abbot" in text("i:request/i:requestingAgencyInfo/i:name")
    # Nothing of the patron leaves illdesk.
    shown = document.decode()
    assert patron.name not in shown and patron.card_number not in shown
    assert parsed.find("i:request/i:patronInfo", namespaces=NS) is None


def test_a_request_with_a_title_alone_is_valid(submit, partner):
    assert messages.schema_errors(messages.request_message(submit(title="Hill"), partner)) == []


@pytest.mark.parametrize("action", messages.ACTIONS)
def test_each_requesting_agency_message_is_valid(submit, partner, action):
    document = messages.requesting_agency_message(
        submit(title="Hill"), partner, action, note="Returned by mail, tracking 9400"
    )
    assert messages.schema_errors(document) == []


def test_an_action_the_standard_lacks_is_refused(submit, partner):
    with pytest.raises(ValueError, match="not an ISO 18626"):
        messages.requesting_agency_message(submit(title="Hill"), partner, "Lost")


def test_the_schema_check_catches_a_broken_message(submit, partner):
    document = messages.request_message(submit(title="Hill"), partner)
    broken = document.replace(
        b"<serviceType>Loan</serviceType>", b"<serviceType>Gift</serviceType>"
    )
    assert messages.schema_errors(broken)
