"""The suite's one helper for pinning SQL counts lists every statement when it fails."""

import pytest

from members.models import MemberLibrary
from tests.queries import assert_queries, assert_same_count, captured


def test_a_wrong_count_fails_and_lists_the_statements(db):
    with pytest.raises(pytest.fail.Exception) as failed:
        with assert_queries(2):
            MemberLibrary.objects.count()
    assert "1 SQL statements where 2 were expected" in str(failed.value)
    assert "1. SELECT COUNT(*)" in str(failed.value)


def test_the_same_count_passes_and_a_different_one_shows_both(db):
    with captured() as one, captured() as other:
        list(MemberLibrary.objects.all())
    assert_same_count(one, other)
    with captured() as none:
        pass
    with pytest.raises(pytest.fail.Exception, match="fewer:"):
        assert_same_count(none, one)
