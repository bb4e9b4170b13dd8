"""Reads of referrals, follow-ups, people and the directory. Who may see which rows, and
what an officer may know about a referral, is decided here, once."""

import contextlib
import re
from datetime import date

from django.db.models import Case, Count, IntegerField, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone

from dispatch.geo import distance_km
from dispatch.models import ACTIVE_ASSIGNMENT_STATUSES, Assignment, Incident
from dispatch.programs import program_slug
from dispatch.roles import Action, Rows, rows_visible, scope
from referrals.history import record_summary
from referrals.models import FollowUp, OfficerContact, Person, PersonAccess, PoliceReferral, Service

# --- Police referrals: the privacy boundary ---------------------------------------------------------
Officer = PoliceReferral.OfficerStatus


def referral_officer_status(referral: PoliceReferral) -> str:
    """What the referring officer (or police records system) may know: received, assigned,
    contact made or closed. The one place that derives it; nothing clinical goes in or out.
    A referral's call carries its progress, urgent or outreach alike (a claimed outreach
    referral is a call assigned to the unit that claimed it); one waiting in the outreach
    queue is received, whatever call it had before it was given back."""
    if referral.state == PoliceReferral.State.QUEUED:
        return Officer.RECEIVED
    incident = referral.incident
    if incident is None:
        # Outreach finished before claims became calls (the encounter form).
        return {
            PoliceReferral.State.CLAIMED: Officer.ASSIGNED,
            PoliceReferral.State.FINISHED: Officer.CLOSED,
        }.get(referral.state, Officer.RECEIVED)
    if incident.status in (Incident.Status.CLOSED, Incident.Status.CANCELLED):
        return Officer.CLOSED
    assignments = list(incident.assignments.all())
    if any(a.on_scene_at is not None and a.status != Assignment.Status.CANCELLED for a in assignments):
        return Officer.CONTACT_MADE
    if any(a.status in ACTIVE_ASSIGNMENT_STATUSES for a in assignments):
        return Officer.ASSIGNED
    return Officer.RECEIVED


def referral_list_for_filer(user) -> QuerySet[PoliceReferral]:
    """The referrals this officer or police client filed, newest first; nobody else's."""
    if rows_visible(user, "referral") != Rows.OWN_CLIENT:
        return PoliceReferral.objects.none()
    return (
        PoliceReferral.objects.filter(filed_by=user)
        .select_related("incident")
        .prefetch_related("incident__assignments")
        .order_by("-created_at")
    )


def referral_officer_view(referral: PoliceReferral) -> dict:
    """Everything an officer's page or the police API shows about a referral: what the officer
    sent about the scene, and the derived status. No person, no outcome, no follow-up."""
    status = referral_officer_status(referral)
    return {
        "id": referral.id,
        "program": program_slug(referral.program_id),
        "external_id": referral.external_id,
        "urgency": referral.urgency,
        "call_type": referral.call_type_code,
        "address": referral.address,
        "status": status,
        "status_label": Officer(status).label,
        "created_at": referral.created_at,
    }


def officer_callback(user) -> str:
    """The callback number the officer gave last time, to prefill the next referral."""
    return OfficerContact.objects.filter(user=user).values_list("callback", flat=True).first() or ""


def referral_event_data(referral: PoliceReferral) -> dict:
    """What a referral.updated event carries, to dispatch and to the filer's webhook: the
    referral, the filer's own number for it, and the status an officer may see. Nothing else,
    ever: the event leaves the program."""
    return {
        "id": str(referral.id),
        "program": program_slug(referral.program_id),
        "external_id": referral.external_id,
        "status": referral_officer_status(referral),
    }


def referral_event_visible(data: dict, user) -> bool:
    """Whether `user` (a police client's) may be told of this referral.updated: only of the
    referrals they filed (settings.WEBHOOK_AUDIENCES)."""
    return referral_list_for_filer(user).filter(pk=data.get("id")).exists()


# --- The outreach queue ----------------------------------------------------------------------------
OUTREACH_RADIUS_KM = 15.0


def outreach_list_near(unit, *, radius_km: float = OUTREACH_RADIUS_KM, limit: int = 50) -> list:
    """Non-urgent referrals waiting for outreach, nearest to the unit first (within radius_km
    when both places are known), then those without coordinates, oldest first. Each item has
    `distance_km` (None when unknown). The unit's own claimed referrals come first of all."""
    waiting = list(
        PoliceReferral.objects.filter(program_id=unit.program_id)
        .filter(
            Q(state=PoliceReferral.State.QUEUED) | Q(state=PoliceReferral.State.CLAIMED, claimed_by_unit=unit)
        )
        .order_by("created_at")[:500]
    )
    here = (unit.latitude, unit.longitude) if unit.latitude is not None else None
    near = []
    for referral in waiting:
        referral.distance_km = None
        if here and referral.latitude is not None:
            referral.distance_km = round(distance_km(*here, referral.latitude, referral.longitude), 1)
            if referral.distance_km > radius_km and referral.state == PoliceReferral.State.QUEUED:
                continue
        near.append(referral)
    near.sort(
        key=lambda r: (
            r.state != PoliceReferral.State.CLAIMED,
            r.distance_km is None,
            r.distance_km or 0,
            r.created_at,
        )
    )
    return near[:limit]


# --- Follow-ups -----------------------------------------------------------------------------------
def _open_for_calls(incident_ids) -> QuerySet[FollowUp]:
    return FollowUp.objects.filter(
        Q(incident_id__in=incident_ids) | Q(referral__incident_id__in=incident_ids)
    ).exclude(status=FollowUp.Status.CLOSED)


def follow_up_list_for_call(incident) -> QuerySet[FollowUp]:
    """The open follow-ups already asked for on this call: made for its incident, or with the
    police referral it came from (an outreach referral's officer asks before there is a call)."""
    return _open_for_calls([incident.pk])


def follow_up_services_for_calls(incident_ids) -> dict:
    """{incident id: [service types already asked for, oldest first]}, as
    follow_up_list_for_call finds them, for several calls in one query."""
    found = {}
    rows = (
        _open_for_calls(incident_ids)
        .order_by("created_at")
        .values_list("incident_id", "referral__incident_id", "service_type")
    )
    for incident_id, referral_incident_id, service_type in rows:
        for key in {incident_id, referral_incident_id} - {None}:
            services = found.setdefault(key, [])
            if service_type not in services:
                services.append(service_type)
    return found


def follow_up_queue(user, *, view="", status="", service_type="", provider=None, q="") -> QuerySet[FollowUp]:
    """The case manager's queue: my caseload, then unassigned, then everyone else's; within
    each, overdue first (earliest due). Closed follow-ups only when asked for by status."""
    now = timezone.now()
    qs = FollowUp.objects.select_related("person", "provider", "provider__organization", "case_manager")
    qs = scope(qs, user, Action.FOLLOW_UP_WORK)
    qs = qs.filter(status=status) if status else qs.exclude(status=FollowUp.Status.CLOSED)
    if view == "mine":
        qs = qs.filter(case_manager=user)
    elif view == "unassigned":
        qs = qs.filter(case_manager__isnull=True)
    elif view == "overdue":
        qs = qs.filter(due_at__lt=now).exclude(status=FollowUp.Status.CLOSED)
    if service_type:
        qs = qs.filter(service_type=service_type)
    if provider is not None:
        qs = qs.filter(provider=provider)
    if q:
        qs = qs.filter(_person_match("person__", q))
    return qs.annotate(
        bucket=Case(
            When(case_manager=user, then=Value(0)),
            When(case_manager__isnull=True, then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        ),
        overdue=Case(When(due_at__lt=now, then=Value(0)), default=Value(1), output_field=IntegerField()),
    ).order_by("bucket", "overdue", "due_at", "id")


def follow_up_counts(user) -> dict:
    """The numbers at the top of the queue, all over open follow-ups."""
    now = timezone.now()
    open_ = scope(FollowUp.objects.all(), user, Action.FOLLOW_UP_WORK).exclude(status=FollowUp.Status.CLOSED)
    return open_.aggregate(
        mine=Count("id", filter=Q(case_manager=user)),
        unassigned=Count("id", filter=Q(case_manager__isnull=True)),
        overdue=Count("id", filter=Q(due_at__lt=now)),
        total=Count("id"),
    )


def follow_up_detail(follow_up_id) -> FollowUp:
    return (
        FollowUp.objects.select_related(
            "person", "provider", "provider__organization", "case_manager", "incident__call_type", "referral"
        )
        .prefetch_related(
            "attempts__by",
            Prefetch("changes", queryset=_changes()),
            Prefetch(
                "incident__assignments",
                queryset=Assignment.objects.select_related("unit").order_by("dispatched_at"),
            ),
        )
        .get(pk=follow_up_id)
    )


def _outcome_of(follow_up: FollowUp):
    """The on-scene outcome that opened the follow-up, if one did. The field app links it to
    the follow-up (its `outcome`); this app only follows the link, it does not know the model."""
    try:
        return follow_up.outcome
    except AttributeError:  # none recorded (Django's RelatedObjectDoesNotExist is one)
        return None


def follow_up_contact(follow_up: FollowUp) -> dict | None:
    """The contact that led to the follow-up, for the case manager: what kind of call, when,
    which unit went, and what the team (or the referring officer) noted. None when the
    follow-up was opened by hand, with no call behind it."""
    incident, referral = follow_up.incident, follow_up.referral
    if incident is None and referral is None:
        return None
    outcome = _outcome_of(follow_up)
    assignment = getattr(outcome, "assignment", None)
    if assignment is None and incident is not None:
        reached = [a for a in incident.assignments.all() if a.status != Assignment.Status.CANCELLED]
        assignment = reached[-1] if reached else None
    call_type = incident.call_type if incident is not None else None
    code = incident.call_type_code if incident is not None else referral.call_type_code
    return {
        "call_type": f"{call_type.name} ({code})" if call_type else code,
        "source": incident.get_source_display() if incident is not None else "Police referral",
        "at": incident.received_at if incident is not None else referral.created_at,
        "address": incident.address if incident is not None else referral.address,
        "unit": assignment.unit.callsign if assignment is not None else "",
        "on_scene_at": getattr(assignment, "on_scene_at", None),
        "disposition": outcome.get_disposition_display() if outcome is not None else "",
        "team_notes": getattr(outcome, "narrative", "") or "",
        "officer_notes": referral.situation if referral is not None else "",
    }


def _changes():
    from referrals.models import FollowUpChange

    return FollowUpChange.objects.select_related("actor").order_by("at", "id")


# --- People ---------------------------------------------------------------------------------------
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _person_match(prefix: str, q: str) -> Q:
    q = q.strip()
    match = Q(**{f"{prefix}name__icontains": q}) | Q(**{f"{prefix}alias__icontains": q})
    digits = re.sub(r"\D", "", q)
    if len(digits) >= 3 and not DATE_RE.match(q):
        match |= Q(**{f"{prefix}phone_digits__contains": digits})
    if DATE_RE.match(q):
        with contextlib.suppress(ValueError):
            match |= Q(**{f"{prefix}date_of_birth": date.fromisoformat(q)})
    return match


def follow_up_list_visible(user) -> QuerySet[FollowUp]:
    """Every follow-up of the caller's programs (the queue's filters aside)."""
    return scope(FollowUp.objects.all(), user, Action.FOLLOW_UP_WORK)


def person_list_visible(user) -> QuerySet[Person]:
    """The people of the programs where the caller may read people's records."""
    return scope(Person.objects.all(), user, Action.PERSON_READ)


def person_search(q: str, *, viewer, limit: int = 100) -> QuerySet[Person]:
    """People of the viewer's programs matching a name, alias, date of birth (YYYY-MM-DD) or
    phone; merged records are left out (their links live on the survivor)."""
    qs = person_list_visible(viewer).filter(merged_into__isnull=True)
    if q.strip():
        qs = qs.filter(_person_match("", q))
    return qs.order_by("name", "alias", "id")[:limit]


def person_timeline(person: Person) -> list[dict]:
    """One person's history, newest first: their follow-ups, the referrals about them, the
    incidents those touched, and any other record another app links to a person (found
    through Person._meta.related_objects, so the field app's outcomes show up by themselves)."""
    items = []
    for follow_up in person.follow_ups.select_related("provider", "case_manager").prefetch_related(
        "attempts"
    ):
        items.append({"at": follow_up.created_at, "kind": "Follow-up", "object": follow_up})
        for attempt in follow_up.attempts.all():
            items.append({"at": attempt.at, "kind": "Contact attempt", "object": attempt})
    for referral in person.police_referrals.all():
        items.append({"at": referral.created_at, "kind": "Police referral", "object": referral})
    incident_ids = set(person.follow_ups.exclude(incident=None).values_list("incident_id", flat=True))
    incident_ids |= set(person.police_referrals.exclude(incident=None).values_list("incident_id", flat=True))
    known = {FollowUp, PoliceReferral, PersonAccess, Person}
    for relation in Person._meta.related_objects:
        model = relation.related_model
        if model in known or relation.many_to_many:
            continue
        rows = model._default_manager.filter(**{relation.field.name: person})
        if any(f.name == "assignment" for f in model._meta.concrete_fields):
            rows = rows.select_related("assignment__unit")  # the timeline names the unit
        for row in rows[:200]:
            at = next(
                (getattr(row, n) for n in ("recorded_at", "created_at", "at") if getattr(row, n, None)), None
            )
            items.append(
                {
                    "at": at,
                    "kind": model._meta.verbose_name.capitalize(),
                    "object": row,
                    "summary": record_summary(row),
                }
            )
            if getattr(row, "incident_id", None):
                incident_ids.add(row.incident_id)
    for incident in Incident.objects.filter(pk__in=incident_ids).select_related("call_type"):
        items.append({"at": incident.received_at, "kind": "Incident", "object": incident})
    epoch = timezone.now().replace(year=1970)
    items.sort(key=lambda item: item["at"] or epoch, reverse=True)
    return items


def person_access_list(*, viewer, person_id=None, limit: int = 500) -> QuerySet[PersonAccess]:
    qs = scope(
        PersonAccess.objects.select_related("user", "person"),
        viewer,
        Action.PERSON_AUDIT_READ,
        "person__program",
    )
    if person_id:
        qs = qs.filter(person_id=person_id)
    return qs[:limit]


# --- The directory -----------------------------------------------------------------------------------
def service_list(*, q: str = "", service_type: str = "", active_only: bool = False) -> QuerySet[Service]:
    qs = Service.objects.select_related("organization").prefetch_related("locations", "capacities")
    if q:
        qs = qs.filter(
            Q(name__icontains=q) | Q(organization__name__icontains=q) | Q(description__icontains=q)
        )
    if service_type:
        qs = qs.filter(service_type=service_type)
    if active_only:
        qs = qs.filter(status=Service.Status.ACTIVE)
    return qs.order_by("organization__name", "name")
