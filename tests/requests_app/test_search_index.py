"""The title/author search is served by trigram indexes on PostgreSQL (migration 0004):
the plan reads the indexes, not every row of the requests table."""

import pytest
from django.db import connection

from requests_app import selectors
from requests_app.models import BorrowingRequest

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("team", [True, False], ids=["team", "library"])
def test_the_search_plan_uses_the_trigram_indexes(submit, team):
    for title in ("The Wampanoag Way", "Cranberry Bogs", "Whaling Logs of Nantucket"):
        submit(title=title)
    found = selectors.search(BorrowingRequest.objects.all(), "nantucket", team=team)
    assert [r.title for r in found] == ["Whaling Logs of Nantucket"]
    with connection.cursor() as cursor:
        # A small table is cheaper to read whole or in index order; forbid both to see
        # which indexes the search itself can use.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        plan = found.explain()
    assert "request_title_trgm" in plan and "request_author_trgm" in plan, plan
    assert "Seq Scan on requests_app_borrowingrequest" not in plan, plan


def test_the_trigram_indexes_sample_finer_statistics(db):
    from tests.benchmarks.test_benchmark_generate import trigram_statistics

    # A coarse sample took common words for twice as common and a capped tab count
    # read the table from the start (migration 0006).
    assert trigram_statistics() == {"request_title_trgm": 1000, "request_author_trgm": 1000}
