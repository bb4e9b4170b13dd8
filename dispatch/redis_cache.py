"""Django's Redis cache (the API's throttles), with one client per process and a one-trip incr.

Django keeps a cache object per async context (its `caches` is an asgiref Local), and each
makes its own Redis client on first use: under ASGI every request is a new context, so each
API request built a client (redis-py reads its own package metadata from disk to name itself)
and a connection pool, and opened a new connection to Redis, with its handshake, to read the
throttles (the larger part of an assign's authentication, bench/push_latency.py). Here every
cache object of the process with the same servers and options shares one client, and so one
pool; redis-py's pool is thread-safe and starts afresh in a forked child.
"""

import threading

from django.core.cache.backends import redis as django_redis
from django.utils.functional import cached_property

_clients: dict[tuple, django_redis.RedisCacheClient] = {}
_lock = threading.Lock()

# Raise a counter that exists; nil for one that does not (Django's incr raises ValueError).
_INCR_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 1 then
    return redis.call('INCRBY', KEYS[1], ARGV[1])
end
return false
"""


class RedisCache(django_redis.RedisCache):
    @cached_property
    def _cache(self):
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = self._class(self._servers, **self._options)
            return client

    def incr(self, key, delta=1, version=None):
        """As Django's, in one round trip: Django's asks whether the key exists, then raises
        it (a key that expired between the two came back as a new one without its expiry)."""
        key = self.make_and_validate_key(key, version=version)
        client = self._cache.get_client(key, write=True)
        value = client.eval(_INCR_IF_EXISTS, 1, key, delta)
        if value is None:
            raise ValueError(f"Key '{key}' not found.")
        return value
