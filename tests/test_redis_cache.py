"""dispatch.redis_cache: Django's Redis cache with one client per process and a one-trip incr."""

import pytest
import redis
from django.core.cache import cache

pytestmark = pytest.mark.usefixtures("require_redis")


@pytest.fixture
def commands(monkeypatch) -> list[str]:
    """Every command the process sends to Redis, by name."""
    sent = []
    execute = redis.Redis.execute_command

    def counted(self, *args, **options):
        sent.append(args[0])
        return execute(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", counted)
    return sent


def test_incr_raises_a_counter_in_one_round_trip_and_keeps_its_expiry(commands):
    """Django's asked whether the key exists, then raised it: two round trips each."""
    assert cache.add("count", 1, timeout=60)
    commands.clear()
    assert cache.incr("count") == 2
    assert cache.incr("count", 5) == 7
    assert cache.decr("count") == 6
    assert len(commands) == 3
    client = cache._cache.get_client(write=True)
    assert 0 < client.ttl(cache.make_key("count")) <= 60
    # A missing key is still refused, and not made.
    with pytest.raises(ValueError):
        cache.incr("never-set")
    assert cache.get("never-set") is None
