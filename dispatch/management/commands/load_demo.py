"""Demo data for `make run`: safe to load any number of times.

The screening questions come with the migrations, not from here."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from dispatch.models import ApiClient, CallType, Shift, Unit
from dispatch.roles import CLINICIAN_GROUP, Role
from dispatch.services import incident_upsert_from_api, roles_ensure, unit_set_status

User = get_user_model()

DEMO_PASSWORD = "demo-pass-2026"
DEMO_CAD_KEY = "demo0cad0key0000000000000000000000000000"

CALL_TYPES = [
    ("WELFARE", "Welfare check", True),
    ("TRESPASS", "Trespass", True),
    ("INTOX", "Intoxicated person", True),
    ("MENTAL", "Person in mental-health distress", True),
    ("SUICIDE-NO-WEAPON", "Suicidal statements, no weapon", True),
    ("NOISE", "Noise complaint", True),
    ("NEIGHBOR", "Neighbour dispute", True),
    ("INDECENT", "Indecent exposure", True),
    ("PANHANDLING", "Panhandling", True),
    ("UNSHELTERED", "Unsheltered person needing help", True),
    ("ASSAULT", "Assault in progress", False),
    ("DOMESTIC", "Domestic violence", False),
    ("BURGLARY", "Burglary", False),
    ("SHOTS", "Shots fired", False),
]

# Each demo code's APCO common incident type (ANS 2.103): what other systems call it.
APCO_CODES = {
    "WELFARE": "WELFARE",
    "TRESPASS": "TRESPASS",
    "INTOX": "INTOX",
    "MENTAL": "EDP",
    "SUICIDE-NO-WEAPON": "SUICTHRT",
    "NOISE": "NOISE",
    "NEIGHBOR": "DISORD",
    "INDECENT": "INDECENT",
    "PANHANDLING": "PHANDLE",
    "UNSHELTERED": "CITASST",
    "ASSAULT": "ASSAULT",
    "DOMESTIC": "DVA",
    "BURGLARY": "BURGLARY",
    "SHOTS": "SHOOT",
}

PEOPLE = [
    ("dispatcher", "Dana", "Reyes", [Role.DISPATCHER]),
    ("clinician", "Chris", "Okafor", [Role.DISPATCHER, CLINICIAN_GROUP]),
    ("officer", "Pat", "Morales", [Role.POLICE_OFFICER]),
    ("casemanager", "Robin", "Nguyen", [Role.CASE_MANAGER]),
    ("supervisor", "Sam", "Whitfield", [Role.SUPERVISOR]),
]
RESPONDER_NAMES = [
    ("Alex", "Kim"),
    ("Jordan", "Blake"),
    ("Taylor", "Singh"),
    ("Casey", "Lopez"),
    ("Morgan", "Hale"),
    ("Riley", "Chen"),
    ("Jamie", "Ortiz"),
    ("Avery", "Brooks"),
    ("Quinn", "Patel"),
    ("Drew", "Foster"),
    ("Skyler", "Diaz"),
    ("Reese", "Walker"),
]
# Around downtown Denver.
UNIT_POSITIONS = [
    (39.7392, -104.9903),
    (39.7508, -104.9997),
    (39.7294, -104.9800),
    (39.7618, -104.9812),
    (39.7201, -105.0102),
    (39.7455, -104.9567),
]

INCIDENTS = [
    # external id, source, call type, priority, address, lat, lon, screening, narrative
    (
        "DEMO-1001",
        "911",
        "WELFARE",
        3,
        "1550 Court Pl",
        39.7431,
        -104.9878,
        (False, False, False, False),
        "Caller reports a man sitting on the sidewalk for hours, not responding to passers-by.",
    ),
    (
        "DEMO-1002",
        "911",
        "TRESPASS",
        4,
        "1701 Wynkoop St",
        39.7527,
        -104.9995,
        (False, False, False, False),
        "Person sleeping in the doorway of a closed shop; owner wants them moved along.",
    ),
    (
        "DEMO-1003",
        "988",
        "MENTAL",
        2,
        "2100 E Colfax Ave",
        39.7400,
        -104.9620,
        (False, False, False, False),
        "Caller's sister is hearing voices and frightened; no weapons in the home.",
    ),
    (
        "DEMO-1004",
        "911",
        "INTOX",
        3,
        "16th St Mall & Arapahoe",
        39.7475,
        -104.9930,
        (False, False, None, False),
        "Intoxicated woman stumbling near the bus stop; caller unsure whether she is hurt.",
    ),
    (
        "DEMO-1005",
        "911",
        "NEIGHBOR",
        4,
        "3300 W 38th Ave",
        39.7693,
        -105.0330,
        (False, True, False, False),
        "Neighbours arguing over a fence; one threatened to hit the other.",
    ),
    (
        "DEMO-1006",
        "non_emergency",
        "NOISE",
        5,
        "1200 Pearl St",
        39.7360,
        -104.9800,
        (False, False, False, False),
        "Music and shouting from an apartment for two hours.",
    ),
    (
        "DEMO-1007",
        "911",
        "SUICIDE-NO-WEAPON",
        1,
        "800 Lincoln St",
        39.7290,
        -104.9860,
        (False, False, False, False),
        "Young man on the phone says he wants to die; no weapon mentioned, he is at home alone.",
    ),
    (
        "DEMO-1008",
        "911",
        "ASSAULT",
        1,
        "1900 Larimer St",
        39.7530,
        -104.9950,
        (True, True, False, True),
        "Fight outside a bar; caller saw a knife.",
    ),
    (
        "DEMO-1009",
        "direct_line",
        "UNSHELTERED",
        4,
        "Civic Center Park",
        39.7372,
        -104.9875,
        (False, False, False, False),
        "Outreach request: an older man in the park needs a blanket and a shelter bed.",
    ),
    (
        "DEMO-1010",
        "external_hotline",
        "PANHANDLING",
        5,
        "1600 California St",
        39.7455,
        -104.9905,
        (None, None, None, None),
        "Transferred from the hotline before screening was finished.",
    ),
    (
        "DEMO-1011",
        "911",
        "ROAD-HAZARD",
        4,
        "I-25 & 6th Ave",
        39.7259,
        -105.0010,
        (False, False, False, False),
        "Debris on the road; call type not in the program's catalogue.",
    ),
    (
        "DEMO-1012",
        "911",
        "WELFARE",
        2,
        "400 W 14th Ave",
        39.7383,
        -104.9930,
        (False, False, True, False),
        "Elderly woman fell and cannot get up; she is breathing and talking.",
    ),
]


class Command(BaseCommand):
    help = "Load the demo program: call types, screening, units, people, an API client and incidents."

    def handle(self, *args, **options):
        with transaction.atomic():
            roles_ensure()
            self._catalogue()
            responders = self._people()
            self._units(responders)
            client = self._api_client()
            self._incidents(client)
        self._print_sign_ins()

    def _catalogue(self):
        for code, name, eligible in CALL_TYPES:
            call_type, _ = CallType.objects.get_or_create(
                code=code,
                defaults={"name": name, "eligible": eligible, "apco_code": APCO_CODES.get(code, "")},
            )
            if not call_type.apco_code and APCO_CODES.get(code):
                # A catalogue loaded before the codes existed: fill them in, change nothing else.
                call_type.apco_code = APCO_CODES[code]
                call_type.save(update_fields=["apco_code", "updated_at"])

    def _user(self, username, first, last, groups):
        user, created = User.objects.get_or_create(
            username=username, defaults={"first_name": first, "last_name": last}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        user.groups.add(*[Group.objects.get(name=g) for g in groups])
        return user

    def _people(self):
        for username, first, last, groups in PEOPLE:
            self._user(username, first, last, groups)
        return [
            self._user(f"responder{i + 1}", first, last, [Role.RESPONDER])
            for i, (first, last) in enumerate(RESPONDER_NAMES)
        ]

    def _units(self, responders):
        now = timezone.now()
        for i, (lat, lon) in enumerate(UNIT_POSITIONS):
            unit, _ = Unit.objects.get_or_create(callsign=f"CR-{i + 1}")
            team = responders[2 * i : 2 * i + 2]
            unit.roster.add(*team)
            for member in team:
                if not Shift.objects.filter(user=member, ended_at__isnull=True).exists():
                    Shift.objects.create(unit=unit, user=member, started_at=now)
            if unit.status == Unit.Status.OFF_DUTY:
                unit.latitude, unit.longitude, unit.location_at = lat, lon, now
                unit.save(update_fields=["latitude", "longitude", "location_at"])
                unit_set_status(unit, Unit.Status.AVAILABLE, now=now)

    def _api_client(self):
        client = ApiClient.objects.filter(name="demo-cad").first()
        if client is None:
            user, _ = User.objects.get_or_create(username="api:demo-cad")
            user.set_unusable_password()
            user.save()
            client = ApiClient.objects.create(
                name="demo-cad",
                role=Role.CAD,
                user=user,
                key_hash=ApiClient.hash_key(DEMO_CAD_KEY),
                key_prefix=DEMO_CAD_KEY[:8],
            )
        return client

    def _incidents(self, client):
        now = timezone.now()
        for n, (ext, source, code, priority, address, lat, lon, answers, narrative) in enumerate(INCIDENTS):
            if client.incident_set.filter(external_id=ext).exists():
                continue
            weapons, violence, medical, police_only = answers
            incident_upsert_from_api(
                client=client,
                data={
                    "external_id": ext,
                    "source": source,
                    "call_type": code,
                    "priority": priority,
                    "received_at": now - timedelta(minutes=5 * (len(INCIDENTS) - n)),
                    "location": {"address": address, "latitude": lat, "longitude": lon},
                    "narrative": narrative,
                    "caller": {"name": "", "phone": f"303-555-01{n:02d}"},
                    "screening": {
                        "weapons": weapons,
                        "violence": violence,
                        "medical_emergency": medical,
                        "police_only": police_only,
                    },
                },
            )

    def _print_sign_ins(self):
        w = self.stdout.write
        w("")
        w(f"Demo sign-ins (password for everyone: {DEMO_PASSWORD})")
        w("  dispatcher    dispatcher (911 call-centre console)")
        w("  clinician     embedded clinician-dispatcher")
        w("  responder1    responder on CR-1 (responder2 is the partner; responder3..12 staff CR-2..CR-6)")
        w("  officer       police officer")
        w("  casemanager   case manager")
        w("  supervisor    supervisor")
        w(f"Demo CAD API key (Authorization: Token ...): {DEMO_CAD_KEY}")
