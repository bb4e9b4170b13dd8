"""How durations and people read on a page: one formatter for the console's ages and the reports'
measures, one for a person's name."""


def duration(seconds: float | None, *, precise: bool = False) -> str:
    """ "12 s", "4 min", "1 h 20 min", "2 d 3 h"; `precise` for a measured duration in a report
    ("4 min 05 s", hours up to 48) rather than an age on the console, which only needs to say
    how long something has waited (static/js/console.js formats ages the same way)."""
    if seconds is None:
        return "—"
    seconds = max(0, round(seconds) if precise else int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s" if precise else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < (48 if precise else 24):
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def person_name(first_name: str, last_name: str, username: str) -> str:
    """A person as pages, events and messages name them: their full name (Django's
    User.get_full_name()), or their username when they have none."""
    return f"{first_name} {last_name}".strip() or username


def user_name(user) -> str:
    """person_name() of a user."""
    return person_name(user.first_name, user.last_name, user.username)
