"""Fingerprint of one piece of audio: hashes, their anchor frames and the duration."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from .errors import FormatError
from .hashing import reference_hashes
from .peaks import find_peaks
from .spec import FINGERPRINT_VERSION, SPEC, FingerprintSpec

_MAGIC = b"ZFP\x00"
# magic, version, hash count, duration (s)
_HEADER = struct.Struct("<4sHxxId")


@dataclass(frozen=True, slots=True, eq=False)
class Fingerprint:
    """``hashes`` (uint32) with ``offsets`` (uint32 frames of the anchor), sorted by offset."""

    hashes: np.ndarray
    offsets: np.ndarray
    duration: float
    version: int = FINGERPRINT_VERSION

    def __len__(self) -> int:
        return int(self.hashes.size)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Fingerprint):
            return NotImplemented
        return (
            self.version == other.version
            and self.duration == other.duration
            and np.array_equal(self.hashes, other.hashes)
            and np.array_equal(self.offsets, other.offsets)
        )

    __hash__ = None  # type: ignore[assignment]

    def to_bytes(self) -> bytes:
        """One binary blob: header, then the hashes, then the offsets (little-endian)."""
        header = _HEADER.pack(_MAGIC, self.version, self.hashes.size, self.duration)
        return (
            header
            + np.ascontiguousarray(self.hashes, dtype="<u4").tobytes()
            + np.ascontiguousarray(self.offsets, dtype="<u4").tobytes()
        )

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Fingerprint:
        """Inverse of ``to_bytes``; raises ``FormatError`` on a malformed or foreign blob."""
        view = memoryview(data)
        if len(view) < _HEADER.size:
            raise FormatError(f"fingerprint blob of {len(view)} bytes is too short")
        magic, version, count, duration = _HEADER.unpack_from(view)
        if magic != _MAGIC:
            raise FormatError("not a fingerprint blob")
        if version != FINGERPRINT_VERSION:
            raise FormatError(
                f"fingerprint version {version}, this engine reads {FINGERPRINT_VERSION}"
            )
        expected = _HEADER.size + 8 * count
        if len(view) != expected:
            raise FormatError(f"fingerprint blob of {len(view)} bytes, expected {expected}")
        body = np.frombuffer(view, dtype="<u4", offset=_HEADER.size)
        return cls(
            hashes=body[:count].astype(np.uint32),
            offsets=body[count:].astype(np.uint32),
            duration=duration,
            version=version,
        )


def fingerprint(samples: np.ndarray, *, spec: FingerprintSpec = SPEC) -> Fingerprint:
    """Fingerprint mono float32 samples at ``spec.sample_rate`` (see ``decode``)."""
    samples = np.asarray(samples, dtype=np.float32)
    peaks = find_peaks(
        samples,
        spec,
        frames=spec.ref_peak_frames,
        bins=spec.ref_peak_bins,
        per_second=spec.ref_peaks_per_s,
    )
    hashes, offsets = reference_hashes(peaks, spec)
    return Fingerprint(
        hashes=hashes,
        offsets=offsets,
        duration=samples.size / spec.sample_rate,
        version=spec.version,
    )
