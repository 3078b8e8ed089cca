"""The API's throttles. Their counts live in the cache (Redis in production, shared by
every worker process); the rates are ``DEFAULT_THROTTLE_RATES`` in settings."""

import logging

from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

log = logging.getLogger(__name__)


class _FailOpen:
    """A throttle whose counts live in the cache (Redis in production). With the cache
    unreachable it lets the call through: Redis being down must not stop the desk."""

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # the cache backends raise their client's own errors
            log.warning("API throttle skipped, cache unreachable: %s", type(exc).__name__)
            return True


class UserThrottle(_FailOpen, UserRateThrottle):
    """Each account's calls per minute (``API_RATE_PER_USER``)."""


class TokenThrottle(_FailOpen, AnonRateThrottle):
    """Token requests per minute from one address (``API_RATE_TOKEN``). Failed passwords
    also count against the account itself (django-axes)."""

    scope = "token"
