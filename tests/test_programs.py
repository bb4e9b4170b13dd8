"""Programs (CONTRACT.md "Programs"): service areas, routing by point, roles per program."""

import pytest
from django.core.exceptions import ValidationError

from dispatch.models import Membership, Program
from dispatch.programs import program_for_location, service_area_validate, sole_program
from dispatch.roles import Action, is_statewide, may, program_ids_for, programs_for, role_of
from tests import factories

DENVER = (39.74, -104.99)
AURORA = (39.71, -104.80)


@pytest.fixture
def two_programs(db):
    """Denver and Aurora, their areas side by side and touching along longitude -104.90."""
    denver = factories.ProgramFactory(
        slug="denver-star",
        service_area={
            "type": "Polygon",
            "coordinates": [
                [[-105.10, 39.60], [-104.90, 39.60], [-104.90, 39.90], [-105.10, 39.90], [-105.10, 39.60]]
            ],
        },
    )
    aurora = factories.ProgramFactory(
        slug="aurora-art",
        service_area={
            "type": "MultiPolygon",
            "coordinates": [
                [[[-104.90, 39.60], [-104.70, 39.60], [-104.70, 39.90], [-104.90, 39.90], [-104.90, 39.60]]]
            ],
        },
    )
    return denver, aurora


def test_a_point_goes_to_the_program_whose_area_holds_it(two_programs):
    denver, aurora = two_programs
    assert program_for_location(*DENVER) == denver
    assert program_for_location(*AURORA) == aurora
    assert program_for_location(40.5, -105.5) is None
    assert program_for_location(None, -104.99) is None
    # On the shared border: the older program, always the same one.
    assert program_for_location(39.75, -104.90) == denver


def test_a_changed_area_routes_at_once(two_programs):
    denver, aurora = two_programs
    assert program_for_location(40.5, -105.5) is None
    aurora.service_area = factories.square_area(40.5, -105.5, 0.1)
    aurora.save()
    assert program_for_location(40.5, -105.5) == aurora
    assert program_for_location(*AURORA) is None


@pytest.mark.parametrize(
    "area, says",
    [
        ("not json", "GeoJSON object"),
        ({"type": "Point", "coordinates": [-104.9, 39.7]}, "Polygon or MultiPolygon"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1]]]}, "coordinates"),
        ({"type": "Polygon", "coordinates": "x"}, "coordinates"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}, "not a valid shape"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [400, 0], [400, 1], [0, 0]]]}, "longitude, latitude"),
        ({"type": "Polygon", "coordinates": []}, "empty"),
    ],
)
def test_a_service_area_that_is_not_a_valid_polygon_is_refused_with_the_reason(area, says):
    with pytest.raises(ValidationError) as refused:
        service_area_validate(area)
    assert says in refused.value.messages[0]


def test_a_program_with_a_bad_time_zone_or_area_does_not_validate(db):
    program = Program(slug="x", name="X", time_zone="Mars/Olympus", service_area={"type": "Point"})
    with pytest.raises(ValidationError) as refused:
        program.full_clean()
    assert set(refused.value.message_dict) == {"time_zone", "service_area"}


def test_a_role_is_given_per_program_and_a_statewide_role_is_every_program(two_programs):
    denver, aurora = two_programs
    local = factories.UserFactory(roles=["dispatcher"], roles__program=denver)
    both = factories.UserFactory(roles=["dispatcher"], roles__program=denver)
    Membership.objects.create(user=both, program=aurora, role="supervisor")
    state = factories.UserFactory(roles=["dispatcher"], roles__statewide=True)

    assert may(local, Action.ASSIGN, denver) and not may(local, Action.ASSIGN, aurora)
    assert may(local, Action.ASSIGN) and not may(local, Action.PEOPLE_ADMIN)
    assert program_ids_for(local, Action.ASSIGN) == {denver.pk}
    assert list(programs_for(local, Action.ASSIGN)) == [denver]

    assert role_of(both, denver) == "dispatcher" and role_of(both, aurora) == "supervisor"
    assert program_ids_for(both, Action.PEOPLE_ADMIN) == {aurora.pk}
    assert program_ids_for(both, Action.ASSIGN) == {denver.pk, aurora.pk}

    assert program_ids_for(state, Action.ASSIGN) is None and is_statewide(state, Action.ASSIGN)
    assert set(programs_for(state, Action.ASSIGN)) == set(Program.objects.all()) >= {denver, aurora}
    assert not is_statewide(local, Action.ASSIGN)
    assert program_ids_for(state, Action.PEOPLE_ADMIN) == frozenset()


def test_an_api_client_works_for_its_program_or_statewide(two_programs):
    denver, aurora = two_programs
    local, _key = factories.api_client("denver-cad", "cad", program=denver)
    state, _key = factories.api_client("hotline", "cad", program=None)
    assert program_ids_for(local.user, Action.INCIDENT_POST) == {denver.pk}
    assert program_ids_for(state.user, Action.INCIDENT_POST) is None
    assert not may(local.user, Action.INCIDENT_POST, aurora)


def test_a_one_program_deployment_places_everything_in_its_program_and_several_must_say(db):
    only = sole_program()
    assert only is not None and Program.objects.count() == 1
    factories.ProgramFactory(slug="second")
    assert sole_program() is None
