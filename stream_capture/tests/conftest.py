from __future__ import annotations

from contextlib import contextmanager

import pytest

from stream_capture import urlsafety


@pytest.fixture
def fast_timeouts(settings):
    """Short capture timeouts so failing peers fail in about a second."""
    settings.STREAM_CAPTURE_CONNECT_TIMEOUT_SECONDS = 1
    settings.STREAM_CAPTURE_READ_TIMEOUT_SECONDS = 1
    settings.STREAM_CAPTURE_WALL_SLACK_SECONDS = 1
    return settings


@pytest.fixture
def loopback(settings):
    """Local test streams live on 127.0.0.1, which capture refuses unless told otherwise."""
    settings.STREAM_CAPTURE_ALLOW_LOOPBACK = True
    return settings


@contextmanager
def static_hosts(table: dict[str, list[str]]):
    """Makes the names in `table` resolve to the given addresses (a test DNS server)."""

    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError(f"{host}: name not known")
        return table[host]

    previous = urlsafety.resolver_set(resolve)
    try:
        yield
    finally:
        urlsafety.resolver_set(previous)
