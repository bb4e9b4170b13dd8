"""The event log and live delivery.

Every state change records its event with `event_record()` inside the transaction that makes
the change; the event is pushed through the channel layer only after that transaction
commits. The channel layer may drop a message (channels-redis does at capacity); the log is
what makes delivery reliable: clients `resume` from the last id they saw.
"""

import asyncio
import json
import logging
from datetime import datetime, timedelta
from functools import cache, partial

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection, transaction
from django.dispatch import Signal
from django.utils import timezone

from dispatch.groups import dispatch_group, unit_group
from dispatch.models import Event, WebhookDelivery
from dispatch.programs import program_id_of, sole_program
from dispatch.timestamps import utc_iso

log = logging.getLogger(__name__)

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


def event_as_message(event: Event) -> dict:
    return {"id": event.id, "type": event.type, "at": utc_iso(event.at), "data": event.data}


def event_as_text(event: Event) -> str:
    """The event as a socket sends it (JSON text), encoded once however many sockets send it."""
    return json.dumps(event_as_message(event))


def event_push_message(
    event: Event, prev: int, prev_unit: int | None, prev_program: int | None = None
) -> dict:
    """What the channel layer carries for one event: the text every socket sends as it is
    (never decoded and encoded again per socket), and what a socket decides by: the id, the
    type, the audience and the ids before it (`prev` overall, `prev_unit` for its unit,
    `prev_program` for its program; None: not known, the socket reads the log)."""
    return {
        "type": "event.deliver",
        "event": {"id": event.id, "type": event.type},
        "text": event_as_text(event),
        "unit_id": event.unit_id,
        "program_id": event.program_id,
        "prev": prev,
        "prev_unit": prev_unit,
        "prev_program": prev_program,
    }


def event_record(type: str, data: dict, unit=None) -> Event:
    """Store an event in the caller's transaction and send it once that transaction commits.

    Refuses to run outside a transaction: an event sent for a change that then rolled back
    would tell tablets something that never happened. On PostgreSQL an advisory lock held to
    commit hands out ids in commit order, so a client that has seen id N has seen every
    event below N it may see, and `resume` from N never skips one.
    """
    return events_record([(type, data, unit)])[0]


def events_record(items: list[tuple[str, dict, object]]) -> list[Event]:
    """event_record() for several events (type, data, unit) at once: one INSERT, ids in the
    order given, and one push for all of them after the commit.

    Each pushed message names the event before it, overall (`prev`), for its unit
    (`prev_unit`) and for its program (`prev_program`): a socket sends a pushed event at once
    when it has sent that one, and fills the gap from the log first when it has not
    (dispatch.consumers). Nothing is pushed when the transaction, or the savepoint this runs
    in, rolls back: Django drops the commit hook with it.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("event_record() must run inside transaction.atomic()")
    programs = [_program_of(data, unit) for _type, data, unit in items]
    unit_ids = list(dict.fromkeys(unit.pk for _type, _data, unit in items if unit is not None))
    program_ids = list(dict.fromkeys(programs))
    now = timezone.now()
    events = [
        Event(type=type, at=now, data=data, unit=unit, program_id=program_id)
        for (type, data, unit), program_id in zip(items, programs, strict=True)
    ]
    if connection.vendor == "postgresql":
        newest, newest_by_unit, newest_by_program = _store_under_lock(events, unit_ids, program_ids)
    else:
        newest, newest_by_unit, newest_by_program = _newest_under_lock(unit_ids, program_ids)
        Event.objects.bulk_create(events)
    pushes = []
    for event in events:
        groups = [dispatch_group(event.program_id)]
        prev_unit = None
        if event.unit_id is not None:
            # The unit's tablets first: they are the ones a person in crisis is waiting on.
            groups.insert(0, unit_group(event.unit_id))
            prev_unit, newest_by_unit[event.unit_id] = newest_by_unit[event.unit_id], event.id
        prev_program, newest_by_program[event.program_id] = newest_by_program[event.program_id], event.id
        pushes.append((groups, event_push_message(event, newest, prev_unit, prev_program)))
        newest = event.id
    transaction.on_commit(partial(events_send, pushes))
    events_recorded.send(sender=Event, events=events)
    return events


def _program_of(data: dict, unit) -> int:
    """The program an event belongs to: its unit's, else the one its record names (every
    payload carries its record's `program` slug)."""
    if unit is not None:
        return unit.program_id
    program_id = program_id_of(data.get("program"))
    if program_id is None:
        only = sole_program()  # a one-program deployment's events are all its own
        if only is None:
            raise ValueError("an event's data must name its program")
        program_id = only.pk
    return program_id


def _newest_under_lock(unit_ids: list[int], program_ids: list[int]) -> tuple[int, dict, dict]:
    """Take the lock that orders ids and read, under it and in one query, the newest event id
    overall, for each of `unit_ids` and for each of `program_ids` (0: none).

    Asked on every call, never remembered: the transaction's own earlier events are visible
    to it, and a rolled-back savepoint has taken its events (and perhaps the lock) away, so
    the database's answer is always the right one. Taking the lock again in a transaction
    that holds it costs a statement and never waits.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_EVENT_ID_LOCK])
        # Read under the same lock (SQLite: under its one write lock), in one statement of
        # subqueries on the indexes event_unit_id and event_program_id. Written out rather than
        # built by the ORM: it runs in every change's transaction, and compiling its ORM form
        # cost 1.8 ms of the request's thread against 0.07 ms for this (bench/README.md).
        sql = "SELECT " + ", ".join(_newest_columns(connection.vendor, len(unit_ids), len(program_ids)))
        cursor.execute(sql, [*unit_ids, *program_ids])
        return _newest_of(cursor.fetchone(), unit_ids, program_ids)


def _store_under_lock(
    events: list[Event], unit_ids: list[int], program_ids: list[int]
) -> tuple[int, dict, dict]:
    """PostgreSQL: take the lock that orders ids, then in one statement read the newest ids as
    _newest_under_lock() does and insert `events` (their ids set, in the order given): one
    round trip to the database fewer in every change's transaction than the read and
    bulk_create apart. The read is the statement's own snapshot, taken after the lock was
    granted and before its rows are inserted, so it never sees the events it inserts."""
    fields = [Event._meta.get_field(name) for name in _EVENT_COLUMNS]
    params = [*unit_ids, *program_ids]
    for event in events:
        params += [field.get_db_prep_save(getattr(event, field.attname), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_EVENT_ID_LOCK])
        cursor.execute(_store_sql(len(events), len(unit_ids), len(program_ids)), params)
        rows = cursor.fetchall()
    for event, row in zip(events, rows, strict=True):
        event.id = row[0]
        event._state.adding, event._state.db = False, connection.alias
    return _newest_of(rows[0][1:], unit_ids, program_ids)


def _newest_of(row, unit_ids: list[int], program_ids: list[int]) -> tuple[int, dict, dict]:
    by_unit = row[1 : 1 + len(unit_ids)]
    by_program = row[1 + len(unit_ids) :]
    return (
        row[0] or 0,  # NULL: an empty log
        {unit_id: newest or 0 for unit_id, newest in zip(unit_ids, by_unit, strict=True)},
        {program_id: newest or 0 for program_id, newest in zip(program_ids, by_program, strict=True)},
    )


_EVENT_COLUMNS = ("program", "type", "at", "data", "unit")


@cache
def _newest_columns(vendor: str, units: int, programs: int) -> tuple[str, ...]:
    """The newest event id overall, then of each of `units` units and `programs` programs
    (their ids the parameters, in that order), as subqueries; NULL where there is none. Kept
    per database vendor, whose quoting it uses."""
    quote = connection.ops.quote_name
    meta = Event._meta
    table, id_ = quote(meta.db_table), quote(meta.pk.column)
    unit, program = quote(meta.get_field("unit").column), quote(meta.get_field("program").column)

    def newest(where: str = "") -> str:
        return f"(SELECT {id_} FROM {table}{where} ORDER BY {id_} DESC LIMIT 1)"

    of_units = [newest(f" WHERE {unit} = %s")] * units
    of_programs = [newest(f" WHERE {program} = %s")] * programs
    return (newest(), *of_units, *of_programs)


@cache
def _store_sql(events: int, units: int, programs: int) -> str:
    """PostgreSQL: the newest ids (_newest_columns) read in a WITH, `events` rows inserted,
    and each row's id returned with the newest ids beside it."""
    quote = connection.ops.quote_name
    meta = Event._meta
    newest = _newest_columns("postgresql", units, programs)
    names = [f"n{i}" for i in range(len(newest))]
    columns = ", ".join(quote(meta.get_field(name).column) for name in _EVENT_COLUMNS)
    row = "(" + ", ".join(["%s"] * len(_EVENT_COLUMNS)) + ")"
    return (
        "WITH newest AS (SELECT "
        + ", ".join(f"{column} AS {name}" for column, name in zip(newest, names, strict=True))
        + f") INSERT INTO {quote(meta.db_table)} ({columns}) VALUES "
        + ", ".join([row] * events)
        + f" RETURNING {quote(meta.pk.column)}, "
        + ", ".join(f"(SELECT {name} FROM newest)" for name in names)
    )


def events_send(pushes: list[tuple[list[str], dict]]) -> None:
    """Push stored events, each to its groups, in one trip to the event loop: the commit hook
    of events_record().

    A failure here is logged and loses nothing: the events are in the log, sockets read them
    on their next catch-up and clients replay them on resume. It never raises, so the request
    that made the change never fails for it, and the transaction's later hooks still run.
    """
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
    by_group = dict(sorted(by_group.items(), key=lambda item: not item[0].startswith("unit.")))
    layer = get_channel_layer()

    async def send(group: str, messages: list[dict]) -> None:
        # Several events for one group travel as one message (a group_send is a Redis round
        # trip, one after another per process): a tablet has its assignment.created as soon as
        # its unit.updated.
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
