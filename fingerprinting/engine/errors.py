"""Typed errors raised by the fingerprinting engine."""

from __future__ import annotations


class FingerprintError(Exception):
    """Base class of every error the engine raises on purpose."""

    def __init__(self, message: str, *, source: str | None = None) -> None:
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)


class DecodeError(FingerprintError):
    """The input is not decodable audio (not audio, empty, truncated, unreadable)."""


class TooShortError(FingerprintError):
    """The decoded audio is shorter than the minimum the caller asked for."""


class FormatError(FingerprintError):
    """A packed fingerprint or an index snapshot is malformed or of another version."""
