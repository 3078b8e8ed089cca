"""The flags a request can carry, each defined once.

A flag is a set of field lookups, such as ``{"status": "shipped",
"not_arrived_flagged_at__isnull": False}``. The lists filter on them as a query
(``Flag.condition``, each served by an index) and a page tests one request against the very
same lookups (``Flag.carried_by``), so a badge on a row and the filter that found the row
cannot disagree. The jobs that set a flag, and the digests that tell of it, start from here
too (``Flag.stamp``, ``IN_TRANSIT``, ``WITH_LIBRARY_DUE``).

Flags are not statuses: a not-arrived flag stays on the request as history once the item
comes, and the condition matches only the loans it still describes.
"""

import datetime as dt
import functools
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q
from django.utils import timezone

from . import rules
from .models import ON_LOAN_STATUSES, ShippingMethod, Status

#: Loans that are out with the library: what "due soon" and "overdue" look at.
WITH_LIBRARY = (Status.RECEIVED, Status.RENEWAL_REQUESTED)
#: How far ahead a due date is "due soon": the dashboard's list and the reminder e-mail.
DUE_SOON_DAYS = 3

#: The loans each flag job looks at, as their partial indexes (``request_in_transit``,
#: ``request_with_library_due``) hold them.
IN_TRANSIT = Q(status=Status.SHIPPED, shipped_on__isnull=False)
WITH_LIBRARY_DUE = Q(status__in=WITH_LIBRARY, due_date__isnull=False)

Lookups = dict[str, Any]


@dataclass(frozen=True)
class Flag:
    name: str
    label: str
    #: The field lookups a request carrying the flag matches, on a given day.
    lookups: Callable[[dt.date], Lookups]
    #: The column in which a job records that the library was told (its digest's key).
    stamp: str = ""

    def condition(self, today: dt.date | None = None) -> Q:
        return Q(**self.lookups(today or timezone.localdate()))

    def carried_by(self, req: Any, today: dt.date | None = None) -> bool:
        """Whether ``req`` (a request, or any object with its fields as attributes, such
        as a list's row) matches the lookups on ``today``."""
        tests = _tests_of(self, today or timezone.localdate())
        return all(_holds(req, field, test, value) for field, test, value in tests)


@functools.lru_cache(maxsize=64)
def _tests_of(flag: Flag, today: dt.date) -> tuple[tuple[str, str, Any], ...]:
    """The flag's lookups on ``today`` as (field, operator, value), worked out once a day
    rather than once a row: a page of 500 rows tests every list flag on each."""
    return tuple(
        (field, test, value)
        for lookup, value in flag.lookups(today).items()
        for field, _, test in [lookup.partition("__")]
    )


_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}


def _holds(req: Any, field: str, test: str, value: Any) -> bool:
    """A field lookup of the kinds the flags use, tested on one request in Python."""
    actual = getattr(req, field)
    if isinstance(value, F):
        value = getattr(req, value.name)
    if test == "isnull":
        return bool((actual is None) == value)
    if test == "in":
        return actual in value
    if test == "":
        return bool(actual == value)
    if actual is None or value is None:
        return False
    return bool(_COMPARISONS[test](actual, value))


NOT_ARRIVED = Flag(
    "not_arrived",
    "Not arrived",
    lambda today: {"status": Status.SHIPPED, "not_arrived_flagged_at__isnull": False},
    stamp="not_arrived_flagged_at",
)
OVERDUE = Flag(
    "overdue",
    "Overdue",
    lambda today: {"status__in": WITH_LIBRARY, "due_date__lt": today},
    stamp="overdue_flagged_at",
)
OVER_MAX_COST = Flag(
    "over_max_cost", "Over max cost", lambda today: {"charges_total__gt": F("max_cost")}
)
RENEWAL_PENDING = Flag(
    "renewal_pending", "Renewal pending", lambda today: {"status": Status.RENEWAL_REQUESTED}
)
#: Submitted although the library had an open request for the same item (``duplicates``).
#: The column's id, not the row it points at: a badge reads no other request.
POSSIBLE_DUPLICATE = Flag(
    "possible_duplicate",
    "Possible duplicate",
    lambda today: {"possible_duplicate_of_id__isnull": False},
)
#: The lender recalled the loan (ISO 18626 ``Recalled``): it is due back sooner.
RECALLED = Flag(
    "recalled",
    "Recalled",
    lambda today: {"status__in": sorted(ON_LOAN_STATUSES), "recalled_at__isnull": False},
)
#: An ISO 18626 message to or from the lender failed, and the team has not cleared it.
EXCHANGE_FAILING = Flag(
    "exchange_failing",
    "Exchange failing",
    lambda today: {"exchange_failed_at__isnull": False},
)
#: Every lender of the request's string said it cannot supply or was skipped: it is back
#: with the team (``workflow.set_lender_string``).
STRING_EXHAUSTED = Flag(
    "string_exhausted",
    "String exhausted",
    lambda today: {"status": Status.SOURCING, "string_exhausted_at__isnull": False},
)
DUE_SOON = Flag(
    "due_soon",
    "Due soon",
    lambda today: {
        "status__in": WITH_LIBRARY,
        "due_date__gte": today,
        "due_date__lte": today + dt.timedelta(days=DUE_SOON_DAYS),
    },
    stamp="due_reminded_at",
)

#: The flags the lists filter on and show as badges, in the order they show.
LIST_FLAGS = {
    flag.name: flag
    for flag in (
        NOT_ARRIVED,
        OVERDUE,
        OVER_MAX_COST,
        RENEWAL_PENDING,
        POSSIBLE_DUPLICATE,
        RECALLED,
        EXCHANGE_FAILING,
        STRING_EXHAUSTED,
    )
}
#: The columns the list flags test, for lists that read rows as values (``selectors.list_rows``).
LIST_FLAG_FIELDS = tuple(
    sorted(
        {
            name
            for flag in LIST_FLAGS.values()
            for lookup, value in flag.lookups(dt.date.min).items()
            for name in (lookup.partition("__")[0], value.name if isinstance(value, F) else "")
            if name
        }
    )
)
#: Every flag, by name (the jobs' digests are named after theirs).
ALL_FLAGS = {**LIST_FLAGS, DUE_SOON.name: DUE_SOON}
#: The columns the jobs stamp (kept out of every index, so their UPDATEs stay HOT).
STAMP_FIELDS = tuple(flag.stamp for flag in ALL_FLAGS.values() if flag.stamp)
#: The list flags' names and labels, for menus.
CHOICES = [(flag.name, flag.label) for flag in LIST_FLAGS.values()]
#: The flags that are the team's business alone: a library neither filters on nor sees them.
TEAM_ONLY = frozenset({EXCHANGE_FAILING.name, STRING_EXHAUSTED.name})
LIBRARY_CHOICES = [(name, label) for name, label in CHOICES if name not in TEAM_ONLY]


def flags_of(req: Any, today: dt.date | None = None) -> list[str]:
    """The list flags ``req`` carries on ``today`` (now when not given), by name."""
    today = today or timezone.localdate()
    return [name for name, flag in LIST_FLAGS.items() if flag.carried_by(req, today)]


def due_to_be_flagged_not_arrived(today: dt.date) -> Q:
    """In transit past its method's days (``rules.not_arrived_days``) and not flagged yet:
    the not-arrived job's rows. One range of the in-transit index a method."""
    late = Q()
    for method in ShippingMethod.values:
        cutoff = today - dt.timedelta(days=rules.not_arrived_days(method))
        late |= Q(shipping_method=method, shipped_on__lte=cutoff)
    longest = today - dt.timedelta(days=rules.not_arrived_days(""))
    late |= ~Q(shipping_method__in=ShippingMethod.values) & Q(shipped_on__lte=longest)
    return IN_TRANSIT & Q(not_arrived_flagged_at__isnull=True) & late
