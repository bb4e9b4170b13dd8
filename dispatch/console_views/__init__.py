"""The dispatcher console: the alert bar, the queue, the map, the unit board, intake and the
clinicians' queue. `regions` builds what each part shows, `pages` serves it, `actions` changes
state through dispatch.services, and `answers` says how every view replies."""

from dispatch.console_views.actions import (
    alert_acknowledge,
    incident_assign,
    incident_cancel,
    incident_link_duplicate,
    incident_transfer,
    intake,
    phone_contact,
    urgent_seen,
)
from dispatch.console_views.pages import (
    address_suggestions,
    console,
    console_region,
    incident_details,
    incident_row,
    intake_form,
    unit_row,
)

__all__ = [
    "address_suggestions",
    "alert_acknowledge",
    "console",
    "console_region",
    "incident_assign",
    "incident_cancel",
    "incident_details",
    "incident_link_duplicate",
    "incident_row",
    "incident_transfer",
    "intake",
    "intake_form",
    "phone_contact",
    "unit_row",
    "urgent_seen",
]
