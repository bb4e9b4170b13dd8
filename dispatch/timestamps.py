"""The one way a timestamp leaves the server: ISO 8601 in UTC with a Z (CONTRACT.md).

The API and the events both answer through utc_iso(), so an outside system parses one format.
It is what DRF's DateTimeField answers under DATETIME_FORMAT "iso-8601" with UTC as its zone
(microseconds when the value has them, none when it has none): integrations parsed the API
before the events shared it, and tests/test_serializers.py holds the two equal.
"""

from datetime import UTC, datetime


def utc_iso(value: datetime | None) -> str | None:
    """`value` in UTC with a Z; None (or an empty value) stays None, a string is passed through
    as DRF passes it, and a naive datetime is taken to be UTC already."""
    if not value:
        return None
    if isinstance(value, str):
        return value
    value = value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
