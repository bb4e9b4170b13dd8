"""Program administration: the units a program runs and the people who use the product.

Supervisors do all of this from their own pages (dispatch.supervisor_views), never the Django
admin. Every change is written with its audit entry (AuditEntry.Kind.ADMINISTRATION) in one
transaction: a change that is refused leaves neither the change nor its record.
"""

import re

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from dispatch.formatting import user_name
from dispatch.models import (
    ACTIVE_ASSIGNMENT_STATUSES,
    ApiClient,
    AuditEntry,
    Membership,
    Program,
    Shift,
    Unit,
)
from dispatch.programs import sole_program
from dispatch.roles import CLINICIAN_GROUP, HUMAN_ROLES, Action, Role, program_ids_for
from dispatch.services.audit import audit_record
from dispatch.services.conflicts import ServiceConflict, ServiceInvalid
from dispatch.services.shifts import shift_end
from dispatch.services.units import unit_announce, unit_set_status

User = get_user_model()

CALLSIGN_RE = re.compile(r"^[A-Z0-9][A-Z0-9\-]{0,19}$")
USERNAME_RE = re.compile(r"^[\w.@+-]{1,150}$")
ROLE_NAMES = frozenset(role.value for role in HUMAN_ROLES)


def _audit(actor, action: str, target: str, program=None, **detail) -> None:
    audit_record(
        actor=actor,
        kind=AuditEntry.Kind.ADMINISTRATION,
        action=action,
        target=target,
        detail=detail,
        program=program,
    )


def admin_program(actor, action: str, program=None) -> Program:
    """The program an administrator's change is in: the one named (it must be one of theirs),
    else their only one, else the deployment's only one. Refuses (`program`) a program that is
    not theirs, and a change left unplaced in a deployment of several."""
    ids = program_ids_for(actor, action) if actor is not None else None
    if program is not None:
        program = program if isinstance(program, Program) else Program.objects.filter(pk=program).first()
        if program is None or (ids is not None and program.pk not in ids):
            raise ServiceInvalid("program", "Choose one of your programs.")
        return program
    if ids is not None and len(ids) == 1:
        return Program.objects.get(pk=next(iter(ids)))
    only = sole_program()
    if only is None:
        raise ServiceInvalid("program", "Choose the program this is for.")
    return only


# --- Units ----------------------------------------------------------------------------------------
def callsign_normalise(callsign: str) -> str:
    """A callsign as units are told apart: "cr-7 " and "CR-7" are one unit."""
    return (callsign or "").strip().upper()


def _callsign_valid(callsign: str, *, unit_id=None) -> str:
    callsign = callsign_normalise(callsign)
    if not CALLSIGN_RE.match(callsign):
        raise ServiceInvalid("callsign", "Use up to 20 letters, digits and dashes, like CR-7.")
    clash = Unit.objects.filter(callsign__iexact=callsign)
    if unit_id is not None:
        clash = clash.exclude(pk=unit_id)
    if clash.exists():
        raise ServiceInvalid("callsign", f"{callsign} is already a unit's callsign.")
    return callsign


def _unit_for_update(unit_id) -> Unit:
    return Unit.objects.select_for_update().get(pk=unit_id)


def _has_active_assignment(unit: Unit) -> bool:
    return unit.assignments.filter(status__in=ACTIVE_ASSIGNMENT_STATUSES).exists()


def unit_create(*, actor, callsign: str, program=None) -> Unit:
    """Add a unit, off duty until a responder starts a shift on it. Refuses a callsign that is
    not letters, digits and dashes, or that another unit (retired ones too) already has
    (ServiceInvalid on `callsign`), and a program not the supervisor's (`program`)."""
    program = admin_program(actor, Action.UNIT_ADMIN, program)
    with transaction.atomic():
        callsign = _callsign_valid(callsign)
        try:
            with transaction.atomic():
                unit = Unit.objects.create(callsign=callsign, status=Unit.Status.OFF_DUTY, program=program)
        except IntegrityError as exc:  # a second supervisor added it at the same moment
            raise ServiceInvalid("callsign", f"{callsign} is already a unit's callsign.") from exc
        _audit(actor, "unit.create", f"unit {callsign}", program=program, unit_id=unit.pk)
        unit_announce(unit)
    return unit


def unit_rename(*, actor, unit_id, callsign: str) -> Unit:
    """Give a unit a new callsign; its history stays with it, and consoles and tablets are told.
    Refuses as unit_create does, and a retired unit (`unit_retired`)."""
    with transaction.atomic():
        unit = _unit_for_update(unit_id)
        if unit.retired_at is not None:
            raise ServiceConflict("unit_retired", f"{unit.callsign} is retired.")
        callsign = _callsign_valid(callsign, unit_id=unit.pk)
        old = unit.callsign
        if old == callsign:
            return unit
        unit.callsign = callsign
        unit.save(update_fields=["callsign"])
        _audit(
            actor,
            "unit.rename",
            f"unit {callsign}",
            program=unit.program,
            unit_id=unit.pk,
            callsign=[old, callsign],
        )
        unit_announce(unit)
    return unit


def unit_set_in_service(*, actor, unit_id, in_service: bool) -> Unit:
    """Take a unit out of service (no shift may start on it, dispatch cannot send it) or put it
    back: available when responders are still on shift with it, else off duty. Refuses taking
    out a unit with an active assignment (`assignment_active`) and a retired unit
    (`unit_retired`). Asking for the state the unit is already in changes nothing."""
    with transaction.atomic():
        unit = _unit_for_update(unit_id)
        if unit.retired_at is not None:
            raise ServiceConflict("unit_retired", f"{unit.callsign} is retired.")
        out = unit.status == Unit.Status.OUT_OF_SERVICE
        if out != in_service:
            return unit
        if in_service:
            staffed = Shift.objects.filter(unit=unit, ended_at__isnull=True).exists()
            status = Unit.Status.AVAILABLE if staffed else Unit.Status.OFF_DUTY
        else:
            if _has_active_assignment(unit):
                raise ServiceConflict(
                    "assignment_active",
                    f"{unit.callsign} has an active assignment; clear or cancel it first.",
                )
            status = Unit.Status.OUT_OF_SERVICE
        unit_set_status(unit, status)
        _audit(
            actor,
            "unit.in_service" if in_service else "unit.out_of_service",
            f"unit {unit.callsign}",
            unit_id=unit.pk,
        )
    return unit


def unit_retire(*, actor, unit_id) -> Unit:
    """Retire a unit: it leaves the board, the API's unit list and the tablets' choice of units,
    and keeps its history. Refuses a unit with an active assignment (`assignment_active`), one
    responders are on shift with (`unit_on_shift`: they end their shift first), and one already
    retired (`unit_retired`)."""
    with transaction.atomic():
        unit = _unit_for_update(unit_id)
        if unit.retired_at is not None:
            raise ServiceConflict("unit_retired", f"{unit.callsign} is already retired.")
        if _has_active_assignment(unit):
            raise ServiceConflict(
                "assignment_active", f"{unit.callsign} has an active assignment; clear or cancel it first."
            )
        if Shift.objects.filter(unit=unit, ended_at__isnull=True).exists():
            raise ServiceConflict(
                "unit_on_shift", f"Responders are on shift with {unit.callsign}; they end their shift first."
            )
        unit.retired_at = timezone.now()
        unit.save(update_fields=["retired_at"])
        # Out of service too, so that nothing that reads only the status can send it anywhere.
        unit_set_status(unit, Unit.Status.OUT_OF_SERVICE)
        _audit(actor, "unit.retire", f"unit {unit.callsign}", program=unit.program, unit_id=unit.pk)
    return unit


# --- People ---------------------------------------------------------------------------------------
def _role_valid(role: str) -> str:
    if role not in ROLE_NAMES:
        raise ServiceInvalid("role", "Choose one of the roles.")
    return role


def _password_valid(password: str, user) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ServiceInvalid("password", " ".join(exc.messages)) from exc


def _clinician_valid(role: str, clinician: bool) -> bool:
    if clinician and role != Role.DISPATCHER:
        raise ServiceInvalid("clinician", "Only a dispatcher can work the clinicians' queue.")
    return clinician


def _person_for_update(user_id):
    user = User.objects.select_for_update().get(pk=user_id)
    if ApiClient.objects.filter(user=user).exists():
        # Machine clients are managed with create_api_client, not as people.
        raise ServiceConflict("not_a_person", "This account belongs to an API client.")
    return user


def _role_names(user, program=None) -> set[str]:
    memberships = Membership.objects.filter(user=user)
    if program is not None:
        memberships = memberships.filter(Q(program=program) | Q(program__isnull=True))
    return set(memberships.values_list("role", flat=True))


def _other_supervisors(user, program=None) -> bool:
    """Whether an active supervisor other than `user` remains (of `program`, or statewide)."""
    supervisors = Membership.objects.filter(
        role=Role.SUPERVISOR, user__is_active=True, user__api_client__isnull=True
    ).exclude(user=user)
    if program is not None:
        supervisors = supervisors.filter(Q(program=program) | Q(program__isnull=True))
    return supervisors.exists()


def _refuse_last_supervisor(user, program=None) -> None:
    if (
        Role.SUPERVISOR in _role_names(user, program)
        and user.is_active
        and not _other_supervisors(user, program)
    ):
        raise ServiceConflict(
            "last_supervisor",
            f"{user_name(user)} is the program's last supervisor; make someone else a supervisor first.",
        )


def _roles_set(user, role: str, clinician: bool, program: Program) -> None:
    """The person's role in `program` becomes `role` (their roles elsewhere stay)."""
    Membership.objects.update_or_create(user=user, program=program, defaults={"role": role})
    clinician_group = Group.objects.get_or_create(name=CLINICIAN_GROUP)[0]
    if clinician:
        user.groups.add(clinician_group)
    else:
        user.groups.remove(clinician_group)


def user_create(
    *,
    actor,
    username: str,
    first_name: str,
    last_name: str,
    role: str,
    password: str,
    clinician=False,
    program=None,
):
    """Add a person with one role (and, for a dispatcher, the clinician flag) and a first
    password the supervisor hands over. Refuses a user name already taken or not a user name
    (`username`), an unknown role (`role`), a password the validators refuse (`password`) and
    the clinician flag on anyone but a dispatcher (`clinician`): all ServiceInvalid."""
    username = (username or "").strip()
    if not USERNAME_RE.match(username) or username.startswith("api:"):
        raise ServiceInvalid("username", "Use letters, digits and . @ + - _ only.")
    role = _role_valid(role)
    clinician = _clinician_valid(role, clinician)
    program = admin_program(actor, Action.PEOPLE_ADMIN, program)
    with transaction.atomic():
        if User.objects.filter(username__iexact=username).exists():
            raise ServiceInvalid("username", f"The user name {username} is taken.")
        user = User(username=username, first_name=first_name.strip(), last_name=last_name.strip())
        _password_valid(password, user)
        user.set_password(password)
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError as exc:
            raise ServiceInvalid("username", f"The user name {username} is taken.") from exc
        _roles_set(user, role, clinician, program)
        _audit(
            actor,
            "user.create",
            f"user {username}",
            program=program,
            user_id=user.pk,
            role=role,
            clinician=clinician,
        )
    return user


def user_update(*, actor, user_id, first_name: str, last_name: str, role: str, clinician=False, program=None):
    """Change a person's name, role and clinician flag. Refuses taking the supervisor role from
    the last active supervisor (`last_supervisor`), an API client's account (`not_a_person`),
    and what user_create refuses for the role and the flag."""
    role = _role_valid(role)
    clinician = _clinician_valid(role, clinician)
    program = admin_program(actor, Action.PEOPLE_ADMIN, program)
    with transaction.atomic():
        user = _person_for_update(user_id)
        before = {
            "first_name": user.first_name,
            "last_name": user.last_name,
            "role": Membership.objects.filter(user=user, program=program)
            .values_list("role", flat=True)
            .first()
            or "",
            "clinician": user.groups.filter(name=CLINICIAN_GROUP).exists(),
        }
        if role != Role.SUPERVISOR:
            _refuse_last_supervisor(user, program)
        after = {
            "first_name": first_name.strip(),
            "last_name": last_name.strip(),
            "role": role,
            "clinician": clinician,
        }
        changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
        if not changes:
            return user
        user.first_name, user.last_name = after["first_name"], after["last_name"]
        user.save(update_fields=["first_name", "last_name"])
        _roles_set(user, role, clinician, program)
        _audit(
            actor, "user.update", f"user {user.username}", program=program, user_id=user.pk, changes=changes
        )
    return user


def user_set_password(*, actor, user_id, password: str):
    """Give a person a new password (they forgot theirs, or it was shared). Refuses a password
    the validators refuse (`password`) and an API client's account (`not_a_person`). The audit
    says that it was reset, never what to."""
    with transaction.atomic():
        user = _person_for_update(user_id)
        _password_valid(password, user)
        user.set_password(password)
        user.save(update_fields=["password"])
        _audit(actor, "user.password_reset", f"user {user.username}", user_id=user.pk)
    return user


def user_deactivate(*, actor, user_id):
    """Stop a person from signing in: their sessions stop working at once (Django refuses an
    inactive user's session), and a responder's open shift ends. Their records keep their
    name. Refuses deactivating yourself (`self_deactivate`), the last active supervisor
    (`last_supervisor`), an API client's account (`not_a_person`), and a responder who is the
    last on a unit with an active assignment (`assignment_active`, from shift_end).
    Deactivating someone already inactive changes nothing."""
    if actor is not None and actor.pk == int(user_id):
        raise ServiceConflict("self_deactivate", "You cannot deactivate yourself.")
    with transaction.atomic():
        user = _person_for_update(user_id)
        if not user.is_active:
            return user
        _refuse_last_supervisor(user)
        ended = None
        if Shift.objects.filter(user=user, ended_at__isnull=True).exists():
            ended = shift_end(user=user).unit.callsign
        user.is_active = False
        user.save(update_fields=["is_active"])
        _audit(actor, "user.deactivate", f"user {user.username}", user_id=user.pk, shift_ended_on=ended)
    return user


def user_reactivate(*, actor, user_id):
    """Let a deactivated person sign in again, with the role they had. Refuses an API client's
    account (`not_a_person`)."""
    with transaction.atomic():
        user = _person_for_update(user_id)
        if user.is_active:
            return user
        user.is_active = True
        user.save(update_fields=["is_active"])
        _audit(actor, "user.reactivate", f"user {user.username}", user_id=user.pk)
    return user
