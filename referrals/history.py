"""History written for people: the one place that turns a follow-up's change records, its
contact attempts and a person's timeline entries into sentences with names and labels, never
field names, user ids or record UUIDs."""

import re

from django.contrib.auth import get_user_model
from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime

from dispatch.formatting import user_name
from referrals.models import ContactAttempt, FollowUp, FollowUpChange, Service

User = get_user_model()

NOBODY = "—"


def _name(user) -> str:
    if user is None:
        return "The system"
    return user_name(user)


def _when(value) -> str:
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is None:
        return NOBODY
    return formats.date_format(timezone.localtime(value), "M j, H:i")


def _label(choices, value) -> str:
    if value in (None, ""):
        return NOBODY
    return dict(choices).get(value, str(value))


def _yes_no(value) -> str:
    return {True: "yes", False: "no"}.get(value, "not recorded")


class _Names:
    """The people and providers a set of change records mention, read in two queries."""

    def __init__(self, changes):
        user_ids, service_ids = set(), set()
        for change in changes:
            for field, pair in change.changes.items():
                ids = user_ids if field == "case_manager" else service_ids if field == "provider" else None
                if ids is not None:
                    ids.update(v for v in pair if isinstance(v, int))
        self.users = {u.pk: _name(u) for u in User.objects.filter(pk__in=user_ids)} if user_ids else {}
        self.services = (
            {s.pk: s.name for s in Service.objects.filter(pk__in=service_ids)} if service_ids else {}
        )

    def user(self, pk) -> str:
        return NOBODY if pk is None else self.users.get(pk, "a former user")

    def service(self, pk) -> str:
        return NOBODY if pk is None else self.services.get(pk, "a provider since removed")


def _field_phrase(field: str, old, new, names: _Names) -> str:
    """One changed detail, as a clause: "changed the provider from — to Denver Rescue Mission"."""
    if field == "provider":
        return f"changed the provider from {names.service(old)} to {names.service(new)}"
    if field == "case_manager":
        return f"changed the case manager from {names.user(old)} to {names.user(new)}"
    if field == "status":
        statuses = FollowUp.Status.choices
        return f"changed the status from {_label(statuses, old)} to {_label(statuses, new)}"
    if field == "service_type":
        types = FollowUp.ServiceType.choices
        return f"changed the service from {_label(types, old)} to {_label(types, new)}"
    if field == "due_at":
        return f"moved the due date from {_when(old)} to {_when(new)}"
    if field == "close_reason":
        return f"gave the closing reason {_label(FollowUp.CloseReason.choices, new)}"
    if field == "consent":
        return f"recorded consent to contact as {_yes_no(new)}"
    if field == "written_consent_to_share":
        return f"recorded written consent to share as {_yes_no(new)}"
    if field == "notes":
        return "edited the notes"
    try:
        label = FollowUp._meta.get_field(field).verbose_name
    except Exception:  # a field since removed: still no raw name on the page
        label = "a detail"
    return f"changed {label}"


def _sentence(change: FollowUpChange, names: _Names) -> str:
    who = _name(change.actor)
    changes = dict(change.changes)
    kind = change.kind
    if kind == FollowUpChange.Kind.CREATED:
        service = _label(FollowUp.ServiceType.choices, (changes.get("service_type") or [None, None])[1])
        due = _when((changes.get("due_at") or [None, None])[1])
        text = f"{who} opened a {service.lower()} follow-up, due {due}"
        if changes.get("provider"):
            text += f", with {names.service(changes['provider'][1])}"
        return text + "."
    if kind == FollowUpChange.Kind.CLAIMED:
        return f"{who} took it onto their caseload."
    if kind == FollowUpChange.Kind.MERGED:
        old, new = changes.get("person", [None, None])
        return f"{who} merged the person's record #{old} into record #{new}."
    if kind == FollowUpChange.Kind.ATTEMPT:
        attempt = (changes.pop("attempt", None) or [None, {}])[1] or {}
        method = _label(ContactAttempt.Method.choices, attempt.get("method")).lower()
        result = _label(ContactAttempt.Result.choices, attempt.get("result")).lower()
        text = f"{who} recorded a contact attempt ({method}): {result}"
        if "status" in changes:
            text += "; the status went from {} to {}".format(
                *(_label(FollowUp.Status.choices, v) for v in changes["status"])
            )
        return text + "."
    clauses = []
    if "status" in changes:
        clauses.append(_field_phrase("status", *changes.pop("status"), names))
    clauses += [_field_phrase(field, old, new, names) for field, (old, new) in changes.items()]
    if not clauses:
        return f"{who} saved the follow-up without changes."
    return f"{who} " + ", and ".join(clauses) + "."


def follow_up_history(follow_up: FollowUp) -> list[dict]:
    """The follow-up's change records, oldest first, each as {"at", "sentence"}."""
    changes = list(follow_up.changes.all())
    names = _Names(changes)
    return [{"at": change.at, "sentence": _sentence(change, names)} for change in changes]


def attempt_sentence(attempt: ContactAttempt) -> str:
    """ "Robin Nguyen tried a phone call: no answer." (the notes are shown beside it)."""
    method = attempt.get_method_display().lower()
    return f"{_name(attempt.by)} tried a {method}: {attempt.get_result_display().lower()}."


def tel_href(phone: str) -> str:
    """A dialler wants digits: "(720) 555-0199" becomes "tel:7205550199"; "" without a number."""
    digits = re.sub(r"[^\d+]", "", phone or "")
    return f"tel:{digits}" if digits else ""


def record_summary(obj) -> str:
    """A timeline entry for a record another app links to a person (the field app's outcomes):
    the labels of its coded fields, and the unit it was recorded for, never its id."""
    parts = []
    for field in obj._meta.concrete_fields:
        value = getattr(obj, field.attname)
        if (
            field.choices
            and value not in (None, "")
            and not (field.has_default() and value == field.get_default())
        ):
            parts.append(str(getattr(obj, f"get_{field.name}_display")()))
    assignment = getattr(obj, "assignment", None)
    unit = getattr(assignment, "unit", None)
    if unit is not None:
        parts.append(f"unit {unit.callsign}")
    narrative = getattr(obj, "narrative", "")
    if narrative:
        parts.append(narrative if len(narrative) <= 200 else narrative[:199] + "…")
    return " · ".join(parts) or obj._meta.verbose_name.capitalize()
