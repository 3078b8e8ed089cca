"""The sourcing benchmark (``benchmarks.suggest``) measures what it says: the suggestions,
the string's steps and the backtest run on a generated fill and leave the database as it
was found, and the backtest's shares are shares of the requests it ranked."""

import io
from argparse import Namespace

import pytest

from benchmarks import generate, suggest
from requests_app.models import BorrowingRequest, LenderAttempt, LenderStringEntry, StatusEvent


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_suggestions_and_the_backtest_run_and_change_nothing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    small = ["--requests", "3000", "--libraries", "10", "--lenders", "40", "--batch", "500"]
    generate.run(generate.parse_args(small), out=io.StringIO())
    models = (BorrowingRequest, StatusEvent, LenderAttempt, LenderStringEntry)
    counts = [model.objects.count() for model in models]

    figures = suggest.measure(Namespace(runs=2, targets=200, seed=1, backtest_only=False))

    assert figures["job"]["records"] > 0
    assert "POST …/lender-string/ with five lenders (sent to the first)" in figures["results"]
    test = figures["backtest"]
    assert 0 < test["targets"] <= 200
    for first, top3 in test["methods"].values():
        assert 0 <= first <= top3 <= 100
    assert [model.objects.count() for model in models] == counts
    assert "| the suggestions (sourcing.rank) |" in suggest.markdown_of(
        {**figures, "runs": 2, "when": "now", "requests": 3000, "cpus": 2}
    )
