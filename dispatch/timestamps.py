"""The one way a timestamp leaves the server: ISO 8601 in UTC with a Z (CONTRACT.md).

The API and the events both answer through utc_iso(), so an outside system parses one format.
It is what DRF's DateTimeField answers under DATETIME_FORMAT "iso-8601" with UTC as its zone
(microseconds when the value has them, none when it has none): integrations parsed the API
before the events shared it, and tests/test_serializers.py holds the two equal.
"""

from datetime import UTC, date, datetime, timedelta

from django import forms


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


# --- What the server accepts ------------------------------------------------------------------
# Every timestamp or date a client sends (API, tablet, EIDO, forms) must lie within these
# bounds. Python's datetime stops at years 1 and 9999: a value near either end overflows when
# it is converted to UTC or to the program's zone, or when a day is added for a range, and
# PostgreSQL keeps values that psycopg then cannot read back. No record of this product is from
# before 1900 or after 2199.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
OUT_OF_RANGE = "The date is out of range: it must lie between 1900 and 2199."


def out_of_range(value) -> bool:
    """Whether an aware datetime, or a date, lies outside what the server accepts."""
    if isinstance(value, datetime):
        try:
            value = value.astimezone(UTC)
        except (OverflowError, ValueError):
            return True
        return not EARLIEST <= value < LATEST
    if isinstance(value, date):
        return not EARLIEST.date() <= value < LATEST.date()
    return False


class BoundedDateTimeField(forms.DateTimeField):
    """A form's timestamp, refused with a form error when out of range (never a 500 on
    SQLite's write, nor a row PostgreSQL keeps and cannot give back)."""

    def to_python(self, value):
        try:
            result = super().to_python(value)
        except OverflowError:
            raise forms.ValidationError(OUT_OF_RANGE, code="out_of_range") from None
        if result is not None and out_of_range(result):
            raise forms.ValidationError(OUT_OF_RANGE, code="out_of_range")
        return result


class BoundedDateField(forms.DateField):
    """A form's date, refused with a form error when out of range."""

    def to_python(self, value):
        result = super().to_python(value)
        if result is not None and out_of_range(result):
            raise forms.ValidationError(OUT_OF_RANGE, code="out_of_range")
        return result


def clamp_stored(apps, app_labels) -> int:
    """Bring every stored timestamp of these apps back within the bounds (a data migration's
    job): PostgreSQL kept what the forms and the API let through before there were bounds,
    year 10000 included, and psycopg cannot read such a row back, so the page holding it
    answered 500 for everyone. Returns how many values were moved."""
    from django.db import models

    moved = 0
    for label in app_labels:
        for model in apps.get_app_config(label).get_models():
            for field in model._meta.concrete_fields:
                if not isinstance(field, models.DateTimeField):
                    continue
                rows = model._base_manager.all()
                moved += rows.filter(**{f"{field.attname}__gte": LATEST}).update(
                    **{field.attname: LATEST - timedelta(seconds=1)}
                )
                moved += rows.filter(**{f"{field.attname}__lt": EARLIEST}).update(**{field.attname: EARLIEST})
    return moved
