"""Opening a radio stream over HTTP(S) ourselves, so ffmpeg never touches the network.

ffmpeg's own protocols follow redirects and re-resolve names out of our sight, and
its demuxers can open further URLs (HLS, concat). So Python makes the connection:
to the exact addresses `url_resolve` checked, with connect and read timeouts, every
redirect and playlist entry checked again, Shoutcast's `ICY 200 OK` accepted,
chunked bodies decoded; ffmpeg only ever reads the audio bytes from a pipe.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin

from django.conf import settings

from stream_capture.urlsafety import ResolvedUrl, UnsafeStreamUrl, url_resolve

MAX_REDIRECTS = 5
MAX_HEADER_BYTES = 64 * 1024
MAX_PLAYLIST_BYTES = 64 * 1024
# Addresses of one host tried in turn before giving up (each costs a connect timeout).
_MAX_CONNECT_ADDRESSES = 3
USER_AGENT = "ZamIO-Monitor/1.0 (+airplay monitoring)"

_PLAYLIST_TYPES = {
    "audio/x-scpls",
    "application/pls+xml",
    "audio/x-mpegurl",
    "audio/mpegurl",
    "application/x-mpegurl",
    "application/vnd.apple.mpegurl",
}
_NOT_AUDIO_TYPES = ("text/html", "application/json", "application/xml", "text/xml", "image/")
_URL_RE = re.compile(r"https?://\S+", re.IGNORECASE)


class StreamUnavailable(Exception):
    """The stream could not be read; `reason` is a short sentence for health and logs."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class StreamResponse:
    """An open audio stream: `read` returns body bytes (b"" at the end)."""

    url: str  # the URL finally read, after redirects and playlists
    status_line: str
    headers: dict[str, str]
    connected_at: float  # time.time() when the response headers arrived
    _sock: socket.socket
    _buffer: bytearray = field(default_factory=bytearray)
    _chunked: bool = False
    _chunk_left: int = 0
    _done: bool = False

    def read(self, size: int = 16384) -> bytes:
        if self._done:
            return b""
        if not self._chunked:
            if self._buffer:
                data = bytes(self._buffer[:size])
                del self._buffer[:size]
                return data
            data = self._recv(size)
            if not data:
                self._done = True
            return data
        return self._read_chunked(size)

    def _recv(self, size: int) -> bytes:
        try:
            return self._sock.recv(size)
        except TimeoutError as exc:
            raise StreamUnavailable(
                f"no data for {settings.STREAM_CAPTURE_READ_TIMEOUT_SECONDS} s"
            ) from exc
        except ssl.SSLError as exc:
            raise StreamUnavailable(f"TLS error while reading ({exc.reason})") from exc
        except OSError as exc:
            raise StreamUnavailable(f"connection lost ({exc.strerror or exc})") from exc

    def _fill(self, minimum: int) -> bool:
        while len(self._buffer) < minimum:
            data = self._recv(16384)
            if not data:
                return False
            self._buffer += data
        return True

    def _read_line(self) -> bytes:
        while b"\r\n" not in self._buffer:
            if len(self._buffer) > 1024 or not self._fill(len(self._buffer) + 1):
                raise StreamUnavailable("malformed chunked response")
        line, _, rest = bytes(self._buffer).partition(b"\r\n")
        self._buffer = bytearray(rest)
        return line

    def _read_chunked(self, size: int) -> bytes:
        if self._chunk_left == 0:
            line = self._read_line().split(b";", 1)[0].strip()
            try:
                self._chunk_left = int(line, 16)
            except ValueError as exc:
                raise StreamUnavailable("malformed chunked response") from exc
            if self._chunk_left == 0:
                self._done = True
                return b""
        if not self._buffer and not self._fill(1):
            self._done = True
            return b""
        take = min(size, self._chunk_left, len(self._buffer))
        data = bytes(self._buffer[:take])
        del self._buffer[:take]
        self._chunk_left -= take
        if self._chunk_left == 0:
            self._fill(2)
            del self._buffer[:2]  # the CRLF after each chunk
        return data

    def close(self) -> None:
        self._done = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()


def stream_open(url: str, *, deadline: float | None = None) -> StreamResponse:
    """Connects to the stream at `url` (checked, redirects and playlists followed safely).

    Raises UnsafeStreamUrl when the URL or any hop is refused, StreamUnavailable when
    the stream cannot be reached or does not answer with audio, or when `deadline`
    (a time.monotonic() value) passes first.
    """
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        resolved = url_resolve(current)
        response = _request(resolved, deadline=deadline)
        status = _status_code(response.status_line)
        if status in (301, 302, 303, 307, 308):
            location = response.headers.get("location", "")
            response.close()
            if not location:
                raise StreamUnavailable(f"HTTP {status} redirect without a Location")
            current = urljoin(resolved.url, location)
            continue
        if status != 200:
            response.close()
            raise StreamUnavailable(f"the server answered HTTP {status}")
        kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind.startswith(_NOT_AUDIO_TYPES):
            response.close()
            raise StreamUnavailable(f"the server sent {kind}, not audio")
        head = _peek(response, 16)
        if kind in _PLAYLIST_TYPES or _looks_like_playlist(head):
            current = _playlist_entry(response, base=resolved.url)
            continue
        return response
    raise StreamUnavailable(f"more than {MAX_REDIRECTS} redirects or playlists")


def _request(resolved: ResolvedUrl, *, deadline: float | None) -> StreamResponse:
    read_timeout = settings.STREAM_CAPTURE_READ_TIMEOUT_SECONDS
    # The whole response head must arrive within one read timeout: a peer dribbling a
    # byte at a time must not hold a worker for hours.
    sock = _connect(resolved, deadline=deadline)
    head_deadline = time.monotonic() + read_timeout
    if deadline is not None:
        head_deadline = min(head_deadline, deadline)
    try:
        request = (
            f"GET {resolved.target} HTTP/1.1\r\n"
            f"Host: {resolved.host_header}\r\n"
            f"User-Agent: {USER_AGENT}\r\n"
            "Accept: */*\r\n"
            "Connection: close\r\n\r\n"
        )
        sock.sendall(request.encode("ascii"))
        head = bytearray()
        while b"\r\n\r\n" not in head:
            if len(head) > MAX_HEADER_BYTES:
                raise StreamUnavailable("response headers too large")
            remaining = head_deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                sock.settimeout(remaining)
                data = sock.recv(4096)
            except TimeoutError as exc:
                raise StreamUnavailable(
                    "the server accepted the connection but sent no response "
                    f"within {read_timeout} s"
                ) from exc
            if not data:
                raise StreamUnavailable("the server closed the connection without a response")
            head += data
    except StreamUnavailable:
        sock.close()
        raise
    except OSError as exc:
        sock.close()
        raise StreamUnavailable(f"connection failed ({exc.strerror or exc})") from exc
    sock.settimeout(read_timeout)
    raw_head, _, rest = bytes(head).partition(b"\r\n\r\n")
    lines = raw_head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    response = StreamResponse(
        url=resolved.url,
        status_line=lines[0],
        headers=headers,
        connected_at=time.time(),
        _sock=sock,
        _buffer=bytearray(rest),
        _chunked="chunked" in headers.get("transfer-encoding", "").lower(),
    )
    return response


def _connect(resolved: ResolvedUrl, *, deadline: float | None) -> socket.socket:
    errors = []
    for address in resolved.addresses[:_MAX_CONNECT_ADDRESSES]:
        timeout = settings.STREAM_CAPTURE_CONNECT_TIMEOUT_SECONDS
        if deadline is not None:
            timeout = min(timeout, deadline - time.monotonic())
            if timeout <= 0:
                errors.append("time limit reached")
                break
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect((address, resolved.port))
            if resolved.scheme == "https":
                context = ssl.create_default_context()
                sock = context.wrap_socket(sock, server_hostname=resolved.host)
        except (OSError, ssl.SSLError) as exc:
            sock.close()
            errors.append(f"{address}: {getattr(exc, 'strerror', None) or exc}")
            continue
        return sock
    raise StreamUnavailable(f"cannot connect to {resolved.host} ({'; '.join(errors)})")


def _status_code(status_line: str) -> int:
    parts = status_line.split()
    if len(parts) < 2 or not (parts[0].startswith("HTTP/") or parts[0] == "ICY"):
        raise StreamUnavailable("the server did not answer in HTTP")
    try:
        return int(parts[1])
    except ValueError as exc:
        raise StreamUnavailable("the server did not answer in HTTP") from exc


def _peek(response: StreamResponse, size: int) -> bytes:
    """The body's first bytes, left in the buffer for the reader (b"" for chunked bodies)."""
    if response._chunked:
        return b""
    try:
        response._fill(size)
    except StreamUnavailable:
        response.close()
        raise
    return bytes(response._buffer[:size])


def _looks_like_playlist(head: bytes) -> bool:
    start = head.lstrip().lower()
    return start.startswith((b"[playlist]", b"#extm3u", b"http://", b"https://"))


def _playlist_entry(response: StreamResponse, *, base: str) -> str:
    """The first stream URL of a .pls/.m3u playlist; HLS playlists are refused."""
    body = bytearray()
    deadline = time.monotonic() + settings.STREAM_CAPTURE_READ_TIMEOUT_SECONDS
    try:
        while len(body) <= MAX_PLAYLIST_BYTES and time.monotonic() < deadline:
            data = response.read(4096)
            if not data:
                break
            body += data
    finally:
        response.close()
    text = body.decode("utf-8", "replace")
    if "#EXT-X-" in text:
        raise UnsafeStreamUrl(
            "HLS playlists are not supported; give the station's direct Icecast/Shoutcast "
            "stream URL.",
            url=base,
        )
    for line in text.splitlines():
        line = line.strip()
        if line.lower().startswith("file") and "=" in line:
            line = line.split("=", 1)[1].strip()
        found = _URL_RE.match(line)
        if found:
            return urljoin(base, found.group(0))
    raise StreamUnavailable("the playlist names no http(s) stream")
