"""ZamIO fingerprinting engine: plain Python (numpy, scipy, numba, ffmpeg), no Django.

Recognise catalogue songs in a few seconds of broadcast audio::

    from fingerprinting.engine import Fingerprint, Index, Matcher, decode, fingerprint

    fp = fingerprint(decode("master.flac"))          # any file, bytes or PCM array
    blob = fp.to_bytes()                             # one blob per track and version
    index = Index()
    index.add(42, Fingerprint.from_bytes(blob))      # or index.add(42, blob)
    index.remove(42)                                 # tombstone; no rebuild
    index.save("fp.snapshot"); index = Index.load("fp.snapshot")   # memory-mapped
    matches = Matcher(index, threshold=0.70).match(decode(clip_bytes, name="clip.mp3"))
    # or Matcher(index).match_source("clip.mp3"), which also refuses too-short clips

Public API

- ``decode(source, *, sample_rate=None, channels=1, name=None, min_seconds=0.0)
  -> np.ndarray``: mono float32 at ``SPEC.sample_rate`` (8 kHz) through ffmpeg, from a
  path, bytes, a binary file object or a PCM array (``sample_rate`` required).
- ``fingerprint(samples, *, spec=SPEC) -> Fingerprint``: ``hashes`` (uint32),
  ``offsets`` (uint32 frames), ``duration`` (s), ``version``; ``to_bytes()`` and
  ``Fingerprint.from_bytes(blob)``.
- ``Index(*, bucket_cap=4096, delta_ratio=0.1)``: ``add(track_id, fp_or_blob)``,
  ``add_many(pairs)``, ``remove(track_id) -> bool``, ``save(path)``,
  ``Index.load(path, *, mmap=True)``, ``len()``, ``in``, ``track_ids``, ``entries``,
  ``nbytes``.
- ``Matcher(index, *, threshold=0.70, spec=SPEC, shortlist=64)``: ``match(samples) ->
  list[Match]`` (those clearing the threshold, best first; ``[]`` if none),
  ``match_source(source, *, name=None)``, ``candidates(samples)`` (best tracks whatever
  their confidence). On an index of more than ``shortlist`` tracks only that many (the
  most candidates in one coarse alignment) reach the full vote; ``None`` votes on all.
- The inner loops of query hashing, the lookup and the coarse and full votes are
  compiled with numba (``engine/kernels.py``) when a process first needs them, 8-20 s
  of CPU (``warm_up()`` does it ahead), and kept on disk (``engine/kernel_cache.py``,
  under ``NUMBA_CACHE_DIR`` if set): later processes load them in about half a second.
- ``Match``: ``track_id``, ``track_offset`` (s in the track), ``query_offset`` (s in
  the query where the matched audio begins), ``speed``, ``confidence`` in [0, 1],
  ``hits``, ``second_hits``, ``coverage``, ``query_hashes``.
- Errors: ``FingerprintError`` > ``DecodeError`` (not audio, empty, truncated),
  ``TooShortError`` (under ``MIN_QUERY_SECONDS``), ``FormatError`` (bad blob or
  snapshot, other version). Each names its source (``.source``).
- ``FINGERPRINT_VERSION`` and ``SPEC`` (a frozen ``FingerprintSpec``): every parameter
  that changes hashes; changing one is a new version.
"""

from .decode import decode
from .errors import DecodeError, FingerprintError, FormatError, TooShortError
from .fingerprint import Fingerprint, fingerprint
from .index import Index
from .matcher import DEFAULT_THRESHOLD, Match, Matcher, warm_up
from .spec import FINGERPRINT_VERSION, MIN_QUERY_SECONDS, SPEC, FingerprintSpec

__all__ = [
    "DEFAULT_THRESHOLD",
    "FINGERPRINT_VERSION",
    "MIN_QUERY_SECONDS",
    "SPEC",
    "DecodeError",
    "Fingerprint",
    "FingerprintError",
    "FingerprintSpec",
    "FormatError",
    "Index",
    "Match",
    "Matcher",
    "TooShortError",
    "decode",
    "fingerprint",
    "warm_up",
]
