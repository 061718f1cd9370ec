"""Request rate limits: per user (or client address) on every endpoint, and a tight one on
login, OTP and password reset."""

from __future__ import annotations

from rest_framework import throttling
from rest_framework.throttling import SimpleRateThrottle

from zamio.cache import window_hit, window_unhit


class AuthThrottle(SimpleRateThrottle):
    """A tight limit (the `auth` rate) on login, OTP and password-reset endpoints, per client."""

    scope = "auth"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class _WindowCounterThrottle(SimpleRateThrottle):
    """DRF's rate limit as a sliding-window counter: a counter per fixed window (the rate's
    period), the previous window weighted by how much of it still lies within one period
    of now. One cache round trip per request, and two small numbers stored, where DRF's
    throttle reads and writes the list of every request's time in the last period (up to
    the whole rate: thousands of timestamps for a busy account, on every request)."""

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        current_key = f"{self.key}:{window}"
        self.count, self.before = window_hit(
            self.cache, current_key, f"{self.key}:{window - 1}", 2 * self.duration
        )
        self.elapsed = self.now - window * self.duration
        if self.before * (1 - self.elapsed / self.duration) + self.count <= self.num_requests:
            return True
        window_unhit(self.cache, current_key)
        self.count -= 1
        return False

    def wait(self):
        """Seconds until one more request would be allowed."""
        room = self.num_requests - 1 - self.count  # requests left in this window's own count
        if room >= 0 and self.before:
            # The previous window's weight has to fall to `room`.
            until = self.duration * (1 - room / self.before) - self.elapsed
        else:
            # Not before the next window, and then its predecessor (this one) must weigh
            # little enough.
            until = (self.duration - self.elapsed) + self.duration * max(
                0.0, 1 - (self.num_requests - 1) / max(self.count, 1)
            )
        return max(until, 0.001)


class UserRateThrottle(_WindowCounterThrottle, throttling.UserRateThrottle):
    """The `user` rate: per account, or per client address when anonymous."""


class AnonRateThrottle(_WindowCounterThrottle, throttling.AnonRateThrottle):
    """The `anon` rate: per client address, for anonymous requests only."""
