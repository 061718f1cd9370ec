"""Django's Redis cache backend, with one Redis client per process instead of per request.

Django keeps a cache object per async context, and under ASGI every request is a context
of its own: the stock backend then builds a new client, connection pool and TCP connection
to Redis for each request (the throttle reads the cache on every authenticated one), and
a redis.Redis object per command. Both are safe to share between threads (redis-py's pool
hands each command its own connection and opens new ones after a fork).
"""

from __future__ import annotations

import contextlib
import threading

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient
from django.utils.functional import cached_property


class RedisCacheClient(DjangoRedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._redis_clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._redis_clients.get(id(pool))
        if client is None:
            client = self._redis_clients.setdefault(id(pool), self._client(connection_pool=pool))
        return client


_clients: dict[tuple, RedisCacheClient] = {}
_lock = threading.Lock()


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient

    def window_hit(self, key: str, previous_key: str, timeout: int) -> tuple[int, int]:
        # Integers are stored as plain numbers by Django's Redis serializer, so INCR, GET
        # and Django's own incr/decr read the same counter.
        current = self.make_and_validate_key(key)
        previous = self.make_and_validate_key(previous_key)
        pipe = self._cache.get_client(current, write=True).pipeline(transaction=False)
        pipe.incr(current)
        pipe.expire(current, timeout)
        pipe.get(previous)
        count, _expiry_set, before = pipe.execute()
        return int(count), int(before or 0)

    @cached_property
    def _cache(self) -> RedisCacheClient:
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        with _lock:
            if key not in _clients:
                _clients[key] = self._class(self._servers, **self._options)
            return _clients[key]


def window_hit(cache, key: str, previous_key: str, timeout: int) -> tuple[int, int]:
    """Adds one to the counter `key` (kept `timeout` seconds) and reads the counter
    `previous_key`: (new count, previous count). One round trip on Redis (the throttle
    on every authenticated request used two, and stored a list of timestamps).

    `cache` is usually `django.core.cache.cache` (DRF's throttles hold it), a proxy to the
    context's cache object and never itself a RedisCache: the method is looked up through
    it. (An isinstance test here sent every request down the three-command path below.)"""
    hit = getattr(cache, "window_hit", None)
    if hit is not None:
        return hit(key, previous_key, timeout)
    cache.add(key, 0, timeout)
    return cache.incr(key), int(cache.get(previous_key) or 0)


def window_unhit(cache, key: str) -> None:
    """Takes back one from the counter `key` (a refused request does not count)."""
    with contextlib.suppress(ValueError):  # expired meanwhile: nothing to take back
        cache.decr(key)
