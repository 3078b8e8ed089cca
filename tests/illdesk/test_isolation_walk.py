"""Every URL of the app, walked as another library's staff and as an anonymous visitor:
never another library's data in a response, never a change to it.

The URLs come from the URL configuration (the pages, the API and the admin), so a new page
cannot be forgotten: a parameter the walk does not know how to fill fails the test until
someone adds it to ``parameters``. tests/illdesk/test_isolation.py has the request pages' codes.
"""

import re
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from requests_app import services
from requests_app.models import BorrowingRequest as Request
from requests_app.models import Charge, Message, StatusEvent
from requests_app.reports.views import REPORTS
from requests_app.web.actions import BY_SLUG

#: Pages anyone may open without logging in. They show nothing of any library.
PUBLIC = {
    "login",
    "logout",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "welcome",
    "healthz",
    # Lenders sign in there with HTTP Basic, as their agency (a 401 otherwise).
    "iso18626",
    "api:token",
    "api_schema",
    "api_docs",
    "admin:login",
    "admin:logout",
}
SECRET_TITLE = "Confidential Papers of the Abbot Reading Room"
SECRET_MESSAGE = "Patron asks about the Abbot reading room copy"


def url_patterns():
    """(name, parameter names) of every URL pattern, including the API's and the admin's."""

    def walk(patterns, namespace=None):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and pattern.name:
                name = f"{namespace}:{pattern.name}" if namespace else pattern.name
                text = str(pattern.pattern)
                params = re.findall(r"\(\?P<(\w+)>", text) + re.findall(r"<(?:\w+:)?(\w+)>", text)
                # Unnamed groups (django-simple-history's admin pages) are positional.
                positional = len(re.findall(r"\((?!\?)", text))
                yield name, tuple(sorted(set(params))) + ("*",) * positional

    return sorted(set(walk(get_resolver().url_patterns)))


@pytest.fixture
def patron(library_one):
    """Library one's patron, with a name and card no page or example could show by chance."""
    from members.models import Patron

    return Patron.objects.create(
        library=library_one,
        card_number="29870012345678",
        name="Ottoline Quibbly-Vance",
        email="o.quibbly@example.net",
    )


@pytest.fixture
def secret_request(request_in, rita, alice):
    """Library one's request, with everything a page could show: patron, charge, message."""
    req = request_in("shipped")
    Request.objects.filter(pk=req.pk).update(title=SECRET_TITLE)
    services.add_charge(req.pk, actor=rita, kind="lending_fee", amount=Decimal("12.34"))
    services.post_message(req.pk, actor=alice, body=SECRET_MESSAGE)
    req.refresh_from_db()
    return req


def urls(req, patron, lender) -> list[tuple[str, str]]:
    """(name, URL) for every pattern, filled with library one's objects."""
    parameters = {
        "pk": [req.pk],
        "action": list(BY_SLUG),
        "slug": list(REPORTS),
        "format": ["json"],
        "uidb64": ["MQ"],
        "token": ["set-password"],
        # The admin's own parameters.
        "object_id": [req.pk],
        "app_label": ["requests_app", "members"],
        "content_type_id": [ContentType.objects.get_for_model(Request).pk],
        "id": [req.library.staff.first().pk],
        "member_pk": [req.library.staff.first().pk],
        "name": ["requests.csv", "events.csv", "charges.csv", "requests.json", "patrons.csv"],
        "url": ["unknown/"],
        "*": [req.library_id],
    }
    by_name_pk = {"lender": lender.pk, "library": req.library_id, "patron": patron.pk}
    found = []
    for name, params in url_patterns():
        unknown = set(params) - set(parameters)
        assert not unknown, f"{name}: teach the walk to fill {unknown}"
        combos = [{}]
        for param in params:
            values = parameters[param]
            if param == "pk":
                values = [next((v for k, v in by_name_pk.items() if k in name), req.pk)]
            combos = [{**combo, param: value} for combo in combos for value in values]
        for combo in combos:
            args = [value for param, value in combo.items() if param == "*"] * params.count("*")
            kwargs = {param: value for param, value in combo.items() if param != "*"}
            found.append((name, reverse(name, args=args) if args else reverse(name, kwargs=kwargs)))
    return found


def body_of(response) -> str:
    """The answer's text, a streamed one (an export) read to its end."""
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    return raw.decode(errors="replace")


def secrets_in(body: str, req, patron) -> list[str]:
    return [
        secret
        for secret in (SECRET_TITLE, SECRET_MESSAGE, patron.name, patron.card_number, patron.email)
        if secret in body
    ]


def record_of(req):
    return (
        Request.objects.filter(pk=req.pk).values_list("status", "title", "updated_at").get(),
        StatusEvent.objects.filter(request=req).count(),
        Charge.objects.filter(request=req).count(),
        Message.objects.filter(request=req).count(),
    )


def test_the_walk_covers_the_pages_the_api_and_the_admin(secret_request, patron, lender):
    names = {name for name, _ in urls(secret_request, patron, lender)}
    assert {"request_detail", "queue", "api:request-detail", "api:patron-detail"} <= names
    assert {"admin:index", "admin:requests_app_borrowingrequest_change", "library_edit"} <= names


def test_another_librarys_staff_see_nothing_of_ours_anywhere(
    client, secret_request, patron, lender, bob
):
    before = record_of(secret_request)
    for name, url in urls(secret_request, patron, lender):
        for method in ("get", "post", "put", "patch", "delete"):
            client.force_login(bob)  # again: the walk also visits the logout addresses
            response = getattr(client, method)(url, content_type="application/json")
            where = f"{method.upper()} {url} ({name}) -> {response.status_code}"
            assert response.status_code < 500, where
            body = body_of(response)
            assert not secrets_in(body, secret_request, patron), where
            if name.startswith("admin:") and name not in PUBLIC and response.status_code != 404:
                assert response.status_code == 302, where
                assert response["Location"].startswith("/admin/login/"), where
            named_object = "pk" in url_params(name) or "object_id" in url_params(name)
            if named_object and not name.startswith(("lender", "api:lender", "admin:")):
                assert response.status_code in (403, 404, 405), where
    assert record_of(secret_request) == before


def test_anonymous_visitors_get_nothing_but_the_public_pages(
    client, secret_request, patron, lender
):
    before = record_of(secret_request)
    for name, url in urls(secret_request, patron, lender):
        for method in ("get", "post", "put", "patch", "delete"):
            response = getattr(client, method)(url, content_type="application/json")
            where = f"{method.upper()} {url} ({name}) -> {response.status_code}"
            assert response.status_code < 500, where
            body = body_of(response)
            assert not secrets_in(body, secret_request, patron), where
            if name in PUBLIC or response.status_code in (404, 405):
                continue
            if name.startswith("api:"):
                assert response.status_code in (401, 403), where
            elif name.startswith("admin:"):
                assert response.status_code == 302, where
                assert response["Location"].startswith("/admin/login/"), where
            else:
                assert response.status_code == 302, where
                assert response["Location"].startswith("/accounts/login/"), where
    assert record_of(secret_request) == before


def test_the_api_has_no_delete_at_all(api, rita, admin_user, secret_request, patron, lender):
    """Not even the team or an admin can delete through the API: a request, a charge or an
    event, once saved, stays."""
    before = record_of(secret_request)
    for user in (rita, admin_user):
        client = api(user)
        for name, url in urls(secret_request, patron, lender):
            if name.startswith("api:"):
                assert client.delete(url).status_code in (404, 405), url
    assert record_of(secret_request) == before


def url_params(name: str) -> set[str]:
    return {
        param for pattern_name, params in url_patterns() if pattern_name == name for param in params
    }
