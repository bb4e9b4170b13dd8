"""Reads of dispatch state. Who may see which rows is decided here, once."""

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    Max,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone
from django.utils.module_loading import import_string

from dispatch.eido import incident_to_eido
from dispatch.formatting import person_name, user_name
from dispatch.geo import distance_km
from dispatch.models import (
    ACTIVE_ASSIGNMENT_STATUSES,
    Alert,
    Assignment,
    CallType,
    ClinicianTransfer,
    Event,
    Incident,
    Membership,
    Shift,
    Unit,
    WebhookDelivery,
    WebhookSubscription,
)
from dispatch.roles import Action, Rows, program_ids_for, rows_visible, scope
from dispatch.serializers import incident_representation


def incident_list_visible(user) -> QuerySet[Incident]:
    """Incidents the caller may read: a CAD or hotline client its own, dispatch all."""
    qs = Incident.objects.select_related("call_type").prefetch_related(
        Prefetch("assignments", queryset=Assignment.objects.select_related("unit").order_by("dispatched_at"))
    )
    rows = rows_visible(user, "incident")
    qs = scope(qs, user, Action.INCIDENT_READ)
    if rows == Rows.ALL:
        return qs
    if rows == Rows.OWN_CLIENT:
        return qs.filter(api_client__user=user)
    return qs.none()


# --- Shifts: who is on which unit ------------------------------------------------------------
def shift_unit_id(user) -> int | None:
    """The unit the responder is on shift with now, or None."""
    return Shift.objects.filter(user=user, ended_at__isnull=True).values_list("unit_id", flat=True).first()


def shift_current(user) -> Shift | None:
    return Shift.objects.filter(user=user, ended_at__isnull=True).select_related("unit").first()


def unit_partners(unit_id, user) -> list[str]:
    """The other responders on shift with the unit."""
    shifts = (
        Shift.objects.filter(unit_id=unit_id, ended_at__isnull=True).exclude(user=user).select_related("user")
    )
    return [user_name(s.user) for s in shifts]


def _on_shift() -> Prefetch:
    return Prefetch(
        "shifts",
        queryset=Shift.objects.filter(ended_at__isnull=True).select_related("user").order_by("started_at"),
        to_attr="on_shift",
    )


def unit_list(viewer) -> QuerySet[Unit]:
    """Every unit of the viewer's programs (not retired) with the responders on shift with it
    (as `on_shift`)."""
    units = Unit.objects.filter(retired_at__isnull=True).prefetch_related(_on_shift())
    return scope(units, viewer, Action.UNIT_READ)


def unit_members_now(unit_id) -> list[str]:
    """The names of the responders on shift with the unit now, first on first, as
    unit_list()'s `on_shift` gives them: read in the caller's transaction, as plain values (a
    unit's event carries them on every change of the unit: dispatch.services.payloads).
    Written out: it runs in every change of a unit, and the ORM's compiling of it cost 0.5 ms
    of the request's thread against 0.02 ms for the read itself (SQLite, in-process)."""
    with connection.cursor() as cursor:
        cursor.execute(_unit_members_sql(connection.vendor), [unit_id])
        return [person_name(*row) for row in cursor.fetchall()]


@cache
def _unit_members_sql(vendor: str) -> str:
    """unit_members_now()'s read, in the vendor's quoting: what
    Shift.objects.filter(unit_id=..., ended_at__isnull=True).order_by("started_at")
    .values_list("user__first_name", "user__last_name", "user__username") compiles to."""
    quote = connection.ops.quote_name
    shift, user = Shift._meta, get_user_model()._meta

    def column(meta, name: str) -> str:
        return f"{quote(meta.db_table)}.{quote(meta.get_field(name).column)}"

    names = ", ".join(column(user, name) for name in ("first_name", "last_name", "username"))
    return (
        f"SELECT {names} FROM {quote(shift.db_table)} INNER JOIN {quote(user.db_table)} "
        f"ON {column(shift, 'user')} = {column(user, 'id')} "
        f"WHERE {column(shift, 'unit')} = %s AND {column(shift, 'ended_at')} IS NULL "
        f"ORDER BY {column(shift, 'started_at')} ASC"
    )


def assignment_list_visible(user) -> QuerySet[Assignment]:
    """Assignments the caller may act on: a responder only their own unit's on shift now;
    a CAD client those on its own incidents; dispatch all."""
    qs = scope(Assignment.objects.select_related("unit", "incident"), user, Action.ASSIGNMENT_STATUS)
    rows = rows_visible(user, "assignment")
    if rows == Rows.ALL:
        return qs
    if rows == Rows.OWN_CLIENT:
        return qs.filter(incident__api_client__user=user)
    if rows == Rows.SHIFT_UNIT:
        unit_id = shift_unit_id(user)
        return qs.filter(unit_id=unit_id) if unit_id is not None else qs.none()
    return qs.none()


# --- The dispatcher console -------------------------------------------------------------------
def _as_the_console_reads() -> QuerySet[Incident]:
    """Incidents with what a console row shows: the call type, the clinician transfer, and the
    active assignments with their units (as `active_assignments`)."""
    return Incident.objects.select_related("call_type", "clinician_transfer").prefetch_related(
        Prefetch(
            "assignments",
            queryset=Assignment.objects.filter(status__in=ACTIVE_ASSIGNMENT_STATUSES).select_related("unit"),
            to_attr="active_assignments",
        ),
    )


def console_program_ids(viewer, program=None) -> frozenset[int] | None:
    """The programs a console shows: the viewer's (None: every program), narrowed to `program`
    (an id) when the viewer chose one of theirs. A program not theirs shows nothing. Viewer
    None: the system itself (the whole deployment)."""
    ids = program_ids_for(viewer, Action.DISPATCH_CONSOLE) if viewer is not None else None
    if program is None:
        return ids
    return frozenset({program}) if ids is None or program in ids else frozenset()


def _console_scope(qs, viewer, program=None, field="program"):
    ids = console_program_ids(viewer, program)
    return qs if ids is None else qs.filter(**{f"{field}__in": ids})


def incident_queue(viewer, program=None) -> QuerySet[Incident]:
    """Open incidents of the viewer's programs (or of `program`, one of them) in the order a
    dispatcher works them: eligible first, then priority (1 most urgent, none last), then the
    oldest call first."""
    return (
        _console_scope(_as_the_console_reads(), viewer, program)
        .filter(status__in=(Incident.Status.PENDING, Incident.Status.ASSIGNED))
        .order_by(F("eligible").desc(), F("priority").asc(nulls_last=True), "received_at", "created_at")
    )


def incident_console(viewer, incident_id) -> Incident | None:
    """One incident of the viewer's programs as the console's queue reads it, open or not;
    None when there is none (or it is another program's)."""
    return _console_scope(_as_the_console_reads(), viewer).filter(pk=incident_id).first()


def clinician_queue(viewer, program=None) -> QuerySet:
    """Calls of the viewer's programs transferred to the clinicians and still waiting for one,
    oldest transfer first."""
    return (
        _console_scope(ClinicianTransfer.objects.all(), viewer, program)
        .filter(outcome=ClinicianTransfer.Outcome.OPEN, incident__status=Incident.Status.PENDING)
        .select_related("incident", "incident__call_type", "transferred_by")
        .prefetch_related("contacts__clinician")
        .order_by("transferred_at", "id")
    )


def alert_list_open(viewer, program=None) -> QuerySet:
    """Alerts of the viewer's programs no dispatcher has acknowledged yet: urgent first, then
    oldest first."""
    return (
        _console_scope(Alert.objects.all(), viewer, program)
        .filter(acknowledged_at__isnull=True)
        .select_related("unit")
        .order_by("-urgent", "raised_at", "id")
    )


def incident_urgent_waiting(viewer, program=None) -> QuerySet[Incident]:
    """Urgent calls (priority 1) of the viewer's programs no team has been sent to yet, oldest
    first: the console's alert bar keeps them in view until one is assigned, closed or cancelled."""
    return (
        _console_scope(Incident.objects.all(), viewer, program)
        .filter(status=Incident.Status.PENDING, priority=1)
        .select_related("call_type")
        .order_by("received_at", "created_at")
    )


def incident_duplicated_by_count(incident: Incident) -> int:
    """How many later open calls list this one among their possible duplicates."""
    later = Incident.objects.filter(
        program_id=incident.program_id,
        status__in=(Incident.Status.PENDING, Incident.Status.ASSIGNED),
        received_at__gte=incident.received_at,
        received_at__lte=incident.received_at + Incident.DUPLICATE_WINDOW,
    ).values_list("possible_duplicates", flat=True)
    wanted = str(incident.pk)
    return sum(1 for listed in later if wanted in listed)


def unit_backups(viewer) -> dict[int, list[Alert]]:
    """Each unit's backup requests that still stand, newest first, by unit id: those no
    dispatcher has acknowledged yet, and acknowledged ones whose assignment is still active
    (help is on its way to a team still on that call)."""
    active = Assignment.objects.filter(status__in=ACTIVE_ASSIGNMENT_STATUSES).values("pk")
    standing = (
        _console_scope(Alert.objects.all(), viewer)
        .filter(kind=Alert.Kind.BACKUP, unit__isnull=False)
        .filter(Q(acknowledged_at__isnull=True) | Q(assignment_id__in=active))
        .order_by("-raised_at", "-id")
    )
    by_unit: dict[int, list[Alert]] = {}
    for alert in standing:
        by_unit.setdefault(alert.unit_id, []).append(alert)
    return by_unit


def event_last_id() -> int:
    """The newest event id: a console rendered now resumes its live stream from here."""
    return Event.objects.aggregate(m=Max("id"))["m"] or 0


def units_ranked_for(incident: Incident, units=None) -> list[tuple[Unit, float | None]]:
    """Available units, best first, each with its distance in km (None when unknown):
    nearest by last known position; units without a position (or an incident without one)
    after those with; ties go to the unit available longest. `units` lets a caller rank
    many incidents against one read of the available units. Only the incident's program's
    units: a team never goes to another program's call."""
    if units is None:
        units = Unit.objects.filter(status=Unit.Status.AVAILABLE, program_id=incident.program_id)
    incident_placed = incident.latitude is not None and incident.longitude is not None
    ranked = []
    for unit in units:
        if unit.status != Unit.Status.AVAILABLE or unit.program_id != incident.program_id:
            continue
        distance = None
        if incident_placed and unit.latitude is not None and unit.longitude is not None:
            distance = distance_km(incident.latitude, incident.longitude, unit.latitude, unit.longitude)
        ranked.append((unit, distance))
    # A unit that never recorded when it became available counts as the most recent.
    latest = datetime.max.replace(tzinfo=UTC)

    def key(item):
        unit, distance = item
        return (
            distance is None,
            distance if distance is not None else 0.0,
            unit.available_since or latest,
            unit.callsign,
        )

    return sorted(ranked, key=key)


def unit_recommend(incident: Incident, units=None) -> Unit | None:
    """The unit to suggest for an incident (see units_ranked_for), or None if none is available."""
    ranked = units_ranked_for(incident, units)
    return ranked[0][0] if ranked else None


# --- Program administration (supervisors) ------------------------------------------------------
def unit_list_for_admin(viewer) -> QuerySet[Unit]:
    """Every unit of the viewer's programs, retired ones last, with who is on shift
    (`on_shift`) and whether it has an active assignment (`active_assignments`)."""
    return (
        scope(Unit.objects.all(), viewer, Action.UNIT_ADMIN)
        .prefetch_related(
            _on_shift(),
            Prefetch(
                "assignments",
                queryset=Assignment.objects.filter(status__in=ACTIVE_ASSIGNMENT_STATUSES),
                to_attr="active_assignments",
            ),
        )
        .order_by(F("retired_at").asc(nulls_first=True), "callsign")
    )


def person_list_for_admin(viewer, *, q: str = "", include_inactive: bool = True) -> QuerySet:
    """The people of the viewer's programs (API clients' service users left out; a statewide
    viewer: everyone), active first, by name; their groups and roles prefetched so each one's
    role is read without a query of its own."""
    ids = program_ids_for(viewer, Action.PEOPLE_ADMIN)
    qs = get_user_model().objects.filter(api_client__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=Membership.objects.filter(program_id__in=ids).values("user_id"))
    qs = qs.prefetch_related("groups", _memberships_of(ids))
    if q:
        qs = qs.filter(Q(username__icontains=q) | Q(first_name__icontains=q) | Q(last_name__icontains=q))
    if not include_inactive:
        qs = qs.filter(is_active=True)
    return qs.order_by("-is_active", "last_name", "first_name", "username")


def _memberships_of(ids) -> Prefetch:
    memberships = Membership.objects.all() if ids is None else Membership.objects.filter(program_id__in=ids)
    return Prefetch("memberships", queryset=memberships.select_related("program"))


def shift_list_open(viewer) -> QuerySet[Shift]:
    """Who is on shift now in the viewer's programs, on which unit, longest on shift first."""
    shifts = scope(Shift.objects.all(), viewer, Action.SHIFT_READ)
    return shifts.filter(ended_at__isnull=True).select_related("user", "unit").order_by("started_at")


def shift_list_between(viewer, low, high) -> QuerySet[Shift]:
    """Every shift of the viewer's programs that overlapped [low, high): started before its
    end and not ended before its start (still open ones too), earliest first."""
    return (
        scope(Shift.objects.all(), viewer, Action.SHIFT_READ)
        .filter(started_at__lt=high)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=low))
        .select_related("user", "unit")
        .order_by("started_at", "unit__callsign")
    )


# --- NENA EIDO ------------------------------------------------------------------------------
def call_type_code_for(codes: Sequence[str]) -> str:
    """The call-type code an incident takes from the codes an EIDO gives (its preferred first):
    the first that is in the catalogue; else the catalogue's code whose APCO common incident
    type is one of them (a CAD that sends only the common registry text); else the first given
    (stored as unknown_call_type), or "" when none was."""
    wanted = [code for code in (CallType.normalise_code(c) for c in codes) if code]
    if not wanted:
        return ""
    known = dict(
        CallType.objects.filter(Q(code__in=wanted) | Q(apco_code__in=wanted))
        .order_by("code")
        .values_list("code", "apco_code")
    )
    for code in wanted:
        if code in known:
            return code
    by_apco = {}
    for code, apco in known.items():
        by_apco.setdefault(apco, code)
    return next((by_apco[code] for code in wanted if code in by_apco), wanted[0])


def incident_eido(incident: Incident) -> dict:
    """The incident as a NENA EIDO (dispatch.eido.incident_to_eido): every unit sent to it and
    not taken off it again, each at its latest assignment's status; the disposition once the
    incident is closed or cancelled; the APCO common type when the catalogue knows it. Pass an
    incident from incident_list_visible (its assignments and call type already read)."""
    data = incident_representation(incident)
    units = {}
    for assignment in data["assignments"]:
        if assignment["status"] != Assignment.Status.CANCELLED:
            units[assignment["unit"]] = assignment
        else:
            units.pop(assignment["unit"], None)
    disposition = None
    if incident.status in (Incident.Status.CLOSED, Incident.Status.CANCELLED):
        # The outcome is the field app's record: settings name the function that reads it, so
        # dispatch does not import the apps built on it.
        disposition = import_string(settings.EIDO_DISPOSITION)(incident)
    return incident_to_eido(
        data,
        units=list(units.values()),
        disposition=disposition,
        common_type=incident.call_type.apco_code if incident.call_type_id else "",
    )


# --- Webhooks -------------------------------------------------------------------------------
def webhook_list_for(client) -> QuerySet[WebhookSubscription]:
    """A machine client's own live webhooks, oldest first; nobody else's."""
    return WebhookSubscription.objects.filter(api_client=client, deleted_at__isnull=True).order_by(
        "created_at"
    )


def webhook_deliveries_recent(subscription, *, limit: int = 100) -> QuerySet[WebhookDelivery]:
    """A subscription's latest deliveries that were (or will be) tried, newest event first. The
    skipped ones were never for this client: not even their event ids are shown."""
    return (
        subscription.deliveries.exclude(status=WebhookDelivery.Status.SKIPPED)
        .select_related("event")
        .order_by("-event_id")[:limit]
    )


def webhook_overview(viewer, *, limit: int = 100) -> dict:
    """The supervisor's page: every live subscription of the clients of the viewer's programs
    (statewide clients: for a statewide viewer) with its counts, and the latest deliveries,
    failed first, then waiting, then delivered, newest first within each."""
    ids = program_ids_for(viewer, Action.WEBHOOK_ADMIN)
    theirs = Q() if ids is None else Q(api_client__program_id__in=ids)
    subscriptions = (
        WebhookSubscription.objects.filter(theirs, deleted_at__isnull=True)
        .select_related("api_client")
        .annotate(
            pending=Count("deliveries", filter=Q(deliveries__status=WebhookDelivery.Status.PENDING)),
            failed=Count("deliveries", filter=Q(deliveries__status=WebhookDelivery.Status.FAILED)),
            last_delivered_at=Max("deliveries__delivered_at"),
        )
        .order_by("api_client__name", "created_at")
    )
    rank = Case(
        When(status=WebhookDelivery.Status.FAILED, then=Value(0)),
        When(status=WebhookDelivery.Status.PENDING, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    deliveries = (
        WebhookDelivery.objects.exclude(status=WebhookDelivery.Status.SKIPPED)
        .filter(subscription__deleted_at__isnull=True)
        .filter(**({} if ids is None else {"subscription__api_client__program_id__in": ids}))
        .select_related("event", "subscription__api_client")
        .annotate(rank=rank)
        .order_by("rank", "-event_id")[:limit]
    )
    return {"subscriptions": list(subscriptions), "deliveries": list(deliveries)}


def signin_lockouts():
    """User names locked out of sign-in now (django-axes), newest first: those with as many
    failures as the limit within the cool-off."""
    from axes.models import AccessAttempt

    since = timezone.now() - settings.AXES_COOLOFF_TIME
    return AccessAttempt.objects.filter(
        failures_since_start__gte=settings.AXES_FAILURE_LIMIT, attempt_time__gte=since
    ).order_by("-attempt_time")
