"""Sourcing suggestions: the lenders to ask for a request, ranked from what the service has
seen, each with its reasons in words and figures (docs/sourcing.md).

``rank`` is the rule. It is a pure function of what the request needs (``Need``) and what
is known of each lender (``LenderFacts``), so the team's page, the API and the backtest
(``python -m benchmarks.suggest``, which feeds it only what was known before each request)
rank alike. ``tally`` turns answered lender attempts into per-lender, per-format records,
for the job that keeps them (``jobs.record_lenders``) and for the backtest.
``suggested_lenders`` gathers one request's facts in three queries: the job's records for
its format, who was asked for the same item before, and the lenders' newest availability.
"""

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q
from django.utils import timezone

from lenders.models import Lender
from lenders.selectors import Availability, cannot_take_requests, lenders_with_availability

from . import rules
from .models import BorrowingRequest, Format, LenderAttempt, LenderRecord

#: The records cover the attempts answered in this many days before they are made.
RECORD_DAYS = 365
#: The lenders with the most loans of a format that are ranked for it (beside any asked for
#: the same item before): enough for a string's five, few enough to stay quick at 5,000.
CANDIDATES = 300
#: How many suggestions the page and the API show.
SHOWN = 10

# What each fact weighs: a lender that supplied the item before is the strongest sign.
SUPPLIED_ITEM = 50
REFUSED_ITEM = -35
FILL_RATE = 40
SPEED = 10
#: A total of shipping and arriving at or beyond this many days earns no speed points.
SLOWEST_DAYS = 21
FREE = 5
OVER_MAX_COST = -30
ON_DELIVERY = 8
EXCHANGES = 2
CLOSED_A_WHILE = -15
CANNOT_TAKE = -100


@dataclass(frozen=True)
class Need:
    """What a request asks of a lender."""

    format: str
    max_cost: Decimal
    needed_by: dt.date | None
    #: The borrowing library is on the Delivery route.
    on_delivery: bool
    today: dt.date

    @classmethod
    def of(cls, req: BorrowingRequest, today: dt.date | None = None) -> "Need":
        return cls(
            format=req.format,
            max_cost=req.max_cost,
            needed_by=req.needed_by,
            on_delivery=req.library.on_delivery,
            today=today or timezone.localdate(),
        )


@dataclass
class Record:
    """A lender's answers for one format over the record's year."""

    asked: int = 0
    filled: int = 0
    days_to_ship: float | None = None
    days_to_arrive: float | None = None
    usual_cost: Decimal | None = None


@dataclass
class LenderFacts:
    """What is known of one lender, for one request."""

    lender_id: int
    name: str
    record: Record = field(default_factory=Record)
    #: Times it supplied this item before, and said it cannot.
    supplied_item: int = 0
    refused_item: int = 0
    #: Its fee as the directory has it, when it has no loans to go by.
    directory_fee: Decimal | None = None
    #: Why it cannot take a request today (``lenders.selectors.cannot_take_requests``).
    cannot_take: str = ""
    #: The last day of a closure under way today (None when open, or closed with no end).
    closed_until: dt.date | None = None
    on_delivery: bool = False
    exchanges: bool = False


@dataclass(frozen=True)
class Reason:
    words: str
    points: float


@dataclass
class Suggestion:
    lender_id: int
    name: str
    score: float
    reasons: list[Reason]
    #: It can take the request today: a string may start with it.
    usable: bool


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def _money(amount: Decimal) -> str:
    return f"{amount:,.2f}"


#: A format's items, in a sentence ("Filled 9 of 12 books …").
FORMAT_WORDS: dict[str, str] = {
    Format.BOOK: "books",
    Format.AUDIOBOOK: "audiobooks",
    Format.VIDEO: "DVDs and Blu-rays",
    Format.MUSIC: "music CDs",
    Format.SCORE: "scores",
    Format.MICROFILM: "microfilms",
    Format.PERIODICAL_ISSUE: "periodical issues",
    Format.OTHER: "items of other formats",
}


def format_words(fmt: str) -> str:
    """A format's items in a sentence: "books", "DVDs and Blu-rays"."""
    return FORMAT_WORDS.get(fmt, f"{fmt} items")


def reasons_for(need: Need, facts: LenderFacts) -> list[Reason]:
    """Why ``facts``' lender ranks where it does for ``need``: each fact in words, with the
    points it adds or takes away."""
    reasons: list[Reason] = []
    if facts.supplied_item:
        words = f"Supplied this item before ({_times(facts.supplied_item)})"
        reasons.append(Reason(words, SUPPLIED_ITEM))
    if facts.refused_item:
        words = f"Said it cannot supply this item before ({_times(facts.refused_item)})"
        reasons.append(Reason(words, REFUSED_ITEM * min(facts.refused_item, 2)))
    record = facts.record
    rate = (record.filled + 1) / (record.asked + 2)  # a few answers say little either way
    kind = format_words(need.format)
    if record.asked:
        share = round(100 * record.filled / record.asked)
        words = (
            f"Filled {record.filled} of {record.asked} {kind} asked in the last year ({share} %)"
        )
    else:
        words = f"Not asked for {kind} in the last year"
    reasons.append(Reason(words, round(FILL_RATE * rate, 1)))
    if record.days_to_ship is not None:
        total = record.days_to_ship + (record.days_to_arrive or 0)
        words = f"Ships in {record.days_to_ship:g} days (median)"
        if record.days_to_arrive is not None:
            words += f"; arrives {record.days_to_arrive:g} days later"
        reasons.append(Reason(words, round(SPEED * max(0.0, 1 - total / SLOWEST_DAYS), 1)))
    cost = record.usual_cost if record.usual_cost is not None else facts.directory_fee
    if cost is not None:
        how = "Its loans usually cost" if record.usual_cost is not None else "Its fee is"
        if cost > need.max_cost:
            words = f"{how} {_money(cost)}, above the max cost {_money(need.max_cost)}"
            reasons.append(Reason(words, OVER_MAX_COST))
        elif cost == 0:
            reasons.append(Reason("No fee", FREE))
        else:
            words = f"{how} {_money(cost)}, within the max cost {_money(need.max_cost)}"
            reasons.append(Reason(words, 0))
    if facts.on_delivery and need.on_delivery:
        reasons.append(Reason("On the Delivery route", ON_DELIVERY))
    if facts.exchanges:
        reasons.append(Reason("Answers by ISO 18626: no retyping", EXCHANGES))
    if facts.cannot_take:
        why = facts.cannot_take[:1].upper() + facts.cannot_take[1:]
        reopens = facts.closed_until
        if reopens is not None and need.needed_by is not None and reopens < need.needed_by:
            reasons.append(Reason(f"{why}: reopens before the needed-by date", CLOSED_A_WHILE))
        else:
            past = " past the needed-by date" if need.needed_by is not None else ""
            reasons.append(Reason(f"{why}{past}", CANNOT_TAKE))
    return reasons


def rank(need: Need, lenders: Iterable[LenderFacts], *, limit: int = SHOWN) -> list[Suggestion]:
    """The lenders best placed to supply ``need``, best first, at most ``limit``: the sum
    of their reasons' points; ties go to the lender that filled more, then by name."""
    suggestions = []
    for facts in lenders:
        reasons = reasons_for(need, facts)
        score = round(sum(reason.points for reason in reasons), 1)
        usable = not facts.cannot_take
        suggestions.append(Suggestion(facts.lender_id, facts.name, score, reasons, usable))
    filled = {facts.lender_id: facts.record.filled for facts in lenders}
    suggestions.sort(key=lambda s: (-s.score, -filled.get(s.lender_id, 0), s.name))
    return suggestions[:limit]


# --- The records ------------------------------------------------------------------------

#: An answered attempt, as ``tally`` reads it: lender, format, outcome, the day it was
#: sent, the day the loan shipped and arrived (None when it did not), and what it cost.
AttemptRow = tuple[int, str, str, dt.date, dt.date | None, dt.date | None, Decimal]


def tally(rows: Iterable[AttemptRow]) -> dict[tuple[int, str], Record]:
    """Per lender and format: how often it was asked and filled, its median days to ship
    and to arrive, and the median cost of its filled loans."""
    asked: dict[tuple[int, str], int] = defaultdict(int)
    filled: dict[tuple[int, str], int] = defaultdict(int)
    ship: dict[tuple[int, str], list[int]] = defaultdict(list)
    arrive: dict[tuple[int, str], list[int]] = defaultdict(list)
    cost: dict[tuple[int, str], list[Decimal]] = defaultdict(list)
    for lender_id, fmt, outcome, sent_on, shipped_on, received_on, charges in rows:
        key = (lender_id, fmt)
        asked[key] += 1
        if outcome != LenderAttempt.Outcome.SHIPPED:
            continue
        filled[key] += 1
        cost[key].append(charges)
        if shipped_on is not None:
            ship[key].append(max(0, (shipped_on - sent_on).days))
            if received_on is not None:
                arrive[key].append(max(0, (received_on - shipped_on).days))
    return {
        key: Record(
            asked=count,
            filled=filled[key],
            days_to_ship=statistics.median(ship[key]) if ship[key] else None,
            days_to_arrive=statistics.median(arrive[key]) if arrive[key] else None,
            usual_cost=statistics.median(cost[key]) if cost[key] else None,
        )
        for key, count in asked.items()
    }


def answered_attempts(since: dt.datetime) -> Iterable[AttemptRow]:
    """The attempts answered (shipped, or could not supply) since ``since``, as ``tally``
    reads them, streamed."""
    rows = (
        LenderAttempt.objects.filter(
            resolved_at__gte=since,
            outcome__in=[LenderAttempt.Outcome.SHIPPED, LenderAttempt.Outcome.UNFILLED],
        )
        .values_list(
            "lender_id",
            "request__format",
            "outcome",
            "sent_at",
            "request__shipped_on",
            "request__received_on",
            "request__charges_total",
        )
        .order_by()
        .iterator(chunk_size=10_000)
    )
    for lender_id, fmt, outcome, sent_at, shipped_on, received_on, charges in rows:
        sent_on = timezone.localdate(sent_at)
        yield lender_id, fmt, outcome, sent_on, shipped_on, received_on, charges


# --- One request's suggestions ----------------------------------------------------------


def same_item(req: BorrowingRequest) -> Q:
    """Other requests for the same item: by ISBN, OCLC number or the normalised title and
    author (``item_key``), each on its own index."""
    condition = Q(item_key=req.item_key)
    if req.isbn:
        condition |= Q(isbn=req.isbn)
    if req.oclc_number:
        condition |= Q(oclc_number=req.oclc_number)
    return condition


def item_history(req: BorrowingRequest) -> dict[int, dict[str, int]]:
    """By lender: how many times it shipped this item, and said it could not, for other
    requests. One query."""
    others = BorrowingRequest.objects.filter(same_item(req)).exclude(pk=req.pk)
    counts = (
        LenderAttempt.objects.filter(
            request__in=others.values("pk"),
            outcome__in=[LenderAttempt.Outcome.SHIPPED, LenderAttempt.Outcome.UNFILLED],
        )
        .values("lender_id", "outcome")
        .annotate(n=Count("id"))
        .order_by()
    )
    history: dict[int, dict[str, int]] = defaultdict(dict)
    for row in counts:
        history[row["lender_id"]][row["outcome"]] = row["n"]
    return history


def lender_facts(
    lender: Lender, today: dt.date, record: Record | None, item: dict[str, int]
) -> LenderFacts:
    """What is known of a lender (from ``lenders_with_availability``) for one request: its
    own facts, its ``record`` for the request's format, and how often it shipped and said
    it could not supply the same item (``item``, by outcome)."""
    availability = Availability(lender)
    closed_until = availability.closed_until if availability.closed_on(today) else None
    return LenderFacts(
        lender_id=lender.pk,
        name=str(lender),
        record=record or Record(),
        supplied_item=item.get(LenderAttempt.Outcome.SHIPPED, 0),
        refused_item=item.get(LenderAttempt.Outcome.UNFILLED, 0),
        directory_fee=lender.usual_fee if lender.charges_fees else Decimal("0.00"),
        cannot_take=cannot_take_requests(lender, on_date=today),
        closed_until=closed_until,
        on_delivery=lender.on_delivery,
        exchanges=lender.exchanges_iso18626,
    )


def best_string(suggestions: list[Suggestion]) -> list[Suggestion]:
    """The suggestions a one-click string is made of: the best that can take the request
    now, as many as a string holds."""
    return [s for s in suggestions if s.usable][: rules.LENDER_STRING]


def suggested_lenders(
    req: BorrowingRequest, *, today: dt.date | None = None, limit: int = SHOWN
) -> list[Suggestion]:
    """The lenders to ask for ``req``, best first (``rank``), leaving out the lender that
    has it now. Three queries, whatever the number of lenders."""
    need = Need.of(req, today)
    rows = LenderRecord.objects.filter(format=req.format).order_by("-filled", "lender_id")
    records = {
        row.lender_id: Record(
            row.asked, row.filled, row.days_to_ship, row.days_to_arrive, row.usual_cost
        )
        for row in rows[:CANDIDATES]
    }
    history = item_history(req)
    candidates = (set(records) | set(history)) - {req.lender_id}
    lenders = lenders_with_availability().filter(pk__in=candidates, is_active=True)
    facts = [
        lender_facts(lender, need.today, records.get(lender.pk), history.get(lender.pk, {}))
        for lender in lenders
    ]
    return rank(need, facts, limit=limit)
