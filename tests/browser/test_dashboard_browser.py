import pytest

from tests.browser.axe import assert_accessible
from tests.test_reports import build_dataset

pytestmark = pytest.mark.browser


def test_a_supervisor_reads_the_dashboard_and_narrows_it_by_source(
    daphne, browser_page, personas, artifacts_dir
):
    build_dataset()
    page = browser_page(daphne, personas["supervisor"], viewport={"width": 1366, "height": 900})
    page.goto(f"{daphne.url}/dispatch/supervisor/data/?start=2026-03-01&end=2026-03-31")
    assert page.get_by_role("heading", name="Program data").is_visible()
    chart = page.get_by_role("img", name="Calls by source")
    assert chart.is_visible()
    assert chart.bounding_box()["width"] > 300
    calls = page.locator(".tile", has_text="Calls").first
    assert calls.locator(".tile-value").inner_text() == "8"
    assert_accessible(page, "the program data dashboard")
    page.screenshot(path=str(artifacts_dir / "dashboard.png"), full_page=True)

    # The filters swap the report in place (htmx) and keep the URL shareable.
    page.get_by_label("Source", exact=True).select_option("988")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**source=988**")
    page.wait_for_function("() => document.querySelector('.tile .tile-value').textContent.trim() === '1'")
    assert_accessible(page, "the dashboard narrowed to 988 calls")
    page.screenshot(path=str(artifacts_dir / "dashboard-988.png"), full_page=True)
