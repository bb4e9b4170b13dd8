"""Who may do what: the one place that decides.

People get a role per program through their memberships (dispatch.models.Membership; a
membership without a program is a statewide role: every program); machine clients (a CAD, a
police records system) through their API client, which works for one program or statewide.
Views, API views, consumers and templates all ask `may(user, action)` (in any of the caller's
programs) or `may(user, action, program)`; selectors scope rows by `program_ids_for(user, action)`.
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import prefetch_related_objects
from rest_framework.permissions import BasePermission


class Role(models.TextChoices):
    RESPONDER = "responder", "Responder"
    DISPATCHER = "dispatcher", "Dispatcher"
    POLICE_OFFICER = "police_officer", "Police officer"
    CASE_MANAGER = "case_manager", "Case manager"
    SUPERVISOR = "supervisor", "Supervisor"
    # Machine clients of the integration API.
    CAD = "cad", "CAD system"
    POLICE = "police", "Police records system"


HUMAN_ROLES = [
    Role.RESPONDER,
    Role.DISPATCHER,
    Role.POLICE_OFFICER,
    Role.CASE_MANAGER,
    Role.SUPERVISOR,
]
API_ROLES = [Role.CAD, Role.POLICE]

# A dispatcher who is also a clinician (embedded professional-led model) carries this group
# beside the dispatcher group; it adds the clinicians' queue, it is not a role of its own.
CLINICIAN_GROUP = "clinician"


class Action(models.TextChoices):
    INCIDENT_POST = "incident_post"  # create/update incidents over the API
    INCIDENT_READ = "incident_read"
    INCIDENT_CREATE_BY_HAND = "incident_create_by_hand"
    UNIT_READ = "unit_read"
    ASSIGN = "assign"
    ASSIGNMENT_STATUS = "assignment_status"
    DISPATCH_CONSOLE = "dispatch_console"
    FIELD_APP = "field_app"
    CATALOGUE_EDIT = "catalogue_edit"
    REFERRAL_FILE = "referral_file"
    FOLLOW_UP_WORK = "follow_up_work"
    PROGRAM_DATA = "program_data"
    PROGRAM_DATA_IDENTIFIERS = "program_data_identifiers"  # exports with names, phones, addresses (audited)
    OUTREACH_WORK = "outreach_work"  # claim and finish non-urgent police referrals
    PERSON_READ = "person_read"  # people's records and timelines (every view is audited)
    PERSON_AUDIT_READ = "person_audit_read"
    DIRECTORY_EDIT = "directory_edit"  # the HSDS service directory
    UNIT_ADMIN = "unit_admin"  # create, rename, retire units; take them out of service
    PEOPLE_ADMIN = "people_admin"  # create and deactivate people, reset passwords, give roles
    SHIFT_READ = "shift_read"  # who is on shift now, and who was
    WEBHOOK_SUBSCRIBE = "webhook_subscribe"  # a machine client's own webhooks
    WEBHOOK_ADMIN = "webhook_admin"  # every client's webhooks and deliveries; retry one
    PROGRAM_LIST = "program_list"  # which programs the caller is part of (GET /api/v1/programs/)


_R = Role
RULES: dict[str, frozenset[str]] = {
    Action.INCIDENT_POST: frozenset({_R.CAD}),
    Action.INCIDENT_READ: frozenset({_R.CAD, _R.DISPATCHER, _R.SUPERVISOR}),
    Action.INCIDENT_CREATE_BY_HAND: frozenset({_R.DISPATCHER, _R.SUPERVISOR}),
    Action.UNIT_READ: frozenset({_R.CAD, _R.DISPATCHER, _R.SUPERVISOR}),
    Action.ASSIGN: frozenset({_R.CAD, _R.DISPATCHER, _R.SUPERVISOR}),
    Action.ASSIGNMENT_STATUS: frozenset({_R.CAD, _R.DISPATCHER, _R.SUPERVISOR, _R.RESPONDER}),
    Action.DISPATCH_CONSOLE: frozenset({_R.DISPATCHER, _R.SUPERVISOR}),
    Action.FIELD_APP: frozenset({_R.RESPONDER}),
    Action.CATALOGUE_EDIT: frozenset({_R.SUPERVISOR}),
    Action.REFERRAL_FILE: frozenset({_R.POLICE_OFFICER, _R.POLICE}),
    Action.FOLLOW_UP_WORK: frozenset({_R.CASE_MANAGER, _R.SUPERVISOR}),
    Action.PROGRAM_DATA: frozenset({_R.SUPERVISOR}),
    Action.PROGRAM_DATA_IDENTIFIERS: frozenset({_R.SUPERVISOR}),
    Action.OUTREACH_WORK: frozenset({_R.RESPONDER}),
    Action.PERSON_READ: frozenset({_R.CASE_MANAGER, _R.SUPERVISOR}),
    Action.PERSON_AUDIT_READ: frozenset({_R.SUPERVISOR}),
    Action.DIRECTORY_EDIT: frozenset({_R.CASE_MANAGER, _R.SUPERVISOR}),
    Action.UNIT_ADMIN: frozenset({_R.SUPERVISOR}),
    Action.PEOPLE_ADMIN: frozenset({_R.SUPERVISOR}),
    Action.SHIFT_READ: frozenset({_R.SUPERVISOR}),
    Action.WEBHOOK_SUBSCRIBE: frozenset({_R.CAD, _R.POLICE}),
    Action.WEBHOOK_ADMIN: frozenset({_R.SUPERVISOR}),
    Action.PROGRAM_LIST: frozenset(Role),
}


class Rows(models.TextChoices):
    """How much of one kind of record a role may read (the selectors apply it, once)."""

    ALL = "all", "Every row"
    OWN_CLIENT = "own_client", "What the caller itself sent or filed"
    SHIFT_UNIT = "shift_unit", "The unit the responder is on shift with now"
    NONE = "none", "Nothing"


# Beside RULES: who may read which rows. A role missing from a kind reads none of it.
ROWS: dict[str, dict[str, str]] = {
    "incident": {_R.CAD: Rows.OWN_CLIENT, _R.DISPATCHER: Rows.ALL, _R.SUPERVISOR: Rows.ALL},
    "assignment": {
        _R.CAD: Rows.OWN_CLIENT,
        _R.DISPATCHER: Rows.ALL,
        _R.SUPERVISOR: Rows.ALL,
        _R.RESPONDER: Rows.SHIFT_UNIT,
    },
    # A referral's filer sees only their own, and of those only the officer's view.
    "referral": {_R.POLICE_OFFICER: Rows.OWN_CLIENT, _R.POLICE: Rows.OWN_CLIENT},
}


def rows_visible(user, kind: str) -> str:
    """Which rows of `kind` (a key of ROWS) the caller may read: a Rows value (the widest
    their roles give; the selectors also keep to the caller's programs)."""
    order = list(Rows)
    found = [ROWS[kind].get(role, Rows.NONE) for _p, role in _grants(user)]
    return min(found, key=order.index) if found else Rows.NONE


def _group_names(user) -> set[str]:
    # Read once per user object: prefetching is Django's own cache, so the several checks one
    # request makes (the view, the selectors, the template) cost one query.
    prefetch_related_objects([user], "groups")
    return {group.name for group in user.groups.all()}


_ALL = None  # a statewide grant, in the pairs below: every program


def _grants(user) -> list[tuple[int | None, str]]:
    """(program id or None for every program, role) of the caller, read once per user object."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    # A person has no api_client: the reverse one-to-one raises an AttributeError subclass
    # (and Django remembers that there is none).
    api_client = getattr(user, "api_client", None)
    if api_client is not None:
        return [(api_client.program_id, api_client.role)] if api_client.is_active else []
    prefetch_related_objects([user], "memberships")
    return [(m.program_id, m.role) for m in user.memberships.all()]


def _program_id(program) -> int | None:
    return getattr(program, "pk", program)


def role_of(user, program=None) -> str | None:
    """The caller's role (in `program` when given: their role there, or their statewide one),
    or None for anonymous users and users without one. Without a program, a person with
    different roles in different programs has the first of HUMAN_ROLES among them."""
    grants = _grants(user)
    if program is not None:
        program_id = _program_id(program)
        grants = [(p, role) for p, role in grants if p is _ALL or p == program_id]
    roles = {role for _p, role in grants}
    if len(grants) == 1:
        return grants[0][1]
    return next((role.value for role in (*HUMAN_ROLES, *API_ROLES) if role.value in roles), None)


def is_clinician(user) -> bool:
    return bool(user and user.is_authenticated and CLINICIAN_GROUP in _group_names(user))


def is_statewide(user, action: str) -> bool:
    """Whether the caller may do `action` in every program (a statewide role or client)."""
    return any(p is _ALL and role in RULES[action] for p, role in _grants(user))


def may(user, action: str, program=None) -> bool:
    """Whether the caller may do `action`: in `program` when given, else in any of theirs."""
    allowed = RULES[action]
    if program is None:
        return any(role in allowed for _p, role in _grants(user))
    program_id = _program_id(program)
    return any(role in allowed and (p is _ALL or p == program_id) for p, role in _grants(user))


def program_ids_for(user, action: str) -> frozenset[int] | None:
    """The ids of the programs where the caller may do `action`; None: every program (a
    statewide role). Selectors filter by it (dispatch.selectors.in_programs)."""
    allowed = RULES[action]
    ids = set()
    for p, role in _grants(user):
        if role in allowed:
            if p is _ALL:
                return None
            ids.add(p)
    return frozenset(ids)


def programs_for(user, action: str):
    """The programs (a queryset) where the caller may do `action`; statewide: all of them."""
    from dispatch.models import Program

    ids = program_ids_for(user, action)
    return Program.objects.all() if ids is None else Program.objects.filter(pk__in=ids)


def scope(queryset, user, action: str, field: str = "program"):
    """`queryset` narrowed to the programs where the caller may do `action`."""
    ids = program_ids_for(user, action)
    return queryset if ids is None else queryset.filter(**{f"{field}__in": ids})


def may_work_clinician_queue(user) -> bool:
    """The clinicians' queue (record phone contacts, resolve by phone): dispatchers who are
    clinicians. Any dispatcher may transfer a call to it."""
    return role_of(user) == Role.DISPATCHER and is_clinician(user)


def role_required(action: str):
    """Page views: anonymous callers go to sign-in, signed-in callers without the role get 403."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not may(request.user, action):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


class ApiPermission(BasePermission):
    """DRF permission: set `action` (or `actions` per HTTP method) on the view."""

    message = "Your role may not do this."

    def has_permission(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return False
        action = getattr(view, "role_actions", {}).get(request.method) or getattr(view, "role_action", None)
        return action is not None and may(request.user, action)


HOME_URL_NAMES = {
    Role.RESPONDER: "field:home",
    Role.DISPATCHER: "dispatch:console",
    Role.POLICE_OFFICER: "referrals:officer_home",
    Role.CASE_MANAGER: "referrals:case_manager_home",
    Role.SUPERVISOR: "dispatch:supervisor_home",
}


class _May:
    """`{% if may.catalogue_edit %}`: templates ask the rules, never compare role names."""

    def __init__(self, user):
        self.user = user

    def __getitem__(self, action: str) -> bool:
        if action == "clinician_queue":
            return may_work_clinician_queue(self.user)
        return may(self.user, Action(action))


def role_context(request):
    user = getattr(request, "user", None)
    role = role_of(user)
    return {
        "user_role_label": Role(role).label if role else "",
        "may": _May(user),
    }
