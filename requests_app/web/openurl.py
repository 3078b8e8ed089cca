"""Initial values for the new-request form, read from an OpenURL.

Catalogues and databases link into ILL forms with an OpenURL: OpenURL 1.0 (ANSI/NISO
Z39.88-2004) in its key/encoded-value (KEV) format, the item described by ``rft.*`` keys
(``url_ver=Z39.88-2004&rft_val_fmt=info:ofi/fmt:kev:mtx:book&rft.btitle=...``), or the
older OpenURL 0.1 with bare keys (``sid=...&genre=book&title=...&aulast=...``). The person
still checks and submits the form, which validates the values (ISBN checksums included).

The query comes from any web page that links to us, so every value is cleaned: control and
invisible format characters removed, whitespace collapsed, cut to the model field's
max_length; nothing here raises, and what cannot be read is left out. Values are plain text,
deliberately *not* HTML-escaped: the template escapes on output (escaping twice shows "&amp;").
"""

import re
import unicodedata
from collections.abc import Mapping

from django.db import models

from ..models import BorrowingRequest

NOTES_MAX = 500
_RAW_MAX = 4000  # any value is cut to this before cleaning, so huge input costs little
_REPEATS_MAX = 20  # how many values of a repeated key are read
_JOINERS = {"\u200c", "\u200d"}  # invisible, but some scripts need them

#: format -> the rft.genre (1.0) / genre (0.1) values meaning it; others leave the default.
_GENRES_BY_FORMAT = {
    "book": "book bookitem proceeding conference report document dissertation",
    "periodical_issue": "journal issue",
    "article": "article preprint",
    "ebook": "ebook e-book",
}
GENRES = {genre: fmt for fmt, genres in _GENRES_BY_FORMAT.items() for genre in genres.split()}
#: Words in rft_val_fmt / rft.format that mean an electronic resource.
ELECTRONIC_WORDS = ("electronic", "ebook", "e-book")
#: Words in a Dublin Core rft.type / rft.format -> format; first match wins ("microfilm" first).
MEDIA_WORDS = [
    (("microfilm", "microform", "microfiche"), "microfilm"),
    (("video", "film", "movingimage", "moving image", "dvd", "blu-ray"), "video"),
    (("score", "notated music"), "score"),
    (("music",), "music"),
    (("sound", "audio", "spoken"), "audiobook"),
]
#: (label, key) for the volume field, e.g. "v. 3, pt. 1, no. 2"; the label only before a number.
VOLUME_PARTS = [("v.", "volume"), ("pt.", "part"), ("no.", "issue")]

_YEAR = re.compile(r"(?<!\d)([12]\d{3})(?:\d{4})?(?!\d)")  # 2011, 2011-05, 20110501
_NUMBER = re.compile(r"\d(?:[\d -]*[\dXx])?")  # an ISBN/ISSN, hyphens and spaces allowed
_OCLC_ID = re.compile(r"(?:info:oclcnum/|oclcnum:|<oclcnum>|<accession number>)\D{0,10}(\d+)", re.I)
_ISBN_ID = re.compile(r"urn:isbn:\s*(\S+)", re.I)


def _clean(value: str) -> str:
    """Plain one-line text: NFC, no control/format characters, single spaces, stripped."""
    value = unicodedata.normalize("NFC", value[:_RAW_MAX])
    kept = (
        " " if ch.isspace() else ch
        for ch in value
        if ch.isspace() or ch in _JOINERS or unicodedata.category(ch) not in ("Cc", "Cf", "Cs")
    )
    return " ".join("".join(kept).split())


def _text(value: object) -> str:
    """A value as text: str as is, bytes decoded, a number written out; anything else ''."""
    if isinstance(value, bytes):
        value = value[:_RAW_MAX].decode("utf-8", "replace")
    elif isinstance(value, int | float) and abs(value) < 1e300:  # not inf, nan, 10**5000
        value = str(value)
    return value if isinstance(value, str) else ""


def _raw(params: Mapping, key: str) -> object:
    """A QueryDict's whole list for key, or a dict's value; None if unreadable."""
    try:
        getlist = getattr(params, "getlist", None)
        return getlist(key) if callable(getlist) else params.get(key)
    except Exception:  # input from anywhere must never break the form
        return None


class _Reader:
    """Cleaned, non-empty values of a QueryDict or a plain dict of str / list of str."""

    def __init__(self, params: Mapping) -> None:
        self.params = params

    def all(self, *keys: str) -> list[str]:
        found = []
        for key in keys:
            raw = _raw(self.params, key)
            for value in raw[:_REPEATS_MAX] if isinstance(raw, list | tuple) else [raw]:
                if value := _clean(_text(value)):
                    found.append(value)
        return found

    def first(self, *keys: str) -> str:
        return next(iter(self.all(*keys)), "")


def _format(read: _Reader, val_fmt: str, has_atitle: bool) -> str:
    genre = read.first("rft.genre", "genre").lower()
    media = " ".join(read.all("rft.type", "rft.format")).lower()
    fmt = GENRES.get(genre)
    if fmt == "ebook" or any(word in f"{val_fmt} {media}" for word in ELECTRONIC_WORDS):
        return "ebook"
    if has_atitle:  # a part of something: a chapter (we borrow the book) or an article
        in_book = fmt == "book" or (fmt is None and val_fmt.endswith(":book"))
        return "book" if in_book and not val_fmt.endswith(":journal") else "article"
    if fmt:
        return fmt
    for words, media_fmt in MEDIA_WORDS:
        if any(word in media for word in words):
            return media_fmt
    if val_fmt.endswith((":book", ":dissertation")):
        return "book"
    return "periodical_issue" if val_fmt.endswith(":journal") else ""


def _author(read: _Reader) -> str:
    for p in ("rft.", ""):  # OpenURL 1.0 first, then 0.1
        names = read.all(p + "au")
        last = read.first(p + "aulast")
        first = read.first(p + "aufirst", p + "auinit", p + "auinit1")
        if last and not any(last.lower() in name.lower() for name in names):
            names.insert(0, f"{last}, {first}" if first else last)
        names = names or read.all(p + "aucorp")
        if names:
            return "; ".join(dict.fromkeys(names))
    return ""


def _number(value: str) -> str:
    """The first ISBN/ISSN-looking run in value, as digits and X only (no checksum test)."""
    match = _NUMBER.search(value)
    return re.sub(r"[^\dX]", "", match.group().upper()) if match else ""


def _search(pattern: re.Pattern, *texts: str) -> str:
    """Group 1 of pattern's first match in texts, or ''."""
    return next((match.group(1) for text in texts if (match := pattern.search(text))), "")


def _cut(name: str, value: str) -> str:
    model_field = BorrowingRequest._meta.get_field(name)
    limit = model_field.max_length if isinstance(model_field, models.Field) else None
    return value[: limit or NOTES_MAX].rstrip()


def initial_from_openurl(params: Mapping[str, str | list[str]]) -> dict[str, str]:
    """Form initial values from an OpenURL 1.0 (KEV) or 0.1 query; only keys with a value."""
    read = _Reader(params)
    val_fmt = read.first("rft_val_fmt").lower()
    ids = read.all("rft_id", "id", "pid")
    atitle = read.first("rft.atitle", "atitle")
    whole = read.first("rft.btitle", "rft.title", "rft.jtitle", "title", "jtitle")
    fmt = _format(read, val_fmt, bool(atitle))
    notes = []
    if source := read.first("sid") or re.sub(r"^info:sid/", "", read.first("rfr_id"), flags=re.I):
        notes.append(f"Request started from {source}")
    if fmt == "article" and atitle:
        title = f"{atitle} in {whole}" if whole else atitle
    else:
        title = whole or atitle
        if atitle and whole:
            notes.append(f"Chapter: {atitle}")
    place, pub = read.first("rft.place"), read.first("rft.pub", "pub")
    values = {
        "format": fmt,
        "title": title,
        "author": _author(read),
        "publisher": f"{place}: {pub}" if place and pub else pub or place,
        "year": _search(_YEAR, read.first("rft.date", "date")),
        "edition": read.first("rft.edition", "edition"),
        "volume": ", ".join(
            f"{label} {v}" if v[0].isdigit() else v
            for label, key in VOLUME_PARTS
            if (v := read.first("rft." + key, key))
        ),
        "isbn": _number(read.first("rft.isbn", "isbn") or _search(_ISBN_ID, *ids)),
        "issn": _number(read.first("rft.issn", "rft.eissn", "issn", "eissn")),
        "oclc_number": _search(_OCLC_ID, *ids) or re.sub(r"\D", "", read.first("rft.oclcnum")),
        "language": read.first("rft.language", "language"),
        "notes": ". ".join(notes),
    }
    return {name: cut for name, value in values.items() if value and (cut := _cut(name, value))}
