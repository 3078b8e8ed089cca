"""A small ISO 18626 lender, for the demo and the tests: it answers illdesk's messages as a
lending system would, by scenario (``manage.py iso18626_peer``; docs/iso18626.md).

One peer serves several lenders: each scenario has its own address (``/loan/``,
``/unfilled/``, ``/will-supply/``, ``/renew-no/``), and it answers as whichever agency the
message was addressed to. It keeps nothing but what it needs to answer (the due dates it
gave), in memory, and posts its answers back to illdesk a few seconds later, as a person at
the lender would, with the password it shares with illdesk.
"""

import base64
import datetime as dt
import logging
import re
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from lxml import etree

from .messages import NAMESPACE, VERSION, add_element, iso_timestamp, supplying_agency_message

logger = logging.getLogger(__name__)

#: The answers to a ``request``, in order, for each scenario: (status, reason for message).
SCENARIOS: dict[str, list[tuple[str, str]]] = {
    "loan": [("ExpectToSupply", "RequestResponse"), ("Loaned", "StatusChange")],
    "unfilled": [("Unfilled", "RequestResponse")],
    "will-supply": [
        ("WillSupply", "RequestResponse"),
        ("Loaned", "StatusChange"),
    ],
    "renew-no": [("Loaned", "RequestResponse")],
}
#: Days a loan is lent for, and renewed for.
LOAN_DAYS = 28
RENEWAL_DAYS = 21
#: The fee the demo lenders charge for a loan, in the service's currency.
LENDING_FEE = "10.00"


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _number(request_id: str, digits: int) -> str:
    """A made-up number of ``digits`` for the request (a tracking number, a barcode)."""
    return f"{zlib.crc32(request_id.encode()) % 10**digits:0{digits}d}"


def _find(root: etree._Element, path: str) -> str:
    found = root.find("/".join(f"{{{NAMESPACE}}}{tag}" for tag in path.split("/")))
    return (found.text or "").strip() if found is not None else ""


@dataclass
class Loan:
    """What the peer remembers of one request: who asked, as whom it lends, the due date."""

    header: dict[str, str]
    due_date: dt.date | None = None


@dataclass
class Peer:
    """The lender: ``answer`` takes what illdesk posts to one scenario's address and gives
    the confirmation; its own messages go out through ``send`` after ``delay`` seconds."""

    illdesk_url: str
    password: str
    delay: float = 3.0
    currency: str = "USD"
    loans: dict[str, Loan] = field(default_factory=dict)
    send: Callable[[str, bytes], None] | None = None

    def answer(self, scenario: str, body: bytes, authorization: str) -> tuple[int, bytes]:
        if not self._signed_in(authorization):
            return 401, b"Sign in with the password the lender gave you.\n"
        if scenario not in SCENARIOS:
            return 404, b"No such lender here.\n"
        try:
            root = etree.fromstring(body, parser=etree.XMLParser(resolve_entities=False))
        except etree.XMLSyntaxError:
            return 400, b"Not XML.\n"
        if not len(root):
            return 400, b"Not an ISO 18626 message.\n"
        kind = etree.QName(root[0]).localname
        message = root[0]
        header = {
            tag: _find(message, f"header/{tag}")
            for tag in (
                "supplyingAgencyId/agencyIdType",
                "supplyingAgencyId/agencyIdValue",
                "requestingAgencyId/agencyIdType",
                "requestingAgencyId/agencyIdValue",
                "requestingAgencyRequestId",
            )
        }
        self._later(self.replies(scenario, kind, message, header))
        if kind == "request":
            return 200, _confirmation("requestConfirmation", header)
        if kind == "requestingAgencyMessage":
            action = _find(message, "action")
            return 200, _confirmation("requestingAgencyMessageConfirmation", header, action)
        return 200, _confirmation("supplyingAgencyMessageConfirmation", header)

    def replies(
        self, scenario: str, kind: str, message: etree._Element, header: dict[str, str]
    ) -> list[bytes]:
        """The messages the lender sends back for one of illdesk's, in order."""
        request_id = header["requestingAgencyRequestId"]
        if kind == "request":
            self.loans[request_id] = Loan(header)
            return [self._status(request_id, s, r) for s, r in SCENARIOS[scenario]]
        if kind == "requestingAgencyMessage":
            loan = self.loans.setdefault(request_id, Loan(header))
            return self._replies(
                scenario, request_id, loan, _find(message, "action"), _find(message, "note")
            )
        return []

    def _signed_in(self, authorization: str) -> bool:
        scheme, _, encoded = authorization.partition(" ")
        try:
            decoded = base64.b64decode(encoded).decode()
        except ValueError:
            return False
        return scheme.lower() == "basic" and decoded.partition(":")[2] == self.password

    def _replies(
        self, scenario: str, request_id: str, loan: Loan, action: str, note: str
    ) -> list[bytes]:
        if action == "Renew":
            if scenario == "renew-no":
                return [self._status(request_id, "Loaned", "RenewResponse", answer="N")]
            # What was asked for ("… a due date of 2027-01-23"), else three weeks more.
            asked = re.search(r"\d{4}-\d{2}-\d{2}", note)
            later = max(loan.due_date or _today(), _today()) + dt.timedelta(days=RENEWAL_DAYS)
            loan.due_date = dt.date.fromisoformat(asked.group()) if asked else later
            return [self._status(request_id, "Loaned", "RenewResponse", answer="Y")]
        if action == "ShippedReturn":
            return [self._status(request_id, "LoanCompleted", "StatusChange")]
        if action == "Cancel":
            return [self._status(request_id, "Cancelled", "CancelResponse", answer="Y")]
        return []  # Received, Notification, StatusRequest: noted, nothing to answer

    def _status(self, request_id: str, status: str, reason: str, *, answer: str = "") -> bytes:
        """A ``supplyingAgencyMessage`` about ``request_id``: a loan is lent with a tracking
        number, a barcode and the fee; an unfilled one says why."""
        loan = self.loans[request_id]
        now = dt.datetime.now(dt.UTC)
        if status == "Loaned" and loan.due_date is None:
            loan.due_date = _today() + dt.timedelta(days=LOAN_DAYS)
        shipping = status == "Loaned" and reason != "RenewResponse"
        agency = {
            side: (loan.header[f"{side}/agencyIdType"], loan.header[f"{side}/agencyIdValue"])
            for side in ("supplyingAgencyId", "requestingAgencyId")
        }
        return supplying_agency_message(
            request_id,
            status,
            supplier=agency["supplyingAgencyId"],
            requester=agency["requestingAgencyId"],
            reason=reason,
            answer=answer,
            note=(
                "Our only copy is on the reserve shelf." if status == "Unfilled"
                else f"Tracking: DEMO{_number(request_id, 8)}" if shipping else ""
            ),
            reason_unfilled="NotAvailableForILL" if status == "Unfilled" else "",
            due=loan.due_date if status == "Loaned" else None,
            sent=now if shipping else None,
            item_id=f"3{_number(request_id, 12)}",
            sent_via="Delivery",
            costs=(self.currency, LENDING_FEE),
            now=now,
        )  # fmt: skip

    def _later(self, messages: list[bytes]) -> None:
        """Post ``messages`` to illdesk one after the other, ``delay`` seconds apart (at
        once, in this thread, with no delay: the demo's seeding)."""
        if not messages:
            return
        if self.delay <= 0:
            for message in messages:
                header = etree.fromstring(message)[0]
                (self.send or self.post)(
                    _find(header, "header/supplyingAgencyId/agencyIdValue"), message
                )
            return

        def run() -> None:
            for message in messages:
                time.sleep(self.delay)
                agency = _find(
                    etree.fromstring(message)[0], "header/supplyingAgencyId/agencyIdValue"
                )
                (self.send or self.post)(agency, message)

        threading.Thread(target=run, daemon=True).start()

    def post(self, agency: str, message: bytes) -> None:
        """Post one message to illdesk as ``agency``; a failure is logged (a real lender
        would try again; the demo's person clicks again)."""
        credentials = base64.b64encode(f"{agency}:{self.password}".encode()).decode()
        request = urllib.request.Request(  # noqa: S310 - the address it was started with
            self.illdesk_url,
            data=message,
            method="POST",
            headers={"Content-Type": "application/xml", "Authorization": f"Basic {credentials}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                logger.info("Posted to illdesk: %s", response.read()[:300])
        except (OSError, urllib.error.URLError) as error:
            logger.warning("illdesk did not take our message: %s", error)


def _confirmation(kind: str, header: dict[str, str], action: str = "") -> bytes:
    root = etree.Element(f"{{{NAMESPACE}}}ISO18626Message", nsmap={None: NAMESPACE})  # type: ignore[dict-item]
    root.set(f"{{{NAMESPACE}}}version", VERSION)
    body = add_element(root, kind)
    confirmation = add_element(body, "confirmationHeader")
    now = iso_timestamp(dt.datetime.now(dt.UTC))
    add_element(confirmation, "timestamp", now)
    if header.get("requestingAgencyRequestId"):
        add_element(confirmation, "requestingAgencyRequestId", header["requestingAgencyRequestId"])
    add_element(confirmation, "timestampReceived", now)
    add_element(confirmation, "messageStatus", "OK")
    if action:
        add_element(body, "action", action)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
