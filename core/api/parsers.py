"""Request parsers that turn every malformed body into a 400."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            # DRF's parser catches ValueError only; a body of 100,000 nested brackets would otherwise be a 500.
            raise ParseError("JSON parse error - nested too deeply") from None
