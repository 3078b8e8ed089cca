"""The exceptions benchmark (``benchmarks.exceptions``) measures what it says: each figure
is a call that answered as the workflow allows, over a generated service, and the database
is left as it was found."""

import io
from argparse import Namespace

import pytest

from benchmarks import exceptions, generate
from requests_app.models import BorrowingRequest, Charge, StatusEvent, UnrequestedItemReport

ACTIONS = [
    "not-arrived", "trace", "replacement-shipped", "cleared", "edit-item", "correct-shipment",
    "correct-receipt", "reopen", "void-charge", "charge-paid", "request-again", "resolve",
]  # fmt: skip


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_each_action_answers_and_everything_is_rolled_back(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    small = ["--requests", "1000", "--libraries", "10", "--lenders", "30", "--batch", "500"]
    generate.run(generate.parse_args(small), out=io.StringIO())
    counts = [model.objects.count() for model in (BorrowingRequest, Charge, StatusEvent)]

    figures = exceptions.measure(Namespace(runs=2, reports=40))

    results = figures["results"]
    assert list(results)[: len(ACTIONS)] == ACTIONS
    assert "a report, with its likely matches" in results
    assert all(measured["queries"] > 0 for measured in results.values())
    assert figures["reports"] == 40
    after = [model.objects.count() for model in (BorrowingRequest, Charge, StatusEvent)]
    assert after == counts and not UnrequestedItemReport.objects.exists()
    page = exceptions.markdown_of(
        {**figures, "when": "now", "runs": 2, "cpus": 2, "requests": 1000}
    )
    assert page.count("\n| ") == 2 + len(results)


def test_a_call_that_is_refused_stops_the_benchmark(db):
    refused = Namespace(status_code=409, content=b'{"detail": "Cannot trace"}')
    with pytest.raises(SystemExit, match="answered 409"):
        exceptions.timed(lambda: refused, 1)
