"""Programs, as the state's supervisors keep them: slug, name, time zone, service area and
hours. Every change is written with its audit entry in one transaction; a change that is
refused (ServiceInvalid on the field at fault) writes nothing.

Changing a program's time zone moves its days, so the report sums kept for it are dropped
in the same transaction and added up again on the next read (dispatch.reports)."""

import re
from datetime import time

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from dispatch.models import AuditEntry, Program, ProgramHours, ReportSums
from dispatch.programs import service_area_validate, time_zone_validate
from dispatch.services.audit import audit_record
from dispatch.services.conflicts import ServiceInvalid

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
RESERVED_SLUGS = frozenset({"new"})  # a page's name beside the programs' own (dispatch.urls)


def _audit(actor, action: str, target: str, **detail) -> None:
    audit_record(
        actor=actor, kind=AuditEntry.Kind.ADMINISTRATION, action=action, target=target, detail=detail
    )


def _checked(*, slug: str, name: str, time_zone: str, service_area) -> dict:
    slug, name, time_zone = slug.strip().lower(), name.strip(), time_zone.strip()
    if not SLUG_RE.match(slug) or len(slug) > 50 or slug in RESERVED_SLUGS:
        raise ServiceInvalid("slug", "Use lower-case letters, digits and single dashes, like denver-star.")
    if not name:
        raise ServiceInvalid("name", "Give the program's name.")
    try:
        time_zone_validate(time_zone)
    except ValidationError as exc:
        raise ServiceInvalid("time_zone", exc.messages[0]) from exc
    try:
        service_area_validate(service_area)
    except ValidationError as exc:
        raise ServiceInvalid("service_area", exc.messages[0]) from exc
    return {"slug": slug, "name": name, "time_zone": time_zone, "service_area": service_area}


def _hours_rows(hours: dict[int, tuple[time, time]]) -> list[tuple[int, time, time]]:
    for weekday in hours:
        if weekday not in ProgramHours.Weekday.values:
            raise ServiceInvalid("hours", f"{weekday} is not a weekday (0 is Monday, 6 Sunday).")
    return sorted((weekday, opens, closes) for weekday, (opens, closes) in hours.items())


def _hours_save(program: Program, rows) -> bool:
    before = list(program.hours.order_by("weekday").values_list("weekday", "opens", "closes"))
    if before == rows:
        return False
    program.hours.all().delete()
    ProgramHours.objects.bulk_create(
        [ProgramHours(program=program, weekday=w, opens=o, closes=c) for w, o, c in rows]
    )
    return True


def _hours_json(rows) -> list:
    return [[w, f"{o:%H:%M}", f"{c:%H:%M}"] for w, o, c in rows]


def program_create(
    *, actor, slug: str, name: str, time_zone: str, service_area=None, hours: dict | None = None
) -> Program:
    """Add a program. `service_area` is GeoJSON (Polygon or MultiPolygon) or None; `hours`
    maps a weekday (0 Monday … 6 Sunday) to (opens, closes) in the program's zone, a day left
    out being closed. Refuses a slug in use or malformed, an unknown time zone, an area that is
    not valid GeoJSON (ServiceInvalid on that field)."""
    values = _checked(slug=slug, name=name, time_zone=time_zone, service_area=service_area)
    rows = _hours_rows(hours or {})
    with transaction.atomic():
        if Program.objects.filter(slug=values["slug"]).exists():
            raise ServiceInvalid("slug", f"{values['slug']} is already a program's slug.")
        try:
            with transaction.atomic():
                program = Program.objects.create(**values)
        except IntegrityError as exc:  # another supervisor added it at the same moment
            raise ServiceInvalid("slug", f"{values['slug']} is already a program's slug.") from exc
        _hours_save(program, rows)
        _audit(
            actor,
            "program.create",
            f"program {program.slug}",
            program_id=program.pk,
            time_zone=program.time_zone,
            has_area=service_area is not None,
            hours=_hours_json(rows),
        )
    return program


def program_update(
    *, actor, program_id, slug: str, name: str, time_zone: str, service_area=None, hours: dict | None = None
) -> Program:
    """Change a program, as program_create checks it. A new time zone drops the program's
    kept report sums (its days are drawn anew). Saving what is already stored changes
    nothing and writes no audit entry."""
    values = _checked(slug=slug, name=name, time_zone=time_zone, service_area=service_area)
    rows = _hours_rows(hours or {})
    with transaction.atomic():
        program = Program.objects.select_for_update().get(pk=program_id)
        if Program.objects.filter(slug=values["slug"]).exclude(pk=program.pk).exists():
            raise ServiceInvalid("slug", f"{values['slug']} is already a program's slug.")
        changes = {
            field: [getattr(program, field), value]
            for field, value in values.items()
            if getattr(program, field) != value and field != "service_area"
        }
        area_changed = program.service_area != values["service_area"]
        for field, value in values.items():
            setattr(program, field, value)
        if changes or area_changed:
            try:
                with transaction.atomic():
                    program.save()
            except IntegrityError as exc:
                raise ServiceInvalid("slug", f"{values['slug']} is already a program's slug.") from exc
        hours_changed = _hours_save(program, rows)
        if "time_zone" in changes:
            ReportSums.objects.filter(program=program).delete()
        if changes or area_changed or hours_changed:
            detail = {"program_id": program.pk, "changes": changes, "area_changed": area_changed}
            if hours_changed:
                detail["hours"] = _hours_json(rows)
            _audit(actor, "program.update", f"program {program.slug}", **detail)
    return program
