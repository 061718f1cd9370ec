"""Local HTTP audio streams for tests and the demo (importable anywhere; no pytest here).

`serve_stream` plays audio as a live MP3 "radio station" on 127.0.0.1: a listener who
connects at time t hears the broadcast from t on (optionally with an Icecast-style
burst of the last seconds first), paced at real time. The other servers produce the
hostile or broken peers the capture code must survive: redirects, a peer that never
sends a byte, a peer that trickles.

Capturing from 127.0.0.1 needs `STREAM_CAPTURE_ALLOW_LOOPBACK = True` (off by default).
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from fingerprinting.engine.decode import ffmpeg_binary

STREAM_PATH = "/stream.mp3"
_MP3_RATE = 44100

# MPEG audio layer III tables: bitrates (kbit/s) by version, sample rates by version.
_BITRATES_V1 = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0)
_BITRATES_V2 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0)
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


class StreamUrl(str):
    """The stream's URL, carrying when the broadcast's first sample was on air."""

    started_at: datetime
    duration: float
    # Broadcast seconds (since `started_at`) at which each listener was let in, in order.
    connections: list[float]

    def __new__(cls, url: str, *, started_at: datetime, duration: float) -> StreamUrl:
        value = super().__new__(cls, url)
        value.started_at = started_at
        value.duration = duration
        value.connections = []
        return value


def encode_mp3(audio: np.ndarray, sr: int, *, bitrate: str = "128k") -> bytes:
    """Mono float audio to a bare CBR MP3 (no ID3, no Xing frame: frame 0 is byte 0)."""
    pcm = np.ascontiguousarray(np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0))
    command = [
        ffmpeg_binary(),
        "-hide_banner",
        "-v",
        "error",
        "-f",
        "f32le",
        "-ar",
        str(sr),
        "-ac",
        "1",
        "-i",
        "pipe:0",
        "-ar",
        str(_MP3_RATE),
        "-ac",
        "1",
        "-b:a",
        bitrate,
        "-write_xing",
        "0",
        "-id3v2_version",
        "0",
        "-f",
        "mp3",
        "pipe:1",
    ]
    result = subprocess.run(command, input=pcm.tobytes(), capture_output=True, check=False)
    if result.returncode != 0 or not result.stdout:
        raise RuntimeError(f"ffmpeg could not encode MP3: {result.stderr[-300:]!r}")
    return result.stdout


@dataclass(frozen=True)
class Mp3Frames:
    """An MP3 split into frames, with each frame's start time in seconds."""

    frames: list[bytes]
    starts: list[float]
    duration: float

    @classmethod
    def parse(cls, data: bytes) -> Mp3Frames:
        frames: list[bytes] = []
        starts: list[float] = []
        position, clock = 0, 0.0
        while position + 4 <= len(data):
            header = int.from_bytes(data[position : position + 4], "big")
            if header >> 21 != 0x7FF:
                raise ValueError(f"no MP3 frame header at byte {position}")
            version = (header >> 19) & 3
            bitrate_index = (header >> 12) & 0xF
            rate = _RATES[version][(header >> 10) & 3]
            padding = (header >> 9) & 1
            bitrate = (_BITRATES_V1 if version == 3 else _BITRATES_V2)[bitrate_index] * 1000
            samples = 1152 if version == 3 else 576
            length = samples // 8 * bitrate // rate + padding
            frames.append(data[position : position + length])
            starts.append(clock)
            position += length
            clock += samples / rate
        return cls(frames=frames, starts=starts, duration=clock)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Tests open and close many servers; a lingering socket must not block the next bind.
    allow_reuse_address = True


@contextmanager
def _serving(handler_class: type[BaseHTTPRequestHandler]) -> Iterator[tuple[str, threading.Event]]:
    stop = threading.Event()
    handler_class.stop = stop  # type: ignore[attr-defined]
    server = _Server(("127.0.0.1", 0), handler_class)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", stop
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class _QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    stop: threading.Event

    def log_message(self, format, *args):
        pass


@contextmanager
def serve_stream(
    audio: np.ndarray,
    sr: int,
    *,
    realtime: bool = True,
    stop_after_seconds: float | None = None,
    burst_seconds: float = 0.0,
    loop: bool = False,
    already_on_air: float = 0.0,
    bitrate: str = "128k",
    outages: Sequence[tuple[float, float]] = (),
) -> Iterator[StreamUrl]:
    """Serves `audio` as a live MP3 stream at `<url>` (ends with /stream.mp3).

    realtime: frames go out when they are "on air" (a listener joins the broadcast live,
    at the position the clock says); False sends the whole file at once from the start.
    burst_seconds: on connect, first send this many seconds from before the live point at
    once, as Icecast does. stop_after_seconds: after this much audio on a connection, go
    silent and hold the connection open (a stalled stream). loop: repeat forever.
    already_on_air: the broadcast began this many seconds before the server started (a
    listener joins mid-programme, and a burst is available at once, without waiting).
    outages: (start, end) broadcast seconds in which the station is off the air (a source
    that dropped, as Icecast sees it): listeners are cut off at `start`, a new listener is
    answered HTTP 503 until `end`, and one who connects after it joins at the live point,
    so the audio of the outage is never heard. Needs `realtime`.
    The yielded URL's `started_at` is when the audio's first sample was on air, and its
    `connections` lists when each listener was let in.
    """
    if outages and not realtime:
        raise ValueError("outages need a real-time stream")
    broadcast = Mp3Frames.parse(encode_mp3(audio, sr, bitrate=bitrate))
    count = len(broadcast.frames)
    on_air_zero = time.time() - already_on_air

    def frame_time(global_index: int) -> float:
        repeat, index = divmod(global_index, count)
        return repeat * broadcast.duration + broadcast.starts[index]

    def off_air(position: float) -> bool:
        return any(start <= position < end for start, end in outages)

    connections: list[float] = []

    class Handler(_QuietHandler):
        def do_GET(self):
            if self.path.split("?")[0] != STREAM_PATH:
                self.send_error(404)
                return
            now = time.time() - on_air_zero
            if off_air(now):
                self.send_error(503, "Source offline")
                return
            connections.append(now)
            self.send_response(200)
            self.send_header("Content-Type", "audio/mpeg")
            self.send_header("icy-name", "ZamIO test station")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            with suppress(BrokenPipeError, ConnectionResetError):
                self._play()

        def _play(self) -> None:
            if realtime:
                first = _first_frame_at(time.time() - on_air_zero - burst_seconds)
                while (loop or first < count) and off_air(frame_time(first)):
                    first += 1  # a burst holds nothing from before the source came back
            else:
                first = 0
            sent_seconds = 0.0
            index = first
            while not self.stop.is_set():
                if not loop and index >= count:
                    return
                if stop_after_seconds is not None and sent_seconds >= stop_after_seconds:
                    self.stop.wait()
                    return
                if realtime:
                    # A frame leaves when it has finished airing: never ahead of the broadcast.
                    due = on_air_zero + frame_time(index + 1)
                    delay = due - time.time()
                    if delay > 0 and self.stop.wait(delay):
                        return
                    if off_air(frame_time(index)):
                        return  # the source dropped: the connection closes
                frame = broadcast.frames[index % count]
                self.wfile.write(frame)
                self.wfile.flush()
                sent_seconds += frame_time(index + 1) - frame_time(index)
                index += 1

    def _first_frame_at(position: float) -> int:
        position = max(0.0, position)
        repeat, within = divmod(position, broadcast.duration)
        if not loop and repeat >= 1:
            return count  # the broadcast is over
        index = int(np.searchsorted(broadcast.starts, within, side="right")) - 1
        return int(repeat) * count + max(0, index)

    with _serving(Handler) as (base, _stop):
        url = StreamUrl(
            base + STREAM_PATH,
            started_at=datetime.fromtimestamp(on_air_zero, tz=UTC),
            duration=broadcast.duration,
        )
        url.connections = connections
        yield url


Route = tuple[int, dict[str, str], bytes] | Callable[[BaseHTTPRequestHandler], None]


@contextmanager
def serve_routes(routes: dict[str, Route]) -> Iterator[str]:
    """Serves fixed responses by path: `{"/r": (302, {"Location": "http://10.0.0.1/"}, b"")}`,
    or a callable given the request handler (write to `handler.wfile` yourself). Yields the
    base URL (no trailing slash); unknown paths answer 404."""

    class Handler(_QuietHandler):
        def do_GET(self):
            route = routes.get(self.path.split("?")[0])
            if route is None:
                self.send_error(404)
                return
            try:
                if callable(route):
                    route(self)
                    return
                status, headers, body = route
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    with _serving(Handler) as (base, _stop):
        yield base


@contextmanager
def serve_silent(*, send_headers: bool) -> Iterator[str]:
    """A peer that accepts the connection and then sends nothing (no status line at all,
    or a 200 audio/mpeg header and no body), holding the socket open until exit."""

    class Handler(_QuietHandler):
        def do_GET(self):
            if send_headers:
                self.send_response(200)
                self.send_header("Content-Type", "audio/mpeg")
                self.end_headers()
                self.wfile.flush()
            self.stop.wait()

    with _serving(Handler) as (base, _stop):
        yield base + STREAM_PATH


def trickle(data: bytes, *, bytes_per_second: float) -> Callable[[BaseHTTPRequestHandler], None]:
    """A `serve_routes` route sending an audio/mpeg body a few bytes at a time, slower than
    any real stream: never idle long enough for a read timeout, never finished either."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "audio/mpeg")
        handler.end_headers()
        step = max(1, int(bytes_per_second / 10))
        for start in range(0, len(data), step):
            if handler.stop.wait(0.1):  # type: ignore[attr-defined]
                return
            handler.wfile.write(data[start : start + step])
            handler.wfile.flush()

    return route
