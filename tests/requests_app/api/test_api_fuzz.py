"""The API fuzzed from its own OpenAPI schema (schemathesis): no input gives a 5xx, and no
answer breaks the schema (undocumented status, content type or body).

Every operation gets a bounded number of generated calls (``MAX_EXAMPLES``, derandomized
so CI is repeatable), as the team and as a library's staff, against the real WSGI app on
the suite's database. Requests in every status are made first, and the hooks below steer
generated ids, lenders, patrons and library codes onto rows that exist (and, one time in
a few, onto one that does not), so the calls reach the workflow instead of a 404.
"""

import zlib

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from core.throttles import UserThrottle

MAX_EXAMPLES = 12
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)


def _known(model, field: str = "pk") -> list:
    return sorted(model.objects.values_list(field, flat=True))


def _steer(value, known: list):
    """One of ``known`` picked by the generated ``value``, or a missing one now and then."""
    if not known or isinstance(value, bool):
        return value
    index = zlib.crc32(repr(value).encode()) % (len(known) + 1)  # the same in every run
    if index < len(known):
        return known[index]
    return max(known) + 1000 if isinstance(known[0], int) else f"{value}-missing"


def _path_model(path: str):
    from lenders.models import Lender
    from members.models import MemberLibrary, Patron
    from requests_app.models import BorrowingRequest

    for prefix, model in (
        ("/api/v1/requests/", BorrowingRequest),
        ("/api/v1/patrons/", Patron),
        ("/api/v1/libraries/", MemberLibrary),
        ("/api/v1/lenders/", Lender),
    ):
        if path.startswith(prefix):
            return model
    return None


@schemathesis.hook
def map_path_parameters(context, path_parameters):
    model = _path_model(context.operation.path)
    if model is not None and path_parameters and "id" in path_parameters:
        path_parameters["id"] = _steer(path_parameters["id"], _known(model))
    return path_parameters


@schemathesis.hook
def map_body(context, body):
    from lenders.models import Lender
    from members.models import MemberLibrary, Patron, User

    if not isinstance(body, dict):
        return body
    known = {
        "patron": lambda: _known(Patron),
        "lender": lambda: _known(Lender),
        "library": lambda: _known(MemberLibrary, "ill_code"),
        "assignee": lambda: sorted(
            User.objects.filter(role__in=["team", "admin"]).values_list("username", flat=True)
        ),
    }
    for field, rows in known.items():
        if isinstance(body.get(field), int | str):
            body[field] = _steer(body[field], rows())
    return body


@pytest.fixture
def wsgi_app(db, monkeypatch):
    """The real WSGI app, minus closing the connection after each request (as Django's
    test client does), so the test's transaction survives the calls, and minus the per-user
    throttle, so the calls reach the workflow (tests/core/test_throttling.py tests it)."""
    monkeypatch.setattr(UserThrottle, "rate", "1000000/minute", raising=False)
    from django.core.signals import request_finished, request_started
    from django.core.wsgi import get_wsgi_application
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _load(wsgi_app, request_in, mode: GenerationMode):
    for status in ("submitted", "sourcing", "sent_to_lender", "shipped", "received"):
        request_in(status)
    request_in("renewal_requested")
    request_in("returned")
    loaded = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app)
    loaded.config.generation.update(modes=[mode])
    # The coverage phase adds dozens of calls per operation; the fuzzing phase is bounded.
    loaded.config.phases.update(phases=["examples", "fuzzing"])
    return loaded


@pytest.fixture
def api_schema(wsgi_app, request_in):
    """Calls the schema says are valid."""
    return _load(wsgi_app, request_in, GenerationMode.POSITIVE)


@pytest.fixture
def api_schema_negative(wsgi_app, request_in):
    """Calls the schema says are invalid: wrong types, missing fields, bad paths."""
    return _load(wsgi_app, request_in, GenerationMode.NEGATIVE)


schema = schemathesis.pytest.from_fixture("api_schema")
negative = schemathesis.pytest.from_fixture("api_schema_negative")


def _token(user) -> str:
    from tests.conftest import token_for

    return token_for(user)


@schema.parametrize()
@FUZZ_SETTINGS
def test_the_team_cannot_break_the_api(case, rita):
    case.call_and_validate(headers={"Authorization": f"Token {_token(rita)}"}, checks=CHECKS)


@schema.parametrize()
@FUZZ_SETTINGS
def test_library_staff_cannot_break_the_api(case, alice):
    case.call_and_validate(headers={"Authorization": f"Token {_token(alice)}"}, checks=CHECKS)


# Revoking a token takes no input at all: there is nothing to make invalid.
@negative.exclude(path="/api/v1/auth/logout/").parametrize()
@FUZZ_SETTINGS
def test_invalid_calls_are_refused_never_a_server_error(case, rita):
    # Every answer is the schema's too: even a path no route matches is a JSON 404.
    case.call_and_validate(headers={"Authorization": f"Token {_token(rita)}"}, checks=CHECKS)
