"""Programs: their service areas (GeoJSON, tested with shapely) and the deployment's first one.

A statewide caller's incident goes to the program whose service area holds its point
(`program_for_location`). The shapes are parsed once per process and forgotten whenever a
program is saved (dispatch.models.Program.save), so a changed area routes at once in the
process that saved it, and in the others within CACHE_SECONDS.
"""

import threading
import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from shapely import geometry, prepared
from shapely.errors import GEOSException
from shapely.validation import explain_validity

AREA_TYPES = ("Polygon", "MultiPolygon")

_areas_lock = threading.Lock()
_areas: list[tuple[int, object]] | None = None
# What this process read of the programs is read again after this long, so a program saved
# in another process (a new area, a new name) reaches this one within a minute.
CACHE_SECONDS = 60.0
_read_at = 0.0


def time_zone_validate(value: str) -> None:
    try:
        ZoneInfo(value or "")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"{value!r} is not an IANA time zone name (e.g. America/Denver).") from exc


def service_area_shape(geojson):
    """The shapely shape of a GeoJSON Polygon or MultiPolygon; ValidationError with the reason
    for anything else (another type, bad coordinates, a ring that crosses itself)."""
    if not isinstance(geojson, dict):
        raise ValidationError("The service area must be a GeoJSON object (Polygon or MultiPolygon).")
    if geojson.get("type") not in AREA_TYPES:
        raise ValidationError(
            f"The service area must be a GeoJSON Polygon or MultiPolygon, not {geojson.get('type')!r}."
        )
    try:
        shape = geometry.shape(geojson)
    except (GEOSException, ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
        raise ValidationError(f"The service area's coordinates are not a valid {geojson['type']}.") from exc
    if shape.is_empty:
        raise ValidationError("The service area is empty.")
    if not shape.is_valid:
        raise ValidationError(f"The service area is not a valid shape: {explain_validity(shape)}.")
    minx, miny, maxx, maxy = shape.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise ValidationError("The service area's coordinates must be longitude, latitude in degrees.")
    return shape


def service_area_validate(geojson) -> None:
    """Raises ValidationError with a clear message unless `geojson` is a valid service area."""
    if geojson is not None:
        service_area_shape(geojson)


_slugs: dict[int, str] = {}
_names: dict[int, str] = {}


def areas_forget() -> None:
    """Forget the shapes, slugs and names read (a program was saved)."""
    global _areas, _read_at
    with _areas_lock:
        _areas = None
        _slugs.clear()
        _names.clear()
        _read_at = time.monotonic()


def _fresh() -> None:
    if time.monotonic() - _read_at > CACHE_SECONDS:
        areas_forget()


def program_slug(program_id) -> str | None:
    """A program's slug by id, read once per process: every answer and event carries it."""
    if program_id is None:
        return None
    _fresh()
    slug = _slugs.get(program_id)
    if slug is None:
        from dispatch.models import Program

        slug = Program.objects.filter(pk=program_id).values_list("slug", flat=True).first()
        if slug is not None:
            _slugs[program_id] = slug
    return slug


def program_label(program_id) -> str:
    """A program's name for a list that mixes programs (the console): "" in a deployment of
    one program, where it would only repeat itself. Read once per process."""
    _fresh()
    if not _names:
        from dispatch.models import Program

        _names.update(Program.objects.values_list("pk", "name"))
    if len(_names) < 2:
        return ""
    return _names.get(program_id, "")


def program_id_of(slug) -> int | None:
    """A program's id by slug (None: no such program)."""
    if not slug:
        return None
    for program_id, known in list(_slugs.items()):
        if known == slug:
            return program_id
    from dispatch.models import Program

    program_id = Program.objects.filter(slug=slug).values_list("pk", flat=True).first()
    if program_id is not None:
        _slugs[program_id] = slug
    return program_id


def _areas_load() -> list[tuple[int, object]]:
    global _areas
    _fresh()
    with _areas_lock:
        if _areas is None:
            from dispatch.models import Program

            loaded = []
            for program_id, area in (
                Program.objects.exclude(service_area__isnull=True)
                .order_by("id")
                .values_list("id", "service_area")
            ):
                try:
                    loaded.append((program_id, prepared.prep(service_area_shape(area))))
                except ValidationError:
                    continue  # a bad area stored by hand routes nothing
            _areas = loaded
        return _areas


def program_for_location(latitude, longitude):
    """The program whose service area holds the point, or None (outside every area, or no
    point). Where two areas share a border, the point on it goes to the older program."""
    if latitude is None or longitude is None:
        return None
    point = geometry.Point(float(longitude), float(latitude))
    for program_id, area in _areas_load():
        if area.covers(point):
            from dispatch.models import Program

            return Program.objects.filter(pk=program_id).first()
    return None


def first_program():
    """The deployment's first program (settings FIRST_PROGRAM_*), made when it is missing: a
    fresh deployment has one program, as the migration that brought programs leaves it."""
    from dispatch.models import Program

    program = Program.objects.order_by("id").first()
    if program is None:
        program, _ = Program.objects.get_or_create(
            slug=settings.FIRST_PROGRAM_SLUG,
            defaults={"name": settings.FIRST_PROGRAM_NAME, "time_zone": settings.TIME_ZONE},
        )
    return program


def sole_program():
    """In a one-program deployment, its program (made when missing); with several, None: the
    caller must say which."""
    from dispatch.models import Program

    programs = list(Program.objects.order_by("id")[:2])
    if len(programs) > 1:
        return None
    return programs[0] if programs else first_program()
