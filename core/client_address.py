"""Where a request came from: the one rule the API's throttles and the sign-in limits share.

A client can write any ``X-Forwarded-For`` header it likes, so the header is believed only
as far as our own proxies wrote it. ``ILLDESK_TRUSTED_PROXIES`` says how many proxies stand
in front of the app (0 by default: none, and the header is ignored). Each proxy appends the
address it was reached from, so with ``n`` proxies the client is the ``n``-th address from
the right of the header, counting the connection's own address (the nearest proxy) as the
last one. Whatever the client wrote further left is never read; a header shorter than
that (a request that went round the outer proxies) is read no further than the hop the
nearest proxy wrote.

An IPv6 client is known by its /64 network: one home, office or phone holds a whole /64
and may change its address within it every day (privacy addresses), so counting single
addresses would let one client pass for millions.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _as_client(address: str) -> str | None:
    """``address`` as the client it names (an IPv6 address as its /64), or None."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False).network_address)
    return str(parsed)


def client_address(request: HttpRequest) -> str:
    """The client's address as our own proxies saw it (``ILLDESK_TRUSTED_PROXIES``), or ""
    when the request names none (a request made in code, not over the network)."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.ILLDESK_TRUSTED_PROXIES
    chosen = remote
    if proxies > 0:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()] + [remote]
        # hops[-1] is the nearest proxy; each proxy before it added the hop it saw.
        index = len(hops) - 1 - proxies
        if index >= 0:
            chosen = hops[index]
        elif len(hops) >= 2:
            chosen = hops[-2]  # fewer hops than proxies: what the nearest proxy saw
    # Not an address: something other than our proxy wrote it (a client that reached the
    # app directly). Count it against the connection that brought it.
    return _as_client(chosen) or _as_client(remote) or ""
