"""The API's throttles. Their counts live in the cache (Redis in production, shared by
every worker process); the rates are ``DEFAULT_THROTTLE_RATES`` in settings. A caller
without an account is counted by its real address (``core.client_address``), never by
the ``X-Forwarded-For`` it sends."""

import logging
from typing import TYPE_CHECKING

from rest_framework.throttling import AnonRateThrottle, BaseThrottle, UserRateThrottle

from .client_address import client_address

if TYPE_CHECKING:
    # Not at run time: DRF imports this module while ``rest_framework.views`` loads.
    from rest_framework.request import Request
    from rest_framework.views import APIView

log = logging.getLogger(__name__)


class _Throttle(BaseThrottle):
    """Counts in the cache (Redis in production), by account or by real address. With the
    cache unreachable it lets the call through: Redis being down must not stop the desk."""

    def get_ident(self, request: "Request") -> str:
        return client_address(request)

    def allow_request(self, request: "Request", view: "APIView") -> bool:
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # the cache backends raise their client's own errors
            log.warning("API throttle skipped, cache unreachable: %s", type(exc).__name__)
            return True


class UserThrottle(_Throttle, UserRateThrottle):
    """Each account's calls per minute (``API_RATE_PER_USER``)."""


class TokenThrottle(_Throttle, AnonRateThrottle):
    """Token requests per minute from one address (``API_RATE_TOKEN``). Failed passwords
    also count against the account at that address (``members.sign_in``)."""

    scope = "token"
