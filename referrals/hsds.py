"""Load an Open Referral HSDS package into the service directory.

Accepts a folder of CSV files (organizations.csv, services.csv, locations.csv, addresses.csv
or physical_addresses.csv, service_at_locations.csv, service_capacity.csv), a Frictionless
datapackage.json naming those files, a JSON object holding the same tables as lists, or a
JSON list of HSDS 3 service objects with their organization, locations and capacities nested.
Rows are matched on their HSDS id, so loading a package again updates it. A row that cannot
be loaded is skipped and reported with the reason; the rest load in one transaction.
"""

import csv
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from referrals.models import FollowUp, Location, Organization, Service, ServiceCapacity

TABLES = ("organizations", "locations", "addresses", "services", "service_at_locations", "service_capacity")
# The file names HSDS versions and exporters use for each table.
FILE_NAMES = {
    "organizations": ("organizations.csv", "organization.csv"),
    "locations": ("locations.csv", "location.csv"),
    "addresses": ("addresses.csv", "physical_addresses.csv", "address.csv", "physical_address.csv"),
    "services": ("services.csv", "service.csv"),
    "service_at_locations": ("service_at_locations.csv", "service_at_location.csv"),
    "service_capacity": ("service_capacity.csv", "service_capacities.csv"),
}
SERVICE_TYPE_WORDS = [
    ("substance_use", ("substance", "detox", "sobering", "recovery", "addiction", "opioid")),
    ("mental_health", ("mental", "counsel", "crisis", "psychiat", "behavioral")),
    ("housing", ("housing", "shelter", "homeless")),
    ("food", ("food", "pantry", "meal")),
    ("legal", ("legal", "law ")),
    ("benefits", ("benefit", "snap", "medicaid", "insurance enrol")),
    ("peer_support", ("peer",)),
    ("medical", ("medical", "clinic", "health care", "primary care")),
]


class PackageError(Exception):
    """The package as a whole cannot be read (no such file, not JSON, no tables)."""


@dataclass
class ImportReport:
    created: dict = field(default_factory=dict)
    updated: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)  # (table, row label, reason)

    def skip(self, table, row_label, reason):
        self.skipped.append((table, row_label, reason))

    def count(self, table, created):
        target = self.created if created else self.updated
        target[table] = target.get(table, 0) + 1

    def lines(self) -> list[str]:
        out = []
        for table in TABLES:
            if table in self.created or table in self.updated:
                out.append(
                    f"{table}: {self.created.get(table, 0)} created, {self.updated.get(table, 0)} updated"
                )
        out.append(f"skipped {len(self.skipped)} row(s)")
        out.extend(f"  skipped {table} {label}: {reason}" for table, label, reason in self.skipped)
        return out


# --- Reading the package ------------------------------------------------------------------------------
def _read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        # Extra cells beyond the header land under the key None; they are dropped.
        return [
            {k.strip(): v.strip() for k, v in row.items() if isinstance(k, str) and isinstance(v, str)}
            for row in csv.DictReader(handle)
        ]


def _tables_from_folder(folder: Path) -> dict:
    tables = {}
    for table, names in FILE_NAMES.items():
        for name in names:
            if (folder / name).is_file():
                tables[table] = _read_csv(folder / name)
                break
    return tables


def _tables_from_datapackage(package: dict, folder: Path) -> dict:
    tables = {}
    by_file = {name: table for table, names in FILE_NAMES.items() for name in names}
    for resource in package.get("resources", []):
        path = resource.get("path")
        if not isinstance(path, str):
            continue
        name = resource.get("name")
        table = by_file.get(Path(path).name) or (name if name in TABLES else None)
        target = (folder / path).resolve()
        if table and target.is_file() and folder.resolve() in target.parents:
            tables[table] = _read_csv(target)
    return tables


def _tables_from_nested(services: list) -> dict:
    """HSDS 3's compiled service objects, flattened into the tables."""
    tables = {t: [] for t in TABLES}
    for item in services:
        if not isinstance(item, dict):
            tables["services"].append({})
            continue
        org = item.get("organization") if isinstance(item.get("organization"), dict) else None
        row = {k: v for k, v in item.items() if not isinstance(v, dict | list)}
        if org is not None:
            tables["organizations"].append({k: v for k, v in org.items() if not isinstance(v, dict | list)})
            row.setdefault("organization_id", org.get("id"))
        tables["services"].append(row)
        for sal in item.get("service_at_locations") or []:
            location = sal.get("location") if isinstance(sal, dict) else None
            if not isinstance(location, dict):
                continue
            loc = {k: v for k, v in location.items() if not isinstance(v, dict | list)}
            loc.setdefault("organization_id", row.get("organization_id"))
            tables["locations"].append(loc)
            for address in location.get("addresses") or location.get("physical_addresses") or []:
                if isinstance(address, dict):
                    tables["addresses"].append({**address, "location_id": location.get("id")})
            tables["service_at_locations"].append(
                {"id": sal.get("id") or "", "service_id": item.get("id"), "location_id": location.get("id")}
            )
        for capacity in item.get("capacities") or item.get("service_capacities") or []:
            if isinstance(capacity, dict):
                unit = capacity.get("unit")
                tables["service_capacity"].append(
                    {
                        **{k: v for k, v in capacity.items() if not isinstance(v, dict | list)},
                        "service_id": item.get("id"),
                        "unit": unit.get("name", "") if isinstance(unit, dict) else (unit or ""),
                    }
                )
    return tables


def read_package(path) -> dict:
    """{table: [row dict, ...]} from any of the accepted shapes; PackageError otherwise."""
    path = Path(path)
    if path.is_dir():
        if (path / "datapackage.json").is_file():
            return read_package(path / "datapackage.json")
        tables = _tables_from_folder(path)
    elif path.is_file() and path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise PackageError(f"{path} is not valid JSON: {exc}") from exc
        if isinstance(data, dict) and "resources" in data:
            tables = _tables_from_datapackage(data, path.parent)
        elif isinstance(data, dict) and isinstance(data.get("contents"), list):
            tables = _tables_from_nested(data["contents"])  # an HSDS 3 API page
        elif isinstance(data, dict):
            tables = {t: data[t] for t in TABLES if isinstance(data.get(t), list)}
        elif isinstance(data, list):
            tables = _tables_from_nested(data)
        else:
            raise PackageError(f"{path}: expected a JSON object or list")
    elif path.exists():
        raise PackageError(f"{path}: give a folder of CSV files or a .json file")
    else:
        raise PackageError(f"{path} does not exist")
    if not any(tables.get(t) for t in TABLES):
        raise PackageError(f"{path}: no HSDS tables found (organizations, services, locations, ...)")
    return tables


# --- Loading --------------------------------------------------------------------------------------------
def _text(row, *names, limit=None) -> str:
    for name in names:
        value = row.get(name)
        if value not in (None, ""):
            value = str(value).strip()
            return value[:limit] if limit else value
    return ""


def _valid_or_blank(value: str, validator) -> str:
    try:
        validator(value)
        return value
    except ValidationError:
        return ""


def _float(value, low, high):
    """(number or None, error or None)."""
    if value in (None, ""):
        return None, None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None, f"{value!r} is not a number"
    if not low <= number <= high:
        return None, f"{number} is outside {low}..{high}"
    return number, None


def _service_type(row) -> str:
    given = _text(row, "service_type")
    if given in FollowUp.ServiceType.values:
        return given
    words = f" {_text(row, 'name')} {_text(row, 'description')} ".lower()
    for service_type, needles in SERVICE_TYPE_WORDS:
        if any(n in words for n in needles):
            return service_type
    return ""


def _label(row, index) -> str:
    return f"row {index + 1}" + (f" (id {row.get('id')})" if isinstance(row, dict) and row.get("id") else "")


def _upsert(model, hsds_id, values):
    obj, created = model.objects.update_or_create(hsds_id=hsds_id, defaults=values)
    return obj, created


def hsds_import(path) -> ImportReport:
    """Load the package at `path`; returns what was created, updated and skipped (and why)."""
    tables = read_package(path)
    report = ImportReport()
    url_ok, email_ok = URLValidator(), EmailValidator()
    with transaction.atomic():
        orgs = {}
        for i, row in enumerate(tables.get("organizations") or []):
            if not isinstance(row, dict) or not _text(row, "id"):
                report.skip("organizations", _label(row, i), "no id")
                continue
            if not _text(row, "name"):
                report.skip("organizations", _label(row, i), "no name")
                continue
            org, created = _upsert(
                Organization,
                _text(row, "id", limit=100),
                {
                    "name": _text(row, "name", limit=200),
                    "description": _text(row, "description"),
                    "email": _valid_or_blank(_text(row, "email", limit=254), email_ok),
                    "url": _valid_or_blank(_text(row, "url", "website", limit=200), url_ok),
                    "phone": _text(row, "phone", limit=40),
                },
            )
            orgs[org.hsds_id] = org
            report.count("organizations", created)

        def organization(hsds_id):
            if not hsds_id:
                return None
            return orgs.get(hsds_id) or Organization.objects.filter(hsds_id=hsds_id).first()

        addresses = {}
        for i, row in enumerate(tables.get("addresses") or []):
            if not isinstance(row, dict) or not _text(row, "location_id"):
                report.skip("addresses", _label(row, i), "no location_id")
                continue
            addresses.setdefault(_text(row, "location_id"), row)

        locations = {}
        for i, row in enumerate(tables.get("locations") or []):
            if not isinstance(row, dict) or not _text(row, "id"):
                report.skip("locations", _label(row, i), "no id")
                continue
            org_id = _text(row, "organization_id")
            org = organization(org_id)
            if org_id and org is None:
                report.skip("locations", _label(row, i), f"unknown organization {org_id!r}")
                continue
            latitude, lat_error = _float(row.get("latitude"), -90, 90)
            longitude, lon_error = _float(row.get("longitude"), -180, 180)
            if lat_error or lon_error:
                report.skip("locations", _label(row, i), f"bad coordinates: {lat_error or lon_error}")
                continue
            address = {**addresses.get(_text(row, "id"), {}), **{k: v for k, v in row.items() if v}}
            loc, created = _upsert(
                Location,
                _text(row, "id", limit=100),
                {
                    "organization": org,
                    "name": _text(row, "name", limit=200),
                    "address_1": _text(address, "address_1", limit=200),
                    "city": _text(address, "city", limit=100),
                    "state_province": _text(address, "state_province", limit=100),
                    "postal_code": _text(address, "postal_code", limit=20),
                    "latitude": latitude,
                    "longitude": longitude,
                },
            )
            locations[loc.hsds_id] = loc
            report.count("locations", created)

        services = {}
        for i, row in enumerate(tables.get("services") or []):
            if not isinstance(row, dict) or not _text(row, "id"):
                report.skip("services", _label(row, i), "no id")
                continue
            if not _text(row, "name"):
                report.skip("services", _label(row, i), "no name")
                continue
            org_id = _text(row, "organization_id")
            org = organization(org_id)
            if org is None:
                reason = f"unknown organization {org_id!r}" if org_id else "no organization_id"
                report.skip("services", _label(row, i), reason)
                continue
            status = _text(row, "status").lower() or Service.Status.ACTIVE
            if status not in Service.Status.values:
                report.skip("services", _label(row, i), f"unknown status {status!r}")
                continue
            service, created = _upsert(
                Service,
                _text(row, "id", limit=100),
                {
                    "organization": org,
                    "name": _text(row, "name", limit=200),
                    "description": _text(row, "description"),
                    "status": status,
                    "service_type": _service_type(row),
                    "email": _valid_or_blank(_text(row, "email", limit=254), email_ok),
                    "url": _valid_or_blank(_text(row, "url", limit=200), url_ok),
                    "phone": _text(row, "phone", limit=40),
                },
            )
            services[service.hsds_id] = service
            report.count("services", created)

        def service_for(hsds_id):
            return services.get(hsds_id) or Service.objects.filter(hsds_id=hsds_id).first()

        for i, row in enumerate(tables.get("service_at_locations") or []):
            if not isinstance(row, dict):
                report.skip("service_at_locations", _label(row, i), "not a row")
                continue
            service = service_for(_text(row, "service_id"))
            location = (
                locations.get(_text(row, "location_id"))
                or Location.objects.filter(hsds_id=_text(row, "location_id") or None).first()
            )
            if service is None or location is None:
                missing = "service" if service is None else "location"
                report.skip("service_at_locations", _label(row, i), f"unknown {missing}")
                continue
            created = not service.locations.filter(pk=location.pk).exists()
            service.locations.add(location)
            report.count("service_at_locations", created)

        for i, row in enumerate(tables.get("service_capacity") or []):
            if not isinstance(row, dict) or not _text(row, "id"):
                report.skip("service_capacity", _label(row, i), "no id")
                continue
            service = service_for(_text(row, "service_id"))
            if service is None:
                missing = _text(row, "service_id")
                report.skip("service_capacity", _label(row, i), f"unknown service {missing!r}")
                continue
            try:
                available = Decimal(str(row.get("available")))
                maximum = Decimal(str(row["maximum"])) if row.get("maximum") not in (None, "") else None
                if not available.is_finite() or (maximum is not None and not maximum.is_finite()):
                    raise InvalidOperation
            except (InvalidOperation, ValueError):
                report.skip("service_capacity", _label(row, i), "available/maximum is not a number")
                continue
            updated_text = _text(row, "updated")
            updated = parse_datetime(updated_text) if updated_text else timezone.now()
            if updated is None and parse_date(updated_text):
                updated = parse_datetime(f"{updated_text}T00:00:00+00:00")
            if updated is None:
                report.skip("service_capacity", _label(row, i), f"updated {updated_text!r} is not a date")
                continue
            if timezone.is_naive(updated):
                updated = timezone.make_aware(updated)
            _, created = _upsert(
                ServiceCapacity,
                _text(row, "id", limit=100),
                {
                    "service": service,
                    "available": available,
                    "maximum": maximum,
                    "unit": _text(row, "unit", "unit_id", limit=50),
                    "description": _text(row, "description", limit=300),
                    "updated": updated,
                },
            )
            report.count("service_capacity", created)
    return report
