"""A flag's query and its test of one request agree: the row a list's filter finds carries
the badge, and a row it leaves out does not, whatever the status, the dates (or their
absence) and the charges."""

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.utils import timezone

from requests_app.flags import ALL_FLAGS
from requests_app.models import (
    HAS_ARRIVED_STATUSES,
    ON_LOAN_STATUSES,
    BorrowingRequest,
    Status,
)

TODAY = timezone.localdate()
#: Due dates around each flag's edges: passed, today, the last day of "due soon", after it.
DUE_DATES = [None, *(TODAY + dt.timedelta(days=days) for days in (-1, 0, 3, 4))]
STAMPS = [None, timezone.now()]
#: (charges, max cost): under, at and over.
MONEY = [(Decimal("0"), Decimal("5")), (Decimal("5"), Decimal("5")), (Decimal("6"), Decimal("5"))]


@pytest.fixture
def every_kind_of_request(submit, lender):
    """One request for each status, due date, not-arrived stamp and cost the data model
    allows (its check constraints refuse the rest), every other one a possible duplicate."""
    model = submit()
    rows = []
    for status, due, stamp, (charges, max_cost) in itertools.product(
        Status.values, DUE_DATES, STAMPS, MONEY
    ):
        if status in ON_LOAN_STATUSES and due is None:
            continue
        returned = status in (Status.RETURNED, Status.COMPLETED)
        rows.append(
            BorrowingRequest(
                library=model.library,
                patron=model.patron,
                created_by=model.created_by,
                title=model.title,
                status=status,
                lender=lender,
                due_date=due,
                shipped_on=TODAY - dt.timedelta(days=20) if due else None,
                received_on=TODAY - dt.timedelta(days=10)
                if status in HAS_ARRIVED_STATUSES
                else None,
                returned_on=TODAY if returned else None,
                return_method="mail" if returned else "",
                not_arrived_flagged_at=stamp,
                recalled_at=stamp,
                exchange_failed_at=stamp if len(rows) % 3 else None,
                string_exhausted_at=stamp if len(rows) % 5 else None,
                charges_total=charges,
                max_cost=max_cost,
                possible_duplicate_of=model if len(rows) % 2 else None,
            )
        )
    BorrowingRequest.objects.bulk_create(rows)
    return BorrowingRequest.objects.all()


@pytest.mark.parametrize("name", ALL_FLAGS)
@pytest.mark.parametrize("day", [TODAY, TODAY + dt.timedelta(days=2)], ids=["today", "later"])
def test_the_filter_and_the_badge_agree(every_kind_of_request, name, day):
    flag = ALL_FLAGS[name]
    found = set(every_kind_of_request.filter(flag.condition(day)).values_list("pk", flat=True))
    carried = {req.pk for req in every_kind_of_request if flag.carried_by(req, day)}
    assert found == carried
    # Neither side is empty, nor everything: the grid reaches both sides of each edge.
    assert 0 < len(found) < every_kind_of_request.count()


@pytest.mark.parametrize("day", [TODAY, TODAY + dt.timedelta(days=2)], ids=["today", "later"])
def test_a_list_row_carries_the_flags_its_request_does(every_kind_of_request, rita, day):
    """The lists read rows as values (``selectors.list_rows``), not model instances: each
    row's badges are its request's, on every kind of request."""
    from requests_app.flags import flags_of
    from requests_app.selectors import list_rows

    rows = {row.pk: row for row in list_rows(every_kind_of_request, rita)}
    assert rows.keys() == {req.pk for req in every_kind_of_request}
    for req in every_kind_of_request:
        assert flags_of(rows[req.pk], day) == flags_of(req, day), req.pk


def test_a_list_row_names_the_patron_only_for_the_librarys_staff(submit, rita, alice):
    from requests_app.selectors import list_rows

    req = submit()
    (for_the_team,) = list_rows(BorrowingRequest.objects.filter(pk=req.pk), rita)
    (for_the_library,) = list_rows(BorrowingRequest.objects.filter(pk=req.pk), alice)
    assert not hasattr(for_the_team, "patron_name") and not hasattr(for_the_team, "patron_card")
    assert for_the_library.patron_name == req.patron.name
    assert for_the_library.library_code == req.library.ill_code
