"""The API's JSON parser: DRF's, with input nested too deep to parse refused as bad input.

Python's JSON decoder recurses once per level of nesting, and past its limit raises
``RecursionError``, which DRF does not catch: ``'[' * 100000`` was a 500. The decoder
stops at the limit at once, so refusing costs no more than reading the body.
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the input is nested too deeply.") from None
