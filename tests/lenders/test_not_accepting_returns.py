"""One rule says a lender is not accepting returns: its newest report says so. The SQL
condition (lists, the queue, the workflow) and the reading of a fetched report (the
directory's phrases, the picker's warnings) agree on every case."""

import datetime as dt

import pytest
from django.utils import timezone

from lenders.models import AvailabilityReport, Lender
from lenders.selectors import (
    Availability,
    availability_summary,
    lenders_with_availability,
    not_accepting_returns,
    refusing_returns,
)

NOW = timezone.now


def report(lender, days_ago, accepting_returns):
    return AvailabilityReport.objects.create(
        lender=lender,
        reported_at=NOW() - dt.timedelta(days=days_ago),
        accepting_returns=accepting_returns,
    )


CASES = {
    "never reported": ([], False),
    "says yes": ([(3, True)], False),
    "says no": ([(3, False)], True),
    "said no, now yes": ([(9, False), (3, True)], False),
    "said yes, now no": ([(9, True), (3, False)], True),
}


@pytest.mark.parametrize("case", CASES)
def test_sql_and_python_say_the_same(lender, case):
    reports, refusing = CASES[case]
    for days_ago, accepting in reports:
        report(lender, days_ago, accepting)
    in_sql = Lender.objects.filter(not_accepting_returns(), pk=lender.pk).exists()
    accepting_in_sql = Lender.objects.exclude(not_accepting_returns()).filter(pk=lender.pk)
    (annotated,) = lenders_with_availability().filter(pk=lender.pk)
    assert in_sql is refusing
    assert accepting_in_sql.exists() is not refusing  # never NULL: its negation is exact
    assert Availability(annotated).not_accepting_returns is refusing
    assert Availability(lender).not_accepting_returns is refusing  # a plain lender asks
    summary = availability_summary(annotated, today=timezone.localdate())
    assert ("Not accepting returns" in summary) is refusing
    found = refusing_returns(lender.pk)
    assert (found is not None) is refusing
    if found is not None:
        assert found == lender.current_availability()
        assert found.lender == lender


def test_as_of_a_moment_the_report_newest_then_counts(lender):
    report(lender, days_ago=9, accepting_returns=True)
    report(lender, days_ago=3, accepting_returns=False)
    assert refusing_returns(lender.pk) is not None
    assert refusing_returns(lender.pk, as_of=NOW() - dt.timedelta(days=5)) is None
    assert refusing_returns(lender.pk, as_of=NOW() - dt.timedelta(days=2)) is not None


def test_no_lender_refuses_nothing(db):
    assert refusing_returns(None) is None
