"""The API throttles each account, and token requests from each address; with the cache
(Redis) unreachable the API keeps answering rather than refuse everyone."""

import pytest

from illdesk.throttles import TokenThrottle, UserThrottle
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
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] == ["illdesk.throttles.UserThrottle"]


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
