"""One Redis connection pool per process for Django's cache (the API's throttles).

Django keeps a cache object per async context (its `caches` is an asgiref Local), and each
cache object makes its own connection pool. Under ASGI every request is a new context: each API
request opened a new TCP connection to Redis (and its handshake) to read the throttles, the
larger part of an assign's authentication (bench/push_latency.py). The cache's `pool_class`
option names this class; its `from_url` hands every cache object of the process the same pool
for the same URL. redis-py's pool is thread-safe and starts afresh in a forked child.
"""

import threading

import redis


class SharedConnectionPool(redis.ConnectionPool):
    _pools: dict[str, "SharedConnectionPool"] = {}
    _lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **kwargs) -> "SharedConnectionPool":
        """The process's pool for `url`, made with `kwargs` the first time (Django passes the
        same cache OPTIONS every time)."""
        with cls._lock:
            pool = cls._pools.get(url)
            if pool is None:
                pool = cls._pools[url] = super().from_url(url, **kwargs)
            return pool
