"""The statewide 988 dispatcher's console in headless Chromium: calls of both programs arrive
live, each labelled with its program, and the Program select narrows the console to one."""

import json
import urllib.request

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser.axe import assert_accessible

pytestmark = pytest.mark.browser

DENVER = factories.square_area(39.74, -104.99, 0.1)
AURORA = factories.square_area(39.74, -104.79, 0.1)


def api_post(server, key, path, body):
    request = urllib.request.Request(
        f"{server.url}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Token {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_the_statewide_console_labels_each_call_with_its_program_and_narrows_to_one(
    daphne, browser_page, call_types, artifacts_dir
):
    denver = factories.ProgramFactory(slug="denver-star", name="Denver STAR", service_area=DENVER)
    aurora = factories.ProgramFactory(slug="aurora-art", name="Aurora ART", service_area=AURORA)
    factories.UnitFactory(callsign="DEN-1", program=denver, latitude=39.74, longitude=-104.99)
    factories.UnitFactory(callsign="AUR-1", program=aurora, latitude=39.74, longitude=-104.79)
    dispatcher988 = factories.UserFactory(username="d988", roles=["dispatcher"], roles__statewide=True)
    _client, key = factories.api_client("hotline", "cad", program=None)

    page = browser_page(daphne, dispatcher988)
    page.goto(f"{daphne.url}/dispatch/")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")

    # The 988 centre sends two calls; each lands in the program whose area holds it, live.
    calls = {}
    for external_id, address, lon in (
        ("988-1", "1500 Larimer St", -104.99),
        ("988-2", "15001 E Colfax Ave", -104.79),
    ):
        body = factories.cad_incident_body(
            external_id=external_id, location={"address": address, "latitude": 39.74, "longitude": lon}
        )
        status, created = api_post(daphne, key, "/api/v1/incidents/", body)
        assert status == 201
        calls[external_id] = created
    denver_row = page.locator(f'tbody.incident[data-incident="{calls["988-1"]["id"]}"]')
    aurora_row = page.locator(f'tbody.incident[data-incident="{calls["988-2"]["id"]}"]')
    expect(denver_row).to_contain_text("Denver STAR")
    expect(aurora_row).to_contain_text("Aurora ART")
    expect(page.locator('#units tr[data-unit="AUR-1"]')).to_contain_text("Aurora ART")
    assert_accessible(page, "the statewide console with both programs' calls")

    # Narrowed to Aurora: Denver's call and unit leave; a new Denver call does not appear.
    page.get_by_label("Program").select_option("aurora-art")
    expect(page.locator("#program-select")).to_have_value("aurora-art")
    expect(aurora_row).to_be_visible()
    expect(page.locator(f'tbody.incident[data-incident="{calls["988-1"]["id"]}"]')).to_have_count(0)
    expect(page.locator('#units tr[data-unit="DEN-1"]')).to_have_count(0)
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    body = factories.cad_incident_body(
        external_id="988-3", location={"address": "20 Federal Blvd", "latitude": 39.75, "longitude": -105.0}
    )
    _status, later = api_post(daphne, key, "/api/v1/incidents/", body)
    body = factories.cad_incident_body(
        external_id="988-4",
        location={"address": "14200 E Alameda Ave", "latitude": 39.71, "longitude": -104.82},
    )
    _status, aurora_later = api_post(daphne, key, "/api/v1/incidents/", body)
    expect(page.locator(f'tbody.incident[data-incident="{aurora_later["id"]}"]')).to_contain_text(
        "Aurora ART"
    )
    expect(page.locator(f'tbody.incident[data-incident="{later["id"]}"]')).to_have_count(0)
    assert_accessible(page, "the statewide console narrowed to one program")
    page.screenshot(path=str(artifacts_dir / "console-programs.png"), full_page=True)
