"""Everything a library owns, or the whole service, out again (docs/go-live.md, "Leaving"):
requests with their timelines and charges, and the library's patrons, as CSV and JSON.

Streamed: the rows are read a chunk of requests at a time, keyed on the id (three queries
a chunk: the requests, their events, their charges), and written as they are read, so a
million requests take the memory of one chunk. A library's own staff get their patrons'
names and e-mail addresses; the team gets card numbers only, as on its pages.
"""

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet

from members.models import Patron

from .models import BorrowingRequest, Charge, StatusEvent

#: Requests read at a time.
CHUNK = 2000

REQUEST_COLUMNS = (
    "id", "library", "status", "format", "title", "author", "publisher", "year", "edition",
    "volume", "isbn", "issn", "oclc_number", "patron_card", "needed_by", "max_cost",
    "lender", "lender_request_number", "shipped_on", "shipping_method", "shipping_tracking",
    "due_date", "received_on", "returned_on", "return_method", "return_tracking",
    "charges_total", "trace", "notes", "created_at", "ended_at",
)  # fmt: skip
EVENT_COLUMNS = ("request_id", "at", "action", "from_status", "to_status", "actor", "note")
CHARGE_COLUMNS = (
    "request_id", "created_at", "kind", "amount", "currency", "payer", "invoiced_on",
    "paid_on", "reference", "voids_id", "reason",
)  # fmt: skip
PATRON_COLUMNS = ("card_number", "name", "email", "homebound", "created_at")

#: The columns named after a related row's code: where that code is.
_RELATED = {
    "library": "library__ill_code",
    "patron_card": "patron__card_number",
    "lender": "lender__oclc_symbol",
}
_PLAIN = [column for column in REQUEST_COLUMNS if column not in _RELATED]


def chunks(requests: QuerySet[BorrowingRequest]) -> Iterator[list[dict[str, Any]]]:
    """The requests, ``CHUNK`` at a time in id order, as dicts of ``REQUEST_COLUMNS``."""
    last = 0
    while True:
        chunk = list(
            requests.filter(pk__gt=last).order_by("pk").values(*_PLAIN, *_RELATED.values())[:CHUNK]
        )
        if not chunk:
            return
        for row in chunk:
            for column, path in _RELATED.items():
                row[column] = row.pop(path)
        yield chunk
        last = chunk[-1]["id"]


def _by_request(rows: Iterable[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row.pop("request_id")].append(row)
    return grouped


def _events(ids: list[int]) -> Iterator[dict[str, Any]]:
    """The requests' events, in order, with who acted by username (blank: the service's
    jobs)."""
    rows = (
        StatusEvent.objects.filter(request_id__in=ids)
        .order_by("request_id", "at", "id")
        .values("request_id", "at", "action", "from_status", "to_status", "note", "actor__username")
    )
    for row in rows:
        row["actor"] = row.pop("actor__username") or ""
        yield row


def _charges(ids: list[int]) -> Iterable[dict[str, Any]]:
    return (
        Charge.objects.filter(request_id__in=ids)
        .order_by("request_id", "created_at", "id")
        .values(*CHARGE_COLUMNS)
    )


def as_json(requests: QuerySet[BorrowingRequest]) -> Iterator[str]:
    """A JSON array of the requests, each with its ``events`` and ``charges``."""
    encoder = DjangoJSONEncoder()
    yield "["
    first = True
    for chunk in chunks(requests):
        ids = [row["id"] for row in chunk]
        events, charges = _by_request(_events(ids)), _by_request(_charges(ids))
        parts = []
        for row in chunk:
            row["events"] = events.get(row["id"], [])
            row["charges"] = charges.get(row["id"], [])
            parts.append(encoder.encode(row))
        yield ("" if first else ",") + ",\n".join(parts)
        first = False
    yield "]\n"


#: What a spreadsheet would take a cell starting with for a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _as_cell(value: Any) -> Any:
    """A text a spreadsheet would run as a formula (a title "=HYPERLINK(…)") kept as text,
    with the apostrophe spreadsheets read as "this is text"."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv(columns: tuple[str, ...], rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """CSV text, a header line and then a block a chunk."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for count, row in enumerate(rows, start=1):
        writer.writerow({key: _as_cell(value) for key, value in row.items()})
        if count % CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def requests_csv(requests: QuerySet[BorrowingRequest]) -> Iterator[str]:
    return _csv(REQUEST_COLUMNS, (row for chunk in chunks(requests) for row in chunk))


def events_csv(requests: QuerySet[BorrowingRequest]) -> Iterator[str]:
    """The timelines: one line an event, by request."""

    def rows() -> Iterator[dict[str, Any]]:
        for chunk in chunks(requests):
            yield from _events([row["id"] for row in chunk])

    return _csv(EVENT_COLUMNS, rows())


def charges_csv(requests: QuerySet[BorrowingRequest]) -> Iterator[str]:
    def rows() -> Iterator[dict[str, Any]]:
        for chunk in chunks(requests):
            yield from _charges([row["id"] for row in chunk])

    return _csv(CHARGE_COLUMNS, rows())


def patrons_csv(patrons: QuerySet[Patron]) -> Iterator[str]:
    """A library's patrons, for its own staff only (names and e-mail addresses)."""
    return _csv(PATRON_COLUMNS, patrons.order_by("pk").values(*PATRON_COLUMNS).iterator(CHUNK))


#: What each file is, by its name in the address: (how it is made, its content type).
FILES = {
    "requests.json": (as_json, "application/json"),
    "requests.csv": (requests_csv, "text/csv"),
    "events.csv": (events_csv, "text/csv"),
    "charges.csv": (charges_csv, "text/csv"),
}
