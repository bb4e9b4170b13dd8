from rest_framework import authentication, exceptions
from rest_framework.throttling import SimpleRateThrottle

from dispatch.models import ApiClient


class ClientRateThrottle(SimpleRateThrottle):
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


class BadTokenThrottle(SimpleRateThrottle):
    """Wrong tokens from one address: past the "bad_token" rate that address is answered 429
    until the oldest failure ages out, whatever token it sends. Authentication runs before
    DRF's throttles, so without this a guesser would only ever see 401s."""

    scope = "bad_token"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def refused(self, request) -> bool:
        """Whether the address is over the limit now (counts nothing)."""
        self.key = self.get_cache_key(request, None)
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        return len(self.history) >= self.num_requests

    def failed(self, request) -> None:
        """Count one wrong token from the address."""
        if not self.refused(request):
            self.throttle_success()


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
        client = ApiClient.objects.select_related("user").filter(key_hash=ApiClient.hash_key(key)).first()
        if client is None or not client.is_active or not client.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid token.")
        # role_of() reads the role from here without another query.
        client.user.api_client = client
        return (client.user, client)
