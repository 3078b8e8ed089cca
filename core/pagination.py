"""Pages of a list without counting the whole list.

``Paginator`` counts every matching row to number its pages: at a million requests that
``COUNT(*)`` costs more than the page itself. ``page_of`` fetches one row more than the
page holds, which is enough to know whether a next page exists.

It fetches in two steps: the page's ids first (the filter and the order, walked in an
index, with nothing joined or computed for the rows it skips), then the rows of those ids
with their joins and annotations. A deep page then costs its offset in index entries, not
in joined, annotated rows (the figures are in docs/performance.md, "Deep pages").
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.core.paginator import Page, Paginator
from django.db.models import Model, QuerySet
from django.http import HttpRequest

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
#: Deeper than this nobody pages by hand; a filter finds it faster (and the offset stays sane).
MAX_PAGE = 10_000

_M = TypeVar("_M", bound=Model)


@dataclass
class UncountedPage(Generic[_M]):
    object_list: list[Any]
    number: int
    page_size: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return self.number - 1

    def __iter__(self) -> Iterator[Any]:
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)


def page_size_of(request: HttpRequest) -> int:
    """``?page_size=`` between 1 and 500; 50 when absent or unreadable."""
    try:
        return min(max(int(request.GET.get("page_size", PAGE_SIZE)), 1), MAX_PAGE_SIZE)
    except ValueError:
        return PAGE_SIZE


def page_of(
    request: HttpRequest,
    queryset: QuerySet[_M],
    rows: Callable[[QuerySet[_M]], list[Any]] = list,
) -> UncountedPage[_M]:
    """The ``?page=`` asked for (the first when absent or unreadable), in two queries (the
    ids, then their rows), plus what ``queryset`` prefetches. ``rows`` reads the page's
    rows from their queryset (model instances by default); each needs a ``pk``."""
    size = page_size_of(request)
    try:
        number = min(max(int(request.GET.get("page", 1)), 1), MAX_PAGE)
    except ValueError:
        number = 1
    start = (number - 1) * size
    ids = list(queryset.values_list("pk", flat=True)[start : start + size + 1])
    by_id = {row.pk: row for row in rows(queryset.filter(pk__in=ids[:size]).order_by())}
    in_order = [by_id[pk] for pk in ids[:size] if pk in by_id]
    return UncountedPage(in_order, number, size, has_next=len(ids) > size and number < MAX_PAGE)


def paginate(request: HttpRequest, queryset: QuerySet[_M]) -> Page[_M]:
    """The page asked for, ``?page_size=`` rows long, numbered "of N pages".

    For lists bounded by one library or a small table; the queue uses ``page_of``.
    """
    return Paginator(queryset, page_size_of(request)).get_page(request.GET.get("page"))
