"""The supervisor's Webhooks page in a real browser: failed deliveries first, "Retry now" puts one
back in line, and the page passes axe."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.utils import timezone

from dispatch import services
from dispatch.models import WebhookDelivery
from tests import factories
from tests.browser.axe import assert_accessible
from tests.test_webhooks import posted_incident

pytestmark = pytest.mark.browser


def test_a_supervisor_sees_a_failed_delivery_first_and_sends_it_again(
    daphne, browser_page, personas, call_types, settings
):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    cad, _ = factories.api_client("county-cad", "cad")
    services.webhook_subscribe(client=cad, url="http://127.0.0.1:9/hooks", events=["incident.created"])

    def post_two():
        # Off Playwright's thread: recording an event pushes it with async_to_sync.
        try:
            posted_incident(cad, "CAD-1")
            posted_incident(cad, "CAD-2")
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(post_two).result()
    failed, delivered = WebhookDelivery.objects.order_by("event_id")
    WebhookDelivery.objects.filter(pk=failed.pk).update(
        status="failed", attempts=11, last_error="Connection refused", last_attempt_at=timezone.now()
    )
    WebhookDelivery.objects.filter(pk=delivered.pk).update(
        status="delivered", attempts=1, last_status_code=200, delivered_at=timezone.now()
    )

    page = browser_page(daphne, personas["supervisor"])
    page.goto(f"{daphne.url}/dispatch/supervisor/webhooks/")
    rows = page.locator("tbody tr[id^=delivery-]")
    assert rows.first.get_attribute("id") == f"delivery-{failed.pk}"
    assert "Failed" in rows.first.inner_text() and "Connection refused" in rows.first.inner_text()
    assert_accessible(page, "the webhooks page with a failed delivery")

    page.get_by_role("button", name=f"Retry now: event {failed.event_id} for county-cad").click()

    assert f"Event {failed.event_id} will be sent again now." in page.get_by_role("status").inner_text()
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("pending", 0)
    assert_accessible(page, "the webhooks page after a retry")
