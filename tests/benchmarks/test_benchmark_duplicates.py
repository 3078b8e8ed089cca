"""The duplicate-check benchmark (``benchmarks.duplicates``) measures what it says: each
submission answered as the workflow decides, the check found its matches through indexes,
and the database is left as it was found."""

import io
from argparse import Namespace

import pytest

from benchmarks import duplicates, generate
from requests_app.identifiers import item_key
from requests_app.models import BorrowingRequest, StatusEvent

RESULTS = [
    "submit: a new item (201)",
    "submit: the same item again (400, with the matches)",
    "submit: the same item, with a reason (201)",
    "page: the warning",
    "the check's SQL alone",
]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_each_submission_answers_and_everything_is_rolled_back(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    small = ["--requests", "1000", "--libraries", "10", "--lenders", "30", "--batch", "500"]
    generate.run(generate.parse_args(small), out=io.StringIO())
    counts = [model.objects.count() for model in (BorrowingRequest, StatusEvent)]
    # The generator writes each row's key as a save would.
    for req in BorrowingRequest.objects.order_by("pk")[:200]:
        assert req.item_key == item_key(
            format=req.format, title=req.title, author=req.author, volume=req.volume
        )

    figures = duplicates.measure(Namespace(runs=2))

    assert list(figures["results"]) == RESULTS
    assert figures["results"]["the check's SQL alone"]["matches"] >= 1
    assert figures["plan"]["seq_scans"] == []
    assert "request_open_item" in figures["plan"]["indexes"]
    assert [model.objects.count() for model in (BorrowingRequest, StatusEvent)] == counts
    page = duplicates.markdown_of(
        {**figures, "when": "now", "runs": 2, "cpus": 2, "requests": 1000}
    )
    assert page.count("\n| ") == 2 + len(RESULTS)
    assert "full scans: none" in page


def test_the_section_names_the_indexes_and_any_full_scan():
    measured = {"median_ms": 1.0, "min_ms": 0.5, "max_ms": 2.0, "queries": 1}
    figures = {
        "runs": 3, "when": "now", "requests": 1_000_000, "cpus": 4, "shared": 3,
        "library_open_requests": 5_000, "results": {"the check's SQL alone": measured},
        "plan": {"execution_ms": 0.2, "indexes": ["request_open_item"], "seq_scans": ["t"]},
    }  # fmt: skip
    page = duplicates.markdown_of(figures)
    assert "| the check's SQL alone | 1.0 | 0.5 | 2.0 | 1 |" in page
    assert "reading `request_open_item`; full scans: t." in page
