"""Every answer under /api/v1/ is JSON, errors included, DEBUG on or off; input nested
too deep to parse is a quick 400, not a 500."""

import logging
import re

import pytest
from django.urls import get_resolver

DEEP = "[" * 100_000 + "]" * 100_000


def api_routes(pk: str = "{pk}") -> list[str]:
    """Every address of /api/v1/ from the URL configuration, with ``pk`` for the id."""
    api = next(p for p in get_resolver().url_patterns if str(p.pattern) == "api/v1/")
    routes = []
    for pattern in api.url_patterns:
        route = re.sub(r"\(\?P<pk>[^)]*\)", pk, str(pattern.pattern)).strip("^$")
        routes.append("/api/v1/" + route)
    return routes


def test_the_walk_finds_the_routes():
    routes = api_routes()
    assert "/api/v1/auth/token/" in routes and "/api/v1/requests/{pk}/ship/" in routes
    assert sum("{pk}" in route for route in routes) == 39, routes


@pytest.mark.parametrize("debug", [False, True], ids=["debug off", "debug on"])
def test_an_address_no_route_matches_is_a_json_404(client, alice, settings, debug):
    settings.DEBUG = debug
    client.force_login(alice)
    # Each route that takes an id, given one no route takes (36 of them).
    bad = {route for route in api_routes(pk="0.5") if "0.5" in route}
    bad |= {"/api/v1/no-such-thing/", "/api/v1/requests/1/no-such-action/"}
    bad |= {"/api/", "/api/v2/requests/", "/api/nothing/", "/api/v1", "/api/schema/nothing/"}
    for url in sorted(bad):
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code == 404, (method, url, response.status_code)
            assert response["Content-Type"] == "application/json", (method, url)
            assert response.json() == {"detail": "Not found."}


def test_the_api_shows_no_error_page_even_with_debug_on(client, settings, monkeypatch):
    """A fault inside a view (here made on purpose) answers JSON, never the debug page."""
    settings.DEBUG = True
    client.raise_request_exception = False

    def broken(*args, **kwargs):
        raise RuntimeError("made on purpose")

    monkeypatch.setattr("members.api_auth.TokenView.post", broken)
    response = client.post("/api/v1/auth/token/", {}, content_type="application/json")
    assert response.status_code == 500
    assert response.json() == {"detail": "A server error occurred."}


def test_pages_outside_the_api_keep_their_html_404(client, alice):
    client.force_login(alice)
    response = client.get("/requests/0.5/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("url", ["/api/v1/auth/token/", "/api/v1/requests/"])
def test_deeply_nested_json_is_a_400_and_no_error_in_the_log(api, alice, caplog, url):
    """How long the refusal takes is measured in benchmarks/api_auth.py."""
    caplog.set_level(logging.INFO)
    response = api(alice).post(url, DEEP, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_deeply_nested_json_without_a_token_is_a_400_too(client, db, caplog):
    response = client.post("/api/v1/auth/token/", DEEP, content_type="application/json")
    assert response.status_code == 400
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
