"""Role groups and the integration API's machine clients."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from dispatch.models import ApiClient
from dispatch.roles import CLINICIAN_GROUP, HUMAN_ROLES, Role

User = get_user_model()

# Model permissions each role's group carries (the admin and has_perm() see these; the
# product's own access rules are in dispatch.roles).
ROLE_PERMISSIONS = {
    Role.RESPONDER: ["dispatch.view_unit", "dispatch.view_assignment"],
    Role.DISPATCHER: [
        "dispatch.view_incident",
        "dispatch.add_incident",
        "dispatch.change_incident",
        "dispatch.view_unit",
        "dispatch.view_assignment",
        "dispatch.add_assignment",
        "dispatch.change_assignment",
        "dispatch.view_calltype",
    ],
    Role.POLICE_OFFICER: [],
    Role.CASE_MANAGER: [],
    Role.SUPERVISOR: [
        "dispatch.view_incident",
        "dispatch.change_incident",
        "dispatch.view_unit",
        "dispatch.add_unit",
        "dispatch.change_unit",
        "dispatch.view_assignment",
        "dispatch.view_calltype",
        "dispatch.add_calltype",
        "dispatch.change_calltype",
        "dispatch.view_screeningquestion",
        "dispatch.change_screeningquestion",
    ],
}


def roles_ensure() -> None:
    """Create the role groups with their permissions; safe to run any number of times."""
    for role in HUMAN_ROLES:
        group, _ = Group.objects.get_or_create(name=role.value)
        wanted = []
        for dotted in ROLE_PERMISSIONS.get(role, []):
            app_label, codename = dotted.split(".")
            perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if perm:
                wanted.append(perm)
        group.permissions.set(wanted)
    Group.objects.get_or_create(name=CLINICIAN_GROUP)


def api_client_create(name: str, role: str, program=None) -> tuple[ApiClient, str]:
    """Create an API client and its service user; returns the client and the key, shown once.
    `program`: the program it works for; None: statewide (a 988 or hotline centre)."""
    if role not in (Role.CAD, Role.POLICE):
        raise ValueError(f"role must be cad or police, not {role!r}")
    key = ApiClient.new_key()
    with transaction.atomic():
        user = User.objects.create(username=f"api:{name}"[:150], is_active=True)
        user.set_unusable_password()
        user.save(update_fields=["password"])
        client = ApiClient.objects.create(
            name=name,
            role=role,
            user=user,
            key_hash=ApiClient.hash_key(key),
            key_prefix=key[:8],
            program=program,
        )
    return client, key
