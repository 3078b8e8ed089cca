"""Is this item asked for already? The duplicate check every submission goes through.

A request duplicates another when the same library already has an open request (not
ended: ``OPEN_STATUSES``) for the same item: the same ISBN (stored as ISBN-13, so an
ISBN-10 finds its ISBN-13), the same OCLC number, or the same ``item_key`` (format, title,
author and volume, normalised: ``identifiers.item_key``). Another library's requests never
count: they are not this library's to see.

The check is one query over three indexes (``request_isbn``, ``request_oclc_number`` and
the partial ``request_open_item``), whatever the size of the table. The submitter may go
on with a reason; the new request then points at the first match
(``possible_duplicate_of``) and the queue shows it as a possible duplicate.
"""

import datetime as dt
import operator
from dataclasses import dataclass
from functools import reduce

from django.core.exceptions import ValidationError
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from .identifiers import normalized_volume
from .models import OPEN_STATUSES, BorrowingRequest, Status

#: The matches one warning lists at most: more say nothing the first ten do not.
MOST_SHOWN = 10


@dataclass(frozen=True)
class Duplicate:
    """An open request of the library's for the same item. No patron's details: whether it
    is for the same patron is all the warning says, whoever reads it."""

    id: int
    status: str
    title: str
    created_at: dt.datetime
    patron_is_same: bool

    @property
    def status_label(self) -> str:
        return str(Status(self.status).label)

    @property
    def described(self) -> str:
        """ "#12 for this patron (sourcing)", as the refusal lists it."""
        whose = "this patron" if self.patron_is_same else "another patron"
        return f"#{self.id} for {whose} ({self.status_label.lower()})"


class DuplicateRefusal(ValidationError):
    """A submission refused on ``duplicate_reason`` because the item is asked for already;
    ``duplicates`` are the matches, this patron's first, for the doors to link to."""

    def __init__(self, errors: dict[str, list[str]], duplicates: list[Duplicate]):
        super().__init__(errors)
        self.duplicates = duplicates


def matching_requests(
    *,
    library_id: int,
    patron_id: int | None,
    isbn: str,
    oclc_number: str,
    item_key: str,
) -> "QuerySet[BorrowingRequest, tuple[int, str, str, dt.datetime, int | None, str, str]]":
    """The check's one query: the library's open requests for the same item, this
    patron's first, then the others', oldest first in each, as (id, status, title,
    created at, patron, item key, volume); ``open_duplicates`` keeps ``MOST_SHOWN``.
    ``isbn`` and ``oclc_number`` are normalised (``identifiers``); an empty one matches
    nothing."""
    given = {"item_key": item_key, "isbn": isbn, "oclc_number": oclc_number}
    lookups = [Q(**{field: value}) for field, value in given.items() if value]
    if not lookups:
        return BorrowingRequest.objects.none().values_list(*_COLUMNS)
    patron_first = Case(
        When(patron_id=patron_id, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return (
        BorrowingRequest.objects.filter(
            reduce(operator.or_, lookups), library_id=library_id, status__in=OPEN_STATUSES
        )
        .order_by(*([patron_first] if patron_id is not None else []), "created_at", "id")
        .values_list(*_COLUMNS)[: MOST_SHOWN * 5]
    )


_COLUMNS = ("pk", "status", "title", "created_at", "patron_id", "item_key", "volume")


def open_duplicates(
    *,
    library_id: int,
    patron_id: int | None,
    isbn: str,
    oclc_number: str,
    item_key: str,
    volume: str = "",
) -> list[Duplicate]:
    """The matches of ``matching_requests``, each saying whether it is this patron's. A
    match by ISBN or OCLC number counts only for the same volume: a set often has one
    record and one ISBN for all its volumes, and volume 2 is not volume 1."""
    rows = matching_requests(
        library_id=library_id,
        patron_id=patron_id,
        isbn=isbn,
        oclc_number=oclc_number,
        item_key=item_key,
    )
    wanted = normalized_volume(volume)
    return [
        Duplicate(pk, status, title, created_at, patron_id is not None and patron == patron_id)
        for pk, status, title, created_at, patron, key, their_volume in rows
        if key == item_key or normalized_volume(their_volume) == wanted
    ][:MOST_SHOWN]


def refusal_words(duplicates: list[Duplicate]) -> str:
    """What the submitter is told, in the same words at every door."""
    if len(duplicates) == 1:
        found, them = f"an open request for this item: {duplicates[0].described}", "it"
    else:
        listed = "; ".join(d.described for d in duplicates)
        found, them = f"open requests for this item: {listed}", "them"
    return (
        f"Your library already has {found}. Check {them} before submitting another; "
        "to submit this one all the same, say why."
    )


def _numbers(duplicates: list[Duplicate]) -> str:
    numbers = [f"#{d.id}" for d in duplicates]
    if len(numbers) == 1:
        return numbers[0]
    return f"{', '.join(numbers[:-1])} and {numbers[-1]}"


def submitted_although(duplicates: list[Duplicate], reason: str) -> str:
    """The submission's note when it went on despite the warning, with the reason."""
    verb = "asks" if len(duplicates) == 1 else "ask"
    return f"Submitted although {_numbers(duplicates)} {verb} for the same item: {reason}"
