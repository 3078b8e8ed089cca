"""The API's sign-in and its guards at full size: ``python -m benchmarks.api_auth``.

On the benchmark database (``DATABASE_URL``; ``make bench`` fills it), in-process through
Django's test client, with the production password hasher, as the ``bench-team`` account:

- ``token``: a new token from ``POST /api/v1/auth/token/`` (the password hash is most of it);
- ``call with a token`` beside ``call with a session``: ``GET /api/v1/requests/?page_size=1``
  while ``--tokens`` other tokens are live, to show what finding the token costs;
- ``wrong password``: the login page refusing a wrong password while the guard holds
  ``--attack-keys`` failure counts and ``--places`` known places (an attack under way),
  then the same once the account has failed too often: refused by the guard, unhashed;
- ``guard check``: the guard's own check (``members.sign_in.guard_refusal``) under that load;
- ``deep JSON``: a body nested 100,000 deep, answered 400.

Everything it adds is rolled back at the end. Medians of ``--runs`` calls (after one
warm-up), with the SQL queries of the last call.
"""

import argparse
import datetime as dt
import os
import time
import warnings
from pathlib import Path

from benchmarks.figures import measure_and_write, spread, table

DEEP = "[" * 100_000 + "]" * 100_000
PASSWORD = "illdesk-bench"  # noqa: S105 - benchmarks.generate gives every account this one


def setup_django() -> None:
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        raise SystemExit("Set DATABASE_URL to the PostgreSQL database holding benchmark data.")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "illdesk.settings")
    os.environ["ALLOWED_HOSTS"] = "testserver"
    # The calls are timed, not throttled.
    for rate in ("API_RATE_PER_USER", "API_RATE_TOKEN"):
        os.environ[rate] = "1000000/minute"
    warnings.filterwarnings("ignore", message="No directory at")
    import django

    django.setup()


def timed(call, runs: int) -> dict:
    """Median and spread of ``call()`` in milliseconds, and the queries of the last one."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    call()  # warm
    times = []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            call()
            times.append((time.perf_counter() - started) * 1000)
    return spread(times, len(queries))


def _address(first: int, n: int) -> str:
    return f"{first}.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


def fill(options) -> dict:
    """Live tokens of other accounts, the counts of an attack and known places."""
    from django.db import connection
    from django.utils import timezone

    from members.models import ApiToken, FailedSignIns, KnownPlace, User
    from members.sign_in import _bucket

    now = timezone.now()
    people = list(User.objects.values_list("pk", flat=True)[:1000])
    ApiToken.objects.bulk_create(
        ApiToken(
            user_id=people[n % len(people)],
            name="load",
            prefix=f"illdesk_{n:04x}"[:12],
            digest=f"{n:064x}",
            expires_at=now + dt.timedelta(days=30),
        )
        for n in range(options.tokens)
    )
    # An hour-long attack on 5,000 other accounts, each try from an address of its own.
    buckets = [_bucket(now) - dt.timedelta(minutes=5 * b) for b in range(12)]
    FailedSignIns.objects.bulk_create(
        FailedSignIns(
            username=f"guess{n % 5000}",
            address=_address(10, n),
            bucket=buckets[n % 12],
            count=3,
        )
        for n in range(options.attack_keys)
    )
    KnownPlace.objects.bulk_create(
        KnownPlace(
            username=f"staff{n}", address=_address(172, n), last_seen=now,
        )
        for n in range(options.places)
    )  # fmt: skip
    with connection.cursor() as cursor:
        for model in (ApiToken, FailedSignIns, KnownPlace):
            cursor.execute(f"ANALYZE {model._meta.db_table}")  # noqa: S608 - our own names
    return {
        "tokens": ApiToken.objects.count(),
        "failure_rows": FailedSignIns.objects.count(),
        "known_places": KnownPlace.objects.count(),
    }


def measure(options) -> dict:
    from django.conf import settings
    from django.db import transaction
    from django.test import Client, RequestFactory

    from members.models import User
    from members.sign_in import guard_refusal
    from members.tokens import api_lifetime, issue_token

    team = User.objects.get(username="bench-team")
    results = {}
    with transaction.atomic():
        sizes = fill(options)
        api = Client()
        results["token"] = timed(
            lambda: api.post(
                "/api/v1/auth/token/",
                {"username": "bench-team", "password": PASSWORD},
                content_type="application/json",
            ),
            options.runs,
        )
        key = issue_token(team, lifetime=api_lifetime(), name="benchmark")[1]
        with_token = Client(HTTP_AUTHORIZATION=f"Token {key}")
        with_session = Client()
        with_session.force_login(team)
        page = "/api/v1/requests/?page_size=1"
        results["call with a token"] = timed(lambda: with_token.get(page), options.runs)
        results["call with a session"] = timed(lambda: with_session.get(page), options.runs)

        addresses = iter(range(1, 10**6))

        def wrong_password():
            n = next(addresses)  # a fresh address each time: no lockout, a real check
            Client().post(
                "/accounts/login/",
                {"username": "bench-team", "password": "not-it"},
                REMOTE_ADDR=_address(198, n),
            )

        limit = settings.ILLDESK_ACCOUNT_FAILURES_PER_HOUR
        settings.ILLDESK_ACCOUNT_FAILURES_PER_HOUR = 10**9  # every try a password check
        results["wrong password"] = timed(wrong_password, options.runs)
        settings.ILLDESK_ACCOUNT_FAILURES_PER_HOUR = limit  # past it now: the guard refuses
        results["sign-in refused by the guard"] = timed(wrong_password, options.runs)
        probe = RequestFactory().post("/accounts/login/", REMOTE_ADDR="192.0.2.77")
        results["guard check"] = timed(lambda: guard_refusal(probe, "bench-team"), options.runs)
        results["deep JSON"] = timed(
            lambda: with_token.post("/api/v1/requests/", DEEP, content_type="application/json"),
            options.runs,
        )
        transaction.set_rollback(True)
    return {"sizes": sizes, "results": results}


def markdown_of(figures: dict) -> str:
    """The figures ``main`` wrote, as the section of docs/performance.md."""
    sizes = figures["sizes"]
    lines = [
        "### Signing in to the API",
        "",
        f"`python -m benchmarks.api_auth --runs {figures['runs']}`, {figures['when']}: "
        f"{figures['requests']:,} requests; {sizes['tokens']:,} live tokens, "
        f"{sizes['failure_rows']:,} rows of failure counts (an hour's attack on 5,000 other "
        "accounts, each try from an address of its own) and "
        f"{sizes['known_places']:,} known places; {figures['cpus']} CPUs. In-process "
        f"(Django's test client), the production password hasher ({figures['hasher']}). "
        f"Medians of {figures['runs']} calls, milliseconds.",
        "",
        *table(figures["results"]),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--tokens", type=int, default=100_000)
    parser.add_argument("--attack-keys", type=int, default=200_000)
    parser.add_argument("--places", type=int, default=100_000)
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    options = parser.parse_args(argv)
    setup_django()
    from django.conf import settings
    from django.contrib.auth.hashers import get_hasher

    hasher = get_hasher()
    measure_and_write(
        options.runs,
        options.out,
        lambda: measure(options),
        markdown_of,
        hasher=f"{hasher.algorithm}, {getattr(hasher, 'iterations', '')} iterations",
        settings={"API_TOKEN_HOURS": settings.API_TOKEN_HOURS},
    )


if __name__ == "__main__":
    main()
