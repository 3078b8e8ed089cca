"""Whatever a lender sends to ``POST /iso18626/``, illdesk answers with a confirmation valid
against the schema, never a 5xx, and the request stays as the workflow allows."""

import datetime as dt
import random

import pytest
from django.utils import timezone
from lxml import etree

from requests_app import workflow
from requests_app.iso18626 import messages
from requests_app.models import BorrowingRequest
from tests.iso18626 import basic, lender_message, partner

pytestmark = pytest.mark.django_db

STATUSES = [
    "RequestReceived", "ExpectToSupply", "WillSupply", "Loaned", "Overdue", "Recalled",
    "RetryPossible", "Unfilled", "CopyCompleted", "LoanCompleted", "CompletedWithoutReturn",
    "Cancelled",
]  # fmt: skip
REASONS = [
    "RequestResponse", "StatusRequestResponse", "RenewResponse", "CancelResponse",
    "StatusChange", "Notification",
]  # fmt: skip
ODD_TEXT = [
    "", " ", "Y", "N", "0", "-1", "99999999999999999999.99", "1e400", "NaN",
    "2026-13-45T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
    "2026-12-05T24:00:00", "illdesk-0", "illdesk-99999999999999999999", "tracking: ",
    "\u202e\u0000", "ü" * 300, "<![CDATA[x]]>", "x" * 5000,
]  # fmt: skip


def mutate(body: bytes, rng: random.Random) -> bytes:
    """One random change to a valid message: a value, an element, or the bytes."""
    choice = rng.randrange(6)
    if choice == 0:  # flip some bytes
        data = bytearray(body)
        for _ in range(rng.randint(1, 5)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    root = etree.fromstring(body)
    elements = [element for element in root.iter() if element is not root]
    target = rng.choice(elements)
    if choice == 1 and target.getparent() is not None:
        target.getparent().remove(target)
    elif choice == 2:
        target.text = rng.choice(ODD_TEXT).replace("\u0000", "")
    elif choice == 3 and target.getparent() is not None:
        target.getparent().append(etree.fromstring(etree.tostring(target)))
    elif choice == 4:
        for element in root.iter(f"{{{messages.NAMESPACE}}}status"):
            element.text = rng.choice(STATUSES)
        for element in root.iter(f"{{{messages.NAMESPACE}}}reasonForMessage"):
            element.text = rng.choice(REASONS)
    else:
        etree.SubElement(target, f"{{{messages.NAMESPACE}}}{rng.choice(['x', 'note', 'status'])}")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def test_no_message_gets_a_5xx_or_an_answer_outside_the_schema(client, request_in, rita, alice):
    lender = partner()
    shipped = request_in("sourcing")
    workflow.send_to_lender(shipped.pk, actor=rita, lender=lender)
    waiting = request_in("sourcing")
    workflow.send_to_lender(waiting.pk, actor=rita, lender=lender)
    now = timezone.now()
    seeds = [
        lender_message(
            f"illdesk-{req.pk}",
            status,
            agency=lender.agency_id_value,
            reason=reason,
            answer=answer,
            sent=now,
            due=timezone.localdate() + dt.timedelta(days=20),
            sent_via="Delivery",
            costs="3.00",
            note="Tracking: 42",
        )  # fmt: skip
        for req in (shipped, waiting)
        for status, reason, answer in (
            ("Loaned", "StatusChange", ""),
            ("Unfilled", "RequestResponse", ""),
            ("Loaned", "RenewResponse", "Y"),
            ("Cancelled", "CancelResponse", "N"),
            ("WillSupply", "Notification", ""),
        )
    ]
    rng = random.Random(18626)  # noqa: S311 - a fuzz, repeatable from its seed
    for number in range(300):
        body = mutate(rng.choice(seeds), rng)
        response = client.post(
            "/iso18626/", data=body, content_type="application/xml",
            HTTP_AUTHORIZATION=basic(lender.agency_id_value),
        )  # fmt: skip
        where = f"example {number}: {body[:2000]!r}"
        assert response.status_code == 200, where
        assert messages.schema_errors(response.content) == [], where
    for req in BorrowingRequest.objects.all():
        req.full_clean()  # every row still keeps the model's rules
