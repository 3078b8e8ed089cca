"""The queries behind list pages: scoped to the user, with what each row shows joined in.

HTML views, API views and reports start from these, so access rules and query shapes live
in one place.
"""

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import (
    BooleanField,
    Case,
    Count,
    F,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    When,
)

from lenders.selectors import not_accepting_returns
from members.models import MemberLibrary, Patron, User
from members.selectors import scoped_to_library

from . import flags
from .flags import ALL_FLAGS, DUE_SOON, OVERDUE
from .identifiers import normalize_isbn, normalize_oclc_number
from .models import (
    FLAGGED,
    BorrowingRequest,
    Charge,
    LenderStringEntry,
    RenewalRequest,
    Status,
    UnrequestedItemReport,
)
from .models import OPEN_STATUSES as OPEN_STATUSES  # the queue's default view; lists use it

#: Above this, a tab says "1,000+" instead of counting on through a million ended requests:
#: a count costs its cap in index entries a view (docs/performance.md, "The status tabs").
COUNT_CAP = 1_000


def requests_visible_to(user: User | AnonymousUser) -> QuerySet[BorrowingRequest]:
    """Every request for the team; the user's own library's for its staff; none otherwise."""
    return scoped_to_library(BorrowingRequest.objects.all(), user, "library_id")


def unrequested_items_visible_to(user: User | AnonymousUser) -> QuerySet[UnrequestedItemReport]:
    """Items libraries received unasked, newest first: every library's for the team, their
    own for a library's staff, with who reported them."""
    reports = UnrequestedItemReport.objects.select_related(
        "library", "reported_by", "send_to", "returned_to", "resolved_by"
    )
    return scoped_to_library(reports, user, "library_id")


def possible_matches(report: UnrequestedItemReport, limit: int = 5) -> list[BorrowingRequest]:
    """Requests an unrequested item may belong to, for the team to check: the slip's
    number as a request's number, OCLC/ILL number, ISBN or OCLC number, then the title
    (its part before an author's "/"), loans in transit first."""
    found: dict[int, BorrowingRequest] = {}
    everyone = BorrowingRequest.objects.select_related("library", "lender")
    number = report.slip_number.strip().lstrip("#")
    queries = []
    if number:
        by_number = search(everyone, number, team=True)
        if number.isdigit() and len(number) < 12:
            by_number = by_number | everyone.filter(pk=int(number))
        queries.append(by_number)
    title = report.title.split(" / ")[0].strip()
    if len(title) >= 4:
        queries.append(everyone.filter(title__icontains=title))
    for query in queries:
        in_transit_first = Case(When(status=Status.SHIPPED, then=0), default=1)
        for req in query.order_by(in_transit_first, "-created_at")[:limit]:
            found.setdefault(req.pk, req)
    return list(found.values())[:limit]


def open_unrequested_count(cap: int | None = None) -> int | None:
    """How many reports the team has not resolved yet, for its tabs: counted up to ``cap``
    through ``unrequested_open`` (None beyond it, "1,000+"), as the status tabs are."""
    cap = COUNT_CAP if cap is None else cap
    count = (
        UnrequestedItemReport.objects.filter(resolved_at__isnull=True)
        .values("pk")[: cap + 1]
        .count()
    )
    return count if count <= cap else None


def requests_for_list(user: User | AnonymousUser) -> QuerySet[BorrowingRequest]:
    """``requests_visible_to`` with the columns a list row shows, in one query: the
    patron too for the library's own staff, the only ones who see patrons' names."""
    requests = requests_visible_to(user).select_related("library", "lender", "assigned_to")
    if getattr(user, "is_library_staff", False):
        requests = requests.select_related("patron")
    return requests


#: The columns a list row shows (``list_rows``): the request's own, those its flags and
#: its trace's step are worked out from, and its library, lender and assignee.
LIST_ROW_COLUMNS = tuple(
    dict.fromkeys(
        (
            "id", "title", "author", "format", "isbn", "status", "trace",
            "not_arrived_flagged_at", "created_at", "needed_by", "due_date",
            *flags.LIST_FLAG_FIELDS,
        )
    )
)  # fmt: skip
LIST_ROW_JOINS = {
    "library_name": F("library__name"),
    "library_code": F("library__ill_code"),
    "lender_name": F("lender__name"),
    "lender_symbol": F("lender__oclc_symbol"),
    "assignee": F("assigned_to__username"),
}
#: Only for a library's own staff, the only ones who see their patrons on a list.
PATRON_JOINS = {"patron_name": F("patron__name"), "patron_card": F("patron__card_number")}


class ListRow:
    """One request as a list shows it: ``LIST_ROW_COLUMNS`` and the joins as attributes.

    Read as plain values rather than model instances: a page of 50 rows built 200 of those
    (the request, its library, lender and assignee), a fifth of the page's time
    (docs/performance.md, "Rows as values"). The flags test a row as they test a request.
    """

    def __init__(self, columns: dict[str, Any]) -> None:
        self.__dict__.update(columns)

    @property
    def pk(self) -> int:
        return int(self.__dict__["id"])


def list_rows(requests: QuerySet[BorrowingRequest], user: User | AnonymousUser) -> list[ListRow]:
    """``requests`` as ``ListRow``s, in one query, with the patron for a library's staff and
    ``return_on_hold`` when ``with_return_availability`` annotated it."""
    joins = LIST_ROW_JOINS | (PATRON_JOINS if getattr(user, "is_library_staff", False) else {})
    annotated = tuple(name for name in ("return_on_hold",) if name in requests.query.annotations)
    return [ListRow(row) for row in requests.values(*LIST_ROW_COLUMNS, *annotated, **joins)]


def list_rows_for(
    user: User | AnonymousUser,
) -> Callable[[QuerySet[BorrowingRequest]], list[ListRow]]:
    """``list_rows`` for ``user``, as ``core.pagination.page_of`` reads a page's rows."""
    return lambda requests: list_rows(requests, user)


def requests_in_full(user: User | AnonymousUser) -> QuerySet[BorrowingRequest]:
    """``requests_for_list`` with all an API row shows: three queries for any number of
    requests (the rows with their joins, their charges, their renewals)."""
    return (
        requests_for_list(user)
        .select_related("created_by")
        .prefetch_related(
            Prefetch("charges", queryset=Charge.objects.select_related("created_by", "voided_by")),
            Prefetch(
                "renewals",
                queryset=RenewalRequest.objects.select_related("requested_by", "answered_by"),
            ),
        )
    )


def with_return_availability(
    requests: QuerySet[BorrowingRequest],
) -> QuerySet[BorrowingRequest]:
    """Each request with ``return_on_hold``: the item is with the library and its lender is
    not accepting returns (``lenders.selectors.not_accepting_returns``), so the page asks
    before it goes back and the queue shows it. The subquery runs once a row, in the CASE."""
    return requests.annotate(
        return_on_hold=Case(
            When(not_accepting_returns("lender"), status__in=flags.WITH_LIBRARY, then=True),
            default=False,
            output_field=BooleanField(),
        ),
    )


def return_on_hold(req: BorrowingRequest) -> bool:
    """Whether ``req`` is with the library and its lender is not accepting returns: read
    from ``with_return_availability``'s annotation when it carries one, else asked."""
    if hasattr(req, "return_on_hold"):
        return bool(req.return_on_hold)
    asked = with_return_availability(BorrowingRequest.objects.filter(pk=req.pk)).first()
    return bool(getattr(asked, "return_on_hold", False))


def with_flag(
    requests: QuerySet[BorrowingRequest], name: str, today: dt.date | None = None
) -> QuerySet[BorrowingRequest]:
    """Narrow ``requests`` to those carrying the flag ``name`` (``flags.ALL_FLAGS``)."""
    return requests.filter(ALL_FLAGS[name].condition(today))


def with_trace_step(requests: QuerySet[BorrowingRequest], step: str) -> QuerySet[BorrowingRequest]:
    """Narrow ``requests`` to loans whose not-arrived trace is at ``step`` (``traces``):
    a stored step through ``request_traced``; "flagged" (flagged, nobody on it yet) through
    the in-transit index."""
    if step == FLAGGED:
        return requests.filter(flags.IN_TRANSIT, not_arrived_flagged_at__isnull=False, trace="")
    return requests.filter(trace=step)


def for_patron_card(
    requests: QuerySet[BorrowingRequest], card_number: str
) -> QuerySet[BorrowingRequest]:
    """The requests for the patron with this card number (the library's own, by scope)."""
    return requests.filter(patron__card_number=card_number.strip())


#: The fewest characters a patron's name is searched by.
PATRON_NAME_SEARCH_MIN = 3


def for_patron(
    requests: QuerySet[BorrowingRequest], text: str, *, library_id: int | None
) -> QuerySet[BorrowingRequest]:
    """For the library's own staff: the requests for the library's patron with this card
    number, or whose name holds ``text`` (any case). The team searches by card only: it
    sees no names. The patrons are found first (a library has some thousands), so the
    requests are read by patron, not all of the library's scanned for a name."""
    text = text.strip()
    matches = Q(card_number=text)
    if len(text) >= PATRON_NAME_SEARCH_MIN:  # "a" would match nearly every patron
        matches |= Q(name__icontains=text)
    patrons = Patron.objects.filter(library_id=library_id).filter(matches)
    return requests.filter(patron_id__in=list(patrons.values_list("pk", flat=True)))


def search(
    requests: QuerySet[BorrowingRequest], text: str, *, team: bool = False
) -> QuerySet[BorrowingRequest]:
    """Title or author words, or an exact ISBN (10 or 13) or OCLC number; for the team also
    an exact OCLC/ILL number or library ILL code."""
    text = text.strip()
    if not text:
        return requests
    matches = Q(title__icontains=text) | Q(author__icontains=text)
    if team:
        # The library by its id, not through a join, so every branch of the OR has an
        # index of its own (the title and author ones are trigram indexes, migration 0004).
        library_ids = MemberLibrary.objects.filter(ill_code__iexact=text).values_list(
            "pk", flat=True
        )
        matches |= Q(lender_request_number=text) | Q(library_id__in=list(library_ids))
    for field, normalize in (("isbn", normalize_isbn), ("oclc_number", normalize_oclc_number)):
        try:
            matches |= Q(**{field: normalize(text)})
        except Exception:  # noqa: S112 - not that kind of number; the words still match
            continue
    return requests.filter(matches)


def status_counts(requests: QuerySet[BorrowingRequest]) -> dict[str, int]:
    """How many of ``requests`` are in each status (every status present, zeros included)."""
    counts = dict.fromkeys(Status.values, 0)
    # COUNT(*), not COUNT(id): the status index alone answers it (an index-only scan).
    rows = requests.order_by().values_list("status").annotate(n=Count("*"))
    counts.update({status: n for status, n in rows})
    return counts


#: Stands for the status in the capped counts' SQL until each status takes its place.
_ANY_STATUS = "\x00any status\x00"


def capped_status_counts(
    requests: QuerySet[BorrowingRequest], cap: int | None = None
) -> dict[str, int | None]:
    """Counts by status for the queue's tabs, without counting every request.

    Each status is counted up to ``cap`` (through the status index, stopping at the
    ``cap + 1``-th row) and reported as None beyond it ("1,000+"): the cost stays fixed
    however many requests pile up in a status, ended or, in a backlog, open. The counts
    go to the database as one statement of one capped subquery a status.
    """
    cap = COUNT_CAP if cap is None else cap
    # The ORM writes the subquery once, for a stand-in status; each status gets that SQL
    # with its own value in the stand-in's place (a page's worth of time saved: compiling
    # the filters eleven times cost more than running the counts).
    capped = requests.filter(status=_ANY_STATUS).order_by().values("pk")[: cap + 1]
    try:
        sql, template_params = capped.query.sql_with_params()
    except EmptyResultSet:  # a filter that can match nothing (a code nobody has)
        return dict.fromkeys(Status.values, 0)
    subquery = f"(SELECT COUNT(*) FROM ({sql}) capped)"  # noqa: S608 - ORM SQL
    params = [
        status if param == _ANY_STATUS else param
        for status in Status.values
        for param in template_params
    ]
    subqueries = [subquery] * len(Status.values)
    with connections[requests.db].cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(subqueries)}", params)  # noqa: S608 - ORM SQL
        row = cursor.fetchone()
    return {status: n if n <= cap else None for status, n in zip(Status.values, row, strict=True)}


def due_soon(requests: QuerySet[BorrowingRequest], today: dt.date) -> QuerySet[BorrowingRequest]:
    """Loans with the library due from today to ``flags.DUE_SOON_DAYS`` ahead."""
    return with_flag(requests, DUE_SOON.name, today).order_by("due_date", "id")


def overdue(requests: QuerySet[BorrowingRequest], today: dt.date) -> QuerySet[BorrowingRequest]:
    """Loans with the library whose due date has passed (whether or not the job flagged them)."""
    return with_flag(requests, OVERDUE.name, today).order_by("due_date", "id")


def pending_renewal(req: BorrowingRequest) -> RenewalRequest | None:
    """The request's renewal waiting for the lender's answer, read from its prefetched
    renewals when they are loaded (one query when not)."""
    return next((r for r in req.renewals.all() if r.answer == RenewalRequest.Answer.PENDING), None)


def renewals_answered_since(library_id: int, since: dt.datetime) -> QuerySet[RenewalRequest]:
    """The lenders' renewal answers for a library's loans, newest first."""
    return (
        RenewalRequest.objects.filter(request__library_id=library_id, answered_at__gte=since)
        .select_related("request")
        .order_by("-answered_at")
    )


def lender_string(req: BorrowingRequest) -> list[LenderStringEntry]:
    """The request's lender string as the team set it last, in order, with each lender and
    what became of it (sent, skipped and why, waiting, or dropped when it was cleared).
    Empty when it never had one. One query."""
    entries = req.string_entries.select_related("lender").order_by("-position")
    newest = entries.values("set_at")[:1]
    return list(entries.filter(set_at=Subquery(newest)).order_by("position"))
