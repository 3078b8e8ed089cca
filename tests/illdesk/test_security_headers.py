"""Every page carries the content security policy (no inline script or style allowed),
refuses to be framed and to be sniffed; every form carries a CSRF token and a post without
one is refused. The browser tests (tests/browser) fail on anything the policy blocks."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted((ROOT / "templates").rglob("*.html"))
PAGE_TEMPLATES = [t for t in TEMPLATES if "email" not in t.relative_to(ROOT / "templates").parts]


def csp(response) -> dict[str, str]:
    directives = (
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )
    return {d[0]: d[1] if len(d) > 1 else "" for d in directives if d[0]}


@pytest.mark.parametrize("url", ["/accounts/login/", "/queue/", "/api/v1/requests/", "/admin/"])
def test_pages_and_the_api_carry_the_policy_and_the_headers(client, admin_user, url):
    client.force_login(admin_user)
    response = client.get(url)
    assert response.status_code == 200
    policy = csp(response)
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize("template", PAGE_TEMPLATES, ids=lambda t: t.name)
def test_no_template_has_inline_script_or_style(template):
    text = template.read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), "inline <script>"
    assert not re.search(r"<style\b", text), "<style> element"
    assert not re.search(r"\sstyle\s*=", text), "style= attribute"
    assert not re.search(r"\son[a-z]+\s*=", text), "event handler attribute"
    assert "javascript:" not in text


@pytest.mark.parametrize("template", PAGE_TEMPLATES, ids=lambda t: t.name)
def test_every_post_form_has_a_csrf_token(template):
    text = template.read_text()
    for form in re.findall(r"<form\b[^>]*>.*?</form>", text, flags=re.S | re.I):
        if re.search(r'method\s*=\s*"post"', form, flags=re.I):
            assert "{% csrf_token %}" in form, form[:120]


def test_a_post_without_the_csrf_token_is_refused(request_in, alice):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    req = request_in("shipped")
    response = browser.post(f"/requests/{req.pk}/receive/", {})
    assert response.status_code == 403
    assert b"CSRF verification failed" in response.content
    req.refresh_from_db()
    assert req.status == "shipped"
    assert (
        Client(enforce_csrf_checks=True)
        .post("/accounts/login/", {"username": "alice", "password": "x"})
        .status_code
        == 403
    )


def test_the_session_and_csrf_cookies_are_out_of_scripts_reach(settings):
    assert settings.SESSION_COOKIE_HTTPONLY is True
    assert settings.CSRF_COOKIE_HTTPONLY is True
