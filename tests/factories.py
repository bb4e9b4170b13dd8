import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from dispatch.models import ApiClient, CallType, Unit
from dispatch.services import IncidentFields, incident_create

User = get_user_model()


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
        self.save()
        for name in extracted or []:
            self.groups.add(Group.objects.get_or_create(name=name)[0])


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
    status = Unit.Status.AVAILABLE
    status_changed_at = factory.LazyFunction(timezone.now)
    available_since = factory.LazyFunction(timezone.now)


def api_client(name="cad-1", role="cad") -> tuple[ApiClient, str]:
    """An API client and its key."""
    from dispatch.services import api_client_create

    return api_client_create(name, role)


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
