"""The API sign-in benchmark (``benchmarks.api_auth``) measures what it says: each figure
is a call that answered as expected, and it leaves the database as it found it."""

from argparse import Namespace

import pytest

from benchmarks import api_auth
from members.models import ApiToken, FailedSignIns, KnownPlace, User


@pytest.mark.postgres
def test_it_measures_each_call_and_rolls_everything_back(db, settings, monkeypatch):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    User.objects.create_user("bench-team", password=api_auth.PASSWORD, role="team")
    answers = []
    real_timed = api_auth.timed
    monkeypatch.setattr(
        api_auth, "timed", lambda call, runs: answers.append(call()) or real_timed(call, runs)
    )

    figures = api_auth.measure(Namespace(runs=2, tokens=40, attack_keys=60, places=30))

    assert figures["sizes"] == {"tokens": 40, "failure_rows": 60, "known_places": 30}
    token, with_token, with_session, _wrong, _refused, guard, deep = answers
    assert token.status_code == 200 and "token" in token.json()
    assert with_token.status_code == with_session.status_code == 200
    assert guard is None  # the account is not under attack, so the guard lets it try
    assert deep.status_code == 400
    results = figures["results"]
    assert results["call with a token"]["queries"] < results["call with a session"]["queries"]
    assert not (ApiToken.objects.exists() or FailedSignIns.objects.exists())
    assert not KnownPlace.objects.exists()
    page = api_auth.markdown_of(
        {**figures, "when": "now", "runs": 2, "cpus": 2, "requests": 0, "hasher": "md5"}
    )
    assert page.count("\n| ") == 2 + len(results)
