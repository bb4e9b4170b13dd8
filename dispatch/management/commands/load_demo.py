"""Demo data for `make run`: a Denver program as it looks after a month, and beside it Aurora's,
the neighbouring city's program east of it (two programs, one deployment), with a statewide
988 dispatcher and a state supervisor. Safe to load any number of times: a second load finds
everything in place and adds nothing.

- the catalogue, the people (one per role, twelve responders), six units on shift, a CAD key;
- today's calls waiting in the dispatch queue;
- Denver's address points for the geocoder (dispatch/fixtures/demo_addresses.csv);
- a service directory of a dozen Denver organisations with their services and capacity,
  loaded as an Open Referral HSDS package (demo/denver_directory.json) by the importer;
- the 30 days before today, made by generate_history (its shapes: sources, call types,
  screening, timestamps, outcomes, backup, referrals, follow-ups in every state), then given
  to the demo's people: the case manager's caseload and attempts, the officer's referrals,
  the responders' outcomes with the team's notes, providers for connected follow-ups.

The screening questions come with the migrations, not from here."""

import random
from datetime import timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from dispatch.models import ApiClient, Assignment, CallType, Membership, Program, Shift, Unit
from dispatch.programs import first_program
from dispatch.roles import CLINICIAN_GROUP, Role
from dispatch.services import incident_upsert_from_api, roles_ensure, unit_set_status
from field.models import Outcome
from referrals.hsds import hsds_import
from referrals.models import ContactAttempt, FollowUp, FollowUpChange, Organization, PoliceReferral, Service

User = get_user_model()

DEMO_PASSWORD = "demo-pass-2026"
DEMO_CAD_KEY = "demo0cad0key0000000000000000000000000000"
_FIRST = object()  # a demo person's program: the first one unless told

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
# Two neighbouring service areas (GeoJSON, longitude first) that share the line at -104.865.
DENVER_AREA = {
    "type": "Polygon",
    "coordinates": [
        [[-105.11, 39.61], [-104.865, 39.61], [-104.865, 39.80], [-105.11, 39.80], [-105.11, 39.61]]
    ],
}
AURORA_AREA = {
    "type": "Polygon",
    "coordinates": [
        [[-104.865, 39.61], [-104.70, 39.61], [-104.70, 39.80], [-104.865, 39.80], [-104.865, 39.61]]
    ],
}
AURORA_PEOPLE = [
    ("auroradispatcher", "Ari", "Mendez", Role.DISPATCHER),
    ("aurorasupervisor", "Lee", "Barros", Role.SUPERVISOR),
    ("aurora1", "Sage", "Moreno", Role.RESPONDER),
    ("aurora2", "Rowan", "Tate", Role.RESPONDER),
    ("aurora3", "Emery", "Kwan", Role.RESPONDER),
    ("aurora4", "Jules", "Park", Role.RESPONDER),
]
AURORA_UNITS = [("AUR-1", 39.7294, -104.8319), ("AUR-2", 39.7100, -104.8120)]
AURORA_INCIDENTS = [
    # external id, call type, priority, address, lat, lon, narrative
    (
        "988-2001",
        "MENTAL",
        2,
        "14200 E Alameda Ave, Aurora",
        39.7110,
        -104.8190,
        "988 caller worried about her brother, who has not slept in days and is talking to himself.",
    ),
    (
        "988-2002",
        "WELFARE",
        3,
        "15001 E Colfax Ave, Aurora",
        39.7405,
        -104.8110,
        "Older man sitting at the bus stop since this morning, seems confused.",
    ),
    (
        "988-2003",
        "UNSHELTERED",
        4,
        "1600 Havana St, Aurora",
        39.7420,
        -104.8620,
        "Family living in their car behind the library asks for shelter information.",
    ),
]
# Statewide roles: a 988 centre's dispatcher and the state's supervisor see both programs.
STATEWIDE_PEOPLE = [
    ("dispatcher988", "Noor", "Haddad", Role.DISPATCHER),
    ("statesupervisor", "Val", "Ortega", Role.SUPERVISOR),
]
DEMO_988_KEY = "demo0988key00000000000000000000000000000"
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


DIRECTORY = Path(__file__).parent / "demo" / "denver_directory.json"
# Denver's address points for the local gazetteer: typed addresses in the demo find their place.
ADDRESS_POINTS = Path(__file__).resolve().parents[2] / "fixtures" / "demo_addresses.csv"
# About forty calls a day: a mid-sized program's month.
HISTORY_DAYS = 30
HISTORY_CALLS_PER_DAY = 40
HISTORY_SEED = 2026
HISTORY_USERNAME = "history-generator"  # generate_history's own user: its rows say it made them

# What teams write in an outcome's narrative, by disposition (the case manager reads them).
TEAM_NOTES = {
    "referred": [
        "Talked for 40 minutes; he agreed to see someone about housing this week. Gave water and a bus pass.",
        "Calm once we sat down with her. Wants help with benefits; phone number confirmed.",
        "Sleeping in his car since the eviction. Interested in shelter and a peer worker.",
        "Anxious, not sleeping for days. Agreed to a counselling appointment; asked for a call tomorrow.",
    ],
    "resolved_on_scene": [
        "De-escalated; neighbour and caller agreed to talk in the morning.",
        "Checked on him, he was fine and had family on the way.",
        "Helped her home two blocks away; no further needs.",
    ],
    "refused": [
        "Declined services, was polite. Left our card.",
        "Did not want help today; knows the program.",
    ],
    "no_contact": ["Gone on arrival; searched the block for ten minutes.", "Nobody at the address."],
}


class Command(BaseCommand):
    help = (
        "Load the demo program: call types, people, units, a CAD key, today's calls, a service "
        "directory and a month of history."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--history-days",
            type=int,
            default=HISTORY_DAYS,
            help="Days of history before today (0: none). Made once; later loads keep it.",
        )

    _password_hash = None

    def handle(self, *args, history_days=HISTORY_DAYS, **options):
        with transaction.atomic():
            roles_ensure()
            self._catalogue()
            denver, aurora = self._programs()
            responders = self._people()
            self._units(responders)
            client = self._api_client()
            self._incidents(client)
            self._aurora(aurora)
            self._statewide()
            hsds_import(DIRECTORY)
        self.stdout.write(
            f"Service directory: {Organization.objects.count()} organisations, "
            f"{Service.objects.count()} services."
        )
        if ADDRESS_POINTS.exists():
            call_command("import_addresses", str(ADDRESS_POINTS), stdout=self.stdout)
        if history_days > 0:
            self._history(history_days, responders)
        self._print_sign_ins()

    def _programs(self):
        """Denver STAR (the deployment's first program, renamed from the default) and Aurora ART."""
        denver = Program.objects.filter(slug="denver-star").first() or first_program()
        if denver.slug != "denver-star" or denver.service_area != DENVER_AREA:
            denver.slug, denver.name, denver.service_area = "denver-star", "Denver STAR", DENVER_AREA
            denver.save()
        aurora, _ = Program.objects.get_or_create(
            slug="aurora-art",
            defaults={"name": "Aurora ART", "time_zone": "America/Denver", "service_area": AURORA_AREA},
        )
        return denver, aurora

    def _aurora(self, aurora):
        """Aurora's own people, two units on shift and a few calls the 988 centre sent."""
        people = {
            username: self._user(username, first, last, [role], program=aurora)
            for username, first, last, role in AURORA_PEOPLE
        }
        now = timezone.now()
        team = [people[f"aurora{n}"] for n in range(1, 5)]
        for i, (callsign, lat, lon) in enumerate(AURORA_UNITS):
            unit, _ = Unit.objects.get_or_create(callsign=callsign, defaults={"program": aurora})
            for member in team[2 * i : 2 * i + 2]:
                unit.roster.add(member)
                if not Shift.objects.filter(user=member, ended_at__isnull=True).exists():
                    Shift.objects.create(unit=unit, user=member, started_at=now, program=aurora)
            if unit.status == Unit.Status.OFF_DUTY:
                unit.latitude, unit.longitude, unit.location_at = lat, lon, now
                unit.save(update_fields=["latitude", "longitude", "location_at"])
                unit_set_status(unit, Unit.Status.AVAILABLE, now=now)
        hotline = self._hotline_client()
        for n, (ext, code, priority, address, lat, lon, narrative) in enumerate(AURORA_INCIDENTS):
            if hotline.incident_set.filter(external_id=ext).exists():
                continue
            incident_upsert_from_api(  # routed by its place, as the 988 centre's calls are
                client=hotline,
                data={
                    "external_id": ext,
                    "source": "988",
                    "call_type": code,
                    "priority": priority,
                    "received_at": now - timedelta(minutes=7 * (len(AURORA_INCIDENTS) - n)),
                    "location": {"address": address, "latitude": lat, "longitude": lon},
                    "narrative": narrative,
                    "caller": {"name": "", "phone": f"720-555-02{n:02d}"},
                    "screening": {
                        "weapons": False,
                        "violence": False,
                        "medical_emergency": False,
                        "police_only": False,
                    },
                },
            )

    def _hotline_client(self):
        client = ApiClient.objects.filter(name="demo-988").first()
        if client is None:
            user, _ = User.objects.get_or_create(username="api:demo-988")
            user.set_unusable_password()
            user.save()
            client = ApiClient.objects.create(
                name="demo-988",
                role=Role.CAD,
                user=user,
                key_hash=ApiClient.hash_key(DEMO_988_KEY),
                key_prefix=DEMO_988_KEY[:8],
                program=None,  # statewide
            )
        return client

    def _statewide(self):
        for username, first, last, role in STATEWIDE_PEOPLE:
            self._user(username, first, last, [role], program=None)

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

    def _user(self, username, first, last, groups, program=_FIRST):
        user, created = User.objects.get_or_create(
            username=username, defaults={"first_name": first, "last_name": last}
        )
        if created:
            # One hash for every demo sign-in: the hasher is slow on purpose (about half a
            # second each), and seventeen of them were most of the load.
            if self._password_hash is None:
                self._password_hash = make_password(DEMO_PASSWORD)
            user.password = self._password_hash
            user.save(update_fields=["password"])
        program = first_program() if program is _FIRST else program
        for name in groups:
            if name == CLINICIAN_GROUP:
                user.groups.add(Group.objects.get(name=name))
            else:
                Membership.objects.get_or_create(user=user, program=program, defaults={"role": name})
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
            unit, _ = Unit.objects.get_or_create(
                callsign=f"CR-{i + 1}", defaults={"program": first_program()}
            )
            team = responders[2 * i : 2 * i + 2]
            unit.roster.add(*team)
            for member in team:
                if not Shift.objects.filter(user=member, ended_at__isnull=True).exists():
                    Shift.objects.create(unit=unit, user=member, started_at=now, program=unit.program)
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
                program=first_program(),
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

    # --- A month of history ------------------------------------------------------------------
    def _history(self, days: int, responders: list) -> None:
        if Assignment.objects.filter(dispatched_by__username=HISTORY_USERNAME).exists():
            self.stdout.write("History: already loaded.")
            return
        call_command(
            "generate_history",
            incidents=days * HISTORY_CALLS_PER_DAY,
            days=days,
            seed=HISTORY_SEED,
            units=len(UNIT_POSITIONS),
            stdout=self.stdout,
        )
        with transaction.atomic():
            self._history_people(responders)

    def _history_people(self, responders: list) -> None:
        """Give generate_history's rows to the demo's people, in a few bulk updates: its rows
        are all by one anonymous generator, and a demo reads better with names."""
        rng = random.Random(HISTORY_SEED)
        users = get_user_model().objects
        manager = users.get(username="casemanager")
        officer = users.get(username="officer")
        generated = Q(created_by__username=HISTORY_USERNAME)
        follow_ups = list(FollowUp.objects.filter(generated).order_by("created_at", "id"))
        providers: dict[str, list[int]] = {}
        for pk, service_type in Service.objects.values_list("pk", "service_type"):
            providers.setdefault(service_type, []).append(pk)
        for follow_up in follow_ups:
            follow_up.created_by = rng.choice(responders)
            # Half the open ones wait in the queue unclaimed; the rest are on Robin's caseload.
            unclaimed = follow_up.status == FollowUp.Status.OPEN and rng.random() < 0.5
            follow_up.case_manager = None if unclaimed else manager
            engaged = follow_up.status == FollowUp.Status.CONNECTED or follow_up.close_reason == "engaged"
            choices = providers.get(follow_up.service_type) or providers.get("other") or []
            if engaged and choices:
                follow_up.provider_id = rng.choice(choices)
        FollowUp.objects.bulk_update(follow_ups, ["created_by", "case_manager", "provider"], batch_size=500)
        # Each follow-up's history starts where the team opened it, at the time it did.
        FollowUpChange.objects.bulk_create(
            [
                FollowUpChange(
                    follow_up=f,
                    kind=FollowUpChange.Kind.CREATED,
                    actor=f.created_by,
                    changes={
                        "service_type": [None, f.service_type],
                        "status": [None, FollowUp.Status.OPEN],
                        "due_at": [None, f.due_at.isoformat()],
                    },
                )
                for f in follow_ups
            ],
            batch_size=500,
        )
        FollowUpChange.objects.filter(follow_up__in=follow_ups).update(
            at=Subquery(FollowUp.objects.filter(pk=OuterRef("follow_up_id")).values("created_at")[:1])
        )
        ContactAttempt.objects.filter(by__username=HISTORY_USERNAME).update(by=manager)
        PoliceReferral.objects.filter(filed_by__username=HISTORY_USERNAME).update(
            filed_by=officer, officer_name=officer.get_full_name(), officer_callback="303-555-0177"
        )
        outcomes = list(
            Outcome.objects.filter(recorded_by__username=HISTORY_USERNAME).only("pk", "disposition")
        )
        for outcome in outcomes:
            outcome.recorded_by = rng.choice(responders)
            notes = TEAM_NOTES.get(outcome.disposition)
            outcome.narrative = rng.choice(notes) if notes else ""
        Outcome.objects.bulk_update(outcomes, ["recorded_by", "narrative"], batch_size=500)

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
        w("  auroradispatcher, aurorasupervisor, aurora1..4   Aurora ART: dispatcher, supervisor, team")
        w("  dispatcher988  statewide 988 dispatcher (both programs)")
        w("  statesupervisor  state supervisor (both programs)")
        w(f"Demo CAD API key, Denver STAR (Authorization: Token ...): {DEMO_CAD_KEY}")
        w(f"Demo statewide 988 API key (routed by service area): {DEMO_988_KEY}")
