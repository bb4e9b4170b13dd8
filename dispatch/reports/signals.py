"""Keep the reports' stored days honest: every save or delete of a record the reports read
raises the version of the day it is counted on, and marks that day of its program's cells
(dispatch.reports.sums.days_changed), in the writer's transaction; a program saved keeps its
cells' clocks (sums.clocks_keep). Connected in DispatchConfig.ready.

Every write to these tables that the reports read goes through save() or delete() (the
queryset updates in the code base touch fields no report reads); a bulk load
(generate_history) raises the versions of the days it wrote itself."""

from zoneinfo import ZoneInfo

from django.db.models.signals import post_delete, post_save, pre_save
from django.utils import timezone

from dispatch.models import Assignment, Incident, Program
from dispatch.reports.engine import program_today, program_zone
from dispatch.reports.sums import clocks_keep, days_changed
from field.models import BackupRequest, Outcome
from referrals.models import ContactAttempt, FollowUp, PoliceReferral


def _received_at_of_assignment(assignment_id):
    if assignment_id is None:
        return None
    return Assignment.objects.filter(pk=assignment_id).values_list("incident__received_at", flat=True).first()


def _assignment_received_at(assignment: Assignment):
    if Assignment.incident.is_cached(assignment):
        return assignment.incident.received_at
    return Incident.objects.filter(pk=assignment.incident_id).values_list("received_at", flat=True).first()


def _through_assignment(instance):
    """For a row that belongs to an assignment (outcome, backup request)."""
    field = type(instance).assignment
    if instance.assignment_id is not None and field.is_cached(instance) and instance.assignment is not None:
        return _assignment_received_at(instance.assignment)
    return _received_at_of_assignment(instance.assignment_id)


def _contact_attempt_day(attempt: ContactAttempt):
    if ContactAttempt.follow_up.is_cached(attempt):
        return attempt.follow_up.created_at
    return FollowUp.objects.filter(pk=attempt.follow_up_id).values_list("created_at", flat=True).first()


def _with_follow_ups(incident_id, *received):
    """A call's days, and the creation days of its follow-ups: a filtered report counts the
    follow-ups of the calls that match it (by source, call type or unit), so a change to the
    call changes those days' numbers too. Follow-ups come after their call: for a call received
    today (the live path) they were all created today, which is never kept, and need no query."""
    zones = {program_zone(), *_zones.values()}  # the programs' zones this process has met
    if all(
        moment is None or timezone.localdate(moment, timezone=zone) >= program_today(zone)
        for moment in received
        for zone in zones
    ):
        return received
    created = FollowUp.objects.filter(incident_id=incident_id).values_list("created_at", flat=True)
    return (*received, *created)


MOMENTS = {
    Incident: lambda i: _with_follow_ups(i.pk, i.received_at),
    Assignment: lambda a: _with_follow_ups(a.incident_id, _assignment_received_at(a)),
    Outcome: lambda o: (_through_assignment(o),),
    BackupRequest: lambda b: (_through_assignment(b),),
    FollowUp: lambda f: (f.created_at,),
    ContactAttempt: lambda c: (_contact_attempt_day(c),),
    PoliceReferral: lambda r: (r.created_at,),
}


# A program's time zone, by id, read once per process: its own reports draw its days there, so a
# change to one of its records raises those days too. Forgotten when a program is saved here;
# another process learns a changed zone at its next start (program_update also drops the
# program's kept sums, so nothing kept in the old zone is read again).
_zones: dict[int, ZoneInfo] = {}


def _program_id(instance):
    program_id = getattr(instance, "program_id", None)
    if program_id is None and getattr(instance, "assignment_id", None) is not None:
        program_id = (
            Assignment.objects.filter(pk=instance.assignment_id).values_list("program_id", flat=True).first()
        )
    if program_id is None and getattr(instance, "follow_up_id", None) is not None:
        program_id = (
            FollowUp.objects.filter(pk=instance.follow_up_id).values_list("program_id", flat=True).first()
        )
    return program_id


def _zones_of(program_id) -> tuple:
    if program_id is None:
        return ()
    if program_id not in _zones:
        name = Program.objects.filter(pk=program_id).values_list("time_zone", flat=True).first()
        if name is None:
            return ()
        _zones[program_id] = ZoneInfo(name)
    return (_zones[program_id],)


def _program_saved(sender, instance, created=False, raw=False, **kwargs):
    _zones.pop(instance.pk, None)
    if not raw:
        clocks_keep(instance, created=created)


def _changed(sender, instance, **kwargs):
    # loaddata (raw) included: what it loads counts like any other record.
    moments = MOMENTS[sender](instance)
    if all(moment is None for moment in moments):
        return
    program_id = _program_id(instance)
    days_changed(*moments, zones=_zones_of(program_id), program_ids=_programs(program_id))


def _programs(program_id) -> tuple | None:
    # A record of no program (none is, since programs are required) marks every program's day.
    return None if program_id is None else (program_id,)


# What decides where a record is counted: its day (directly or through the record it belongs
# to) and its program. A save that changes one of these moves the record out of a day and
# program, which change too.
PLACED_BY = {
    Incident: ("received_at", "program"),
    Assignment: ("incident",),  # counted by its call's program
    FollowUp: ("created_at", "incident", "program"),
    PoliceReferral: ("created_at", "program"),
    Outcome: ("assignment",),
    BackupRequest: ("assignment",),
    ContactAttempt: ("follow_up",),
}


def _moving(sender, instance, raw=False, update_fields=None, **kwargs):
    """Before a record is saved with a new day (a CAD correcting a call's time, an edit in the
    admin) or program, or moved to another call or assignment, the day and program it leaves
    change too: the record as it is stored is marked. A save that names its fields without any
    of these (every status change on the live path) cannot move it and costs no query."""
    if raw or instance._state.adding:
        return
    fields = [sender._meta.get_field(name) for name in PLACED_BY[sender]]
    names = {name for field in fields for name in (field.name, field.attname)}
    if update_fields is not None and not names & set(update_fields):
        return
    columns = [field.attname for field in fields]
    previous = sender.objects.filter(pk=instance.pk).values(*columns).first()
    if previous is None or all(previous[c] == getattr(instance, c) for c in columns):
        return
    # A fresh instance, so nothing cached on the one being saved (its new call or assignment)
    # is read for the stored record.
    now = {field.attname: getattr(instance, field.attname) for field in sender._meta.concrete_fields}
    stored = sender(**(now | previous))
    program_id = _program_id(stored)
    days_changed(*MOMENTS[sender](stored), zones=_zones_of(program_id), program_ids=_programs(program_id))


def connect() -> None:
    post_save.connect(_program_saved, sender=Program, dispatch_uid="report-days-program-zone")
    for model in PLACED_BY:
        pre_save.connect(_moving, sender=model, dispatch_uid=f"report-days-{model._meta.label}-moving")
    for model in MOMENTS:
        post_save.connect(_changed, sender=model, dispatch_uid=f"report-days-{model._meta.label}-save")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"report-days-{model._meta.label}-delete")
