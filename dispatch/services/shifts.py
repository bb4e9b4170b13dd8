"""Shifts: who is on which unit. Both partners of a team hold one on the same unit."""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import IntegrityError, transaction
from django.utils import timezone

from dispatch.groups import user_group
from dispatch.models import ACTIVE_ASSIGNMENT_STATUSES, Shift, Unit
from dispatch.roles import Action, may
from dispatch.selectors import shift_unit_id
from dispatch.services.conflicts import ServiceConflict, ServiceInvalid
from dispatch.services.units import unit_announce, unit_set_status

log = logging.getLogger(__name__)

NOT_ON_SHIFT = "You are not on shift: start a shift on a unit first."


def _tell_tablets_shift_changed(user_ids) -> None:
    """After commit: each responder's open sockets rejoin the right unit's group."""
    layer = get_channel_layer()
    for user_id in user_ids:
        try:
            async_to_sync(layer.group_send)(user_group(user_id), {"type": "shift.changed"})
        except Exception:  # the socket's periodic catch-up cannot fix this, but a reconnect does
            log.exception("could not tell user %s their shift changed", user_id)


def shift_start(*, user, unit_id) -> Shift:
    """Put the responder on shift with a unit. The partner joins the same unit the same way.
    An off-duty unit becomes available. Refuses with `already_on_shift` when the responder
    has an open shift, and `unit_out_of_service` for a unit taken out of service."""
    with transaction.atomic():
        unit = Unit.objects.select_for_update().get(pk=unit_id)
        if Shift.objects.filter(user=user, ended_at__isnull=True).exists():
            raise ServiceConflict("already_on_shift", "You are already on shift; end it first.")
        if unit.status == Unit.Status.OUT_OF_SERVICE:
            raise ServiceConflict("unit_out_of_service", f"{unit.callsign} is out of service.")
        if not may(user, Action.FIELD_APP, unit.program_id):
            raise ServiceInvalid("unit", f"{unit.callsign} belongs to another program.")
        now = timezone.now()
        try:
            with transaction.atomic():
                shift = Shift.objects.create(unit=unit, user=user, started_at=now, program_id=unit.program_id)
        except IntegrityError as exc:  # a second tab started a shift at the same moment
            raise ServiceConflict("already_on_shift", "You are already on shift; end it first.") from exc
        if unit.status == Unit.Status.OFF_DUTY:
            unit_set_status(unit, Unit.Status.AVAILABLE, now=now)
        else:
            # The unit's members changed: the board shows who is on it.
            unit_announce(unit)
        transaction.on_commit(lambda: _tell_tablets_shift_changed([user.pk]))
    return shift


def shift_end(*, user) -> Shift:
    """End the responder's open shift. When nobody is left on the unit it goes off duty.
    Refuses with `not_on_shift`, and with `assignment_active` when the last responder would
    leave a unit that still has an active assignment (clear it or ask dispatch first)."""
    with transaction.atomic():
        unit = Unit.objects.select_for_update().get(pk=shift_unit_require(user))
        shift = Shift.objects.select_for_update().get(user=user, ended_at__isnull=True)
        others = Shift.objects.filter(unit=unit, ended_at__isnull=True).exclude(pk=shift.pk).exists()
        if not others and unit.assignments.filter(status__in=ACTIVE_ASSIGNMENT_STATUSES).exists():
            raise ServiceConflict(
                "assignment_active",
                f"{unit.callsign} is still on a call and nobody else is on the unit: clear the call, "
                "or ask dispatch to take it back, then end the shift.",
            )
        now = timezone.now()
        shift.ended_at = now
        shift.save(update_fields=["ended_at"])
        if not others:
            unit_set_status(unit, Unit.Status.OFF_DUTY, now=now)
        else:
            unit_announce(unit)
        transaction.on_commit(lambda: _tell_tablets_shift_changed([user.pk]))
    return shift


def shift_unit_require(user) -> int:
    """The unit the responder is on shift with; refuses with `not_on_shift` when there is none.
    Every action a team takes as a unit (backup, an encounter, outreach) starts here."""
    unit_id = shift_unit_id(user)
    if unit_id is None:
        raise ServiceConflict("not_on_shift", NOT_ON_SHIFT)
    return unit_id
