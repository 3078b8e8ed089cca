"""ISO 18626 messages as a lender would send them, for the exchange's tests: built with
lxml from the standard's elements, valid against the schema unless a test spoils them."""

import base64
import datetime as dt

from requests_app.iso18626.messages import supplying_agency_message

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
    requester: str = "US-XX-ILLDESK",
    costs: str = "",
    currency: str = "USD",
    timestamp: dt.datetime | None = None,
    **fields,
) -> bytes:
    """A ``supplyingAgencyMessage`` from ``agency`` about ``request_id``
    (``messages.supplying_agency_message``, with ISIL agencies)."""
    return supplying_agency_message(
        request_id,
        status,
        supplier=("ISIL", agency),
        requester=("ISIL", requester),
        costs=(currency, costs) if costs else None,
        now=timestamp,
        **fields,
    )
