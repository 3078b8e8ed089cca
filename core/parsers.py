"""The API's JSON parser: DRF's, with input nested too deep to parse refused as bad input.

Python's JSON decoder recurses once per level of nesting, and past its limit raises
``RecursionError``, which DRF does not catch: ``'[' * 100000`` was a 500. The decoder
stops at the limit at once, so refusing costs no more than reading the body.
"""

from collections.abc import Mapping
from typing import IO, Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the input is nested too deeply.") from None
