import copy
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from dispatch.models import ApiClient, CallType, Membership, Program, Unit
from dispatch.programs import first_program
from dispatch.roles import CLINICIAN_GROUP
from dispatch.services import IncidentFields, incident_create

User = get_user_model()
_UNSET = object()


class ProgramFactory(factory.django.DjangoModelFactory):
    """A program with a square service area around (lat, lon) (`area=(lat, lon, half_side)`)."""

    class Meta:
        model = Program
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"program-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    time_zone = "America/Denver"

    class Params:
        area = None

    @factory.lazy_attribute
    def service_area(self):
        if self.area is None:
            return None
        return square_area(*self.area)


def square_area(lat: float, lon: float, half: float = 0.05) -> dict:
    """A GeoJSON Polygon: the square of side 2*half degrees around (lat, lon)."""
    ring = [
        [lon - half, lat - half],
        [lon + half, lat - half],
        [lon + half, lat + half],
        [lon - half, lat + half],
        [lon - half, lat - half],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests-1")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        """`roles=["dispatcher"]`: the role in `program` (default: the deployment's first
        program; `program=None` given explicitly with statewide=True: every program). The
        clinician flag is a group beside the role."""
        self.save()
        program = kwargs.get("program", _UNSET)
        if kwargs.get("statewide"):
            program = None
        elif program is _UNSET:
            program = first_program()
        for name in extracted or []:
            if name == CLINICIAN_GROUP:
                self.groups.add(Group.objects.get_or_create(name=name)[0])
            else:
                Membership.objects.update_or_create(user=self, program=program, defaults={"role": name})


class CallTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CallType
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"TYPE{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())
    eligible = True


class UnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Unit

    callsign = factory.Sequence(lambda n: f"CR-{n + 1}")
    program = factory.LazyFunction(lambda: first_program())
    status = Unit.Status.AVAILABLE
    status_changed_at = factory.LazyFunction(timezone.now)
    available_since = factory.LazyFunction(timezone.now)


def api_client(name="cad-1", role="cad", program=_UNSET) -> tuple[ApiClient, str]:
    """An API client and its key: of the deployment's first program unless told (None:
    statewide)."""
    from dispatch.services import api_client_create

    return api_client_create(name, role, program=first_program() if program is _UNSET else program)


def incident(*, call_type="WELFARE", screening=(False, False, False, False), actor=None, **overrides):
    """An incident made through the service, as a dispatcher would create it."""
    weapons, violence, medical, police_only = screening
    values = dict(
        source="911",
        call_type_code=call_type,
        received_at=timezone.now(),
        address="100 Main St",
        latitude=39.74,
        longitude=-104.99,
        screen_weapons=weapons,
        screen_violence=violence,
        screen_medical_emergency=medical,
        screen_police_only=police_only,
    )
    values.update(overrides)
    return incident_create(fields=IncidentFields(**values), actor=actor)


# The offset a CAD in Denver sends its timestamps with: the API must turn it into UTC.
CAD_OFFSET = dt_timezone(timedelta(hours=-7))


def cad_timestamp(moment: datetime | None = None) -> str:
    """A timestamp as a CAD writes it: ISO 8601 with the sender's offset, to the second."""
    moment = moment or timezone.now()
    return moment.astimezone(CAD_OFFSET).replace(microsecond=0).isoformat()


CAD_INCIDENT = {
    "external_id": "CAD-1",
    "source": "911",
    "call_type": "WELFARE",
    "priority": 3,
    "location": {"address": "1550 Court Pl", "latitude": 39.74, "longitude": -104.98},
    "caller": {"name": "Ann", "phone": "303-555-0100"},
    "narrative": "Man sitting on the sidewalk for hours.",
    "screening": {"weapons": False, "violence": False, "medical_emergency": False, "police_only": False},
}


class _TestMoment:
    """When the running test started (tests/conftest.py sets it): "now" for every body a test
    builds, so a body built twice is the same body, even across a second's boundary."""

    at: datetime | None = None


TEST_MOMENT = _TestMoment()


def cad_incident_body(*, received_at: datetime | None = None, **overrides) -> dict:
    """The body a CAD posts to /api/v1/incidents/. It was received when the test started unless
    the test says when: a call received "today" is what every path sees in real use, and a fixed
    date would turn into a past day as the calendar moves on (a past day takes other paths)."""
    body = copy.deepcopy(CAD_INCIDENT)
    body["received_at"] = cad_timestamp(received_at or TEST_MOMENT.at)
    body.update(overrides)
    return body
