"""The channel-layer groups, named in one place.

Every process joins and sends to these names: a name changed in one process and not in the
others (a rolling restart) splits the live stream, so keep the values.
"""

# Every dispatch console: each event goes here.
DISPATCH_GROUP = "dispatch"
# Every case manager's and supervisor's follow-up queue (referrals.consumers).
FOLLOW_UP_GROUP = "followups"


def unit_group(unit_id) -> str:
    """The tablets of the responders on shift with a unit: the unit's events go here."""
    return f"unit.{unit_id}"


def user_group(user_id) -> str:
    """Each responder's own sockets: told when their shift starts or ends, to rejoin."""
    return f"user.{user_id}"
