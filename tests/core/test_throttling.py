"""The API throttles each account, and token requests from each address; with the cache
(Redis) unreachable the API keeps answering rather than refuse everyone."""

import pytest

from core.throttles import TokenThrottle, UserThrottle
from tests.conftest import PASSWORD


@pytest.fixture
def three_a_minute(monkeypatch):
    monkeypatch.setattr(UserThrottle, "rate", "3/minute", raising=False)


def test_each_account_is_throttled_on_its_own(api, alice, bob, three_a_minute):
    as_alice, as_bob = api(alice), api(bob)
    assert [as_alice.get("/api/v1/requests/").status_code for _ in range(3)] == [200] * 3
    refused = as_alice.get("/api/v1/requests/")
    assert refused.status_code == 429
    assert "Request was throttled" in refused.json()["detail"]
    assert int(refused["Retry-After"]) > 0
    assert as_bob.get("/api/v1/requests/").status_code == 200


def test_token_requests_are_throttled_per_address(api, alice, monkeypatch):
    monkeypatch.setattr(TokenThrottle, "rate", "2/minute", raising=False)
    anonymous = api()
    credentials = {"username": "alice", "password": PASSWORD}
    codes = [
        anonymous.post("/api/v1/auth/token/", credentials, format="json").status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]


def test_the_default_rates_are_set(settings):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert rates == {"user": "300/minute", "token": "10/minute"}
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] == ["core.throttles.UserThrottle"]


def test_with_the_cache_unreachable_the_api_still_answers(api, alice, settings, three_a_minute):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    as_alice = api(alice)
    assert [as_alice.get("/api/v1/requests/").status_code for _ in range(5)] == [200] * 5


def test_a_made_up_forwarded_address_is_not_a_new_caller(api, alice, monkeypatch):
    """Token requests are counted by the connection's address: a client cannot pass for
    many by writing X-Forwarded-For (no proxy is trusted by default)."""
    monkeypatch.setattr(TokenThrottle, "rate", "2/minute", raising=False)
    credentials = {"username": "alice", "password": PASSWORD}
    codes = [
        api()
        .post(
            "/api/v1/auth/token/",
            credentials,
            format="json",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        )
        .status_code
        for n in range(3)
    ]
    assert codes == [200, 200, 429]


def test_behind_a_trusted_proxy_the_proxys_forwarded_address_is_the_caller(
    api, alice, monkeypatch, settings
):
    settings.ILLDESK_TRUSTED_PROXIES = 1
    monkeypatch.setattr(TokenThrottle, "rate", "1/minute", raising=False)
    credentials = {"username": "alice", "password": PASSWORD}

    def ask(forwarded: str) -> int:
        return (
            api()
            .post(
                "/api/v1/auth/token/",
                credentials,
                format="json",
                REMOTE_ADDR="172.18.0.2",
                HTTP_X_FORWARDED_FOR=forwarded,
            )
            .status_code
        )

    assert ask("203.0.113.1") == 200
    assert ask("made.up, 203.0.113.1") == 429  # what the client wrote first is not read
    assert ask("203.0.113.2") == 200
