"""Secrets illdesk must send on, kept sealed at rest: a lender's ISO 18626 password is
presented by the lender and by illdesk alike (HTTP Basic both ways), so it cannot be a
one-way hash as a login's is. It is sealed with Fernet (AES, authenticated), under
``ILLDESK_SECRETS_KEY``, or a key derived from ``SECRET_KEY`` when that is not set:
changing the key makes the sealed passwords unreadable, to be set again.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class UnreadableSecret(Exception):
    """Sealed under another key, or not by illdesk."""


def _fernet() -> Fernet:
    key = getattr(settings, "ILLDESK_SECRETS_KEY", "") or settings.SECRET_KEY
    digest = hashlib.sha256(f"illdesk secrets:{key}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(secret: str) -> str:
    """``secret`` sealed for storing; "" stays "" (no secret)."""
    return _fernet().encrypt(secret.encode()).decode() if secret else ""


def unseal(sealed: str) -> str:
    """The secret ``seal`` sealed; "" for none."""
    if not sealed:
        return ""
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except InvalidToken as error:
        raise UnreadableSecret("The secret was sealed under another key: set it again.") from error
