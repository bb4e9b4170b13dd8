"""Who a session still serves: the idle lock, and telling open sockets when it ends.

One place decides whether a signed-in session is still good (`session_verdict`): the pages'
middleware (dispatch.middleware.IdleLockMiddleware) and every WebSocket consumer
(dispatch.consumers.SessionBoundConsumer) ask it. A session is over when it was signed out or
expired, when it has been idle for SESSION_IDLE_SECONDS, or when its user was deactivated; a
socket whose user lost the role for it is closed too (4403 rather than 4401).

Sockets hear of a change at once through two channel-layer groups: one per session (sign-out,
idle lock) and one per user (deactivation, a role change); and they check again every
SESSION_RECHECK_SECONDS whatever they heard, for what no signal announces (an expiry, a session
deleted straight from the store).
"""

import logging
from dataclasses import dataclass
from importlib import import_module

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare

log = logging.getLogger(__name__)

# The session's last moment of activity someone chose (a tap, a page, a form), POSIX seconds.
LAST_ACTIVE_KEY = "last_active"
# Requests the page makes on its own (a refresh after a live event, the tablet's location)
# send this header, so they do not keep an unattended session awake.
BACKGROUND_HEADER = "HTTP_X_BACKGROUND"

CLOSE_NOT_SIGNED_IN = 4401
CLOSE_ROLE_NOT_ALLOWED = 4403


class Ended:
    """Why a session no longer serves (the `reason` of a Verdict)."""

    SIGNED_OUT = "signed_out"  # signed out, expired, or deleted from the store
    IDLE = "idle"
    DEACTIVATED = "deactivated"
    ROLE = "role"


@dataclass(frozen=True)
class Verdict:
    code: int
    reason: str


def session_group(session_key: str) -> str:
    return f"session.{session_key}"


def user_access_group(user_id) -> str:
    return f"access.{user_id}"


def now_seconds() -> float:
    return timezone.now().timestamp()


def idle_for(session_data) -> float:
    """Seconds since the session's last chosen activity (0 for a session that never noted one)."""
    last = session_data.get(LAST_ACTIVE_KEY)
    if not isinstance(last, int | float):
        return 0.0
    return max(0.0, now_seconds() - last)


def is_idle(session_data) -> bool:
    return idle_for(session_data) >= settings.SESSION_IDLE_SECONDS


def _session_store(session_key):
    return import_module(settings.SESSION_ENGINE).SessionStore(session_key)


def session_verdict(session_key: str | None, user_id, action: str | None = None) -> Verdict | None:
    """None while the session `session_key` is still `user_id`'s, awake, and (with `action`)
    its user may still do `action`; else why not. An idle session found here is ended (deleted
    from the store), as the pages would end it."""
    if not session_key:
        return Verdict(CLOSE_NOT_SIGNED_IN, Ended.SIGNED_OUT)
    store = _session_store(session_key)
    data = store.load()  # empty for a session that is gone or expired
    verdict = _session_rules(data, user_id)
    if verdict is not None:
        if verdict.reason == Ended.IDLE:
            store.delete()
        return verdict
    user = _users_for_rules([user_id]).get(_as_pk(user_id))
    return _user_rules(data, user, action)


def session_verdicts(checks: list[tuple[str | None, object, str | None]]) -> list[Verdict | None]:
    """`session_verdict` for many sockets at once, (session key, user id, action) each, by the
    same rules, in a bounded number of queries whatever their number: one read of the session
    store, one of the users (with their roles). Idle sessions are ended as there."""
    keys = {key for key, _user_id, _action in checks if key}
    sessions = _sessions_load(keys)
    verdicts: list[Verdict | None] = []
    awake: list[int] = []
    for index, (key, user_id, _action) in enumerate(checks):
        verdict = Verdict(CLOSE_NOT_SIGNED_IN, Ended.SIGNED_OUT) if not key else None
        verdict = verdict or _session_rules(sessions.get(key, {}), user_id)
        verdicts.append(verdict)
        if verdict is None:
            awake.append(index)
    for key in {checks[i][0] for i, v in enumerate(verdicts) if v is not None and v.reason == Ended.IDLE}:
        _session_store(key).delete()
    users = _users_for_rules({checks[i][1] for i in awake})
    for index in awake:
        key, user_id, action = checks[index]
        verdicts[index] = _user_rules(sessions[key], users.get(_as_pk(user_id)), action)
    return verdicts


def _session_rules(data, user_id) -> Verdict | None:
    """What the session's own data decides: signed out, expired, deleted, someone else's, idle."""
    if str(data.get(SESSION_KEY, "")) != str(user_id):
        return Verdict(CLOSE_NOT_SIGNED_IN, Ended.SIGNED_OUT)
    if is_idle(data):
        return Verdict(CLOSE_NOT_SIGNED_IN, Ended.IDLE)
    return None


def _user_rules(data, user, action: str | None) -> Verdict | None:
    """What the user decides, for a session that is theirs and awake."""
    from django_otp import DEVICE_ID_SESSION_KEY

    from dispatch.roles import may
    from dispatch.services.second_factor import second_factor_required

    if user is None or not user.is_active:
        return Verdict(CLOSE_NOT_SIGNED_IN, Ended.DEACTIVATED)
    # A password changed elsewhere signs out every other session, as Django's own middleware does.
    if data.get(BACKEND_SESSION_KEY) and hasattr(user, "get_session_auth_hash"):
        stored = data.get(HASH_SESSION_KEY) or ""
        if not constant_time_compare(stored, user.get_session_auth_hash()):
            return Verdict(CLOSE_NOT_SIGNED_IN, Ended.SIGNED_OUT)
    if second_factor_required(user) and not data.get(DEVICE_ID_SESSION_KEY):
        return Verdict(CLOSE_NOT_SIGNED_IN, Ended.SIGNED_OUT)  # half signed in: the code is still owed
    if action is not None and not may(user, action):
        return Verdict(CLOSE_ROLE_NOT_ALLOWED, Ended.ROLE)
    return None


def _as_pk(user_id):
    return get_user_model()._meta.pk.to_python(user_id)


def _users_for_rules(user_ids) -> dict:
    """The users by pk, with what the rules read of them (their API client, their memberships)
    in the same two queries however many there are."""
    pks = {_as_pk(user_id) for user_id in user_ids}
    if not pks:
        return {}
    # The relations dispatch.roles reads for a user's grants (it prefetches them only when not
    # already there): an API client's, a person's memberships.
    users = (
        get_user_model()
        .objects.filter(pk__in=pks)
        .select_related("api_client")
        .prefetch_related("memberships")
    )
    return {user.pk: user for user in users}


def _sessions_load(keys) -> dict[str, dict]:
    """The data of the sessions `keys` that are still current (a gone or expired one is left
    out): one query for the database store, else one read per session through its store."""
    from django.contrib.sessions.backends.db import SessionStore as DatabaseStore

    if not keys:
        return {}
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    if issubclass(store_class, DatabaseStore) and store_class.load is DatabaseStore.load:
        # The database store (or a subclass that loads as it does): the rows, decoded as load() does.
        rows = store_class.get_model_class().objects.filter(
            session_key__in=keys, expire_date__gt=timezone.now()
        )
        decoder = store_class()
        return {row.session_key: decoder.decode(row.session_data) for row in rows}
    loaded = {key: store_class(key).load() for key in keys}
    return {key: data for key, data in loaded.items() if data}


def session_touch(session_key: str | None) -> None:
    """Note a use of the session made over its socket (a tablet's acknowledgement), as the
    pages note theirs."""
    if not session_key:
        return
    store = _session_store(session_key)
    if store.load():
        store[LAST_ACTIVE_KEY] = now_seconds()
        store.save(must_create=False)


# --- telling the sockets ------------------------------------------------------------------------
def _send(group: str, message: dict) -> None:
    try:
        async_to_sync(get_channel_layer().group_send)(group, message)
    except Exception:  # the sockets' own re-check closes them within SESSION_RECHECK_SECONDS
        log.exception("could not tell %s that its access changed", group)


def session_ended(session_key: str | None, reason: str = Ended.SIGNED_OUT) -> None:
    """The session is over (signed out, idle): its sockets close with 4401 at once, without
    reading anything."""
    if session_key:
        _send(session_group(session_key), {"type": "session.ended", "reason": reason})


def user_access_changed(user_id) -> None:
    """After commit: the user's sockets check again who they serve (deactivated: 4401, role
    lost: 4403; otherwise they carry on)."""
    transaction.on_commit(lambda: _send(user_access_group(user_id), {"type": "access.changed"}))


# --- signal receivers (connected in dispatch.apps) ---------------------------------------------------
def on_user_logged_out(sender, request, user, **kwargs):
    session = getattr(request, "session", None)
    session_ended(getattr(session, "session_key", None), Ended.SIGNED_OUT)


def on_user_saved(sender, instance, created, update_fields=None, **kwargs):
    if created:
        return
    if update_fields is not None and not ({"is_active", "password"} & set(update_fields)):
        return  # last_login and the like: nothing a socket depends on
    user_access_changed(instance.pk)


def on_groups_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if not reverse:
        user_access_changed(instance.pk)
    elif pk_set:
        for user_id in pk_set:
            user_access_changed(user_id)
