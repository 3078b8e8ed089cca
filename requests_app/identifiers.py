"""Check and normalise what identifies a title: ISBN, ISSN and OCLC number, and the key
of an item without them (its format, title, author and volume, normalised).

ISBN and ISSN checksums come from python-stdnum; an OCLC number has no check digit, only
a shape (digits, often written with an ``ocm``/``ocn``/``on`` or ``(OCoLC)`` prefix).
"""

import hashlib
import re
import unicodedata

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


#: Words a title may start with that say nothing about it ("The", "A", "Les", "Die").
LEADING_ARTICLES = frozenset(
    {"the", "a", "an", "le", "la", "les", "l", "el", "los", "las", "der", "die", "das", "un", "une"}
)
#: Words that only say "this is a volume number" ("v. 2", "Vol 2", "Part 2" are all "2").
VOLUME_WORDS = frozenset({"v", "vol", "volume", "pt", "part", "no", "bk", "book", "t", "tome"})
_APOSTROPHES = re.compile("['\u2019\u02bc]")


def _words(text: str) -> list[str]:
    """``text`` as lower-case words: accents, punctuation and spacing left out
    ("Charlotte\u2019s  Web!" and "charlottes web" are the same two words)."""
    text = unicodedata.normalize("NFKD", _text(text).casefold())
    text = "".join(char for char in text if not unicodedata.combining(char))
    return re.findall(r"[^\W_]+", _APOSTROPHES.sub("", text))


def normalized_title(title: str) -> str:
    """A title's words, without a leading article ("The Hobbit" is "hobbit")."""
    words = _words(title)
    if len(words) > 1 and words[0] in LEADING_ARTICLES:
        words = words[1:]
    return " ".join(words)


def normalized_author(author: str) -> str:
    """An author's words in alphabetical order: "Harvey, Miles" is "Miles Harvey"."""
    return " ".join(sorted(_words(author)))


def normalized_volume(volume: str) -> str:
    """A volume's words without "v.", "vol.", "part": "Vol. 2" is "v. 2" is "2"."""
    return " ".join(word for word in _words(volume) if word not in VOLUME_WORDS)


def item_key(*, format: str, title: str, author: str, volume: str) -> str:
    """The same item however its title and author were typed: a digest (32 hex digits,
    so its index stays small) of the format, title, author and volume, normalised."""
    parts = (
        _text(format),
        normalized_title(title),
        normalized_author(author),
        normalized_volume(volume),
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
