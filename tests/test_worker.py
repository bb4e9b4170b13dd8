"""The background worker (dispatch.tasks, `manage.py db_worker`): the periodic chain, and real
worker processes that deliver webhooks, raise overdue-acknowledgement alerts with no console
open, and lose no pending delivery when one is killed mid-post and another starts."""

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from dispatch import services, tasks
from dispatch.models import Alert, Assignment, Incident, WebhookDelivery, WorkerChain
from tests import factories, live
from tests.test_webhooks import posted_incident, subscribed
from tests.webhook_receiver import Receiver

PERIODIC_PATH = "dispatch.tasks.periodic"


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]


def links():
    return DBTaskResult.objects.filter(task_path=PERIODIC_PATH, status="READY")


# --- The periodic chain ----------------------------------------------------------------------------
def test_a_worker_starting_starts_one_chain_and_a_second_starts_none(db):
    assert tasks.periodic_ensure() is True
    assert tasks.periodic_ensure() is False
    assert links().count() == 1
    chain = WorkerChain.objects.get()
    assert links().get().args_kwargs["args"] == [chain.token]


def test_a_link_enqueues_the_next_before_doing_its_work(db, settings):
    settings.ACK_ALERT_CHECK_SECONDS = 5
    tasks.periodic_ensure()
    token = WorkerChain.objects.get().token
    links().delete()
    failing = mock.patch(
        "dispatch.services.alerts_raise_overdue", side_effect=RuntimeError("the work failed")
    )
    with failing, pytest.raises(RuntimeError):
        tasks.periodic.call(token)
    [following] = links()
    assert following.args_kwargs["args"] == [token]
    assert timedelta(seconds=4) < following.run_after - timezone.now() <= timedelta(seconds=5)


def test_a_link_of_an_older_chain_ends_it(db):
    tasks.periodic_ensure()
    links().delete()
    assert tasks.periodic.call("a-chain-that-was-replaced") == "superseded by a newer chain"
    assert not links().exists()


def test_a_chain_whose_next_link_is_long_overdue_is_started_again(db):
    tasks.periodic_ensure()
    old = WorkerChain.objects.get()
    WorkerChain.objects.update(due_at=timezone.now() - timedelta(minutes=5))

    assert tasks.periodic_ensure() is True

    new = WorkerChain.objects.get()
    assert new.token != old.token
    assert tasks.periodic.call(old.token) == "superseded by a newer chain"


def test_a_link_wakes_the_deliveries_when_a_retry_comes_due(cad, call_types):
    tasks.periodic_ensure()
    subscribed(cad.api_client, "http://127.0.0.1:9/hooks")
    posted_incident(cad.api_client)
    DBTaskResult.objects.filter(task_path="dispatch.tasks.deliver_webhooks").delete()
    tasks.periodic.call(WorkerChain.objects.get().token)
    assert (
        DBTaskResult.objects.filter(task_path="dispatch.tasks.deliver_webhooks", status="READY").count() == 1
    )


# --- Real worker processes -------------------------------------------------------------------------
@contextmanager
def worker(log_dir, **env_overrides):
    """`manage.py db_worker` on the test database, polling fast; killed at the end."""
    env = os.environ.copy()
    env.update(
        {
            "DATABASE_URL": live.test_database_url(),
            "SECRET_KEY": "test-only-secret-key-not-for-production",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DEBUG": "0",
            "PYTHONUNBUFFERED": "1",
            "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "ACK_ALERT_CHECK_SECONDS": "0.3",
        }
    )
    if django_settings.REDIS_URL:
        env["REDIS_URL"] = django_settings.REDIS_URL
        env["CHANNEL_PREFIX"] = django_settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    env.update({k: str(v) for k, v in env_overrides.items()})
    log_path = log_dir / f"worker-{time.monotonic_ns()}.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "db_worker",
                "--no-reload",
                "--no-startup-delay",
                "--interval",
                "0.05",
            ],
            cwd=live.BASE_DIR,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
    process.log = log_path.read_text(errors="replace")


def wait_until(condition, timeout: float, what: str, process=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if process is not None and process.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout} s")


@pytest.mark.django_db(transaction=True)
def test_a_worker_process_delivers_a_change_soon_after_it_commits(cad, call_types, tmp_path):
    with Receiver() as receiver, worker(tmp_path) as process:
        subscription = subscribed(cad.api_client, receiver.url, events=["incident.created"])
        started = time.monotonic()
        posted_incident(cad.api_client)
        wait_until(
            lambda: subscription.deliveries.filter(status="delivered").exists(), 20, "delivered", process
        )
        took = time.monotonic() - started
    assert took < 10
    assert len(receiver.delivered_ids()) == 1


@pytest.mark.django_db(transaction=True)
def test_a_worker_process_raises_the_overdue_alert_with_no_console_open(call_types, tmp_path):
    factories.UnitFactory(callsign="CR-1")
    incident = factories.incident()
    assignment = services.assignment_create(
        incidents=Incident.objects.all(), incident_id=incident.pk, callsign="CR-1", actor=None
    )
    Assignment.objects.filter(pk=assignment.pk).update(dispatched_at=timezone.now() - timedelta(seconds=90))
    with worker(tmp_path, ACK_ALERT_SECONDS=60) as process:
        wait_until(lambda: Alert.objects.filter(assignment=assignment).exists(), 20, "the alert", process)
    assert Alert.objects.get().kind == "ack_overdue"


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_post_loses_nothing_and_the_next_worker_delivers(cad, call_types, tmp_path):
    with Receiver() as receiver:
        receiver.hang = True  # the first post never gets its answer
        subscription = subscribed(cad.api_client, receiver.url, events=["incident.created"])
        # A short timeout, so the dead worker's hold on the subscription (twice that) runs out soon.
        with worker(tmp_path, WEBHOOK_TIMEOUT_SECONDS=2) as first:
            posted_incident(cad.api_client)
            assert receiver.got_one.wait(20), "the first worker never posted"
            first.kill()  # mid-post: no answer recorded, its task left running forever
        delivery = subscription.deliveries.get()
        assert (delivery.status, delivery.attempts) == ("pending", 0)
        receiver.hang = False

        with worker(tmp_path, WEBHOOK_TIMEOUT_SECONDS=2) as second:
            wait_until(
                lambda: subscription.deliveries.filter(status="delivered").exists(), 20, "delivered", second
            )

    event_id = delivery.event_id
    assert receiver.ids() == [event_id, event_id]  # at least once: the receiver dedupes by webhook-id
    assert receiver.received[0].headers["webhook-id"] == receiver.received[1].headers["webhook-id"]
    assert WebhookDelivery.objects.get().status == "delivered"
