"""Changes to referrals, follow-ups and people."""

from django.db import transaction
from django.utils import timezone

from referrals.models import FollowUp, Person


def person_create(*, actor, name="", alias="", date_of_birth=None, phone="") -> Person:
    """Record a person contacted on scene; every identifying field is optional."""
    return Person.objects.create(
        name=name.strip(),
        alias=alias.strip(),
        date_of_birth=date_of_birth,
        phone=phone.strip(),
        created_by=actor,
    )


def follow_up_create(
    *,
    actor,
    service_type: str,
    consent: bool,
    notes: str = "",
    person: Person | None = None,
    incident=None,
    written_consent_to_share: bool | None = None,
    due_at=None,
) -> FollowUp:
    """Open a follow-up service connection for case managers, due 48 hours from now unless
    told otherwise. Refuses a service type outside FollowUp.ServiceType."""
    if service_type not in FollowUp.ServiceType.values:
        raise ValueError(f"unknown service type {service_type!r}")
    with transaction.atomic():
        return FollowUp.objects.create(
            person=person,
            incident=incident,
            service_type=service_type,
            consent=consent,
            written_consent_to_share=written_consent_to_share,
            notes=notes,
            created_by=actor,
            due_at=due_at or timezone.now() + FollowUp.DEFAULT_DUE,
        )
