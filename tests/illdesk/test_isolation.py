"""Another library's staff get a 404 on every page about one of our requests, and nobody
logged out gets anything but the login page. The URLs come from the URL configuration, so
a new page cannot be forgotten."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from requests_app.web.actions import BY_SLUG


def request_url_names() -> list[str]:
    """Names of the URL patterns under ``requests/`` that take a request's ``pk``."""

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.namespace != "admin":
                    yield from walk(pattern.url_patterns)
            elif (
                isinstance(pattern, URLPattern)
                and str(pattern.pattern).startswith("requests/")
                and "pk" in pattern.pattern.converters
            ):
                yield pattern.name

    return sorted(set(walk(get_resolver().url_patterns)))


def urls_for(req) -> list[str]:
    urls = []
    for name in request_url_names():
        if name == "request_action":
            urls += [reverse(name, args=[req.pk, action]) for action in BY_SLUG]
        else:
            urls.append(reverse(name, args=[req.pk]))
    return urls


def test_the_walk_finds_the_request_pages():
    assert request_url_names() == ["lender_slip", "request_action", "request_detail"]


@pytest.mark.parametrize("status", ["submitted", "shipped", "received"])
def test_another_librarys_staff_get_404_everywhere(client, request_in, bob, status):
    req = request_in(status)
    events = req.events.count()
    client.force_login(bob)
    for url in urls_for(req):
        # The lender slip is the team's: library staff are refused it for any request.
        assert client.get(url).status_code in (403, 404, 405), url
        response = client.post(url, {})
        assert response.status_code in ((403, 404) if "slip" in url else (404,)), url
        assert req.title not in response.content.decode()
    req.refresh_from_db()
    assert req.status == status
    assert req.events.count() == events


def test_logged_out_visitors_are_sent_to_log_in_everywhere(client, request_in):
    req = request_in("shipped")
    for url in urls_for(req):
        for response in (client.get(url), client.post(url, {})):
            assert response.status_code in (302, 405), url
            if response.status_code == 302:
                assert response["Location"].startswith("/accounts/login/"), url
