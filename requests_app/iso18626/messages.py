"""The ISO 18626 messages illdesk sends as a requesting agency, built from a request, and
the standard's schema that every one of them is checked against (docs/iso18626.md).

No patron ever leaves: a message names the request by illdesk's number and the library
as the place to deliver to; it carries no ``patronInfo`` and no notes (free text that may
name a patron).
"""

import datetime as dt
from functools import cache
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from lxml import etree

from lenders.models import Lender

from ..models import BorrowingRequest

NAMESPACE = "http://illtransactions.org/2013/iso18626"
VERSION = "1.2"
SCHEMA = Path(__file__).with_name("ISO-18626-v1_2.xsd")
#: What a requesting agency may ask of the lender (the schema's ``type_action``).
ACTIONS = ("StatusRequest", "Received", "Cancel", "Renew", "ShippedReturn", "Notification")


@cache
def schema() -> etree.XMLSchema:
    """The standard's schema, read once (from the project: no network)."""
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


def schema_errors(document: bytes) -> list[str]:
    """Why ``document`` is not a valid ISO 18626 message, or [] when it is."""
    parsed = etree.fromstring(document, parser=etree.XMLParser(resolve_entities=False))
    checker = schema()
    if checker.validate(parsed):
        return []
    return str(checker.error_log).splitlines() or ["not a valid ISO 18626 message"]


def add_element(parent: etree._Element, tag: str, text: object = None, **attributes: str):
    # The schema qualifies its attributes (``attributeFormDefault="qualified"``).
    qualified = {f"{{{NAMESPACE}}}{name}": value for name, value in attributes.items()}
    element = etree.SubElement(parent, f"{{{NAMESPACE}}}{tag}", qualified)
    if text is not None:
        element.text = str(text)
    return element


def _agency(parent: etree._Element, tag: str, id_type: str, id_value: str) -> None:
    agency = add_element(parent, tag)
    add_element(agency, "agencyIdType", id_type)
    add_element(agency, "agencyIdValue", id_value)


def iso_timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _message(req: BorrowingRequest, lender: Lender, kind: str, now: dt.datetime | None):
    """The message's root and its ``kind`` element with the header filled in."""
    root = etree.Element(
        f"{{{NAMESPACE}}}ISO18626Message",
        nsmap={None: NAMESPACE},  # type: ignore[dict-item]  # the default namespace
    )
    root.set(f"{{{NAMESPACE}}}version", VERSION)
    body = add_element(root, kind)
    header = add_element(body, "header")
    _agency(header, "supplyingAgencyId", lender.agency_id_type, lender.agency_id_value)
    _agency(
        header,
        "requestingAgencyId",
        settings.ILLDESK_AGENCY_ID_TYPE,
        settings.ILLDESK_AGENCY_ID_VALUE,
    )
    add_element(header, "multipleItemRequestId", "")
    add_element(header, "timestamp", iso_timestamp(now or timezone.now()))
    add_element(header, "requestingAgencyRequestId", request_id(req))
    if req.lender_request_number:
        add_element(header, "supplyingAgencyRequestId", req.lender_request_number)
    return root, body


def request_id(req: BorrowingRequest) -> str:
    """How messages name a request: illdesk's number, nothing of the patron's."""
    return f"illdesk-{req.pk}"


def _document(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def request_message(
    req: BorrowingRequest, lender: Lender, *, now: dt.datetime | None = None
) -> bytes:
    """The ``request`` that asks ``lender`` for the item: what it is, that it is a loan,
    by when, the most the library pays, and where it goes."""
    root, body = _message(req, lender, "request", now)
    bibliographic = add_element(body, "bibliographicInfo")
    for tag, value in (
        ("title", req.title),
        ("author", req.author),
        ("edition", req.edition),
        ("volume", req.volume),
    ):
        if value:
            add_element(bibliographic, tag, value)
    for code, value in (("ISBN", req.isbn), ("ISSN", req.issn)):
        if value:
            item_id = add_element(bibliographic, "bibliographicItemId")
            add_element(item_id, "bibliographicItemIdentifier", value)
            add_element(item_id, "bibliographicItemIdentifierCode", code)
    if req.oclc_number:
        record_id = add_element(bibliographic, "bibliographicRecordId")
        add_element(record_id, "bibliographicRecordIdentifierCode", "OCLC")
        add_element(record_id, "bibliographicRecordIdentifier", req.oclc_number)
    if req.publisher or req.year:
        publication = add_element(body, "publicationInfo")
        if req.publisher:
            add_element(publication, "publisher", req.publisher)
        if req.year:
            add_element(publication, "publicationDate", req.year)
    service = add_element(body, "serviceInfo")
    add_element(service, "requestType", "New")
    add_element(service, "serviceType", "Loan")
    if req.needed_by:
        end_of_day = dt.datetime.combine(req.needed_by, dt.time(23, 59, 59))
        add_element(service, "needBeforeDate", iso_timestamp(timezone.make_aware(end_of_day)))
    add_element(service, "anyEdition", "N" if req.edition_only else "Y")
    library = req.library
    delivery = add_element(body, "requestedDeliveryInfo")
    add_element(delivery, "sortOrder", 1)
    physical = add_element(add_element(delivery, "address"), "physicalAddress")
    lines = [line.strip() for line in library.address.splitlines() if line.strip()]
    for tag, line in zip(("line1", "line2"), [*lines[:1], ", ".join(lines[1:])], strict=False):
        if line:
            add_element(physical, tag, line)
    add_element(physical, "country", "US", scheme="ISO3166-1")
    agency_info = add_element(body, "requestingAgencyInfo")
    add_element(agency_info, "name", library.name)
    billing = add_element(body, "billingInfo")
    costs = add_element(billing, "maximumCosts")
    add_element(costs, "currencyCode", settings.ILLDESK_CURRENCY, scheme="ISO4217")
    add_element(costs, "monetaryValue", f"{req.max_cost:.2f}")
    return _document(root)


def requesting_agency_message(
    req: BorrowingRequest,
    lender: Lender,
    action: str,
    *,
    note: str = "",
    now: dt.datetime | None = None,
) -> bytes:
    """A ``requestingAgencyMessage``: ``action`` (one of ``ACTIONS``) on the request,
    with a note (the return's tracking, the date asked for, a message to the lender)."""
    if action not in ACTIONS:
        raise ValueError(f"{action!r} is not an ISO 18626 requesting agency action")
    root, body = _message(req, lender, "requestingAgencyMessage", now)
    add_element(body, "action", action)
    if note:
        add_element(body, "note", note)
    return _document(root)


def supplying_agency_message(
    request_id: str,
    status: str,
    *,
    supplier: tuple[str, str],
    requester: tuple[str, str],
    reason: str = "StatusChange",
    answer: str = "",
    note: str = "",
    reason_unfilled: str = "",
    due: dt.date | None = None,
    sent: dt.datetime | None = None,
    item_id: str = "",
    sent_via: str = "",
    costs: tuple[str, str] | None = None,
    now: dt.datetime | None = None,
    last_change: dt.datetime | None = None,
) -> bytes:
    """A lender's ``supplyingAgencyMessage`` about ``request_id`` (illdesk sends none: the
    demo lender does, and the tests and benchmarks as a lender would). ``supplier`` and
    ``requester`` are (id type, id value); ``due`` is put at noon UTC of its day; ``costs``
    is (currency, amount), charged with a ``Loaned``'s delivery (``sent``)."""
    now = now or timezone.now()
    root = etree.Element(
        f"{{{NAMESPACE}}}ISO18626Message",
        nsmap={None: NAMESPACE},  # type: ignore[dict-item]  # the default namespace
    )
    root.set(f"{{{NAMESPACE}}}version", VERSION)
    body = add_element(root, "supplyingAgencyMessage")
    header = add_element(body, "header")
    _agency(header, "supplyingAgencyId", *supplier)
    _agency(header, "requestingAgencyId", *requester)
    add_element(header, "multipleItemRequestId", "")
    add_element(header, "timestamp", iso_timestamp(now))
    add_element(header, "requestingAgencyRequestId", request_id)
    info = add_element(body, "messageInfo")
    add_element(info, "reasonForMessage", reason)
    for tag, value in (
        ("answerYesNo", answer),
        ("note", note),
        ("reasonUnfilled", reason_unfilled),
    ):
        if value:
            add_element(info, tag, value)
    status_info = add_element(body, "statusInfo")
    add_element(status_info, "status", status)
    if due is not None:
        noon = dt.datetime.combine(due, dt.time(12), tzinfo=dt.UTC)
        add_element(status_info, "dueDate", iso_timestamp(noon))
    add_element(status_info, "lastChange", iso_timestamp(last_change or now))
    if sent is not None:
        delivery = add_element(body, "deliveryInfo")
        add_element(delivery, "dateSent", iso_timestamp(sent))
        for tag, value in (("itemId", item_id), ("sentVia", sent_via)):
            if value:
                add_element(delivery, tag, value)
        if costs is not None:
            cost = add_element(delivery, "deliveryCosts")
            add_element(cost, "currencyCode", costs[0])
            add_element(cost, "monetaryValue", costs[1])
    return _document(root)
