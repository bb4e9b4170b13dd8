"""The background worker's tasks: Django's Tasks framework, stored by django-tasks-db in the
database the app already uses, and run by `manage.py db_worker` (one or more processes).

The worker has no clock of its own, so the periodic job is a chain: each link of `periodic`
enqueues the next with run_after before it does its work, so a worker killed mid-link leaves the
chain going, and `periodic_ensure` (run by db_worker as it starts) restarts a chain that broke.
Only the link carrying the chain's current token continues it: however many workers start, one
chain runs. Webhook deliveries are a task of their own, woken when a change that owes some
commits; the periodic link wakes it too for the retries that come due."""

import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.tasks import task
from django.utils import timezone

from dispatch import services
from dispatch.models import WorkerChain

log = logging.getLogger(__name__)

PERIODIC = "periodic"
# Above deliveries: a dispatcher waiting on an overdue-acknowledgement alert comes first.
PERIODIC_PRIORITY = 50


def _period() -> timedelta:
    return timedelta(seconds=settings.ACK_ALERT_CHECK_SECONDS)


def _stale_after() -> timedelta:
    """How late a chain's next link may be before the chain is taken as broken: well past what
    a busy worker (a delivery run is bounded by WEBHOOK_RUN_SECONDS) makes it wait."""
    return max(3 * _period(), timedelta(seconds=settings.WEBHOOK_RUN_SECONDS + 40))


@task(priority=PERIODIC_PRIORITY)
def periodic(token: str) -> str:
    """One link of the periodic chain: continue the chain, then raise the alerts for
    assignments not acknowledged in time and wake the webhook deliveries due again."""
    if not _chain_continue(token):
        return "superseded by a newer chain"
    raised = services.alerts_raise_overdue()
    if services.webhook_deliveries_due():
        deliver_webhooks.enqueue()
    return f"{len(raised)} alerts raised"


def _chain_continue(token: str) -> bool:
    """Enqueue the chain's next link, in the same transaction as the chain's new due time, when
    `token` is the chain's; False for a link of an older chain, which ends there."""
    with transaction.atomic():
        chain = WorkerChain.objects.select_for_update().filter(name=PERIODIC, token=token).first()
        if chain is None:
            return False
        chain.due_at = timezone.now() + _period()
        chain.save(update_fields=["due_at"])
        periodic.using(run_after=chain.due_at).enqueue(token)
    return True


def periodic_ensure() -> bool:
    """Start the periodic chain unless a live one runs (its next link due recently or soon).
    Returns whether it started one. Safe from several workers starting at once."""
    now = timezone.now()
    try:
        with transaction.atomic():
            chain = WorkerChain.objects.select_for_update().filter(name=PERIODIC).first()
            if chain is not None and chain.due_at >= now - _stale_after():
                return False
            token = secrets.token_hex(16)
            if chain is None:
                WorkerChain.objects.create(name=PERIODIC, token=token, due_at=now)
            else:
                chain.token, chain.due_at = token, now
                chain.save(update_fields=["token", "due_at"])
            periodic.enqueue(token)
    except IntegrityError:
        return False  # another worker created it at the same moment
    log.info("started the periodic chain")
    return True


@task()
def deliver_webhooks() -> int:
    """Post the webhook deliveries due now (dispatch.services.webhook_deliveries_send); when the
    run stopped for time with subscriptions left, enqueue itself again behind the other tasks."""
    posted, cut_short = services.webhook_deliveries_send()
    if cut_short:
        deliver_webhooks.enqueue()
    return posted
