"""The per-user rate limit: a sliding-window counter, one cache round trip a request."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import override_settings

from users.throttles import UserRateThrottle

pytestmark = pytest.mark.django_db


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = _Clock(6000.0)  # the start of a one-minute window
    monkeypatch.setattr(UserRateThrottle, "timer", clock)
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "3/min"})
    return clock


def _codes(client, n: int) -> list[int]:
    return [client.get("/api/v1/auth/me/").status_code for _ in range(n)]


def test_the_rate_is_enforced_per_user_and_a_refusal_says_when_to_come_back(
    clock, client_for, user_factory
):
    ama, kofi = client_for(user_factory("artist")), client_for(user_factory("artist"))

    assert _codes(ama, 4) == [200, 200, 200, 429]
    refused = ama.get("/api/v1/auth/me/")
    assert refused.json()["error"]["code"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 120
    assert _codes(kofi, 1) == [200]  # another account has its own budget


def test_the_previous_window_counts_for_what_remains_of_it(clock, client_for, user_factory):
    ama = client_for(user_factory("artist"))
    clock.now = 6050.0
    assert _codes(ama, 3) == [200, 200, 200]  # 10 s before the window ends

    clock.now = 6070.0  # 10 s into the next window: 5/6 of the last one still counts
    assert _codes(ama, 1) == [429]
    clock.now = 6110.0  # 50 s in: 1/6 of it (0.5 request) counts
    assert _codes(ama, 3) == [200, 200, 429]
    clock.now = 6190.0  # two windows later nothing counts but this window's own
    assert _codes(ama, 3) == [200, 200, 200]


def test_refused_requests_are_not_counted(clock, client_for, user_factory):
    ama = client_for(user_factory("artist"))
    assert _codes(ama, 10) == [200, 200, 200] + [429] * 7

    clock.now = 6090.0  # half of the previous window counts: 1.5 requests, not 5
    assert _codes(ama, 2) == [200, 429]


def test_on_redis_a_request_refreshes_its_counter_in_one_pipeline(clock, client_for, user_factory):
    """DRF's throttles hold `django.core.cache.cache`, a proxy: the Redis path (INCR and
    EXPIRE together) must be found through it. The three-command path for other caches
    sets the counter's lifetime only when it creates it."""
    ama = user_factory("artist")
    client = client_for(ama)
    assert _codes(client, 1) == [200]
    key = cache.make_and_validate_key(f"throttle_user_{ama.pk}:{int(clock.now // 60)}")
    redis = cache._cache.get_client(key, write=True)
    redis.expire(key, 5)

    assert _codes(client, 1) == [200]
    assert int(redis.get(key)) == 2
    assert redis.ttl(key) > 60  # kept for two windows again by this request


@override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}})
def test_the_same_limit_holds_on_a_cache_other_than_redis(clock, client_for, user_factory):
    ama = client_for(user_factory("artist"))

    assert _codes(ama, 4) == [200, 200, 200, 429]
    cache.clear()
