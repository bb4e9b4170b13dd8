"""The state supervisor in a real browser: the programs page draws both service areas on the
map (axe clean), and a program's local screening change reaches its call takers' intake."""

import pytest

from dispatch.models import ProgramCallType, ScreeningQuestion
from dispatch.programs import first_program
from tests import factories
from tests.browser.axe import assert_accessible

pytestmark = pytest.mark.browser

DENVER_AREA = factories.square_area(39.74, -104.99, 0.1)
AURORA_AREA = {
    "type": "Polygon",
    "coordinates": [
        [[-104.89, 39.64], [-104.69, 39.64], [-104.69, 39.84], [-104.89, 39.84], [-104.89, 39.64]]
    ],
}


@pytest.fixture
def two_programs(transactional_db, call_types):
    # The questions come with a data migration; a transactional test before this one may have
    # flushed them.
    for position, (key, label) in enumerate(ScreeningQuestion.Key.choices):
        ScreeningQuestion.objects.get_or_create(
            key=key, defaults={"prompt": f"{label}?", "position": position}
        )
    denver = first_program()
    denver.service_area = DENVER_AREA
    denver.save()
    aurora = factories.ProgramFactory(slug="aurora-art", name="Aurora ART", service_area=AURORA_AREA)
    return {
        "denver": denver,
        "aurora": aurora,
        "state_sup": factories.UserFactory(username="ssup", roles=["supervisor"], roles__statewide=True),
        "aurora_dispatcher": factories.UserFactory(
            username="adisp", roles=["dispatcher"], roles__program=aurora
        ),
    }


def test_the_state_supervisor_sees_both_service_areas_on_the_map(
    daphne, browser_page, two_programs, artifacts_dir
):
    page = browser_page(daphne, two_programs["state_sup"], viewport={"width": 1366, "height": 900})
    page.goto(f"{daphne.url}/dispatch/supervisor/programs/")
    assert page.get_by_role("heading", name="Programs", exact=True).is_visible()
    page.wait_for_function("() => document.getElementById('programs-map').dataset.drawn !== undefined")
    drawn = page.locator("#programs-map").get_attribute("data-drawn").split()
    assert sorted(drawn) == sorted([two_programs["denver"].slug, "aurora-art"])
    areas = page.locator("#programs-map path.leaflet-interactive")
    assert areas.count() == 2
    for slug in drawn:
        box = page.locator(f'#programs-map path[data-program="{slug}"]').bounding_box()
        assert box is not None and box["width"] > 20 and box["height"] > 20, slug
    assert_accessible(page, "the state's programs page")
    page.screenshot(path=str(artifacts_dir / "programs.png"), full_page=True)


def test_a_local_screening_change_reaches_the_programs_intake(
    daphne, browser_page, two_programs, artifacts_dir
):
    sup = browser_page(daphne, two_programs["state_sup"], viewport={"width": 1366, "height": 900})
    sup.goto(f"{daphne.url}/dispatch/supervisor/")
    sup.get_by_role("link", name="Change Aurora ART's weapons question").click()
    sup.get_by_label("What the program's call takers ask").fill(
        "Is anyone carrying anything they could hurt someone with?"
    )
    sup.get_by_role("button", name="Save").click()
    sup.wait_for_url("**/dispatch/supervisor/")
    cell = sup.locator('td[data-program="aurora-art"][data-question="weapons"]')
    assert "Is anyone carrying anything" in cell.inner_text()

    sup.get_by_role("link", name="Change TRESPASS for Aurora ART").click()
    sup.get_by_label("No, the program does not take it").check()
    sup.get_by_label("Why the program differs").fill("Aurora police keep trespass calls.")
    assert_accessible(sup, "a program's change to a call type")
    sup.get_by_role("button", name="Save").click()
    sup.wait_for_url("**/dispatch/supervisor/")
    assert ProgramCallType.objects.get(program=two_programs["aurora"]).taken is False
    assert_accessible(sup, "the standard and the programs' changes side by side")
    sup.screenshot(path=str(artifacts_dir / "screening-side-by-side.png"), full_page=True)

    desk = browser_page(daphne, two_programs["aurora_dispatcher"], viewport={"width": 1366, "height": 900})
    desk.goto(f"{daphne.url}/dispatch/")
    desk.locator("#intake summary").click()
    intake = desk.locator("#intake")
    assert intake.get_by_text("Is anyone carrying anything they could hurt someone with?").is_visible()
    standard = ScreeningQuestion.objects.get(key="weapons").prompt
    assert intake.get_by_text(standard, exact=True).count() == 0
    options = intake.get_by_label("Call type", exact=True).locator("option").all_inner_texts()
    assert not any(option.startswith("TRESPASS") for option in options)
    assert any(option.startswith("WELFARE") for option in options)
