"""Pinning how many SQL statements a page or a job takes, in one way for the whole suite.

As zulip's ``assert_database_query_count``: when the count is not the one expected, the
failure lists every statement, numbered, so whoever changed it sees what was added and
can say why (in the comment that lists the expected statements beside the number).
"""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext


class Statements(list[str]):
    """The SQL of the statements a block ran, filled in when the block ends."""

    def listing(self) -> str:
        return "\n".join(f"{number}. {sql}" for number, sql in enumerate(self, 1))

    def expect(self, count: int) -> None:
        """Fail, listing every statement, unless there were ``count`` of them."""
        if len(self) != count:
            pytest.fail(
                f"{len(self)} SQL statements where {count} were expected:\n{self.listing()}",
                pytrace=False,
            )


@contextmanager
def captured() -> Iterator[Statements]:
    """The statements the ``with`` block runs (on the default database)."""
    statements = Statements()
    with CaptureQueriesContext(connection) as context:
        yield statements
    statements.extend(query["sql"] for query in context.captured_queries)


@contextmanager
def assert_queries(expected: int) -> Iterator[Statements]:
    """Fail, listing every statement, unless the block runs ``expected`` of them."""
    with captured() as statements:
        yield statements
    statements.expect(expected)


def assert_same_count(few: Statements, more: Statements) -> None:
    """Two runs over more and fewer rows took as many statements (both listed if not)."""
    if len(few) != len(more):
        pytest.fail(
            f"{len(few)} statements for fewer rows, {len(more)} for more:\n"
            f"fewer:\n{few.listing()}\nmore:\n{more.listing()}",
            pytrace=False,
        )
