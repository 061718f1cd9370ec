"""Turning a radio stream into timed audio: one sample (`sample_capture`) or a gap-free
sequence of overlapping windows (`StreamReader`).

Python opens the stream (`stream_capture.fetch`: checked addresses, timeouts, safe
redirects) and pipes the bytes into ffmpeg, which may read nothing but that pipe
(`-protocol_whitelist pipe`) with a short list of audio demuxers (no HLS, concat or
other formats that open further files). ffmpeg runs from an argument list, never a
shell, and is killed at a hard wall-clock limit.

When was a sample on air? Audio cannot arrive before it is broadcast, so for every
block of decoded audio `anchor + samples_so_far / rate <= arrival_time`: the tightest
of these bounds is the on-air time of the stream's first sample. It equals the
connect time for a stream that starts at the live point and moves earlier by the
burst an Icecast server sends on connect (capped by STREAM_CAPTURE_MAX_BURST_SECONDS).
The bound is only tight once the reader has caught up with the live point, so audio
is dated (and a sample returned, or windows yielded) only after the anchor has
settled. Window times are then anchor + sample count, never the wall clock at yield.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from django.conf import settings

from fingerprinting.engine import SPEC
from fingerprinting.engine.decode import ffmpeg_binary
from stream_capture.fetch import StreamResponse, StreamUnavailable, stream_open
from stream_capture.urlsafety import UnsafeStreamUrl

__all__ = ["CapturedAudio", "StreamReader", "StreamUnavailable", "sample_capture"]

logger = logging.getLogger(__name__)

SAMPLE_RATE = SPEC.sample_rate
# The anchor has settled (the reader reached the live point) when it has not moved
# earlier by more than SETTLE_JUMP seconds for SETTLE_SECONDS of wall time.
SETTLE_SECONDS = 0.3
SETTLE_JUMP = 0.05
# Demuxers a radio stream needs. Playlist and script formats (hls, concat, ffconcat,
# ...) are absent on purpose: they open other URLs or files.
STREAM_FORMATS = "mp3,aac,ogg,flac,wav,matroska,webm,mpegts"


@dataclass(frozen=True)
class CapturedAudio:
    """Mono float32 samples at SPEC.sample_rate; `started_at` is when the first of them
    was on air (UTC)."""

    samples: np.ndarray
    started_at: datetime
    seconds: float

    @property
    def ended_at(self) -> datetime:
        return self.started_at + timedelta(seconds=self.seconds)


def _ffmpeg_command() -> list[str]:
    return [
        ffmpeg_binary(),
        "-hide_banner",
        "-nostats",
        "-loglevel",
        "error",
        "-protocol_whitelist",
        "pipe",
        "-format_whitelist",
        STREAM_FORMATS,
        # Small probes: a live stream is one audio elementary stream, and every second
        # spent probing is a second of latency before the first window.
        "-probesize",
        "65536",
        "-analyzeduration",
        "1000000",
        "-i",
        "pipe:0",
        # Hand each decoded block over at once: arrival times are what date the audio.
        "-flush_packets",
        "1",
        "-map",
        "0:a:0",
        "-vn",
        "-af",
        f"aresample={SAMPLE_RATE}",
        "-ac",
        "1",
        "-f",
        "f32le",
        "pipe:1",
    ]


class _Decoder:
    """One connection's bytes through one ffmpeg process, read back as timed samples."""

    def __init__(self, response: StreamResponse):
        self.response = response
        self.samples_read = 0
        self.anchor = response.connected_at  # epoch seconds of the first sample on air
        self._floor = response.connected_at - settings.STREAM_CAPTURE_MAX_BURST_SECONDS
        self._last_jump = time.monotonic()
        self._tail = b""
        self.source_error: str | None = None
        self._stderr: deque[str] = deque(maxlen=5)
        try:
            self.process = subprocess.Popen(
                _ffmpeg_command(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            response.close()
            raise StreamUnavailable(f"cannot run ffmpeg ({exc})") from exc
        self._pump = threading.Thread(target=self._pump_bytes, daemon=True)
        self._drain = threading.Thread(target=self._drain_stderr, daemon=True)
        self._pump.start()
        self._drain.start()

    def _pump_bytes(self) -> None:
        stdin = self.process.stdin
        try:
            while True:
                data = self.response.read(16384)
                if not data:
                    if self.source_error is None:
                        self.source_error = "the server ended the stream"
                    break
                stdin.write(data)
                stdin.flush()
        except StreamUnavailable as exc:
            self.source_error = exc.reason
        except (BrokenPipeError, ValueError, OSError):
            pass  # ffmpeg exited or we are closing: the reader reports why
        finally:
            with contextlib.suppress(OSError):
                stdin.close()

    def _drain_stderr(self) -> None:
        # Read to the end, keeping the last lines: a full stderr pipe would block ffmpeg.
        for line in self.process.stderr:
            text = line.decode("utf-8", "replace").strip()
            if text:
                self._stderr.append(text)

    def read(self, *, timeout: float) -> np.ndarray | None:
        """Decoded samples that arrived within `timeout` s (maybe none); None at the end."""
        fd = self.process.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], max(0.0, timeout))
        if not ready:
            return np.zeros(0, dtype=np.float32)
        data = os.read(fd, 1 << 16)
        arrived = time.time()
        if not data:
            return None
        data = self._tail + data
        usable = len(data) - len(data) % 4
        self._tail = data[usable:]
        block = np.frombuffer(data[:usable], dtype="<f4").astype(np.float32)
        self.samples_read += block.size
        # The last sample of this block was on air no later than its arrival.
        bound = arrived - self.samples_read / SAMPLE_RATE
        anchor = max(self._floor, min(self.anchor, bound))
        if anchor < self.anchor - SETTLE_JUMP:
            self._last_jump = time.monotonic()
        self.anchor = anchor
        return block

    def settled(self) -> bool:
        """Whether the reader has caught up with the live point (the anchor is final)."""
        return time.monotonic() - self._last_jump >= SETTLE_SECONDS

    def failure_reason(self) -> str:
        if self.source_error and self.source_error != "the server ended the stream":
            return self.source_error
        self._drain.join(timeout=1)
        if self._stderr:
            return f"not decodable as audio ({self._stderr[-1]})"
        return self.source_error or "the stream ended"

    def close(self) -> None:
        self.response.close()
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            logger.warning("ffmpeg %s did not exit after kill", self.process.pid)
        self._pump.join(timeout=2)
        self._drain.join(timeout=2)
        for stream in (self.process.stdout, self.process.stderr):
            if stream:
                stream.close()


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def wall_limit_seconds(seconds: float) -> float:
    """The hard limit on one sampled capture, connecting included."""
    return (
        seconds
        + settings.STREAM_CAPTURE_CONNECT_TIMEOUT_SECONDS
        + settings.STREAM_CAPTURE_WALL_SLACK_SECONDS
    )


def sample_capture(*, url: str, seconds: float) -> CapturedAudio:
    """Records the latest `seconds` of the stream at `url` (a connect burst is read through
    to the live point; its older part is dropped). Raises UnsafeStreamUrl when the URL (or
    a redirect) is refused and StreamUnavailable (with `reason`) when no audio came in time."""
    if not 0 < seconds <= 600:
        raise ValueError("a sample is between 0 and 600 seconds long")
    limit = wall_limit_seconds(seconds)
    deadline = time.monotonic() + limit
    wanted = int(round(seconds * SAMPLE_RATE))
    burst_cap = settings.STREAM_CAPTURE_MAX_BURST_SECONDS * SAMPLE_RATE
    response = stream_open(url, deadline=deadline)
    decoder = _Decoder(response)
    blocks: deque[np.ndarray] = deque()
    kept = 0  # samples held in `blocks`
    try:
        while True:
            read = decoder.samples_read
            if read >= wanted and (decoder.settled() or read - wanted >= burst_cap):
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if read >= wanted:
                    break  # enough audio; only the burst never settled
                raise StreamUnavailable(
                    f"only {read / SAMPLE_RATE:.1f} s of audio in {limit:.0f} s "
                    "(the stream is too slow or stalled)"
                )
            block = decoder.read(timeout=min(remaining, 0.1))
            if block is None:
                if read >= wanted:
                    break
                raise StreamUnavailable(
                    f"{decoder.failure_reason()} after {read / SAMPLE_RATE:.1f} s of audio"
                    if read
                    else decoder.failure_reason()
                )
            if block.size:
                blocks.append(block)
                kept += block.size
                while kept - blocks[0].size >= wanted:
                    kept -= blocks.popleft().size
    finally:
        decoder.close()
    samples = np.concatenate(list(blocks))[-wanted:]
    first_index = decoder.samples_read - samples.size
    return CapturedAudio(
        samples=samples,
        started_at=_utc(decoder.anchor + first_index / SAMPLE_RATE),
        seconds=samples.size / SAMPLE_RATE,
    )


class StreamReader:
    """Reads a stream without gaps and yields overlapping windows until stopped.

    Each yielded CapturedAudio is `window_seconds` long and starts `hop_seconds` after
    the previous one; its `started_at` comes from the sample count since the
    connection's anchor. On a failure the reader reconnects with exponential backoff
    (1 s doubling up to STREAM_CAPTURE_RECONNECT_MAX_SECONDS) and starts a new window
    sequence. With `link_id`, stream health is recorded: a failure per failed
    connection, a success per STREAM_CAPTURE_HEALTH_EVERY_SECONDS of audio.
    Iterating ends when `stop_event` is set (or `stop()` is called); an unsafe URL
    ends it at once with UnsafeStreamUrl, since retrying cannot make it safe.
    """

    def __init__(
        self,
        url: str,
        *,
        window_seconds: float,
        hop_seconds: float,
        stop_event: threading.Event | None = None,
        link_id: int | None = None,
    ):
        if not 0 < hop_seconds <= window_seconds:
            raise ValueError("0 < hop_seconds <= window_seconds")
        self.url = url
        self.window = int(round(window_seconds * SAMPLE_RATE))
        self.hop = int(round(hop_seconds * SAMPLE_RATE))
        self.stop_event = stop_event or threading.Event()
        self.link_id = link_id
        self.connections = 0
        self.last_error: str | None = None
        self._decoder: _Decoder | None = None

    def stop(self) -> None:
        self.stop_event.set()
        decoder = self._decoder
        if decoder is not None:
            decoder.response.close()  # unblocks the pump; the read loop sees the stop

    def __iter__(self) -> Iterator[CapturedAudio]:
        backoff = 1.0
        while not self.stop_event.is_set():
            produced = 0
            try:
                for window in self._connection_windows():
                    produced += 1
                    backoff = 1.0
                    yield window
            except UnsafeStreamUrl as exc:
                self._record_failure(exc.message)
                raise
            except StreamUnavailable as exc:
                if self.stop_event.is_set():
                    break
                self.last_error = exc.reason
                self._record_failure(exc.reason)
                logger.info("stream %s: %s; reconnecting in %.0f s", self.url, exc.reason, backoff)
            if self.stop_event.is_set():
                break
            if produced == 0:
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, settings.STREAM_CAPTURE_RECONNECT_MAX_SECONDS)

    def _connection_windows(self) -> Iterator[CapturedAudio]:
        response = stream_open(
            self.url,
            deadline=time.monotonic()
            + settings.STREAM_CAPTURE_CONNECT_TIMEOUT_SECONDS
            + settings.STREAM_CAPTURE_READ_TIMEOUT_SECONDS,
        )
        decoder = _Decoder(response)
        self._decoder = decoder
        self.connections += 1
        buffer = np.zeros(0, dtype=np.float32)
        buffer_start = 0  # sample index (since connect) of buffer[0]
        unreported = 0
        # No decoded audio for this long means the stream is stuck even if bytes trickle.
        stall_limit = settings.STREAM_CAPTURE_READ_TIMEOUT_SECONDS * 2
        last_progress = time.monotonic()
        try:
            while not self.stop_event.is_set():
                block = decoder.read(timeout=0.2)
                ended = block is None
                if ended:
                    block = np.zeros(0, dtype=np.float32)
                if block.size:
                    last_progress = time.monotonic()
                    buffer = np.concatenate([buffer, block])
                    unreported += block.size
                elif not ended and time.monotonic() - last_progress > stall_limit:
                    raise StreamUnavailable(f"no audio decoded for {stall_limit} s")
                # Windows are dated from the anchor, final once the burst is read (or the
                # stream ended: nothing more can refine it).
                while buffer.size >= self.window and (ended or decoder.settled()):
                    yield CapturedAudio(
                        samples=buffer[: self.window].copy(),
                        started_at=_utc(decoder.anchor + buffer_start / SAMPLE_RATE),
                        seconds=self.window / SAMPLE_RATE,
                    )
                    buffer = buffer[self.hop :]
                    buffer_start += self.hop
                if unreported >= settings.STREAM_CAPTURE_HEALTH_EVERY_SECONDS * SAMPLE_RATE:
                    self._record_success(unreported / SAMPLE_RATE)
                    unreported = 0
                if ended:
                    raise StreamUnavailable(decoder.failure_reason())
        finally:
            self._decoder = None
            decoder.close()
            if unreported >= SAMPLE_RATE and not self.stop_event.is_set():
                self._record_success(unreported / SAMPLE_RATE)

    def _record_success(self, seconds: float) -> None:
        if self.link_id is None:
            return
        # Imported here: services imports this module (sample_capture).
        from stream_capture.services import health_record_success

        health_record_success(link_id=self.link_id, seconds=seconds)

    def _record_failure(self, error: str) -> None:
        if self.link_id is None:
            return
        from stream_capture.services import health_record_failure

        health_record_failure(link_id=self.link_id, error=error)
