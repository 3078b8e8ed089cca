"""Where a request came from: the one rule the API's throttles and the login guard share.

A client can write any ``X-Forwarded-For`` header it likes, so the header is believed only
as far as our own proxies wrote it. ``ILLDESK_TRUSTED_PROXIES`` says how many proxies stand
in front of the app (0 by default: none, and the header is ignored). Each proxy appends the
address it was reached from, so with ``n`` proxies the client is the ``n``-th address from
the right of the header, counting the connection's own address (the nearest proxy) as the
last one. Whatever the client wrote further left is never read.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The client's address as our own proxies saw it (``ILLDESK_TRUSTED_PROXIES``)."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.ILLDESK_TRUSTED_PROXIES
    if proxies <= 0:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()] + [remote]
    # hops[-1] is the nearest proxy; each proxy before it added the hop it saw.
    client = hops[max(len(hops) - 1 - proxies, 0)]
    try:
        return str(ipaddress.ip_address(client))
    except ValueError:
        # Not an address: something other than our proxy wrote it (a client that reached
        # the app directly). Count it against the connection that brought it.
        return remote
