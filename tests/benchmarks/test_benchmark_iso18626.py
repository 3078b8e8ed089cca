"""The ISO 18626 benchmark (``benchmarks.iso18626``) measures what it says: each lender
message answered as the exchange decides, illdesk's message posted over HTTP, and the
database left as it was found."""

import io
from argparse import Namespace

import pytest

from benchmarks import generate, iso18626
from lenders.models import Lender
from requests_app.models import BorrowingRequest, ExchangeMessage, StatusEvent

RESULTS = [
    "send to a partner (the request message built and queued)",
    "the request message built and checked against the schema",
    "the outbox posts it over HTTP (claimed, posted, marked sent)",
    "Loaned at POST /iso18626/ (shipped, its fee)",
    "WillSupply at POST /iso18626/ (noted)",
    "the same Loaned again (a repeat: nothing done)",
    "a request not with the lender (refused)",
]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_each_message_answers_and_everything_is_rolled_back(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    small = ["--requests", "1000", "--libraries", "10", "--lenders", "30", "--batch", "500"]
    generate.run(generate.parse_args(small), out=io.StringIO())
    counts = [model.objects.count() for model in (BorrowingRequest, StatusEvent, ExchangeMessage)]

    figures = iso18626.measure(Namespace(runs=2))

    assert list(figures["results"]) == RESULTS
    # The exchange's statements are few, whatever the database holds.
    assert figures["results"]["the same Loaned again (a repeat: nothing done)"]["queries"] <= 3
    assert [
        model.objects.count() for model in (BorrowingRequest, StatusEvent, ExchangeMessage)
    ] == counts
    assert not Lender.objects.exclude(iso18626_address="").exists()
    page = iso18626.markdown_of({**figures, "when": "now", "runs": 2, "cpus": 2, "requests": 1000})
    assert page.count("\n| ") == 2 + len(RESULTS)
