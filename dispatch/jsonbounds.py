"""JSON from clients, parsed with a bound on nesting.

Python's json recurses once per level: a body of a few thousand `[` raised RecursionError, a
500 on every endpoint (and a 1011 close on the sockets). The nesting is measured before
parsing, on the text, so no recursion happens at all. Used by the API's parser
(dispatch.api_support.StrictJSONParser) and by every consumer's decode_json.
"""

import json
import re

# The deepest document the contract has (an EIDO) nests about ten levels.
MAX_JSON_DEPTH = 64

# Where structure may change (a bracket or a string's start), and the rest of a string once
# it has started (possessive: each character is looked at once, so a body of a thousand
# unterminated strings costs no more than one).
_STRUCTURE = re.compile(r'["\[\]{}]')
_STRING_REST = re.compile(r'(?:[^"\\]|\\.)*+"', re.S)


class JSONTooDeep(ValueError):
    def __init__(self):
        super().__init__(f"The JSON is nested deeper than {MAX_JSON_DEPTH} levels.")


def too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the text nests brackets deeper than `limit`, brackets inside strings aside;
    one pass over the text."""
    depth, position = 0, 0
    while found := _STRUCTURE.search(text, position):
        char, position = found.group(), found.end()
        if char == '"':
            rest = _STRING_REST.match(text, position)
            if rest is None:
                return False  # an unterminated string: not JSON, and json.loads says so
            position = rest.end()
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON.")


def loads(text: str):
    """json.loads, refusing NaN/Infinity and nesting past MAX_JSON_DEPTH (JSONTooDeep, a
    ValueError like any other malformed JSON)."""
    if too_deep(text):
        raise JSONTooDeep()
    return json.loads(text, parse_constant=_refuse_constant)


class BoundedJSONDecoding:
    """For a Channels JSON consumer: decode_json that refuses deep nesting with a ValueError,
    which the consumer answers with an error frame instead of closing 1011."""

    @classmethod
    async def decode_json(cls, text_data):
        return loads(text_data)
