"""Which address a request came from: the connection's, or with proxies in front, the
one the outermost proxy saw. What a client writes in X-Forwarded-For is never believed,
and an IPv6 client is its /64."""

import pytest
from django.test import RequestFactory

from core.client_address import client_address


@pytest.mark.parametrize(
    "proxies, forwarded, remote, client",
    [
        (0, None, "192.0.2.1", "192.0.2.1"),
        (0, "198.51.100.7", "192.0.2.1", "192.0.2.1"),  # no proxy: the header is ignored
        (1, "198.51.100.7", "172.18.0.2", "198.51.100.7"),
        (1, "6.6.6.6, 198.51.100.7", "172.18.0.2", "198.51.100.7"),  # the client's own first
        (2, "198.51.100.7, 10.0.0.3", "172.18.0.2", "198.51.100.7"),
        (2, "6.6.6.6, 198.51.100.7, 10.0.0.3", "172.18.0.2", "198.51.100.7"),
        (1, None, "172.18.0.2", "172.18.0.2"),  # the proxy sent none: the connection
        (1, "not-an-address", "192.0.2.1", "192.0.2.1"),  # written by a client: ignored
        (3, "198.51.100.7", "172.18.0.2", "198.51.100.7"),  # fewer hops than proxies:
        (3, "6.6.6.6, 198.51.100.7", "172.18.0.2", "198.51.100.7"),  # the nearest one's
        (0, None, "", ""),  # a request made in code
        # IPv6: the /64 the address is in, which one home or device holds.
        (1, "2001:db8::7", "172.18.0.2", "2001:db8::"),
        (0, None, "2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::"),
        (0, None, "::ffff:192.0.2.1", "192.0.2.1"),
    ],
)
def test_the_client_is_the_address_our_outermost_proxy_saw(
    settings, proxies, forwarded, remote, client
):
    settings.ILLDESK_TRUSTED_PROXIES = proxies
    headers = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    assert client_address(RequestFactory().get("/", **headers)) == client
