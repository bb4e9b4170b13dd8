"""The event log and live delivery.

Every state change records its event with `event_record()` inside the transaction that makes
the change; the event is pushed through the channel layer only after that transaction
commits. The channel layer may drop a message (channels-redis does at capacity); the log is
what makes delivery reliable: clients `resume` from the last id they saw.
"""

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Subquery
from django.dispatch import Signal
from django.utils import timezone

from dispatch.models import Event, WebhookDelivery

log = logging.getLogger(__name__)

DISPATCH_GROUP = "dispatch"
# An arbitrary constant naming the PostgreSQL advisory lock that orders event ids.
_EVENT_ID_LOCK = 7_310_001


class EventType:
    INCIDENT_CREATED = "incident.created"
    INCIDENT_UPDATED = "incident.updated"
    ASSIGNMENT_CREATED = "assignment.created"
    ASSIGNMENT_UPDATED = "assignment.updated"
    ASSIGNMENT_CANCELLED = "assignment.cancelled"
    UNIT_UPDATED = "unit.updated"
    BACKUP_REQUESTED = "backup.requested"
    BACKUP_UPDATED = "backup.updated"
    ALERT_RAISED = "alert.raised"
    ALERT_CLEARED = "alert.cleared"
    # What a referring officer may know of a referral changed (referrals.services).
    REFERRAL_UPDATED = "referral.updated"


# Sent with `events` (the Event rows just stored) inside the transaction that recorded them,
# before it commits: a receiver may write beside them in that transaction (a webhook delivery,
# a referral's status), and must send nothing until it commits.
events_recorded = Signal()


def unit_group(unit_id) -> str:
    return f"unit.{unit_id}"


def user_group(user_id) -> str:
    """Each responder's own group: told when their shift starts or ends, to rejoin."""
    return f"user.{user_id}"


def iso(dt: datetime | None) -> str | None:
    """Timestamps leave the server in UTC with a Z (CONTRACT.md)."""
    if dt is None:
        return None
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_as_message(event: Event) -> dict:
    return {"id": event.id, "type": event.type, "at": iso(event.at), "data": event.data}


def event_record(type: str, data: dict, unit=None) -> Event:
    """Store an event in the caller's transaction and send it once that transaction commits.

    Refuses to run outside a transaction: an event sent for a change that then rolled back
    would tell tablets something that never happened. On PostgreSQL an advisory lock held to
    commit hands out ids in commit order, so a client that has seen id N has seen every
    event below N it may see, and `resume` from N never skips one.
    """
    return events_record([(type, data, unit)])[0]


def events_record(items: list[tuple[str, dict, object]]) -> list[Event]:
    """event_record() for several events (type, data, unit) at once: one INSERT, ids in
    the order given."""
    if not connection.in_atomic_block:
        raise RuntimeError("event_record() must run inside transaction.atomic()")
    newest = _newest_under_lock([unit for _type, _data, unit in items if unit is not None])
    now = timezone.now()
    events = Event.objects.bulk_create(
        [Event(type=type, at=now, data=data, unit=unit) for type, data, unit in items]
    )
    if newest.hook is None:
        # The transaction's first event (or the first since a savepoint took its events back).
        transaction.on_commit(_batch_open)
    for event in events:
        # The event just before this one, for dispatch and for the unit. A socket sends a
        # pushed event at once when it has sent that one, and fills the gap from the log
        # first when it has not (dispatch.consumers).
        prev_unit = newest.by_unit[event.unit_id] if event.unit_id is not None else None
        hook = partial(event_send, event, prev=newest.overall, prev_unit=prev_unit)
        transaction.on_commit(hook)
        newest.overall = event.id
        if event.unit_id is not None:
            newest.by_unit[event.unit_id] = event.id
        newest.hook = hook
    _batch_flush_last()
    events_recorded.send(sender=Event, events=events)
    return events


@dataclass
class _Newest:
    """The newest event ids as this transaction knows them, while it holds the lock."""

    overall: int
    by_unit: dict = field(default_factory=dict)
    # The send hook of the last event recorded with these numbers.
    hook: object = None


def _newest_under_lock(units: list) -> _Newest:
    """Take the lock that orders ids (once per transaction) and read the newest ids under it,
    overall and for each of `units`.

    A transaction that records several events (an assign records three) asks once: while it
    holds the lock nobody else can add an event, so after its first read the newest ids are
    the ones it wrote itself. What it knows is trusted only while the send hook of its last
    event is still waiting for this transaction's commit: after a commit, a rollback, or a
    rollback to a savepoint that took that event (and perhaps the lock) back, it asks again.
    Every event goes through here: an Event written any other way would not be known.
    """
    db = connections[DEFAULT_DB_ALIAS]
    newest = getattr(db, "_cr_event_newest", None)
    unknown = list(dict.fromkeys(unit.pk for unit in units))
    if newest is None or not any(entry[1] is newest.hook for entry in db.run_on_commit):
        if db.vendor == "postgresql":
            with db.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_EVENT_ID_LOCK])
        # Read under the same lock (SQLite: under its one write lock), in one query.
        latest = Event.objects.order_by("-id").values_list("id", flat=True)
        if not unknown:
            newest = _Newest(overall=latest.first() or 0)
        else:
            unit_id = unknown.pop(0)
            row = (
                latest.annotate(of_unit=Subquery(latest.filter(unit_id=unit_id).values("id")[:1]))
                .values_list("id", "of_unit")
                .first()
            )
            newest = _Newest(overall=row[0] if row else 0, by_unit={unit_id: (row[1] or 0) if row else 0})
        db._cr_event_newest = newest
    for unit_id in unknown:
        if unit_id not in newest.by_unit:
            newest.by_unit[unit_id] = (
                Event.objects.filter(unit_id=unit_id).order_by("-id").values_list("id", flat=True).first()
                or 0
            )
    return newest


def event_send(event: Event, *, prev: int | None = None, prev_unit: int | None = None) -> None:
    """Push a stored event to the dispatch group and, when it has one, its unit's group.

    `prev`/`prev_unit` name the event before it (0: none); None means unknown, and the
    receiving socket checks the log. A failure here loses nothing: the event is in the log,
    sockets read it on their next catch-up and clients replay it on resume. Called from a
    transaction's commit hooks, the push joins that transaction's batch (see _batch_open).
    """
    message = {
        "type": "event.deliver",
        "event": event_as_message(event),
        "unit_id": event.unit_id,
        "prev": prev,
        "prev_unit": prev_unit,
    }
    groups = [DISPATCH_GROUP]
    if event.unit_id is not None:
        # The unit's tablets first: they are the ones a person in crisis is waiting on.
        groups.insert(0, unit_group(event.unit_id))
    if _batch.pushes is not None:
        _batch.pushes.append((groups, message))
    else:
        _push_now([(groups, message)])


class _Batch(threading.local):
    # While a transaction's commit hooks run: the pushes of its events, in id order.
    pushes: list | None = None


_batch = _Batch()


def _batch_open() -> None:
    """The first commit hook of a transaction that recorded events: its events' pushes wait
    for _batch_flush, so the whole transaction costs one trip to the event loop."""
    if _batch.pushes:  # left by a transaction whose hooks were cut short: send it first
        _push_now(_batch.pushes)
    _batch.pushes = []


def _batch_flush() -> None:
    pushes, _batch.pushes = _batch.pushes, None
    if pushes:
        _push_now(pushes)


def _batch_flush_last() -> None:
    """Keep one _batch_flush at the very end of the transaction's commit hooks, after the push
    of every event it recorded. It is registered outside any savepoint (no savepoint's
    rollback takes it back; a rollback of the transaction drops it with the rest), so it
    runs whenever the transaction commits, and sends whatever pushes survived."""
    db = connections[DEFAULT_DB_ALIAS]
    db.run_on_commit = [entry for entry in db.run_on_commit if entry[1] is not _batch_flush]
    db.run_on_commit.append((set(), _batch_flush, False))


def _push_now(pushes: list[tuple[list[str], dict]]) -> None:
    try:
        async_to_sync(_push)(pushes)
    except Exception:  # never fail the request that made the change: the log has the events
        log.exception("could not push events %s", [message["event"]["id"] for _, message in pushes])


async def _push(pushes: list[tuple[list[str], dict]]) -> None:
    """Every group send of a batch in one trip to the event loop: each group gets its
    messages in id order, in one message (a socket that sees one out of order reads the log
    for the gap), and the groups are sent to side by side, the units' groups started first."""
    by_group: dict[str, list[dict]] = {}
    for groups, message in pushes:
        for group in groups:
            by_group.setdefault(group, []).append(message)
    by_group = dict(sorted(by_group.items(), key=lambda item: item[0] == DISPATCH_GROUP))
    layer = get_channel_layer()

    async def send(group: str, messages: list[dict]) -> None:
        # Several events for one group travel as one message (each group_send costs four
        # Redis round trips): a tablet has its assignment.created as soon as its unit.updated.
        message = messages[0] if len(messages) == 1 else {"type": "events.deliver", "messages": messages}
        try:
            await layer.group_send(group, message)
        except Exception:  # the log still has them; resume recovers
            log.exception("could not push events %s to %s", [m["event"]["id"] for m in messages], group)

    await asyncio.gather(*(send(group, messages) for group, messages in by_group.items()))


def events_retention_cutoff() -> datetime:
    return timezone.now() - timedelta(hours=settings.EVENT_RETENTION_HOURS)


def events_prune() -> int:
    """Delete the events older than settings.EVENT_RETENTION_HOURS; returns how many.

    Deletes only a prefix of the log (every id below the oldest event still in retention, or
    still owed to a webhook), so what is kept has no holes and `resume` can tell from the
    oldest id kept whether a client missed any. Refuses a retention under 24 hours:
    CONTRACT.md promises `resume` a day back.
    """
    if settings.EVENT_RETENTION_HOURS < 24:
        raise ValueError(
            f"EVENT_RETENTION_HOURS is {settings.EVENT_RETENTION_HOURS}; it must be at least 24."
        )
    cutoff = events_retention_cutoff()
    first_kept = Event.objects.filter(at__gte=cutoff).order_by("id").values_list("id", flat=True).first()
    # A webhook delivery still being retried needs its event: the log is kept from it on.
    owed = (
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
        .order_by("event_id")
        .values_list("event_id", flat=True)
        .first()
    )
    if owed is not None:
        first_kept = owed if first_kept is None else min(first_kept, owed)
    old = (
        Event.objects.filter(at__lt=cutoff) if first_kept is None else Event.objects.filter(id__lt=first_kept)
    )
    with transaction.atomic():
        # Their deliveries were made or given up: history as old as the events themselves.
        WebhookDelivery.objects.filter(event__in=old.values("id")).delete()
        deleted, _ = old.delete()
    return deleted
