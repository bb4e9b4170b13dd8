"""Fill a freshly migrated database for the push-latency benchmark and print what the clients need.

Run by bench/push_latency.py as a subprocess with the same environment (DATABASE_URL, SECRET_KEY...)
as the Daphne processes it benchmarks, so each mode gets its own database without the benchmark
itself importing Django. Prints one JSON object on the last line of stdout:

    {"api_key": "...", "session_cookie": "sessionid", "latest_event_id": 12,
     "units": [{"id": 1, "callsign": "BENCH-1"}, ...],
     "tablets": [{"session": "...", "unit": 0}, ...]}

Tablet i is on unit i // 2: two responders per unit, each on an open Shift, like real teams.

With a second argument P (bench/statewide.py), the units are shared out among P programs, each
with its own CAD client, and the JSON has `"programs": [{"name", "api_key", "units": [index...]}]`.
"""

import json
import os
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import transaction  # noqa: E402
from django.db.models import Max  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from dispatch.models import CallType, Event, Membership, Program, Shift, Unit  # noqa: E402
from dispatch.programs import first_program  # noqa: E402
from dispatch.roles import Role  # noqa: E402
from dispatch.services import api_client_create, roles_ensure  # noqa: E402

CALL_TYPE = "BENCHWELFARE"


def main(tablet_count: int, program_count: int = 0) -> dict:
    User = get_user_model()
    now = timezone.now()
    unit_count = (tablet_count + 1) // 2
    with transaction.atomic():
        roles_ensure()
        # Without programs asked for, everything is the deployment's first program's.
        programs = (
            [first_program()]
            if not program_count
            else [
                Program.objects.create(
                    slug=f"bench-{p + 1}", name=f"Program {p + 1}", time_zone=settings.TIME_ZONE
                )
                for p in range(program_count)
            ]
        )
        CallType.objects.get_or_create(
            code=CALL_TYPE, defaults={"name": "Bench welfare check", "eligible": True}
        )
        units = Unit.objects.bulk_create(
            Unit(
                program=programs[n % len(programs)],
                callsign=f"BENCH-{n + 1}",
                status=Unit.Status.AVAILABLE,
                status_changed_at=now,
                available_since=now,
            )
            for n in range(unit_count)
        )
        # bulk_create returns ids on PostgreSQL and on SQLite >= 3.35; read them back to be sure.
        units = list(Unit.objects.filter(callsign__startswith="BENCH-").order_by("id"))
        units.sort(key=lambda u: int(u.callsign.split("-")[1]))
        responder = Group.objects.get(name=Role.RESPONDER)
        users = []
        for n in range(tablet_count):
            user = User(username=f"bench-responder-{n + 1}", first_name="Bench", last_name=str(n + 1))
            user.set_unusable_password()
            users.append(user)
        User.objects.bulk_create(users)
        users = list(User.objects.filter(username__startswith="bench-responder-"))
        users.sort(key=lambda u: int(u.username.rsplit("-", 1)[1]))
        responder.user_set.add(*users)
        Membership.objects.bulk_create(
            Membership(user=user, program_id=units[n // 2].program_id, role=Role.RESPONDER)
            for n, user in enumerate(users)
        )
        Shift.objects.bulk_create(
            Shift(unit=units[n // 2], user=user, started_at=now, program_id=units[n // 2].program_id)
            for n, user in enumerate(users)
        )
    # One program: its CAD; several: a statewide client beside each program's own.
    _client, key = api_client_create(
        "bench-cad", Role.CAD, program=programs[0] if not program_count else None
    )
    tablets = []
    for n, user in enumerate(users):
        client = Client()
        client.force_login(user)
        tablets.append({"session": client.cookies[settings.SESSION_COOKIE_NAME].value, "unit": n // 2})
    shared_out = []
    for p in range(program_count):
        # Unit n belongs to program n mod P, so every program has its share of the tablets.
        _client, program_key = api_client_create(f"bench-cad-program-{p + 1}", Role.CAD, program=programs[p])
        shared_out.append(
            {
                "name": programs[p].name,
                "api_key": program_key,
                "units": [n for n in range(len(units)) if n % program_count == p],
            }
        )
    return {
        "programs": shared_out,
        "api_key": key,
        "call_type": CALL_TYPE,
        "session_cookie": settings.SESSION_COOKIE_NAME,
        "latest_event_id": Event.objects.aggregate(m=Max("id"))["m"] or 0,
        "units": [{"id": u.id, "callsign": u.callsign} for u in units],
        "tablets": tablets,
    }


if __name__ == "__main__":
    print(json.dumps(main(*(int(arg) for arg in sys.argv[1:3]))))
