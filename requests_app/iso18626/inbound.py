"""Reading the ISO 18626 messages a lender sends, safely, and the confirmation each gets
(docs/iso18626.md).

A body is refused before it is parsed when it is over ``MAX_BYTES``; it is parsed with no
DTD, no entities and no network (an entity bomb or an external entity is refused at once,
not expanded), then checked against the standard's schema. A refusal names the standard's
``errorType``; every message, read or refused, is answered with its kind's confirmation.
"""

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from lxml import etree

from .messages import NAMESPACE, VERSION, add_element, iso_timestamp, schema

#: The largest message read: the standard's messages are a few kilobytes.
MAX_BYTES = 256 * 1024

#: Each message kind, and the confirmation it is answered with.
CONFIRMATIONS = {
    "request": "requestConfirmation",
    "supplyingAgencyMessage": "supplyingAgencyMessageConfirmation",
    "requestingAgencyMessage": "requestingAgencyMessageConfirmation",
}

BADLY_FORMED = "BadlyFormedMessage"
UNRECOGNISED_VALUE = "UnrecognisedDataValue"
UNRECOGNISED_ELEMENT = "UnrecognisedDataElement"


@dataclass(frozen=True)
class Refusal:
    """Why a message cannot be read: the standard's error type, and a value saying what."""

    error_type: str
    error_value: str
    kind: str = "supplyingAgencyMessage"


@dataclass(frozen=True)
class Message:
    """A message that is well formed and valid against the schema."""

    kind: str
    root: etree._Element

    def text(self, path: str) -> str:
        """The text at ``path`` (tags without the namespace, "/"-separated), or ""."""
        found = self.root.find(
            "/".join(f"{{{NAMESPACE}}}{tag}" for tag in [self.kind, *path.split("/")])
        )
        return (found.text or "").strip() if found is not None else ""


_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
)


def read(body: bytes) -> Message | Refusal:
    """The message in ``body``, or why it is refused."""
    if len(body) > MAX_BYTES:
        return Refusal(BADLY_FORMED, f"The message is over {MAX_BYTES // 1024} KB.")
    try:
        root = etree.fromstring(body, parser=_PARSER)
    except etree.XMLSyntaxError as error:
        return Refusal(BADLY_FORMED, f"Not well-formed XML: {error}")
    if getattr(root.getroottree().docinfo, "doctype", ""):  # (lxml-stubs lacks it)
        return Refusal(BADLY_FORMED, "A document type declaration is not accepted.")
    kind = etree.QName(root[0]).localname if len(root) else ""
    checker = schema()
    if not checker.validate(root):
        # The last line of libxml2's log, without its "file:line:col:level:…:" prefix.
        logged = str(checker.error_log).splitlines() or ["not a valid ISO 18626 message"]
        detail = logged[-1].split(": ", 1)[-1]
        answered_as = kind if kind in CONFIRMATIONS else "supplyingAgencyMessage"
        return Refusal(_error_type(detail), detail, answered_as)
    return Message(kind, root)


def _error_type(detail: str) -> str:
    """The standard's name for a schema error: a value outside its list, an element it
    does not know, or anything else badly formed."""
    if "is not an element of the set" in detail or "is not a valid value" in detail:
        return UNRECOGNISED_VALUE
    if "This element is not expected" in detail:
        return UNRECOGNISED_ELEMENT
    return BADLY_FORMED


def confirmation(
    message: Message | Refusal,
    *,
    received: dt.datetime | None = None,
    error: Refusal | None = None,
) -> bytes:
    """The confirmation of ``message``: OK, or ERROR with the refusal's error type (the
    message's own refusal, or ``error`` for a message read but not acted on)."""
    refusal = message if isinstance(message, Refusal) else error
    kind = message.kind or "supplyingAgencyMessage"
    root = etree.Element(f"{{{NAMESPACE}}}ISO18626Message", nsmap={None: NAMESPACE})  # type: ignore[dict-item]
    root.set(f"{{{NAMESPACE}}}version", VERSION)
    body = add_element(root, CONFIRMATIONS.get(kind, "supplyingAgencyMessageConfirmation"))
    header = add_element(body, "confirmationHeader")
    if isinstance(message, Message):
        for agency in ("supplyingAgencyId", "requestingAgencyId"):
            id_type = message.text(f"header/{agency}/agencyIdType")
            id_value = message.text(f"header/{agency}/agencyIdValue")
            if id_type and id_value:
                element = add_element(header, agency)
                add_element(element, "agencyIdType", id_type)
                add_element(element, "agencyIdValue", id_value)
    now = timezone.now()
    add_element(header, "timestamp", iso_timestamp(now))
    if isinstance(message, Message) and message.text("header/requestingAgencyRequestId"):
        add_element(
            header, "requestingAgencyRequestId", message.text("header/requestingAgencyRequestId")
        )
    add_element(header, "timestampReceived", iso_timestamp(received or now))
    add_element(header, "messageStatus", "ERROR" if refusal else "OK")
    if refusal is not None:
        error_data = add_element(body, "errorData")
        add_element(error_data, "errorType", refusal.error_type)
        add_element(error_data, "errorValue", refusal.error_value[:500])
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
