"""The library's-day benchmark (``benchmarks.library_day``) visits what it says, over a
generated service, and every page answers."""

import io
from argparse import Namespace

import pytest

from benchmarks import generate, library_day


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_each_page_answers_and_its_figures_render(settings):
    small = ["--requests", "1000", "--libraries", "10", "--lenders", "30", "--batch", "500"]
    generate.run(generate.parse_args(small), out=io.StringIO())

    figures = library_day.measure(Namespace(runs=2))

    results = figures["results"]
    assert {"lenders: every one", "our requests: a patron by name", "queue: one region"} <= set(
        results
    )
    assert all(measured["queries"] > 0 for measured in results.values())
    page = library_day.markdown_of(
        {**figures, "when": "now", "runs": 2, "cpus": 2, "requests": 1000, "lenders": 30}
    )
    assert page.count("\n| ") == 2 + len(results)
