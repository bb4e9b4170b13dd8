"""Keep the reports' stored days honest: every save or delete of a record the reports read
raises the version of the day it is counted on (dispatch.reports.sums.days_changed), in the
writer's transaction. Connected in DispatchConfig.ready.

Every write to these tables that the reports read goes through save() or delete() (the
queryset updates in the code base touch fields no report reads); a bulk load
(generate_history) raises the versions of the days it wrote itself."""

from django.db.models.signals import post_delete, post_save, pre_save
from django.utils import timezone

from dispatch.models import Assignment, Incident
from dispatch.reports.engine import program_today, program_zone
from dispatch.reports.sums import days_changed
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
    today = program_today()
    zone = program_zone()
    if all(moment is None or timezone.localdate(moment, timezone=zone) >= today for moment in received):
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


def _changed(sender, instance, **kwargs):
    # loaddata (raw) included: what it loads counts like any other record.
    days_changed(*MOMENTS[sender](instance))


def _incident_moving(sender, instance, raw=False, update_fields=None, **kwargs):
    """Before an incident is saved with a new received_at (a CAD correcting the time, an edit
    in the admin), the day it leaves changes too. A save that names its fields without
    received_at (every status change on the live path) cannot move it and costs no query."""
    if raw or instance._state.adding or (update_fields is not None and "received_at" not in update_fields):
        return
    previous = Incident.objects.filter(pk=instance.pk).values_list("received_at", flat=True).first()
    if previous is not None and previous != instance.received_at:
        days_changed(*_with_follow_ups(instance.pk, previous))


def connect() -> None:
    pre_save.connect(_incident_moving, sender=Incident, dispatch_uid="report-days-incident-moving")
    for model in MOMENTS:
        post_save.connect(_changed, sender=model, dispatch_uid=f"report-days-{model._meta.label}-save")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"report-days-{model._meta.label}-delete")
