"""A program's hours: when it sends teams, week by week, in its own time zone
(dispatch.models.ProgramHours). Read here, written by dispatch.services.program_admin."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from dispatch.models import ProgramHours

WEEKDAYS = ProgramHours.Weekday


def span_text(opens: time, closes: time) -> str:
    if opens == closes:
        return "24 hours"
    overnight = " (next day)" if closes < opens else ""
    return f"{opens:%H:%M}–{closes:%H:%M}{overnight}"


def week_rows(hours) -> list[tuple[str, str]]:
    """(weekday name, its hours in words) for Monday to Sunday; "Closed" for a day without."""
    by_day = {h.weekday: h for h in hours}
    rows = []
    for day in WEEKDAYS:
        h = by_day.get(day.value)
        rows.append((day.label, span_text(h.opens, h.closes) if h else "Closed"))
    return rows


def _spans(hours, around: datetime, zone: ZoneInfo):
    """The open spans (local datetimes) of the days before, of and after `around`'s day."""
    by_day = {h.weekday: h for h in hours}
    local_day = around.astimezone(zone).date()
    for offset in (-1, 0, 1):
        day = local_day + timedelta(days=offset)
        h = by_day.get(day.weekday())
        if h is None:
            continue
        start = datetime.combine(day, h.opens, tzinfo=zone)
        end_day = day if h.closes > h.opens else day + timedelta(days=1)
        yield start, datetime.combine(end_day, h.closes, tzinfo=zone)


def is_open_at(hours, time_zone: str, moment: datetime) -> bool:
    """Whether a program with these hours (ProgramHours rows) is open at `moment` (aware), on
    its own clock: 22:00–06:00 on Friday is open at 02:00 on Saturday."""
    zone = ZoneInfo(time_zone)
    return any(start <= moment < end for start, end in _spans(hours, moment, zone))
