import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save
from rest_framework import authentication, exceptions
from rest_framework.throttling import SimpleRateThrottle

from dispatch.models import ApiClient, Program


class WindowRateThrottle(SimpleRateThrottle):
    """DRF's SimpleRateThrottle, counted cheaply: DRF keeps the time of each of a caller's
    requests in one cache entry, read and written whole on every request (a pickled list of up
    to the rate's N times: 1,200 for an API client). Here the cache holds one number per caller
    and window of the rate's period (a minute for "N/min", windows aligned to the clock), raised
    with the cache's incr: more than N in a window are refused until the window ends, which is
    when Retry-After says to come back (a refused request counts too; the window's end lets
    the caller in all the same)."""

    def _window(self, request, view) -> str | None:
        """The cache key of the caller's count in the current window (None: not throttled), and
        the seconds left in it (self.left)."""
        self.now = self.timer()
        ident = self.get_cache_key(request, view)
        if ident is None:
            return None
        window, into = divmod(self.now, self.duration)
        self.left = self.duration - into
        return f"{ident}:{int(window)}"

    def _count(self, key: str) -> int:
        """Count one more in the window; returns the window's count with it."""
        try:
            return self.cache.incr(key)
        except ValueError:  # the window's first: its count lives until the window has ended
            if self.cache.add(key, 1, timeout=self.duration + 1):
                return 1
            return self.cache.incr(key)

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        key = self._window(request, view)
        return key is None or self._count(key) <= self.num_requests

    def wait(self):
        return max(1, self.left)


class ClientRateThrottle(WindowRateThrottle):
    """Every API answer counts against its caller: an API client or a signed-in person by
    their user ("client" rate), anyone else by address ("anonymous" rate)."""

    def __init__(self):
        # The rate depends on who asks: chosen in allow_request.
        pass

    def allow_request(self, request, view):
        user = getattr(request, "user", None)
        self.scope = "client" if user is not None and user.is_authenticated else "anonymous"
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        user = request.user
        ident = f"user-{user.pk}" if self.scope == "client" else f"addr-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class BadTokenThrottle(WindowRateThrottle):
    """Wrong tokens from one address: past the "bad_token" rate that address is answered 429
    until the window ends, whatever token it sends. Authentication runs before DRF's
    throttles, so without this a guesser would only ever see 401s."""

    scope = "bad_token"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def refused(self, request) -> bool:
        """Whether the address is over the limit now (counts nothing)."""
        return self.cache.get(self._window(request, None), 0) >= self.num_requests

    def failed(self, request) -> None:
        """Count one wrong token from the address."""
        self._count(self._window(request, None))


class ClientCache:
    """The API clients this process authenticated in the last API_AUTH_CACHE_SECONDS, by key
    hash: a CAD posts several requests a second with one key, and reading its client, user
    and program again for each was the larger part of an assign's authentication (one query,
    most of it the ORM compiling a three-table join: bench/push_latency.py).

    A change to a client, its user or a program made in this process (saved or deleted
    through the ORM: the admin's deactivation, a key rotated) empties the cache at once; one
    made in another process is seen here within the entry's seconds. A wrong key is never
    kept, and a locked-out address is refused before the cache is asked."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._entries: dict[str, tuple[float, ApiClient]] = {}

    def get(self, key_hash: str) -> ApiClient | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        if entry[0] <= self.clock():
            self._entries.pop(key_hash, None)  # another thread may have dropped it already
            return None
        return entry[1]

    def put(self, key_hash: str, client: ApiClient) -> None:
        seconds = settings.API_AUTH_CACHE_SECONDS
        if seconds > 0:
            self._entries[key_hash] = (self.clock() + seconds, client)

    def clear(self, **_signal) -> None:
        self._entries.clear()


clients = ClientCache()
for _model in (ApiClient, get_user_model(), Program):
    post_save.connect(clients.clear, sender=_model, dispatch_uid=f"api-clients-{_model.__name__}-saved")
    post_delete.connect(clients.clear, sender=_model, dispatch_uid=f"api-clients-{_model.__name__}-deleted")


class ApiTokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>` for API clients; keys are stored hashed."""

    keyword = "Token"

    def authenticate(self, request):
        throttle = BadTokenThrottle()
        parts = authentication.get_authorization_header(request).split()
        if parts and parts[0].lower() == self.keyword.lower().encode() and throttle.refused(request):
            raise exceptions.Throttled(wait=throttle.wait())
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            throttle.failed(request)
            raise

    def authenticate_credentials(self, key):
        key_hash = ApiClient.hash_key(key)
        client = clients.get(key_hash)
        if client is None:
            client = ApiClient.objects.select_related("user", "program").filter(key_hash=key_hash).first()
            if client is None or not client.is_active or not client.user.is_active:
                raise exceptions.AuthenticationFailed("Invalid token.")
            # role_of() reads the role from here without another query.
            client.user.api_client = client
            clients.put(key_hash, client)
        return (client.user, client)
