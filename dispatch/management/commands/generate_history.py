"""`generate_history --incidents N [--days D] [--seed S]`: a realistic synthetic history.

For the dashboard's benchmark and for demonstrations: calls from every source over the last
D days with a time-of-day pattern, the demo call-type catalogue (plus a few codes the
catalogue does not know), screening answers and the eligibility they lead to, assignments
with every timestamp, outcomes, police backup requests, follow-ups with contact attempts,
a few people, and police referrals.

Rows go in with bulk_create, in batches, one transaction per batch, so a million incidents
load in minutes on PostgreSQL and an interrupted run leaves whole batches only.

It writes nothing to the event log (dispatch.Event) and no IncidentChange rows. The event log
is for live delivery: consoles and tablets replay it on `resume`, it is kept for hours, not
years (EVENT_RETENTION_HOURS), and history pushed into it would reach every open console as if
it were happening now. History is not live traffic; the reports read the records themselves.
"""

import math
import random
import uuid
from contextlib import contextmanager
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from dispatch.management.commands.load_demo import CALL_TYPES
from dispatch.models import Assignment, CallType, Incident, Program, Unit
from dispatch.programs import first_program
from dispatch.reports import engine, sums
from dispatch.screening import eligibility
from field.models import BackupRequest, Outcome
from referrals.models import ContactAttempt, FollowUp, Person, PoliceReferral

User = get_user_model()

HISTORY_USERNAME = "history-generator"

# Weights, roughly those of a large program fed mostly by 911.
SOURCES = [
    ("911", 52),
    ("non_emergency", 12),
    ("988", 8),
    ("direct_line", 6),
    ("external_hotline", 6),
    ("police_referral", 5),
    ("self_initiated", 11),
]
CALL_TYPE_WEIGHTS = {
    "WELFARE": 26,
    "MENTAL": 14,
    "UNSHELTERED": 12,
    "INTOX": 10,
    "TRESPASS": 9,
    "NEIGHBOR": 5,
    "SUICIDE-NO-WEAPON": 4,
    "NOISE": 3,
    "PANHANDLING": 3,
    "INDECENT": 1,
    "ASSAULT": 4,
    "DOMESTIC": 4,
    "BURGLARY": 2,
    "SHOTS": 1,
    # Codes the CAD sends that the catalogue does not have.
    "SUSP-PERSON": 1,
    "CIVIL": 1,
}
# Chance of a "yes" to each screening question.
SCREENING = {"weapons": 0.025, "violence": 0.03, "medical_emergency": 0.02, "police_only": 0.015}
RISKY_SCREENING = {"weapons": 0.3, "violence": 0.55, "medical_emergency": 0.1, "police_only": 0.25}
# Calls by hour of day: quiet before dawn, busiest in the afternoon and early evening.
HOUR_WEIGHTS = [3, 2, 2, 1, 1, 1, 2, 4, 6, 7, 8, 9, 9, 9, 10, 10, 10, 9, 8, 7, 6, 5, 4, 3]
DISPOSITIONS = [
    ("resolved_on_scene", 38),
    ("referred", 18),
    ("refused", 9),
    ("no_contact", 12),
    ("police_took_over", 2),
    ("ems_took_over", 2),
    ("resolved_by_phone", 1),
]
TRANSPORTS = [
    ("transported_shelter", "Shelter"),
    ("transported_crisis_centre", "Crisis centre"),
    ("transported_detox", "Sobering centre"),
    ("transported_hospital", "Hospital"),
    ("transported_other", "Other"),
]
TRANSPORT_WEIGHTS = [30, 25, 25, 15, 5]
SERVICES = [choice.value for choice in Outcome.Service]
FOLLOW_UP_TYPES = [choice.value for choice in FollowUp.ServiceType]
STREETS = ["Colfax Ave", "Broadway", "Federal Blvd", "Main St", "Santa Fe Dr", "Park Ave", "Alameda Ave"]
FIRST = ["Alex", "Sam", "Jo", "Chris", "Pat", "Lee", "Dana", "Kim", "Robin", "Terry"]
LAST = ["Smith", "Garcia", "Nguyen", "Brown", "Lopez", "Walker", "Young", "Hill", "Reed", "Cole"]


def _lognormal_seconds(rng: random.Random, median: float, spread: float, low: float, high: float) -> float:
    return min(high, max(low, rng.lognormvariate(math.log(median), spread)))


@contextmanager
def _keep_given_timestamps(*models):
    """auto_now / auto_now_add would stamp every historical row with today's date; for the
    length of the run these fields take the value the generator gives them instead."""
    switched = []
    for model in models:
        for field in model._meta.concrete_fields:
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                switched.append((field, field.auto_now, field.auto_now_add))
                field.auto_now = field.auto_now_add = False
    try:
        yield
    finally:
        for field, auto_now, auto_now_add in switched:
            field.auto_now, field.auto_now_add = auto_now, auto_now_add


class Command(BaseCommand):
    help = "Fill the database with a synthetic history of calls, assignments, outcomes and follow-ups."

    def add_arguments(self, parser):
        parser.add_argument("--incidents", type=int, required=True, help="How many incidents to create.")
        parser.add_argument("--days", type=int, default=730, help="Spread them over this many past days.")
        parser.add_argument(
            "--seed", type=int, default=1, help="Random seed: the same seed, the same history."
        )
        parser.add_argument("--units", type=int, default=12, help="How many units the program runs.")
        parser.add_argument("--batch", type=int, default=5000, help="Incidents per transaction.")
        parser.add_argument(
            "--program",
            metavar="SLUG",
            default="",
            help="The program the history is of (default: the deployment's first program).",
        )

    def handle(self, *args, incidents, days, seed, units, batch, program="", **options):
        if incidents < 1 or days < 1 or units < 1 or batch < 1:
            raise CommandError("--incidents, --days, --units and --batch must be positive.")
        rng = random.Random(seed)
        self.rng = rng
        self.program = self._program(program)
        self.user = self._history_user()
        self.call_types = self._call_types()
        self.units = self._units(units)
        self.end = timezone.now().replace(microsecond=0)
        self.days = days
        self.source_choices, self.source_weights = zip(*SOURCES, strict=True)
        self.code_choices = list(CALL_TYPE_WEIGHTS)
        self.code_weights = list(CALL_TYPE_WEIGHTS.values())
        self.totals = dict.fromkeys(
            (
                "incidents",
                "assignments",
                "outcomes",
                "follow_ups",
                "attempts",
                "backups",
                "referrals",
                "people",
            ),
            0,
        )
        with _keep_given_timestamps(Incident, FollowUp, PoliceReferral, Person):
            done, batches = 0, math.ceil(incidents / batch)
            for number in range(batches):
                # Oldest first, each batch its own slice of the span, rows in time order: the way a
                # live system writes them, so a month's rows sit together on disk as they would.
                self.window = (days * (1 - (number + 1) / batches), days * (1 - number / batches))
                size = min(batch, incidents - done)
                with transaction.atomic():
                    self._batch(size)
                done += size
                if options["verbosity"] >= 2 or done == incidents or done % (batch * 20) == 0:
                    self.stdout.write(f"{done} / {incidents} incidents")
        if connection.vendor == "postgresql":
            # The planner's statistics still describe the empty tables: refresh them now rather
            # than wait for autovacuum, or the first reports get plans made for no rows.
            tables = [
                m._meta.db_table
                for m in (
                    Incident,
                    Assignment,
                    Outcome,
                    BackupRequest,
                    FollowUp,
                    ContactAttempt,
                    PoliceReferral,
                    Person,
                )
            ]
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE " + ", ".join(connection.ops.quote_name(t) for t in tables))
        # bulk_create sends no signals: the days written are told here, then read and kept so the
        # dashboard's first year does not wait for them.
        first_day = timezone.localdate(self.end - timedelta(days=days), timezone=engine.program_zone())
        sums.days_changed_between(first_day, engine.program_today(), program_ids=[self.program.pk])
        kept = sums.days_fill(first_day, engine.program_today(), program_ids=[self.program.pk])
        summary = ", ".join(f"{v} {k.replace('_', '-')}" for k, v in self.totals.items())
        self.stdout.write(self.style.SUCCESS(f"Created {summary}; kept the sums of {kept} days for reports."))

    # --- Setup ------------------------------------------------------------------------------------
    def _program(self, slug: str):
        if not slug:
            return first_program()
        program = Program.objects.filter(slug=slug).first()
        if program is None:
            raise CommandError(f"No program {slug!r}.")
        return program

    @property
    def unit_prefix(self) -> str:
        """New units' callsigns: CR-n in the first program, else the slug's first word."""
        if self.program == first_program():
            return "CR"
        return self.program.slug.split("-")[0].upper()[:8]

    def _history_user(self):
        user, created = User.objects.get_or_create(
            username=HISTORY_USERNAME, defaults={"first_name": "History", "last_name": "Generator"}
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        return user

    def _call_types(self) -> dict:
        for code, name, eligible in CALL_TYPES:
            CallType.objects.get_or_create(code=code, defaults={"name": name, "eligible": eligible})
        return {ct.code: ct for ct in CallType.objects.all()}

    def _units(self, count: int) -> list:
        existing = list(Unit.objects.filter(program=self.program).order_by("callsign")[:count])
        prefix = self.unit_prefix
        taken = set(Unit.objects.values_list("callsign", flat=True))
        missing = [f"{prefix}-{n}" for n in range(1, 10 * count + 100) if f"{prefix}-{n}" not in taken]
        for callsign in missing[: count - len(existing)]:
            existing.append(Unit.objects.create(callsign=callsign, program=self.program))
        return existing

    def _uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def _received_at(self):
        rng = self.rng
        low, high = self.window
        day = min(self.days - 1, max(0, int(rng.uniform(low, high))))
        hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
        start_of_day = (self.end - timedelta(days=day + 1)).replace(hour=0, minute=0, second=0)
        return start_of_day + timedelta(hours=hour, seconds=rng.randrange(3600))

    # --- One batch --------------------------------------------------------------------------------
    def _batch(self, size: int) -> None:
        rng = self.rng
        incidents, assignments, backups = [], [], []
        outcomes = []  # (Outcome, wants_follow_up)
        referrals = []
        for _ in range(size):
            incident, assignment = self._incident()
            incidents.append(incident)
            if incident.source == Incident.Source.POLICE_REFERRAL:
                referrals.append(self._referral(incident))
            if assignment is None:
                continue
            assignments.append(assignment)
            if assignment.on_scene_at is None:
                continue
            outcome = self._outcome(incident, assignment)
            outcomes.append(((outcome, outcome.disposition == "referred" or rng.random() < 0.06), incident))
            if outcome.police_involvement != Outcome.PoliceInvolvement.NONE and rng.random() < 0.8:
                backups.append(self._backup(assignment, BackupRequest.Kind.POLICE))
            if outcome.ems_involvement == Outcome.EmsInvolvement.BACKUP_REQUESTED:
                backups.append(self._backup(assignment, BackupRequest.Kind.EMS))
        # Non-urgent referrals: outreach later, not a call; about half as many as urgent ones.
        for _ in range(len(referrals) // 2):
            referrals.append(self._referral(None))

        incidents.sort(key=lambda i: i.received_at)
        assignments.sort(key=lambda a: a.dispatched_at)
        outcomes.sort(key=lambda pair: pair[0][0].recorded_at)
        Incident.objects.bulk_create(incidents, batch_size=2000)
        Assignment.objects.bulk_create(assignments, batch_size=2000)
        BackupRequest.objects.bulk_create(backups, batch_size=2000)
        PoliceReferral.objects.bulk_create(referrals, batch_size=2000)

        # Primary keys come back from bulk_create; the links are set by id afterwards, which
        # keeps Django's related-object descriptors (and their lookups) out of the hot loop.
        wanted = [(outcome, incident) for (outcome, wants), incident in outcomes if wants]
        people = [self._person(o.recorded_at) if rng.random() < 0.4 else None for o, _ in wanted]
        Person.objects.bulk_create([p for p in people if p is not None], batch_size=2000)
        follow_ups = [
            self._follow_up(o, incident, person) for (o, incident), person in zip(wanted, people, strict=True)
        ]
        FollowUp.objects.bulk_create(follow_ups, batch_size=2000)
        attempts = [a for follow_up in follow_ups for a in self._attempts(follow_up)]
        ContactAttempt.objects.bulk_create(attempts, batch_size=2000)
        for (outcome, _), person, follow_up in zip(wanted, people, follow_ups, strict=True):
            outcome.person_id = person.pk if person is not None else None
            outcome.follow_up_id = follow_up.pk
        Outcome.objects.bulk_create([outcome for (outcome, _), _ in outcomes], batch_size=2000)

        t = self.totals
        t["incidents"] += len(incidents)
        t["assignments"] += len(assignments)
        t["outcomes"] += len(outcomes)
        t["follow_ups"] += len(follow_ups)
        t["attempts"] += len(attempts)
        t["backups"] += len(backups)
        t["referrals"] += len(referrals)
        t["people"] += sum(p is not None for p in people)

    def _incident(self):
        rng = self.rng
        source = rng.choices(self.source_choices, self.source_weights)[0]
        received = self._received_at()
        street = f"{rng.randrange(100, 9999)} {rng.choice(STREETS)}"
        incident = Incident(
            id=self._uuid(),
            program=self.program,
            source=source,
            received_at=received,
            address=street,
            latitude=39.70 + rng.random() * 0.1,
            longitude=-105.05 + rng.random() * 0.1,
            created_at=received,
            updated_at=received,
        )
        if source == Incident.Source.SELF_INITIATED:
            return self._encounter(incident)
        code = rng.choices(self.code_choices, self.code_weights)[0]
        incident.call_type_code = code
        incident.call_type = self.call_types.get(code)
        incident.priority = rng.choice((2, 3, 3, 4, 4, 5))
        if rng.random() < 0.7:
            incident.caller_name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            incident.caller_phone = f"303-555-{rng.randrange(10000):04d}"
        # Call types the catalogue keeps from responders are the ones where screening finds danger.
        risky = incident.call_type is not None and not incident.call_type.eligible
        for key, chance in (RISKY_SCREENING if risky else SCREENING).items():
            answer = rng.random() < chance
            if not answer and rng.random() < 0.01:
                answer = None  # the question was not asked
            setattr(incident, f"screen_{key}", answer)
        decision = eligibility(incident.call_type, incident.screening)
        incident.eligible = decision.eligible
        incident.eligibility_reasons = decision.reasons
        # Most eligible calls get a team; a few ineligible ones are sent with an override.
        sent = rng.random() < (0.82 if decision.eligible else 0.04)
        if not sent:
            incident.status = Incident.Status.CLOSED
            incident.closed_at = received + timedelta(minutes=rng.randrange(2, 40))
            return incident, None
        return incident, self._assignment(incident)

    def _assignment(self, incident):
        rng = self.rng
        dispatched = incident.received_at + timedelta(seconds=_lognormal_seconds(rng, 100, 0.9, 5, 3 * 3600))
        assignment = Assignment(
            id=self._uuid(),
            program=self.program,
            incident=incident,
            unit=rng.choice(self.units),
            dispatched_by=self.user,
            dispatched_at=dispatched,
            override_reason=""
            if incident.eligible
            else "Dispatcher judged it safe after talking with the caller.",
        )
        assignment.acknowledged_at = dispatched + timedelta(seconds=_lognormal_seconds(rng, 15, 0.6, 2, 300))
        assignment.en_route_at = assignment.acknowledged_at + timedelta(
            seconds=_lognormal_seconds(rng, 40, 0.5, 5, 600)
        )
        if rng.random() < 0.07:  # cancelled before arrival: the caller called back, police took it
            assignment.status = Assignment.Status.CANCELLED
            assignment.cancelled_at = assignment.en_route_at + timedelta(seconds=rng.randrange(60, 900))
            incident.status = Incident.Status.CANCELLED
            incident.cancelled_at = assignment.cancelled_at
            return assignment
        assignment.on_scene_at = assignment.en_route_at + timedelta(
            seconds=_lognormal_seconds(rng, 600, 0.5, 60, 5400)
        )
        end = assignment.on_scene_at + timedelta(seconds=_lognormal_seconds(rng, 1800, 0.6, 120, 6 * 3600))
        if rng.random() < 0.12:
            index = rng.choices(range(len(TRANSPORTS)), TRANSPORT_WEIGHTS)[0]
            assignment.transport_destination = TRANSPORTS[index][1]
            assignment.transporting_at = end
            end = end + timedelta(seconds=_lognormal_seconds(rng, 1200, 0.5, 300, 3 * 3600))
        assignment.cleared_at = end
        assignment.status = Assignment.Status.CLEARED
        incident.status = Incident.Status.CLOSED
        incident.closed_at = end
        return assignment

    def _encounter(self, incident):
        """A team stopped for someone: on scene at once, as field.services.encounter_start records it."""
        rng = self.rng
        incident.call_type_code = "PROACTIVE"
        incident.eligible = False
        incident.eligibility_reasons = ["unknown_call_type", "screening_incomplete"]
        at = incident.received_at
        assignment = Assignment(
            id=self._uuid(),
            program=self.program,
            incident=incident,
            unit=rng.choice(self.units),
            dispatched_by=self.user,
            dispatched_at=at,
            acknowledged_at=at,
            on_scene_at=at,
            status=Assignment.Status.CLEARED,
        )
        assignment.cleared_at = at + timedelta(seconds=_lognormal_seconds(rng, 1200, 0.6, 60, 4 * 3600))
        incident.status = Incident.Status.CLOSED
        incident.closed_at = assignment.cleared_at
        return incident, assignment

    def _outcome(self, incident, assignment):
        rng = self.rng
        if assignment.transport_destination:
            disposition = next(d for d, label in TRANSPORTS if label == assignment.transport_destination)
        else:
            disposition = rng.choices(*zip(*DISPOSITIONS, strict=True))[0]
        police = Outcome.PoliceInvolvement.NONE
        roll = rng.random()
        if roll < 0.004:
            police = Outcome.PoliceInvolvement.ARREST
        elif roll < 0.025 or disposition == "police_took_over":
            police = Outcome.PoliceInvolvement.BACKUP_REQUESTED
        ems = Outcome.EmsInvolvement.NONE
        if disposition == "ems_took_over" or rng.random() < 0.01:
            ems = Outcome.EmsInvolvement.BACKUP_REQUESTED
        return Outcome(
            assignment=assignment,
            self_initiated=incident.source == Incident.Source.SELF_INITIATED,
            disposition=disposition,
            services_provided=rng.sample(SERVICES, rng.randrange(1, 4)),
            people_contacted=rng.choice((1, 1, 1, 1, 2, 2, 3)),
            transport_destination=assignment.transport_destination,
            police_involvement=police,
            ems_involvement=ems,
            recorded_by=self.user,
            recorded_at=assignment.cleared_at,
        )

    def _backup(self, assignment, kind):
        span = (assignment.cleared_at - assignment.on_scene_at).total_seconds()
        return BackupRequest(
            unit=assignment.unit,
            assignment=assignment,
            kind=kind,
            urgent=self.rng.random() < 0.3,
            requested_by=self.user,
            requested_at=assignment.on_scene_at + timedelta(seconds=self.rng.random() * span),
        )

    def _person(self, at):
        rng = self.rng
        named = rng.random() < 0.6
        phone = f"720-555-{rng.randrange(10000):04d}" if rng.random() < 0.5 else ""
        return Person(
            program=self.program,
            name=f"{rng.choice(FIRST)} {rng.choice(LAST)}" if named else "",
            alias="" if named else rng.choice(("Red", "Sunny", "Doc", "Junior", "Blue")),
            date_of_birth=(at - timedelta(days=rng.randrange(18 * 365, 75 * 365))).date() if named else None,
            phone=phone,
            phone_digits=phone.replace("-", ""),  # Person.save() keeps it; bulk_create does not call save()
            created_by=self.user,
            created_at=at,
        )

    def _follow_up(self, outcome, incident, person):
        rng = self.rng
        created = outcome.recorded_at
        status = rng.choices(("open", "attempted", "connected", "closed"), (8, 17, 25, 50))[0]
        follow_up = FollowUp(
            program=self.program,
            person=person,
            incident=incident,
            service_type=rng.choice(FOLLOW_UP_TYPES),
            consent=True,
            case_manager=None,
            status=status,
            due_at=created + FollowUp.DEFAULT_DUE,
            created_by=self.user,
            created_at=created,
            updated_at=created,
        )
        if status == "closed":
            follow_up.close_reason = rng.choices(
                ("engaged", "declined", "unable_to_reach", "moved", "other"), (45, 20, 25, 5, 5)
            )[0]
            follow_up.closed_at = created + timedelta(days=rng.randrange(2, 30))
            follow_up.updated_at = follow_up.closed_at
        return follow_up

    def _attempts(self, follow_up):
        if follow_up.status == FollowUp.Status.OPEN:
            return []
        rng = self.rng
        at = follow_up.created_at + timedelta(
            seconds=_lognormal_seconds(rng, 20 * 3600, 0.8, 600, 10 * 86400)
        )
        attempts = []
        for n in range(rng.randrange(1, 4)):
            last = n == 0 and follow_up.status in ("connected", "closed")
            attempts.append(
                ContactAttempt(
                    follow_up=follow_up,
                    at=at,
                    method=rng.choice(("phone", "phone", "text", "in_person")),
                    result="reached" if last else rng.choice(("no_answer", "left_message")),
                    by=self.user,
                )
            )
            at += timedelta(hours=rng.randrange(4, 72))
        return attempts

    def _referral(self, incident):
        rng = self.rng
        created = incident.received_at if incident else self._received_at()
        if incident is not None:
            urgency, state = PoliceReferral.Urgency.NOW, PoliceReferral.State.DISPATCH
        else:
            urgency = PoliceReferral.Urgency.LATER
            state = rng.choices(("queued", "claimed", "finished"), (10, 5, 85))[0]
        return PoliceReferral(
            id=self._uuid(),
            program=self.program,
            filed_by=self.user,
            urgency=urgency,
            call_type_code=incident.call_type_code
            if incident
            else rng.choice(("WELFARE", "UNSHELTERED", "INTOX")),
            address=incident.address if incident else f"{rng.randrange(100, 9999)} {rng.choice(STREETS)}",
            situation="Officer on scene judged a responder a better fit.",
            officer_name=f"Officer {rng.choice(LAST)}",
            officer_callback="303-555-0100",
            consent_to_contact=rng.random() < 0.7,
            screen_weapons=False,
            screen_violence=False,
            screen_medical_emergency=False,
            screen_police_only=False,
            state=state,
            incident=incident,
            contact_made=(rng.random() < 0.7) if state == "finished" else None,
            finished_at=created + timedelta(days=rng.randrange(1, 5)) if state == "finished" else None,
            created_at=created,
            updated_at=created,
        )
