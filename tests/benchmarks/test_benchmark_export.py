"""The export benchmark (``benchmarks.export``) reads every request it says it does."""

import io
import json
from argparse import Namespace

import pytest

from benchmarks import export, generate
from requests_app import exports
from requests_app.models import BorrowingRequest


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_export_reads_every_request(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    small = ["--requests", "1000", "--libraries", "10", "--lenders", "30", "--batch", "500"]
    generate.run(generate.parse_args(small), out=io.StringIO())

    figures = export.measure(Namespace(limit=0))

    assert figures["exported"] == BorrowingRequest.objects.count() == 1000
    assert set(figures["results"]) == {"requests.csv", "requests.json (with timelines and charges)"}
    everything = json.loads("".join(exports.as_json(BorrowingRequest.objects.all())))
    assert len(everything) == 1000 and all(row["events"] for row in everything)
    page = export.markdown_of({**figures, "when": "now", "requests": 1000, "cpus": 2})
    assert page.count("\n| ") == 2 + 2
