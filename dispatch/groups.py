"""The channel-layer groups, named in one place.

Every process joins and sends to these names: a name changed in one process and not in the
others (a rolling restart) splits the live stream, so keep the values.

Live delivery is per program: one dispatch group and one follow-up group per program, never
one group for the whole state (a statewide console joins the groups of its programs).
"""


def dispatch_group(program_id) -> str:
    """Every dispatch console of a program: each of the program's events goes here."""
    return f"dispatch.{program_id}"


def follow_up_group(program_id) -> str:
    """Every case manager's and supervisor's follow-up queue of a program (referrals.consumers)."""
    return f"followups.{program_id}"


def unit_group(unit_id) -> str:
    """The tablets of the responders on shift with a unit: the unit's events go here."""
    return f"unit.{unit_id}"


def user_group(user_id) -> str:
    """Each responder's own sockets: told when their shift starts or ends, to rejoin."""
    return f"user.{user_id}"
