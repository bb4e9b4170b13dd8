"""Webhooks: subscribing, the deliveries every recorded event owes, and sending them in order.

A delivery row is written in the transaction that records its event (so it exists exactly when
the event does), the worker is woken once that transaction commits, and the worker posts each
subscription's events one at a time in event-id order, retrying the first that fails with a
growing delay before any later one goes. See dispatch.webhooks for the mechanism."""

import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from dispatch import webhooks
from dispatch.models import ApiClient, AuditEntry, WebhookDelivery, WebhookSubscription
from dispatch.services.audit import audit_record
from dispatch.services.conflicts import ServiceConflict, ServiceInvalid

log = logging.getLogger(__name__)

# A client's subscriptions at once: enough for one per event type, and a bound on the fan-out.
SUBSCRIPTIONS_MAX = 20
# Each run of the worker's task sends at most this many of one subscription's events in a row.
BATCH_PER_SUBSCRIPTION = 200
Status = WebhookDelivery.Status


def webhook_subscribe(*, client: ApiClient, url: str, events: list[str]) -> WebhookSubscription:
    """Subscribe the client to `events` at `url`; the result carries the new secret (the only
    time anyone sees it). Refuses (ServiceInvalid) an event type the client's role may not hear
    (a police client: only referral.updated), and a URL that is not http(s) or reaches an
    address the settings do not allow; refuses (409 too_many_webhooks) a client that already
    has SUBSCRIPTIONS_MAX."""
    allowed = webhooks.SUBSCRIBABLE.get(client.role, ())
    unknown = [event for event in events if event not in allowed]
    if unknown:
        raise ServiceInvalid(
            "events",
            f"A {client.get_role_display()} client may subscribe only to {', '.join(allowed)} "
            f"(not {', '.join(unknown)}).",
        )
    try:
        webhooks.url_check(url)
    except webhooks.UrlRefused as refused:
        raise ServiceInvalid("url", str(refused)) from None
    with transaction.atomic():
        # Counted under the client's row lock, so two racing subscribes cannot both be the 20th.
        ApiClient.objects.select_for_update().get(pk=client.pk)
        if client.webhooks.filter(deleted_at__isnull=True).count() >= SUBSCRIPTIONS_MAX:
            raise ServiceConflict(
                "too_many_webhooks", f"A client may have {SUBSCRIPTIONS_MAX} webhooks; delete one first."
            )
        subscription = WebhookSubscription.objects.create(
            api_client=client,
            url=url.strip(),
            events=list(dict.fromkeys(events)),
            secret=webhooks.secret_new(),
        )
        audit_record(
            actor=client.user,
            kind=AuditEntry.Kind.ADMINISTRATION,
            action="webhook.subscribe",
            target=f"webhook {subscription.pk}",
            detail={"events": subscription.events},
        )
        _subscribers_changed()
    return subscription


def webhook_unsubscribe(*, subscription: WebhookSubscription, actor) -> None:
    """Stop a subscription: nothing more is written for it, and what it was still owed is not
    sent. Unsubscribing twice is a no-op."""
    with transaction.atomic():
        now = timezone.now()
        changed = WebhookSubscription.objects.filter(pk=subscription.pk, deleted_at__isnull=True).update(
            deleted_at=now
        )
        if not changed:
            return
        subscription.deliveries.filter(status=Status.PENDING).update(status=Status.SKIPPED)
        audit_record(
            actor=actor,
            kind=AuditEntry.Kind.ADMINISTRATION,
            action="webhook.unsubscribe",
            target=f"webhook {subscription.pk}",
        )
        _subscribers_changed()


def _subscribers_changed() -> None:
    # Now, for the rest of this transaction, and again once it commits: a read made by another
    # thread in between saw the old subscriptions.
    webhooks.subscribers_forget()
    transaction.on_commit(webhooks.subscribers_forget)


def webhook_deliveries_record(sender, events, **kwargs) -> None:
    """Receiver of dispatch.events.events_recorded: the deliveries these events owe, written in
    their transaction in one INSERT (and no query at all when nobody subscribes to them); the
    worker is woken once it commits."""
    owed = [
        WebhookDelivery(subscription_id=subscription_id, event=event, next_try_at=event.at)
        for event in events
        for subscription_id in webhooks.subscribers_of(event.type)
    ]
    if not owed:
        return
    WebhookDelivery.objects.bulk_create(owed)
    transaction.on_commit(_wake_worker, robust=True)


def _wake_worker() -> None:
    from dispatch import tasks  # the tasks call these services

    tasks.deliver_webhooks.enqueue()


def _due(now):
    """Pending deliveries due now that are first in their subscription's queue."""
    earlier = WebhookDelivery.objects.filter(
        subscription=OuterRef("subscription"), status=Status.PENDING, event_id__lt=OuterRef("event_id")
    )
    return WebhookDelivery.objects.filter(status=Status.PENDING, next_try_at__lte=now).exclude(
        Exists(earlier)
    )


def webhook_deliveries_due() -> bool:
    """Whether some subscription's next delivery is due now (the worker's periodic check)."""
    return _due(timezone.now()).exists()


def webhook_deliveries_send() -> tuple[int, bool]:
    """Post what is due, each subscription's events in event-id order: the first that fails is
    retried after a growing delay (settings.WEBHOOK_RETRY_SECONDS) and nothing after it goes
    before it does; after the last retry it is given up (failed) and the next goes. A delivery
    the client may not see is skipped, never posted. Returns (posts made, whether it stopped
    for time, perhaps with more to send).

    Safe to run in several workers at once: a subscription is leased to one of them while it
    posts (twice the timeout, renewed before each post), so a worker that dies mid-post only
    delays its subscription until the lease runs out; the post it was making is made again
    (at least once: receivers dedupe by webhook-id). Stops after settings.WEBHOOK_RUN_SECONDS
    so the worker's other tasks get their turn."""
    deadline = timezone.now() + timedelta(seconds=settings.WEBHOOK_RUN_SECONDS)
    subscription_ids = list(_due(timezone.now()).values_list("subscription_id", flat=True).distinct()[:100])
    posted = 0
    for subscription_id in subscription_ids:
        if timezone.now() >= deadline:
            break
        posted += _send_subscription(subscription_id, deadline)
    return posted, timezone.now() >= deadline


def _lease(subscription_id, token: str) -> bool:
    now = timezone.now()
    until = now + timedelta(seconds=2 * settings.WEBHOOK_TIMEOUT_SECONDS)
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(lease_token=token)
    return bool(
        WebhookSubscription.objects.filter(free, pk=subscription_id).update(
            lease_token=token, lease_until=until
        )
    )


def _send_subscription(subscription_id, deadline) -> int:
    token = secrets.token_hex(16)
    posted = 0
    try:
        for _ in range(BATCH_PER_SUBSCRIPTION):
            if timezone.now() >= deadline or not _lease(subscription_id, token):
                break  # out of time, or another worker holds it (or took it: ours ran out)
            delivery = (
                WebhookDelivery.objects.filter(subscription_id=subscription_id, status=Status.PENDING)
                .select_related("event", "subscription__api_client__user")
                .order_by("event_id")
                .first()
            )
            if delivery is None or delivery.next_try_at > timezone.now():
                break
            subscription = delivery.subscription
            message = None
            if subscription.deleted_at is None:
                message = webhooks.message_for(delivery.event, subscription.api_client)
            if message is None:
                WebhookDelivery.objects.filter(pk=delivery.pk).update(status=Status.SKIPPED)
                continue
            body = webhooks.body_of(message)
            headers = webhooks.signed_headers(subscription.secret, str(message["id"]), body, timezone.now())
            answer = webhooks.post(subscription.url, body, headers, timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
            posted += 1
            if _record(delivery, answer) == Status.PENDING:
                break  # to be retried: the later ones wait for it
    finally:
        WebhookSubscription.objects.filter(pk=subscription_id, lease_token=token).update(
            lease_token="", lease_until=None
        )
    return posted


def _record(delivery: WebhookDelivery, answer) -> str:
    """Keep an attempt's answer; returns the delivery's status after it."""
    now = timezone.now()
    attempts = delivery.attempts + 1
    values = {
        "attempts": attempts,
        "last_status_code": answer.status_code,
        "last_error": answer.error,  # no answer, or no way to ask; an answer's status says the rest
        "last_attempt_at": now,
    }
    delays = settings.WEBHOOK_RETRY_SECONDS
    if answer.delivered:
        values.update(status=Status.DELIVERED, delivered_at=now)
    elif attempts > len(delays):
        values.update(status=Status.FAILED)
        log.warning(
            "webhook %s: gave up event %s after %d tries",
            delivery.subscription_id,
            delivery.event_id,
            attempts,
        )
    else:
        values.update(next_try_at=now + timedelta(seconds=delays[attempts - 1]))
    WebhookDelivery.objects.filter(pk=delivery.pk, status=Status.PENDING).update(**values)
    return values.get("status", Status.PENDING)


def webhook_delivery_retry(*, delivery_id: int, actor) -> WebhookDelivery:
    """A supervisor's "try again now": a failed or waiting delivery goes back to the front of
    its retries (the whole schedule again) and the worker is woken. Refuses one that was
    delivered or is not to be sent (409 not_retryable)."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update().select_related("subscription").get(pk=delivery_id)
        )
        if delivery.status not in (Status.FAILED, Status.PENDING) or delivery.subscription.deleted_at:
            raise ServiceConflict("not_retryable", "This delivery was made, or is not to be sent.")
        delivery.status = Status.PENDING
        delivery.attempts = 0
        delivery.next_try_at = timezone.now()
        delivery.save(update_fields=["status", "attempts", "next_try_at"])
        audit_record(
            actor=actor,
            kind=AuditEntry.Kind.ADMINISTRATION,
            action="webhook.retry",
            target=f"webhook {delivery.subscription_id}",
            detail={"event": delivery.event_id},
        )
        transaction.on_commit(_wake_worker, robust=True)
    return delivery
