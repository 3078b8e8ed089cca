"""ISBN, ISSN and OCLC numbers: checked with python-stdnum, stored in one normal form."""

import pytest
from django.core.exceptions import ValidationError

from requests_app.identifiers import normalize_isbn, normalize_issn, normalize_oclc_number


@pytest.mark.parametrize(
    ("raw", "normal"),
    [("0-306-40615-2", "9780306406157"), ("978 0 306 40615 7", "9780306406157"), ("", "")],
)
def test_isbns_become_compact_isbn13(raw, normal):
    assert normalize_isbn(raw) == normal


@pytest.mark.parametrize("raw", ["0-306-40615-3", "978-0-306-40615-8", "12345", "isbn"])
def test_bad_isbns_are_refused(raw):
    with pytest.raises(ValidationError):
        normalize_isbn(raw)


def test_issns_are_formatted_and_checked():
    assert normalize_issn("03178471") == "0317-8471"
    with pytest.raises(ValidationError, match="check digit"):
        normalize_issn("0317-8472")


@pytest.mark.parametrize(
    ("raw", "normal"),
    [("ocm00012345", "12345"), ("(OCoLC)987654321", "987654321"), ("on1234567890", "1234567890")],
)
def test_oclc_numbers_lose_their_prefix(raw, normal):
    assert normalize_oclc_number(raw) == normal


@pytest.mark.parametrize("raw", ["abc", "12-34", "0", "１２３", "1234567890123"])
def test_bad_oclc_numbers_are_refused(raw):
    with pytest.raises(ValidationError):
        normalize_oclc_number(raw)


@pytest.mark.parametrize("raw", [None, 12345, 3.5])
def test_identifiers_of_the_wrong_type_are_refused_or_read_not_crashed(raw):
    for normalize in (normalize_isbn, normalize_issn):
        if raw is None:
            assert normalize(raw) == ""
        else:
            with pytest.raises(ValidationError):
                normalize(raw)
    assert normalize_oclc_number(12345) == "12345"
