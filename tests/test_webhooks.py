"""Webhooks (CONTRACT.md 1.1): subscribing over the API, the deliveries each recorded event
owes, and delivery to a real HTTP receiver on 127.0.0.1, signed as Standard Webhooks says,
retried in order, cut to what the client may see. The worker process itself: test_worker.py."""

import json
import time
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient
from standardwebhooks import Webhook

from dispatch import services, webhooks
from dispatch.events import EventType, event_record, events_prune
from dispatch.models import AuditEntry, Event, Incident, WebhookDelivery, WebhookSubscription
from dispatch.timestamps import utc_iso
from referrals.models import PoliceReferral
from referrals.services import ReferralData, referral_claim, referral_file
from tests import factories
from tests.webhook_receiver import Receiver

CAD_EVENTS = ["incident.created", "incident.updated", "assignment.created", "assignment.updated"]


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    # The receivers run on this machine: allow loopback as a deployment allows its CAD's network.
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]


def machine(name, role) -> APIClient:
    client_obj, key = factories.api_client(name, role)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    api.api_client = client_obj
    return api


def subscribe(api, url, events=CAD_EVENTS, **headers):
    return api.post("/api/v1/webhooks/", {"url": url, "events": events}, format="json", **headers)


def subscribed(client_obj, url, events=CAD_EVENTS) -> WebhookSubscription:
    return services.webhook_subscribe(client=client_obj, url=url, events=events)


def posted_incident(client_obj, external_id="CAD-1", **overrides) -> Incident:
    body = factories.cad_incident_body(external_id=external_id, **overrides)
    from dispatch.serializers import IncidentIn

    payload = IncidentIn(data=body)
    payload.is_valid(raise_exception=True)
    incident, _ = services.incident_upsert_from_api(client=client_obj, data=payload.validated_data)
    return incident


def send_all():
    posted, _ = services.webhook_deliveries_send()
    return posted


# --- Subscribing over the API ------------------------------------------------------------------
def test_a_cad_subscribes_and_is_shown_its_secret_only_once(cad):
    response = subscribe(cad, "https://93.184.215.14/hooks")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["secret"].startswith("whsec_")
    assert body["events"] == CAD_EVENTS and body["url"] == "https://93.184.215.14/hooks"
    listed = cad.get("/api/v1/webhooks/").json()
    assert [w["id"] for w in listed] == [body["id"]]
    assert "secret" not in listed[0]
    assert "secret" not in cad.get(f"/api/v1/webhooks/{body['id']}/").json()
    assert AuditEntry.objects.filter(action="webhook.subscribe").count() == 1


def test_a_webhook_is_deleted_and_then_gone(cad):
    webhook_id = subscribe(cad, "https://93.184.215.14/hooks").json()["id"]
    assert cad.delete(f"/api/v1/webhooks/{webhook_id}/").status_code == 204
    assert cad.get(f"/api/v1/webhooks/{webhook_id}/").status_code == 404
    assert cad.delete(f"/api/v1/webhooks/{webhook_id}/").status_code == 404
    assert cad.get("/api/v1/webhooks/").json() == []


def test_another_clients_webhook_is_not_found(cad, cad2):
    webhook_id = subscribe(cad, "https://93.184.215.14/hooks").json()["id"]
    assert cad2.get(f"/api/v1/webhooks/{webhook_id}/").status_code == 404
    assert cad2.delete(f"/api/v1/webhooks/{webhook_id}/").status_code == 404
    assert cad2.get(f"/api/v1/webhooks/{webhook_id}/deliveries").status_code == 404
    assert cad2.get("/api/v1/webhooks/").json() == []


def test_a_police_client_may_subscribe_only_to_referral_updates(police_api):
    refused = subscribe(police_api, "https://93.184.215.14/rms", events=["incident.updated"])
    assert refused.status_code == 400
    assert "only to referral.updated" in refused.json()["events"][0]
    assert subscribe(police_api, "https://93.184.215.14/rms", events=["referral.updated"]).status_code == 201


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://93.184.215.14/hooks", "Only http:// and https://"),
        ("https://user:pw@93.184.215.14/hooks", "no credentials"),
        ("https://10.1.2.3/hooks", "private or local address"),
        ("http://192.168.0.20:8080/hooks", "private or local address"),
        ("http://[::1]/hooks", "private or local address"),
        ("http://169.254.169.254/latest", "private or local address"),
        ("https://no-such-host.invalid/hooks", "could not be resolved"),
        ("not a url at all", "Only http:// and https://"),
    ],
)
def test_a_url_the_settings_do_not_allow_is_a_400_with_the_reason(cad, url, reason):
    response = subscribe(cad, url)
    assert response.status_code == 400
    assert reason in response.json()["url"][0]
    assert not WebhookSubscription.objects.exists()


def test_loopback_is_refused_unless_the_settings_allow_it(cad, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    assert subscribe(cad, "http://127.0.0.1:9/hooks").status_code == 400
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1"]
    assert subscribe(cad, "http://127.0.0.1:9/hooks").status_code == 201


def test_an_unknown_event_type_is_a_400(cad):
    response = subscribe(cad, "https://93.184.215.14/hooks", events=["incident.deleted"])
    assert response.status_code == 400 and "events" in response.json()


def test_a_replayed_subscribe_returns_the_first_answer_and_subscribes_once(cad):
    key = {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}
    first = subscribe(cad, "https://93.184.215.14/hooks", **key)
    again = subscribe(cad, "https://93.184.215.14/hooks", **key)
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert WebhookSubscription.objects.count() == 1


def test_only_machine_clients_manage_webhooks(client, personas):
    for role in ("dispatcher", "supervisor", "responder"):
        client.force_login(personas[role])
        assert client.get("/api/v1/webhooks/").status_code == 403
    client.logout()
    assert client.get("/api/v1/webhooks/").status_code == 401


def test_a_client_has_at_most_twenty(cad):
    for n in range(20):
        subscribed(cad.api_client, f"https://93.184.215.14/hooks/{n}")
    response = subscribe(cad, "https://93.184.215.14/hooks/21")
    assert response.status_code == 409 and response.json()["code"] == "too_many_webhooks"


# --- The deliveries an event owes ----------------------------------------------------------------
def test_with_nobody_subscribed_recording_events_costs_no_query_for_webhooks(cad, call_types):
    posted_incident(cad.api_client, "CAD-0")  # the process reads the (empty) subscriptions once
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        event_record(EventType.INCIDENT_UPDATED, {"id": str(uuid.uuid4())})
    assert not [q for q in queries.captured_queries if "webhook" in q["sql"]]
    assert not WebhookDelivery.objects.exists()


def test_each_event_a_subscription_wants_gets_one_delivery_in_one_insert(cad, call_types):
    subscription = subscribed(cad.api_client, "http://127.0.0.1:9/hooks")
    incident = posted_incident(cad.api_client)
    factories.UnitFactory(callsign="CR-1")
    with CaptureQueriesContext(connection) as queries:
        services.assignment_create(
            incidents=Incident.objects.all(), incident_id=incident.pk, callsign="CR-1", actor=None
        )
    inserts = [
        q for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "dispatch_webhookdelivery"')
    ]
    assert len(inserts) == 1
    owed = list(subscription.deliveries.order_by("event_id").values_list("event__type", flat=True))
    # unit.updated is not among the subscription's events: it owes nothing for it.
    assert owed == ["incident.created", "assignment.created", "incident.updated"]


def test_a_delivery_exists_exactly_when_its_event_does(cad, call_types):
    subscribed(cad.api_client, "http://127.0.0.1:9/hooks")
    with pytest.raises(RuntimeError), transaction.atomic():
        posted_incident(cad.api_client)
        raise RuntimeError("the change rolls back")
    assert not Event.objects.exists() and not WebhookDelivery.objects.exists()


def test_an_unsubscribed_webhook_is_owed_nothing_more(cad, call_types):
    subscription = subscribed(cad.api_client, "http://127.0.0.1:9/hooks")
    posted_incident(cad.api_client, "CAD-1")
    services.webhook_unsubscribe(subscription=subscription, actor=None)
    posted_incident(cad.api_client, "CAD-2")
    assert list(subscription.deliveries.values_list("status", flat=True)) == ["skipped"]


# --- Delivery to a real receiver -----------------------------------------------------------------
def test_a_delivery_is_the_event_as_the_websocket_sends_it_signed_the_standard_way(cad, call_types):
    with Receiver() as receiver:
        subscription = subscribed(cad.api_client, receiver.url)
        incident = posted_incident(cad.api_client)

        assert send_all() == 1

    [got] = receiver.received
    event = Event.objects.get(type="incident.created")
    # The receiver's check, with the Standard Webhooks library and the secret shown at subscribe.
    verified = Webhook(subscription.secret).verify(got.body, got.headers)
    assert verified == {"id": event.id, "type": "incident.created", "at": verified["at"], "data": event.data}
    assert verified["data"]["id"] == str(incident.pk)
    assert got.headers["webhook-id"] == str(event.id)
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
    assert got.headers["webhook-signature"].startswith("v1,")
    delivery = subscription.deliveries.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)


def test_a_signature_made_with_another_secret_does_not_verify(cad, call_types):
    with Receiver() as receiver:
        subscribed(cad.api_client, receiver.url)
        posted_incident(cad.api_client)
        send_all()
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(webhooks.secret_new()).verify(receiver.received[0].body, receiver.received[0].headers)


def test_a_receiver_that_fails_then_recovers_gets_every_event_once_it_answers_in_order(cad, call_types):
    with Receiver(answers=[500, 503]) as receiver:
        subscription = subscribed(cad.api_client, receiver.url, events=["incident.created"])
        first, second, third = (posted_incident(cad.api_client, f"CAD-{n}") for n in (1, 2, 3))
        ids = list(Event.objects.filter(type="incident.created").order_by("id").values_list("id", flat=True))
        start = timezone.now()

        send_all()  # the first fails: the others wait behind it
        assert receiver.ids() == [ids[0]]
        head = subscription.deliveries.get(event_id=ids[0])
        assert (head.attempts, head.last_status_code) == (1, 500)
        assert head.next_try_at >= start + timedelta(seconds=10)
        assert send_all() == 0  # not due yet: nothing is sent

        with time_machine.travel(start + timedelta(seconds=11)):
            send_all()  # its first retry fails too; the next waits longer
        assert receiver.ids() == [ids[0], ids[0]]
        assert subscription.deliveries.get(event_id=ids[0]).next_try_at >= start + timedelta(seconds=70)

        with time_machine.travel(start + timedelta(seconds=75)):
            send_all()  # the receiver is back: everything, in order

    assert receiver.ids() == [ids[0], ids[0], ids[0], ids[1], ids[2]]
    assert receiver.delivered_ids() == ids
    assert set(subscription.deliveries.values_list("status", flat=True)) == {"delivered"}
    assert {first.pk, second.pk, third.pk} == {uuid.UUID(r.message["data"]["id"]) for r in receiver.received}


def test_a_receiver_that_does_not_answer_in_time_is_given_up_on_and_retried(cad, call_types, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    with Receiver(delay=5) as receiver:
        subscription = subscribed(cad.api_client, receiver.url)
        posted_incident(cad.api_client)
        started = time.monotonic()
        send_all()
        took = time.monotonic() - started
    assert took < 2.5
    delivery = subscription.deliveries.get()
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.last_error == "No answer within 0.5 s." and delivery.last_status_code is None


def test_the_retries_grow_and_last_more_than_a_day(settings):
    delays = settings.WEBHOOK_RETRY_SECONDS
    assert delays == sorted(delays) and delays[0] > 0
    assert sum(delays) >= 24 * 3600


def test_after_the_last_retry_a_delivery_is_given_up_and_the_next_goes(cad, call_types, settings):
    settings.WEBHOOK_RETRY_SECONDS = [1, 2]
    with Receiver(answers=[500, 500, 500]) as receiver:
        subscription = subscribed(cad.api_client, receiver.url, events=["incident.created"])
        posted_incident(cad.api_client, "CAD-1")
        posted_incident(cad.api_client, "CAD-2")
        start = timezone.now()
        for seconds in (0, 1.5, 4):
            with time_machine.travel(start + timedelta(seconds=seconds)):
                send_all()
    first, second = subscription.deliveries.order_by("event_id")
    assert (first.status, first.attempts) == ("failed", 3)
    assert second.status == "delivered"
    assert receiver.delivered_ids() == [second.event_id]


def test_a_cad_is_told_only_of_its_own_incidents(cad, cad2, call_types):
    with Receiver() as mine, Receiver() as theirs:
        subscribed(cad.api_client, mine.url)
        other = subscribed(cad2.api_client, theirs.url)
        posted_incident(cad.api_client)
        send_all()
    assert len(mine.received) == 1 and theirs.received == []
    assert list(other.deliveries.values_list("status", flat=True)) == ["skipped"]
    # Not even the event's id is shown to the other client.
    assert cad2.get(f"/api/v1/webhooks/{other.pk}/deliveries").json() == []


def test_the_deliveries_endpoint_shows_each_attempt_and_the_next_try(cad, call_types):
    with Receiver(answers=[502]) as receiver:
        subscription = subscribed(cad.api_client, receiver.url, events=["incident.created"])
        posted_incident(cad.api_client)
        send_all()
    [row] = cad.get(f"/api/v1/webhooks/{subscription.pk}/deliveries").json()
    assert row["event_id"] == Event.objects.get().id and row["type"] == "incident.created"
    assert (row["status"], row["attempts"], row["status_code"]) == ("pending", 1, 502)
    assert row["attempted_at"].endswith("Z") and row["next_try_at"].endswith("Z")


def test_one_subscription_is_delivered_by_one_worker_at_a_time(cad, call_types):
    subscription = subscribed(cad.api_client, "http://127.0.0.1:9/hooks")
    posted_incident(cad.api_client)
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        lease_token="another-worker", lease_until=timezone.now() + timedelta(seconds=20)
    )
    assert send_all() == 0
    assert subscription.deliveries.get().attempts == 0
    # A worker that died lets go when its lease runs out.
    with time_machine.travel(timezone.now() + timedelta(seconds=21)), Receiver() as receiver:
        WebhookSubscription.objects.filter(pk=subscription.pk).update(url=receiver.url)
        assert send_all() == 1


def test_the_event_log_keeps_what_a_pending_delivery_still_needs(cad, call_types, settings):
    settings.EVENT_RETENTION_HOURS = 24
    subscription = subscribed(cad.api_client, "http://127.0.0.1:9/hooks", events=["incident.created"])
    posted_incident(cad.api_client, "CAD-1")
    posted_incident(cad.api_client, "CAD-2")
    Event.objects.update(at=timezone.now() - timedelta(hours=30))
    owed, delivered = subscription.deliveries.order_by("event_id")
    WebhookDelivery.objects.filter(pk=owed.pk).update(status="delivered")

    events_prune()

    assert list(Event.objects.values_list("id", flat=True)) == [delivered.event_id]
    assert list(subscription.deliveries.values_list("event_id", flat=True)) == [delivered.event_id]


# --- The police client: referral.updated, and nothing clinical -------------------------------------
def referral(filer, urgency="now") -> PoliceReferral:
    return referral_file(
        actor=filer,
        data=ReferralData(
            urgency=urgency,
            call_type_code="WELFARE",
            address="1550 Court Pl",
            situation="Man talking about ending his life, no weapon seen.",
            officer_name="Ofc. Morales",
            officer_callback="303-555-0111",
            consent_to_contact=True,
            external_id="RMS-2026-77",
            person_name="Jordan Example",
            safety_notes="History of seizures.",
            screening={"weapons": False, "violence": False, "medical_emergency": False, "police_only": False},
        ),
    )


def test_the_police_webhook_carries_only_the_referrals_id_number_and_status(call_types):
    rms, _ = factories.api_client("rms-1", "police")
    with Receiver() as receiver:
        subscribed(rms, receiver.url, events=["referral.updated"])
        filed = referral(rms.user)
        factories.UnitFactory(callsign="CR-1")
        services.assignment_create(
            incidents=Incident.objects.all(), incident_id=filed.incident_id, callsign="CR-1", actor=None
        )
        send_all()

    [got] = receiver.received
    message = got.message
    assert message["type"] == "referral.updated"
    assert message["data"] == {
        "id": str(filed.pk),
        "program": filed.program.slug,
        "external_id": "RMS-2026-77",
        "status": "assigned",
    }
    for clinical in ("ending his life", "seizures", "Jordan", "WELFARE", "1550 Court", "narrative"):
        assert clinical not in got.body


def test_another_police_client_hears_nothing_of_a_referral_it_did_not_file(call_types):
    rms, _ = factories.api_client("rms-1", "police")
    other, _ = factories.api_client("rms-2", "police")
    with Receiver() as receiver:
        theirs = subscribed(other, receiver.url, events=["referral.updated"])
        filed = referral(rms.user, urgency="later")
        unit = factories.UnitFactory(callsign="CR-1")
        referral_claim(actor=None, referral_id=filed.pk, unit=unit)
        send_all()
    assert receiver.received == []
    assert list(theirs.deliveries.values_list("status", flat=True)) == ["skipped"]


def test_a_referral_update_is_told_when_the_officer_status_changes_and_only_then(call_types):
    rms, _ = factories.api_client("rms-1", "police")
    filed = referral(rms.user)
    factories.UnitFactory(callsign="CR-1")
    assignment = services.assignment_create(
        incidents=Incident.objects.all(), incident_id=filed.incident_id, callsign="CR-1", actor=None
    )
    services.assignment_set_status(assignment_id=assignment.pk, status="en_route", actor=None)  # unchanged
    services.assignment_set_status(assignment_id=assignment.pk, status="on_scene", actor=None)
    services.assignment_set_status(assignment_id=assignment.pk, status="cleared", actor=None)

    told = [e.data["status"] for e in Event.objects.filter(type="referral.updated").order_by("id")]
    assert told == ["assigned", "contact_made", "closed"]
    filed.refresh_from_db()
    assert filed.officer_status == "closed"


def test_an_outreach_referral_is_told_when_a_unit_claims_it(call_types):
    rms, _ = factories.api_client("rms-1", "police")
    filed = referral(rms.user, urgency="later")
    referral_claim(actor=None, referral_id=filed.pk, unit=factories.UnitFactory(callsign="CR-1"))
    [event] = Event.objects.filter(type="referral.updated")
    assert event.data == {
        "id": str(filed.pk),
        "program": filed.program.slug,
        "external_id": "RMS-2026-77",
        "status": "assigned",
    }


def test_a_body_is_compact_json_of_the_message(cad, call_types):
    message = {"id": 1, "type": "unit.updated", "at": utc_iso(timezone.now()), "data": {"é": 1}}
    assert json.loads(webhooks.body_of(message)) == message


# --- The supervisor's page -----------------------------------------------------------------------
def test_the_supervisor_sees_subscriptions_and_failed_deliveries_first(client, personas, cad, call_types):
    with Receiver(answers=[500]) as receiver:
        subscribed(cad.api_client, receiver.url, events=["incident.created"])
        posted_incident(cad.api_client, "CAD-1")
        send_all()
    failing = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=failing.pk).update(status="failed")
    with Receiver() as receiver:
        WebhookSubscription.objects.update(url=receiver.url)
        posted_incident(cad.api_client, "CAD-2")
        send_all()
    client.force_login(personas["supervisor"])

    response = client.get("/dispatch/supervisor/webhooks/")

    assert response.status_code == 200
    assert [d.status for d in response.context["deliveries"]] == ["failed", "delivered"]
    page = response.content.decode()
    assert "cad-1" in page and receiver.url in page
    assert page.index("Failed") < page.index("Delivered")


def test_the_supervisor_retries_a_failed_delivery_now(client, personas, cad, call_types):
    subscribed(cad.api_client, "http://127.0.0.1:9/hooks", events=["incident.created"])
    posted_incident(cad.api_client)
    WebhookDelivery.objects.update(
        status="failed", attempts=11, next_try_at=timezone.now() - timedelta(days=1)
    )
    delivery = WebhookDelivery.objects.get()
    client.force_login(personas["supervisor"])

    with Receiver() as receiver:
        WebhookSubscription.objects.update(url=receiver.url)
        response = client.post(f"/dispatch/supervisor/webhooks/deliveries/{delivery.pk}/retry/")
        assert response.status_code == 302
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("pending", 0)
        send_all()
    assert receiver.delivered_ids() == [delivery.event_id]
    assert AuditEntry.objects.filter(action="webhook.retry", actor=personas["supervisor"]).exists()


def test_a_delivered_delivery_is_not_retried(client, personas, cad, call_types):
    subscribed(cad.api_client, "http://127.0.0.1:9/hooks", events=["incident.created"])
    posted_incident(cad.api_client)
    WebhookDelivery.objects.update(status="delivered")
    client.force_login(personas["supervisor"])
    response = client.post(
        f"/dispatch/supervisor/webhooks/deliveries/{WebhookDelivery.objects.get().pk}/retry/", follow=True
    )
    assert "This delivery was made, or is not to be sent." in response.content.decode()
    assert WebhookDelivery.objects.get().status == "delivered"


@pytest.mark.parametrize("role", ["dispatcher", "responder", "police_officer", "case_manager", "nobody"])
def test_only_a_supervisor_sees_the_webhook_page_or_retries(client, personas, role, cad, call_types):
    subscribed(cad.api_client, "http://127.0.0.1:9/hooks", events=["incident.created"])
    posted_incident(cad.api_client)
    WebhookDelivery.objects.update(status="failed")
    client.force_login(personas[role])
    assert client.get("/dispatch/supervisor/webhooks/").status_code == 403
    delivery = WebhookDelivery.objects.get()
    assert client.post(f"/dispatch/supervisor/webhooks/deliveries/{delivery.pk}/retry/").status_code == 403
    assert WebhookDelivery.objects.get().status == "failed"


@pytest.mark.django_db(transaction=True)
def test_a_receiver_that_never_answers_does_not_hold_up_the_change(cad, call_types):
    from django_tasks_db.models import DBTaskResult

    with Receiver() as receiver:
        receiver.hang = True
        subscribed(cad.api_client, receiver.url)
        started = time.monotonic()
        response = cad.post("/api/v1/incidents/", factories.cad_incident_body(), format="json")
        took = time.monotonic() - started
    assert response.status_code == 201 and took < 2
    assert receiver.received == []  # the worker posts it, never the request
    woken = DBTaskResult.objects.filter(task_path="dispatch.tasks.deliver_webhooks", status="READY")
    assert woken.count() == 1
