"""API tokens: made after a full sign-in, shown once, stored as a digest, and ended by
expiry, by their owner or an admin, by a password change or by deactivation.

A token is ``illdesk_`` and 43 random URL-safe characters (256 bits), sent as
``Authorization: Token <key>`` (``members.api_auth`` reads it). Only its SHA-256 digest
is stored: a key that random needs no slow hash, and a digest lookup is one indexed query.
A copy of the database gives nobody a working key.

Why our own code and not django-rest-knox, which does the same in outline: knox reads the
header as UTF-8 without catching a bad byte (a 500), loads and deletes every one of the
user's tokens on each call, needs its own unused table beside a token model with a name,
and its admin lets an admin mint a key for anyone. What is left to write is this module.
"""

import hashlib
import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from .models import ApiToken, User

log = logging.getLogger(__name__)

KEY_START = "illdesk_"
#: How many characters of a key are kept in clear, to tell tokens apart.
PREFIX_LENGTH = 12


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _fingerprint(user: User) -> str:
    """The account's password, as a token remembers it (a keyed hash of its hash)."""
    return salted_hmac(__name__, user.password, algorithm="sha256").hexdigest()


def api_lifetime() -> timedelta:
    """How long a token from ``POST /api/v1/auth/token/`` lasts (``API_TOKEN_HOURS``)."""
    return timedelta(hours=settings.API_TOKEN_HOURS)


def issue_token(
    user: User, *, lifetime: timedelta, name: str = "", now: datetime | None = None
) -> tuple[ApiToken, str]:
    """A new token for ``user`` and its key, which is never stored nor shown again.

    Call it only after the user has signed in in full (password and second factor).
    """
    now = now or timezone.now()
    key = KEY_START + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=key[:PREFIX_LENGTH],
        digest=_digest(key),
        password_fingerprint=_fingerprint(user),
        created_at=now,
        expires_at=now + lifetime,
    )
    log.info("API token %s issued to user %s.", token.pk, user.pk)
    return token, key


def revoke(token: ApiToken, *, actor: User) -> None:
    """End a token at once (its owner's or an admin's doing)."""
    token.delete()
    log.info("API token of user %s revoked by user %s.", token.user_id, actor.pk)


def live_tokens(user: User):
    """The user's tokens that still work, newest first."""
    return ApiToken.objects.filter(user=user, expires_at__gt=timezone.now())


def delete_expired(now: datetime | None = None) -> int:
    """Delete tokens past their expiry (they stopped working then); the count deleted."""
    deleted, _ = ApiToken.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted


def token_for_key(key: str, now: datetime | None = None) -> ApiToken | None:
    """The live token with this key, of an active account whose password is still the one
    it was made under; None for any other key."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=_digest(key), expires_at__gt=now or timezone.now())
        .first()
    )
    if (
        token is None
        or not token.user.is_active
        or not constant_time_compare(token.password_fingerprint, _fingerprint(token.user))
    ):
        return None
    return token
