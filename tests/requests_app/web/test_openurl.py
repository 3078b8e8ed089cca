"""OpenURL 1.0 (Z39.88-2004 KEV) and 0.1 links become the new-request form's initial values."""

import pytest
from django.http import QueryDict

from requests_app.models import BorrowingRequest
from requests_app.web.openurl import initial_from_openurl

ALLOWED_KEYS = {
    "format", "title", "author", "publisher", "year", "edition", "volume",
    "isbn", "issn", "oclc_number", "language", "notes",
}  # fmt: skip
BOOK = "info:ofi/fmt:kev:mtx:book"
JOURNAL = "info:ofi/fmt:kev:mtx:journal"
DC = "info:ofi/fmt:kev:mtx:dc"


def test_openurl_1_0_book():
    assert initial_from_openurl(
        {
            "url_ver": "Z39.88-2004",
            "rft_val_fmt": BOOK,
            "rfr_id": "info:sid/worldcat.org:worldcat",
            "rft.genre": "book",
            "rft.btitle": "Pattern Recognition and Machine Learning",
            "rft.au": ["Bishop, Christopher M.", "Nasrabadi, Nasser"],
            "rft.isbn": "978-0-306-40615-7",
            "rft.date": "2011-05",
            "rft.pub": "Springer",
            "rft.place": "New York",
            "rft.edition": "2nd ed.",
            "rft.volume": "3",
            "rft.language": "eng",
            "rft_id": ["info:doi/10.1000/182", "info:oclcnum/12345"],
        }
    ) == {
        "format": "book",
        "title": "Pattern Recognition and Machine Learning",
        "author": "Bishop, Christopher M.; Nasrabadi, Nasser",
        "publisher": "New York: Springer",
        "year": "2011",
        "edition": "2nd ed.",
        "volume": "v. 3",
        "isbn": "9780306406157",
        "oclc_number": "12345",
        "language": "eng",
        "notes": "Request started from worldcat.org:worldcat",
    }


def test_openurl_1_0_article_is_an_article_titled_article_in_journal():
    initial = initial_from_openurl(
        {
            "rft_val_fmt": JOURNAL,
            "rft.genre": "article",
            "rft.atitle": "On the electrodynamics of moving bodies",
            "rft.jtitle": "Annalen der Physik",
            "rft.volume": "17",
            "rft.issue": "10",
            "rft.issn": "0003-3804",
            "rft.aulast": "Einstein",
            "rft.aufirst": "Albert",
        }
    )
    assert initial["format"] == "article"
    assert initial["title"] == "On the electrodynamics of moving bodies in Annalen der Physik"
    assert initial["volume"] == "v. 17, no. 10"
    assert initial["issn"] == "00033804"
    assert initial["author"] == "Einstein, Albert"


def test_an_article_title_alone_makes_an_article():
    initial = initial_from_openurl({"atitle": "A study", "title": "J. Stud.", "issn": "1234-567x"})
    assert initial["format"] == "article"
    assert initial["title"] == "A study in J. Stud."
    assert initial["issn"] == "1234567X"


def test_a_chapter_asks_for_the_book_and_names_the_chapter():
    initial = initial_from_openurl(
        {"rft_val_fmt": BOOK, "rft.genre": "bookitem", "rft.atitle": "Ch. 4", "rft.btitle": "B"}
    )
    assert initial == {"format": "book", "title": "B", "notes": "Chapter: Ch. 4"}


def test_openurl_1_0_journal_issue():
    assert initial_from_openurl(
        {
            "rft_val_fmt": JOURNAL,
            "rft.genre": "issue",
            "rft.jtitle": "National Geographic",
            "rft.volume": "Vol. 201",
            "rft.issue": "4",
            "rft.date": "2002-04",
            "rft.eissn": "0027-9358",
        }
    ) == {
        "format": "periodical_issue",
        "title": "National Geographic",
        "volume": "Vol. 201, no. 4",
        "year": "2002",
        "issn": "00279358",
    }


def test_openurl_0_1_book():
    assert initial_from_openurl(
        {
            "sid": "FirstSearch:WorldCat",
            "genre": "book",
            "title": "Middlemarch",
            "aulast": "Eliot",
            "aufirst": "George",
            "isbn": "ISBN 0-19-852663-x (pbk.)",
            "date": "1994-01-01",
            "pid": "<accession number>ocm00123456</accession number><fssessid>0</fssessid>",
        }
    ) == {
        "format": "book",
        "title": "Middlemarch",
        "author": "Eliot, George",
        "isbn": "019852663X",
        "year": "1994",
        "oclc_number": "00123456",
        "notes": "Request started from FirstSearch:WorldCat",
    }


@pytest.mark.parametrize(
    ("rft_type", "fmt"),
    [
        ("Video", "video"),
        ("MovingImage", "video"),
        ("film", "video"),
        ("Sound recording", "audiobook"),
        ("audio; spoken word", "audiobook"),
        ("Sound recording, musical", "music"),
        ("Microfilm", "microfilm"),
    ],
)
def test_dublin_core_type_gives_the_format(rft_type, fmt):
    initial = initial_from_openurl({"rft_val_fmt": DC, "rft.title": "X", "rft.type": rft_type})
    assert initial == {"format": fmt, "title": "X"}


@pytest.mark.parametrize(
    "params",
    [
        {"rft.genre": "ebook", "rft.btitle": "X"},
        {"genre": "e-book", "title": "X"},
        {"rft_val_fmt": DC, "rft.format": "Electronic resource", "rft.title": "X"},
        {"rft_val_fmt": BOOK, "rft.genre": "book", "rft.format": "eBook", "rft.btitle": "X"},
    ],
)
def test_ebooks(params):
    assert initial_from_openurl(params) == {"format": "ebook", "title": "X"}


def test_a_query_dict_from_a_url():
    query = QueryDict(
        "url_ver=Z39.88-2004&rft_val_fmt=info%3Aofi%2Ffmt%3Akev%3Amtx%3Abook"
        "&rft.btitle=Les+Mis%C3%A9rables&rft.au=Hugo%2C+Victor&rft.au=Wilbour%2C+C.+E."
        "&rft.au=Hugo%2C+Victor&rft.btitle=Second+title+ignored"
        "&rft_id=info%3Adoi%2F10.1%2Fx&rft_id=info%3Aoclcnum%2F1234567&rft.isbn="
    )
    assert initial_from_openurl(query) == {
        "format": "book",
        "title": "Les Misérables",
        "author": "Hugo, Victor; Wilbour, C. E.",
        "oclc_number": "1234567",
    }


def test_a_huge_title_is_cut_to_the_field():
    limit = BorrowingRequest._meta.get_field("title").max_length
    initial = initial_from_openurl({"title": "A" * 10_000, "sid": "s" * 10_000})
    assert initial["title"] == "A" * limit
    assert len(initial["notes"]) == 500


def test_control_characters_go_and_whitespace_collapses():
    title = "  War\x00 and\tPeace\r\n\x1b[31m \u202eevil\u200b "
    initial = initial_from_openurl({"rft.btitle": title, "rft.au": "Tolstoy\x07"})
    assert initial == {"title": "War and Peace [31m evil", "author": "Tolstoy"}


def test_markup_is_kept_as_text_for_the_template_to_escape():
    title = '<script>alert("x")</script> & <b>'
    assert initial_from_openurl({"rft.btitle": title})["title"] == title


def test_nothing_readable_gives_nothing():
    assert initial_from_openurl({}) == {}
    assert initial_from_openurl(QueryDict("")) == {}
    assert initial_from_openurl({"rft.btitle": " \t\x00 ", "rft.au": []}) == {}


@pytest.mark.parametrize("genre", ["unknown", "thesaurus", ""])
def test_an_unknown_genre_leaves_the_default_format(genre):
    assert initial_from_openurl({"genre": genre, "title": "X"}) == {"title": "X"}


class Unreadable(dict):
    def get(self, key, default=None):
        raise RuntimeError("boom")


ODD_INPUTS = [
    None,
    "rft.btitle=x",
    [("rft.btitle", "x")],
    Unreadable(rft_btitle="x"),
    {"rft.btitle": None, "rft.au": [None, 3, b"\xff\xfe", ["nested"], {"a": 1}], "rft.date": 2011},
    {"rft.btitle": "\ud800 lone surrogate", "rft.isbn": "X" * 100, "rft.issn": "-----"},
    {"rft.btitle": 10**5000, "rft.volume": float("nan"), "rft.isbn": object()},
    {"rft_id": ["info:oclcnum/", "info:oclcnum/" + "9" * 100], "rft.date": "99999"},
    {"rft.btitle": "\u0915\u094d\u200d\u0937 \U0001f4da Ω" * 1000, "genre": "ARTICLE"},
    {"rft.au": ["x"] * 100_000, "rft.aulast": "\n", "rft.aucorp": "Corp"},
    {"rft.btitle": "1 " * 100_000, "rft.isbn": "1 " * 100_000 + "z", "rft.volume": " 1"},
    QueryDict("rft.btitle=%00%ff%fe&rft.au=&rft.au=%0a&genre=%E2%80%AE&rft_val_fmt=%"),
]


@pytest.mark.parametrize("params", ODD_INPUTS)
def test_odd_input_never_raises_and_gives_only_form_fields(params):
    initial = initial_from_openurl(params)
    assert set(initial) <= ALLOWED_KEYS
    for name, value in initial.items():
        limit = BorrowingRequest._meta.get_field(name).max_length or 500
        assert isinstance(value, str)
        assert value == value.strip() and value and len(value) <= limit
        assert not any(ch in value for ch in "\x00\n\r\t\u202e\ud800")
