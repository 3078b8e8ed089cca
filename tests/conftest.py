"""Shared fixtures: two libraries, alice and bob (their staff), rita (the team), admin.

The suite runs on the database in ``DATABASE_URL`` (PostgreSQL in CI) or, with nothing
set, on SQLite, saying so in the header. With ``ILLDESK_REQUIRE_SERVICES=1`` (as
``.ci/run`` sets it) the run stops with an error unless PostgreSQL and Redis both answer,
so a missing service fails CI instead of skipping its tests.
"""

import itertools
import os
import threading
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection

REQUIRE_SERVICES = os.environ.get("ILLDESK_REQUIRE_SERVICES", "") in {"1", "true", "yes"}
PASSWORD = "illdesk-test-pw"


def _database_vendor() -> str:
    return settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]


def _redis_problem() -> str | None:
    """None when the Redis in REDIS_URL answers a PING, else what is wrong."""
    if not settings.REDIS_URL:
        return "REDIS_URL is not set"
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis at {settings.REDIS_URL} does not answer: {exc}"
    return None


def _postgres_problem() -> str | None:
    if _database_vendor() != "postgresql":
        return "DATABASE_URL does not point at PostgreSQL"
    import psycopg2

    db = settings.DATABASES["default"]
    try:
        # The maintenance database: pytest-django creates the test database from there.
        psycopg2.connect(
            dbname="postgres",
            user=db["USER"],
            password=db["PASSWORD"],
            host=db["HOST"],
            port=db["PORT"] or 5432,
            connect_timeout=3,
        ).close()
    except psycopg2.OperationalError as exc:
        return f"PostgreSQL does not answer: {exc}".strip()
    return None


def pytest_report_header(config):
    lines = [f"illdesk database: {_database_vendor()}"]
    if _database_vendor() == "sqlite3":
        lines.append(
            "illdesk: no DATABASE_URL, so the suite runs on SQLite; PostgreSQL-only tests "
            "(row locks, races) are skipped. CI runs them (see .ci/run)."
        )
    redis_problem = _redis_problem()
    lines.append(f"illdesk broker: {redis_problem or settings.REDIS_URL}")
    if REQUIRE_SERVICES:
        lines.append("illdesk: ILLDESK_REQUIRE_SERVICES is set: PostgreSQL and Redis must answer.")
    return lines


def pytest_sessionstart(session):
    if not REQUIRE_SERVICES:
        return
    problems = [p for p in (_postgres_problem(), _redis_problem()) if p]
    if problems:
        pytest.exit("ILLDESK_REQUIRE_SERVICES is set but: " + "; ".join(problems), returncode=3)


def pytest_collection_modifyitems(config, items):
    postgres_skip = None
    if _database_vendor() != "postgresql":
        postgres_skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    redis_problem = _redis_problem()
    redis_skip = pytest.mark.skip(reason=f"needs Redis: {redis_problem}") if redis_problem else None
    for item in items:
        if postgres_skip and "postgres" in item.keywords:
            item.add_marker(postgres_skip)
        if redis_skip and "redis" in item.keywords:
            item.add_marker(redis_skip)


def race(count: int, act) -> list[object]:
    """Run ``act`` in ``count`` threads released together; return each result or error.

    Each thread closes its own database connection when done.
    """
    barrier = threading.Barrier(count)
    results: list[object] = []
    lock = threading.Lock()

    def worker():
        try:
            barrier.wait()
            outcome = act()
        except Exception as exc:
            outcome = exc
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Tests create many users; the production hasher is slow on purpose."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _private_cache(settings):
    """A fresh in-process cache per test: throttle counts must not leak between tests, and
    clearing the shared Redis would also empty the Celery broker's queue."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "fragments": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "fragments",
        },
    }
    from django.core.cache import caches

    caches["default"].clear()
    caches["fragments"].clear()


# --- People and places ------------------------------------------------------------------


@pytest.fixture
def regions(db):
    """The service's regions, as the admin keeps them."""
    from members.models import Region

    return [Region.objects.get_or_create(name=name)[0] for name in ("Northeast", "Western")]


@pytest.fixture
def library_one(regions):
    from members.models import MemberLibrary

    return MemberLibrary.objects.create(
        name="Abbot Public Library",
        ill_code="ABBOT",
        bpl_number="29990001",
        library_type="public",
        region="Northeast",
        on_delivery=True,
        contact_name="Ann Abbot",
        contact_email="ill@abbot.example.org",
        max_cost=Decimal("25.00"),
    )


@pytest.fixture
def library_two(regions):
    from members.models import MemberLibrary

    return MemberLibrary.objects.create(
        name="Borden Free Library",
        ill_code="BORDEN",
        bpl_number="29990002",
        library_type="public",
        region="Western",
        on_delivery=False,
        contact_email="ill@borden.example.org",
        max_cost=Decimal("0.00"),
    )


def _user(username, role, library=None, **extra):
    from members.models import User

    return User.objects.create_user(
        username=username,
        password=PASSWORD,
        role=role,
        library=library,
        email=f"{username}@example.org",
        **extra,
    )


@pytest.fixture
def alice(library_one):
    return _user("alice", "library_staff", library_one, first_name="Alice")


@pytest.fixture
def bob(library_two):
    return _user("bob", "library_staff", library_two, first_name="Bob")


@pytest.fixture
def rita(db):
    return _user("rita", "team", first_name="Rita")


@pytest.fixture
def admin_user(db):
    return _user("admin", "admin", is_staff=True, is_superuser=True)


@pytest.fixture
def patron(library_one):
    from members.models import Patron

    return Patron.objects.create(
        library=library_one,
        card_number="21234000111",
        name="Pat Reader",
        email="pat@example.org",
    )


@pytest.fixture
def lender(db):
    from lenders.models import Lender

    return Lender.objects.create(name="Carver College Library", oclc_symbol="CVC", kind="in_state")


@pytest.fixture
def another_volume():
    """A fixture's default item: "The Wampanoag Way", and from its second request on a
    volume of its own, so that a test's requests are not duplicates of one another
    (``requests_app.duplicates``) unless the test says so."""
    made = itertools.count()

    def _volume() -> str:
        number = next(made)
        return str(number + 1) if number else ""

    return _volume


@pytest.fixture
def submit(alice, patron, another_volume):
    """Submit a request as alice, with the citation overridden by keyword."""
    from requests_app import workflow

    volume = another_volume

    def _submit(**citation):
        citation.setdefault("title", "The Wampanoag Way")
        if "volume" not in citation:
            citation["volume"] = volume()
        return workflow.submit_request(
            actor=alice, library=alice.library, patron=patron, citation=citation
        )

    return _submit


@pytest.fixture
def request_in(rita, alice, lender, patron, another_volume):
    """A request taken through the workflow to the given status, each step at a believable
    moment (``requests_app.scenarios.moments``): one shipped 20 days ago was submitted
    before that."""
    from requests_app.scenarios import drive_to, submit_for

    volume = another_volume

    def _request_in(status, **kwargs):
        req = submit_for(
            status,
            shipped_days_ago=kwargs.get("shipped_days_ago", 3),
            actor=alice,
            library=alice.library,
            patron=patron,
            citation={"title": "The Wampanoag Way", "volume": volume()},
        )
        return drive_to(req, status, team=rita, staff=alice, lender=lender, **kwargs)

    return _request_in


@pytest.fixture
def api(db):
    """``api(user)``: a DRF test client that sends a token of ``user``'s; ``api()`` sends
    none."""
    from rest_framework.test import APIClient

    def _as(user=None):
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
        return client

    return _as


def token_for(user) -> str:
    """A new API token's key for ``user``, as a full sign-in would give it."""
    from members.tokens import api_lifetime, issue_token

    return issue_token(user, lifetime=api_lifetime(), name="test")[1]
