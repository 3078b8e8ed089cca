"""``POST /iso18626/``: where lenders send their ISO 18626 messages (docs/iso18626.md).

The lender signs in with HTTP Basic as its agency id, with the password the admin set for
it. Every message gets its kind's confirmation (``iso18626.exchange``), never a 500; a
caller that fails to sign in too often from one address is held back a while.
"""

import base64
import binascii
import hmac
import logging

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.client_address import client_address
from core.secrets import UnreadableSecret
from lenders.models import Lender

from .. import exchange
from ..iso18626.inbound import BADLY_FORMED, MAX_BYTES, Refusal, confirmation

logger = logging.getLogger(__name__)

#: Failed sign-ins from one address in ``HOLD_SECONDS`` before it is held back.
FAILURES_ALLOWED = 20
HOLD_SECONDS = 15 * 60
XML = "application/xml; charset=utf-8"


@csrf_exempt
@require_POST
def receive(request: HttpRequest) -> HttpResponse:
    failures_key = f"iso18626-sign-in-failures:{client_address(request)}"
    if (cache.get(failures_key) or 0) >= FAILURES_ALLOWED:
        return HttpResponse(
            "Too many failed sign-ins from this address: try again later.\n",
            status=429,
            content_type="text/plain; charset=utf-8",
            headers={"Retry-After": str(HOLD_SECONDS)},
        )
    lender = signed_in_lender(request.headers.get("Authorization", ""))
    if lender is None:
        if not cache.add(failures_key, 1, HOLD_SECONDS):
            try:
                cache.incr(failures_key)
            except ValueError:  # expired just now
                cache.add(failures_key, 1, HOLD_SECONDS)
        return HttpResponse(
            "Sign in as your agency id with the password illdesk's admin set for you.\n",
            status=401,
            content_type="text/plain; charset=utf-8",
            headers={"WWW-Authenticate": 'Basic realm="illdesk ISO 18626", charset="UTF-8"'},
        )
    # Read one byte past the cap: a longer body is refused unread (``inbound.read``).
    body = request.read(MAX_BYTES + 1)
    try:
        answer = exchange.receive(lender, body)
    except Exception:
        # A fault of illdesk's (the database gone, a bug): the lender is told to send it
        # again later, in the standard's words, and the team's log has the traceback.
        logger.exception("Could not take an ISO 18626 message from lender %s.", lender.pk)
        refusal = Refusal(BADLY_FORMED, "illdesk could not take this message now: send it again.")
        return HttpResponse(confirmation(refusal), status=503, content_type=XML)
    return HttpResponse(answer, content_type=XML)


def signed_in_lender(authorization: str) -> Lender | None:
    """The exchanging lender whose agency id and password the Basic header carries."""
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    agency_id, _, password = decoded.partition(":")
    if not agency_id or not password:
        return None
    # One lender per agency id value: two with the same value (under different id types)
    # cannot tell which signed in, so neither can.
    found = list(
        Lender.objects.filter(agency_id_value=agency_id, is_active=True).exclude(
            iso18626_address=""
        )[:2]
    )
    if len(found) != 1:
        return None
    lender = found[0]
    try:
        expected = lender.iso18626_password()
    except UnreadableSecret:
        return None
    if not expected or not hmac.compare_digest(expected.encode(), password.encode()):
        return None
    return lender
