"""Pages of a list without counting the whole list.

``Paginator`` counts every matching row to number its pages: at a million requests that
``COUNT(*)`` costs more than the page itself. ``page_of`` fetches one row more than the
page holds, which is enough to know whether a next page exists.
"""

from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
#: Deeper than this nobody pages by hand; a filter finds it faster (and the offset stays sane).
MAX_PAGE = 10_000


@dataclass
class UncountedPage:
    object_list: list
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

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)


def page_size_of(request: HttpRequest) -> int:
    """``?page_size=`` between 1 and 500; 50 when absent or unreadable."""
    try:
        return min(max(int(request.GET.get("page_size", PAGE_SIZE)), 1), MAX_PAGE_SIZE)
    except ValueError:
        return PAGE_SIZE


def page_of(request: HttpRequest, queryset: QuerySet) -> UncountedPage:
    """The ``?page=`` asked for (the first when absent or unreadable), in one query."""
    size = page_size_of(request)
    try:
        number = min(max(int(request.GET.get("page", 1)), 1), MAX_PAGE)
    except ValueError:
        number = 1
    start = (number - 1) * size
    rows = list(queryset[start : start + size + 1])
    return UncountedPage(rows[:size], number, size, has_next=len(rows) > size and number < MAX_PAGE)


def paginate(request: HttpRequest, queryset: QuerySet) -> Page:
    """The page asked for, ``?page_size=`` rows long, numbered "of N pages".

    For lists bounded by one library or a small table; the queue uses ``page_of``.
    """
    return Paginator(queryset, page_size_of(request)).get_page(request.GET.get("page"))
