"""ISO 18626 messages as a lender would send them, for the exchange's tests: built with
lxml from the standard's elements, valid against the schema unless a test spoils them."""

import base64
import datetime as dt

from lxml import etree

from requests_app.iso18626.messages import NAMESPACE, VERSION, add_element, iso_timestamp

PASSWORD = "a long shared secret"


def partner(name: str = "Mystic Seaport Library", agency: str = "US-MA-MYS", **fields):
    """A lender that exchanges ISO 18626 messages, with ``PASSWORD``."""
    from lenders.models import Lender

    lender = Lender(
        name=name,
        oclc_symbol=fields.pop("oclc_symbol", agency[-3:]),
        kind="in_state",
        iso18626_address=fields.pop("address", f"http://127.0.0.1:9/{agency}/"),
        agency_id_type="ISIL",
        agency_id_value=agency,
        **fields,
    )
    lender.set_iso18626_password(PASSWORD)
    lender.save()
    return lender


def basic(agency: str, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{agency}:{password}".encode()).decode()


def lender_message(
    request_id: str,
    status: str,
    *,
    agency: str = "US-MA-MYS",
    reason: str = "StatusChange",
    answer: str = "",
    note: str = "",
    reason_unfilled: str = "",
    due: dt.date | None = None,
    sent: dt.datetime | None = None,
    sent_via: str = "",
    costs: str = "",
    currency: str = "USD",
    requester: str = "US-XX-ILLDESK",
    timestamp: dt.datetime | None = None,
    last_change: dt.datetime | None = None,
) -> bytes:
    """A ``supplyingAgencyMessage`` from ``agency`` about ``request_id``."""
    now = timestamp or dt.datetime.now(dt.UTC)
    root = etree.Element(f"{{{NAMESPACE}}}ISO18626Message", nsmap={None: NAMESPACE})
    root.set(f"{{{NAMESPACE}}}version", VERSION)
    body = add_element(root, "supplyingAgencyMessage")
    header = add_element(body, "header")
    for tag, value in (("supplyingAgencyId", agency), ("requestingAgencyId", requester)):
        ids = add_element(header, tag)
        add_element(ids, "agencyIdType", "ISIL")
        add_element(ids, "agencyIdValue", value)
    add_element(header, "multipleItemRequestId", "")
    add_element(header, "timestamp", iso_timestamp(now))
    add_element(header, "requestingAgencyRequestId", request_id)
    info = add_element(body, "messageInfo")
    add_element(info, "reasonForMessage", reason)
    if answer:
        add_element(info, "answerYesNo", answer)
    if note:
        add_element(info, "note", note)
    if reason_unfilled:
        add_element(info, "reasonUnfilled", reason_unfilled)
    status_info = add_element(body, "statusInfo")
    add_element(status_info, "status", status)
    if due is not None:
        add_element(
            status_info, "dueDate", iso_timestamp(dt.datetime.combine(due, dt.time(12), dt.UTC))
        )
    add_element(status_info, "lastChange", iso_timestamp(last_change or now))
    if sent is not None:
        delivery = add_element(body, "deliveryInfo")
        add_element(delivery, "dateSent", iso_timestamp(sent))
        if sent_via:
            add_element(delivery, "sentVia", sent_via)
        if costs:
            cost = add_element(delivery, "deliveryCosts")
            add_element(cost, "currencyCode", currency)
            add_element(cost, "monetaryValue", costs)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
