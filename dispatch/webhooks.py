"""Webhooks (CONTRACT.md 1.1, "Webhooks"), the mechanism: which events each kind of client may
be told of, which URLs it may name, who subscribes (as this process knows it), what a client may
see of an event, and how one delivery is signed and posted. What changes state is in
dispatch.services.webhooks; the worker's tasks are in dispatch.tasks."""

import base64
import contextlib
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from standardwebhooks import Webhook

from dispatch.events import EventType, event_as_message
from dispatch.models import Event, Incident, WebhookSubscription
from dispatch.roles import Action, Role, Rows, may, rows_visible

log = logging.getLogger(__name__)

# What each kind of client may subscribe to. A police records system hears only how its own
# referrals are going, and nothing clinical (referrals.selectors.referral_officer_view).
SUBSCRIBABLE: dict[str, tuple[str, ...]] = {
    Role.CAD: (
        EventType.INCIDENT_CREATED,
        EventType.INCIDENT_UPDATED,
        EventType.ASSIGNMENT_CREATED,
        EventType.ASSIGNMENT_UPDATED,
        EventType.ASSIGNMENT_CANCELLED,
        EventType.UNIT_UPDATED,
    ),
    Role.POLICE: (EventType.REFERRAL_UPDATED,),
}
URL_MAX = 500
# A receiver's answer is read only this far: the status is all that counts.
ANSWER_READ_MAX = 64 * 1024
USER_AGENT = "community-response-webhooks/1"


def secret_new() -> str:
    """A signing secret as the Standard Webhooks libraries take it: whsec_ and base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


# --- Which URLs --------------------------------------------------------------------------------
class UrlRefused(ValueError):
    """A webhook URL this deployment will not post to; the message says why."""


@cache
def _allowed_networks(entries: tuple[str, ...]) -> tuple:
    try:
        return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())
    except ValueError as exc:
        raise ImproperlyConfigured(f"WEBHOOK_ALLOWED_NETWORKS: {exc}") from exc


def address_allowed(address: str) -> bool:
    """Public addresses are; private, loopback, link-local and reserved ones only when
    settings.WEBHOOK_ALLOWED_NETWORKS holds them (a CAD on the program's own network)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in network for network in _allowed_networks(tuple(settings.WEBHOOK_ALLOWED_NETWORKS))):
        return True
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class Target:
    """Where a URL posts to: the name it was given and the addresses it resolved to."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def url_check(url: str) -> Target:
    """The target of a webhook URL, resolved now; raises UrlRefused with the reason when it is
    not http(s), carries credentials, does not resolve, or reaches an address not allowed. Run
    when a client subscribes and again before every delivery (a name may move)."""
    if not isinstance(url, str) or len(url) > URL_MAX:
        raise UrlRefused(f"Give a URL of at most {URL_MAX} characters.")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(f"Not a URL: {exc}.") from None
    if parts.scheme not in ("http", "https"):
        raise UrlRefused("Only http:// and https:// URLs can receive webhooks.")
    if not parts.hostname:
        raise UrlRefused("The URL names no host.")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("Put no credentials in the URL: verify the signature instead.")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UrlRefused(f"The host {parts.hostname} could not be resolved.") from None
    addresses = tuple(dict.fromkeys(info[4][0] for info in found))
    refused = [address for address in addresses if not address_allowed(address)]
    if not addresses or refused:
        raise UrlRefused(
            f"The host {parts.hostname} is a private or local address ({', '.join(refused)}): webhooks go "
            "only to public addresses unless WEBHOOK_ALLOWED_NETWORKS allows that network."
        )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port, path, addresses)


# --- Who subscribes, as this process knows it ---------------------------------------------------
class _Subscribers:
    """Which live subscriptions want which event type, read at most every
    WEBHOOK_SUBSCRIBERS_TTL_SECONDS: recording an event asks here on every transaction, and
    with nobody subscribed that must cost no query at all."""

    def __init__(self):
        self.by_type: dict[str, tuple] = {}
        self.read_at: float | None = None
        self.lock = threading.Lock()

    def of(self, event_type: str) -> tuple:
        read_at = self.read_at
        if read_at is None or time.monotonic() - read_at >= settings.WEBHOOK_SUBSCRIBERS_TTL_SECONDS:
            with self.lock:
                if self.read_at == read_at:  # nobody read them while this thread waited
                    self._read()
        return self.by_type.get(event_type, ())

    def _read(self):
        by_type: dict[str, list] = {}
        rows = WebhookSubscription.objects.filter(deleted_at__isnull=True, api_client__is_active=True)
        for subscription_id, events in rows.values_list("id", "events"):
            for event_type in events:
                by_type.setdefault(event_type, []).append(subscription_id)
        self.by_type = {event_type: tuple(ids) for event_type, ids in by_type.items()}
        self.read_at = time.monotonic()

    def forget(self):
        self.read_at = None


_subscribers = _Subscribers()


def subscribers_of(event_type: str) -> tuple:
    """The ids of the subscriptions that want `event_type`."""
    return _subscribers.of(event_type)


def subscribers_forget() -> None:
    """Read the subscriptions again on the next event: a subscription changed."""
    _subscribers.forget()


# --- What a client may see of an event --------------------------------------------------------
_INCIDENT_EVENTS = {EventType.INCIDENT_CREATED, EventType.INCIDENT_UPDATED}
_ASSIGNMENT_EVENTS = {
    EventType.ASSIGNMENT_CREATED,
    EventType.ASSIGNMENT_UPDATED,
    EventType.ASSIGNMENT_CANCELLED,
}


def message_for(event: Event, client) -> dict | None:
    """The event as the WebSocket sends it, when this client may see it; None when it may not
    (another program's event, another CAD's incident, another police client's referral, a type
    its role may not hear).
    Incidents and assignments follow dispatch.roles.ROWS; what belongs to another app (a
    referral) is decided by the function settings.WEBHOOK_AUDIENCES names for its type."""
    if not client.is_active or event.type not in SUBSCRIBABLE.get(client.role, ()):
        return None
    if client.program_id is not None and event.program_id != client.program_id:
        return None  # another program's: a program's client hears only its own
    if event.type in _INCIDENT_EVENTS | _ASSIGNMENT_EVENTS:
        data = event.data if event.type in _INCIDENT_EVENTS else event.data.get("incident") or {}
        rows = rows_visible(client.user, "incident")
        visible = rows == Rows.ALL or (
            rows == Rows.OWN_CLIENT
            and Incident.objects.filter(pk=data.get("id"), api_client__user=client.user).exists()
        )
    elif event.type == EventType.UNIT_UPDATED:
        visible = may(client.user, Action.UNIT_READ)
    else:
        path = settings.WEBHOOK_AUDIENCES.get(event.type)
        visible = path is not None and import_string(path)(event.data, client.user)
    return event_as_message(event) if visible else None


# --- One delivery --------------------------------------------------------------------------------
def body_of(message: dict) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def signed_headers(secret: str, message_id: str, body: str, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers: webhook-id, webhook-timestamp (Unix seconds) and
    webhook-signature, `v1,` and the base64 HMAC-SHA256 of "{id}.{timestamp}.{body}"."""
    at = at.astimezone(UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
    }


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    error: str = ""

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address url_check allowed, not to whatever the name resolves to next."""

    def __init__(self, host, port, *, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self.pinned_address = address

    def connect(self):
        self.sock = socket.create_connection((self.pinned_address, self.port), self.timeout)


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    default_port = 443

    def connect(self):
        super().connect()
        self.sock = ssl.create_default_context().wrap_socket(self.sock, server_hostname=self.host)


def post(url: str, body: str, headers: dict[str, str], *, timeout: float) -> Answer:
    """POST the body, and give up after `timeout` seconds whatever the receiver does (a slow
    answer, an answer trickled byte by byte): a watchdog shuts the socket. Never raises."""
    try:
        target = url_check(url)
    except UrlRefused as refused:
        return Answer(None, str(refused)[:200])
    kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = kind(target.host, target.port, address=target.addresses[0], timeout=timeout)
    timed_out = threading.Event()

    def give_up():
        timed_out.set()
        sock = connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed: nothing left to stop
                sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(timeout, give_up)
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request(
            "POST",
            target.path,
            body=body.encode(),
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
        )
        response = connection.getresponse()
        response.read(ANSWER_READ_MAX)
        return Answer(response.status)
    except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
        if timed_out.is_set() or isinstance(exc, TimeoutError | socket.timeout):
            return Answer(None, f"No answer within {timeout:g} s.")
        return Answer(None, (str(exc) or type(exc).__name__)[:200])
    finally:
        watchdog.cancel()
        connection.close()
