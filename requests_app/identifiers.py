"""Check and normalise the numbers that identify a title: ISBN, ISSN and OCLC number.

ISBN and ISSN checksums come from python-stdnum; an OCLC number has no check digit, only
a shape (digits, often written with an ``ocm``/``ocn``/``on`` or ``(OCoLC)`` prefix).
"""

import re

from django.core.exceptions import ValidationError
from stdnum import isbn, issn
from stdnum.exceptions import InvalidChecksum
from stdnum.exceptions import ValidationError as StdnumError

_OCLC_PREFIX = re.compile(r"^\s*(\(ocolc\)|ocm|ocn|on)\s*", re.IGNORECASE)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def normalize_isbn(value: str) -> str:
    """Return the ISBN-13 of a valid ISBN-10 or ISBN-13, in compact form ('' stays '')."""
    value = _text(value)
    if not value.strip():
        return ""
    try:
        compact = isbn.validate(value)
    except InvalidChecksum:
        raise ValidationError(
            "This ISBN's check digit does not match; check for a mistyped digit.",
            code="isbn_checksum",
        ) from None
    except StdnumError:
        raise ValidationError(
            "Enter an ISBN of 10 or 13 digits (hyphens and spaces are fine).", code="isbn"
        ) from None
    return isbn.to_isbn13(compact)


def normalize_issn(value: str) -> str:
    """Return a valid ISSN as NNNN-NNNN ('' stays '')."""
    value = _text(value)
    if not value.strip():
        return ""
    try:
        return issn.format(issn.validate(value))
    except InvalidChecksum:
        raise ValidationError(
            "This ISSN's check digit does not match; check for a mistyped digit.",
            code="issn_checksum",
        ) from None
    except StdnumError:
        raise ValidationError(
            "Enter an ISSN of 8 characters, like 0317-8471.", code="issn"
        ) from None


def normalize_oclc_number(value: str) -> str:
    """Return an OCLC number as bare digits without leading zeros ('' stays '')."""
    value = _text(value)
    if not value.strip():
        return ""
    digits = _OCLC_PREFIX.sub("", value).strip()
    if not digits.isdigit() or not digits.isascii() or len(digits) > 12 or int(digits) == 0:
        raise ValidationError(
            "Enter an OCLC number: digits only, optionally prefixed ocm, ocn, on or (OCoLC).",
            code="oclc_number",
        )
    return str(int(digits))


def validate_isbn(value: str) -> None:
    normalize_isbn(value)


def validate_issn(value: str) -> None:
    normalize_issn(value)


def validate_oclc_number(value: str) -> None:
    normalize_oclc_number(value)
