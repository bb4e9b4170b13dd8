"""How heavy the dispatcher console is with a busy shift on it (issue 13).

    python bench/console.py [--calls 50 200] [--units 30] [--runs 20] [--database-url URL]

For each number of open calls: a fresh database (a SQLite file in a temporary directory, or
the PostgreSQL database named by --database-url / BENCH_DATABASE_URL, emptied and migrated),
30 units on shift (two responders each, a position each), that many open calls made through
dispatch.services (a mix of eligible and not, some with screening to finish, some transferred
to the clinicians, twenty assigned), and two open backup requests. Signed in as a dispatcher
through Django's test Client, it then measures:

- render: GET /dispatch/ (the whole console), p50 and p95 of the wall time over --runs renders
  after one warm-up, its size and its number of SQL queries;
- one live update: a call changing status (an assigned unit goes en route). What reaches the
  console is the events that step records, as the socket sends them, and then the requests the
  page makes for them (static/js/console.js `touched`: the call's row, the unit's row, and the
  clinicians' region); their bytes and server time are summed. For comparison, the bytes of the
  whole queue region, which the console re-fetched on every event before.

Targets (issue 13): render p95 <= 300 ms at 200 calls; one update <= 20 KB.
Nothing here is a test: it prints a table and asserts only that every answer was a 200.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def pct(values: list[float], fraction: float) -> float:
    values = sorted(values)
    position = fraction * (len(values) - 1)
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def postgres_reset(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    if parsed.hostname not in ("127.0.0.1", "localhost"):
        raise SystemExit("bench/console.py empties its database: only a local PostgreSQL is allowed")
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


NARRATIVE = (
    "Caller reports a man sitting on the sidewalk outside the pharmacy for about two hours, "
    "talking to himself and not answering passers-by. No weapons seen. He has a backpack and "
    "a dog with him. Caller is the store manager and can meet the team at the door."
)


def fill(calls: int, units: int):
    """The shift: units on shift with positions, `calls` open calls, two backup requests."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from dispatch import services
    from dispatch.models import CallType, Shift, Unit

    User = get_user_model()
    services.roles_ensure()
    for code, eligible in (("WELFARE", True), ("MENTAL", True), ("TRESPASS", True), ("ASSAULT", False)):
        CallType.objects.get_or_create(code=code, defaults={"name": code.title(), "eligible": eligible})
    now = timezone.now()
    responder = Group.objects.get(name="responder")
    made = []
    for n in range(units):
        unit = Unit.objects.create(
            callsign=f"CR-{n + 1}",
            status=Unit.Status.AVAILABLE,
            status_changed_at=now,
            available_since=now - timedelta(minutes=n),
            latitude=39.70 + (n % 6) * 0.012,
            longitude=-105.02 + (n // 6) * 0.015,
            location_at=now,
        )
        for member in range(2):
            user = User.objects.create(username=f"r{n}-{member}", first_name="Team", last_name=f"{n}{member}")
            user.groups.add(responder)
            Shift.objects.create(unit=unit, user=user, started_at=now)
        made.append(unit)
    dispatcher = User.objects.create(username="bench-dispatcher", first_name="Dana", last_name="Reyes")
    dispatcher.groups.add(Group.objects.get(name="dispatcher"))
    codes = ["WELFARE", "MENTAL", "TRESPASS", "ASSAULT", "NOSUCH"]
    incidents = []
    for i in range(calls):
        unknown = i % 7 == 3
        incidents.append(
            services.incident_create(
                fields=services.IncidentFields(
                    source="911" if i % 3 else "988",
                    call_type_code=codes[i % len(codes)],
                    received_at=now - timedelta(seconds=30 * (calls - i)),
                    address=f"{1000 + 10 * i} Larimer St",
                    latitude=39.70 + (i % 40) * 0.003,
                    longitude=-105.03 + (i // 40) * 0.01,
                    # One call in twenty urgent, as the alert bar would see on a busy shift.
                    priority=1 if i % 20 == 0 else 2 + i % 4,
                    caller_name="Sam",
                    caller_phone="303-555-0100",
                    narrative=NARRATIVE,
                    screen_weapons=False,
                    screen_violence=None if unknown else False,
                    screen_medical_emergency=False,
                    screen_police_only=False,
                ),
                actor=dispatcher,
            )
        )
    assigned = []
    for unit, incident in zip(made[:20], [i for i in incidents if i.eligible], strict=False):
        assigned.append(
            services.assignment_create(incident_id=incident.pk, callsign=unit.callsign, actor=None)
        )
    sent = {a.incident_id for a in assigned}
    waiting = [i for i in incidents if i.eligible and i.pk not in sent]
    for incident in waiting[:5]:
        services.incident_transfer_to_clinician(incident_id=incident.pk, actor=dispatcher)
    for unit in made[:2]:
        services.alert_raise(
            kind="backup", message=f"{unit.callsign} requests URGENT Police backup.", unit=unit, urgent=True
        )
    return dispatcher, assigned


def measure(calls: int, units: int, runs: int) -> dict:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from dispatch import services
    from dispatch.events import event_as_message
    from dispatch.models import Event

    dispatcher, assigned = fill(calls, units)
    client = Client()
    client.force_login(dispatcher)
    assert client.get("/dispatch/").status_code == 200  # warm-up: templates compiled, caches filled
    times, size, queries = [], 0, 0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get("/dispatch/")
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
        size, queries = len(response.content), len(captured)

    # One live update: an assigned unit goes en route.
    assignment = assigned[0]
    before = Event.objects.order_by("-id").values_list("id", flat=True).first()
    services.assignment_set_status(assignment_id=assignment.pk, status="en_route", actor=None)
    events = list(Event.objects.filter(id__gt=before).order_by("id"))
    event_bytes = sum(len(json.dumps(event_as_message(e)).encode()) for e in events)
    fetches = [
        f"/dispatch/console/incidents/{assignment.incident_id}/row/",
        f"/dispatch/console/units/{assignment.unit.callsign}/row/",
        "/dispatch/console/clinician/",
    ]
    update_ms, fetch_bytes = [], []
    for _ in range(runs):
        total, sizes = 0.0, []
        for path in fetches:
            started = time.perf_counter()
            answer = client.get(path)
            total += (time.perf_counter() - started) * 1000
            assert answer.status_code == 200, path
            sizes.append(len(answer.content))
        update_ms.append(total)
        fetch_bytes = sizes
    open_row = client.get(fetches[0] + "?details=1")
    queue_region = client.get("/dispatch/console/queue/")
    return {
        "calls": calls,
        "render_p50": pct(times, 0.5),
        "render_p95": pct(times, 0.95),
        "page_kb": size / 1024,
        "queries": queries,
        "events": [e.type for e in events],
        "event_kb": event_bytes / 1024,
        "fetch_kb": sum(fetch_bytes) / 1024,
        "update_kb": (event_bytes + sum(fetch_bytes)) / 1024,
        "update_ms_p50": pct(update_ms, 0.5),
        "update_ms_p95": pct(update_ms, 0.95),
        "open_row_kb": len(open_row.content) / 1024,
        "queue_region_kb": len(queue_region.content) / 1024,
    }


def run_one(calls: int, units: int, runs: int, database_url: str | None) -> dict:
    """One measurement in a child process: a fresh database and a fresh Django each time."""
    import subprocess

    env = dict(os.environ)
    workdir = tempfile.mkdtemp(prefix="cr-bench-console-")
    if database_url:
        postgres_reset(database_url)
        env["DATABASE_URL"] = database_url
    else:
        env["DATABASE_URL"] = f"sqlite:///{workdir}/console.sqlite3"
    env.setdefault("SECRET_KEY", "bench-only-secret-key")
    env.setdefault("ALLOWED_HOSTS", "testserver")
    env.setdefault("LOG_LEVEL", "WARNING")
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    env["DEBUG"] = "0"
    env["MAP_TILE_URL"] = ""
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(calls), str(units), str(runs)],
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise SystemExit(f"the measurement failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def child(calls: int, units: int, runs: int) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    print(json.dumps(measure(calls, units, runs)))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*(int(a) for a in sys.argv[2:5]))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--units", type=int, default=30)
    parser.add_argument("--runs", type=int, default=20, help="timed renders and updates (after a warm-up)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL"),
        help="a local PostgreSQL database to empty and use (default: a SQLite file in a temporary directory)",
    )
    args = parser.parse_args()
    where = "PostgreSQL" if args.database_url else "SQLite"
    print(f"console with {args.units} units on shift, {where}, {args.runs} runs each")
    print(
        f"{'calls':>5} {'render p50':>10} {'p95 ms':>7} {'page KB':>8} {'queries':>7} | "
        f"{'update KB':>9} {'(events':>7} {'+ rows)':>7} {'p50 ms':>7} {'p95 ms':>7} | "
        f"{'open row KB':>11} {'whole queue KB':>14}"
    )
    for calls in args.calls:
        r = run_one(calls, args.units, args.runs, args.database_url)
        print(
            f"{r['calls']:>5} {r['render_p50']:>10.0f} {r['render_p95']:>7.0f} {r['page_kb']:>8.0f} "
            f"{r['queries']:>7} | {r['update_kb']:>9.1f} {r['event_kb']:>7.1f} {r['fetch_kb']:>7.1f} "
            f"{r['update_ms_p50']:>7.1f} {r['update_ms_p95']:>7.1f} | {r['open_row_kb']:>11.1f} "
            f"{r['queue_region_kb']:>14.0f}",
            flush=True,
        )
    print("targets: render p95 <= 300 ms at 200 calls; one update <= 20 KB")


if __name__ == "__main__":
    main()
