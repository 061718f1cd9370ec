"""Probing uploaded audio and cover art before anything is stored.

ffmpeg (never a shell string) reads the container, codec and declared duration,
then decodes the whole stream to a null sink: a file that is not audio, empty,
truncated, corrupt, too long or too large is refused with the reason.
"""

from __future__ import annotations

import hashlib
import re
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from zamio.errors import ValidationFailed

# ffmpeg's demuxer name → the container we accept and the extension we store it under.
_CONTAINERS = {
    "mp3": "mp3",
    "wav": "wav",
    "flac": "flac",
    "ogg": "ogg",
    "mov,mp4,m4a,3gp,3g2,mj2": "m4a",
    "aac": "aac",
}
_CODECS = {
    "mp3": {"mp3"},
    "wav": {"pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le", "pcm_u8", "pcm_f64le"},
    "flac": {"flac"},
    "ogg": {"vorbis", "opus", "flac"},
    "m4a": {"aac", "alac", "mp3"},
    "aac": {"aac"},
}
_INPUT_RE = re.compile(r"^Input #0, (.+?), from ", re.MULTILINE)
_DURATION_RE = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_STREAM_RE = re.compile(r"Stream #0:\d+\S*: (Audio|Video|Data|Subtitle|Attachment): (.*)")
_SAMPLE_RATE_RE = re.compile(r"(\d+) Hz")
_OUT_TIME_RE = re.compile(r"^out_time_us=(\d+)$", re.MULTILINE)
# Encoder delay and padding make a container declare a little more than it decodes;
# a shortfall beyond this is a cut file.
_TRUNCATION_SLACK_S = 0.5
_TRUNCATION_SLACK_RATIO = 0.02
_PROBE_TIMEOUT_S = 600


class AudioRejected(ValidationFailed):
    """An uploaded audio file cannot enter the catalogue; `reason` says why."""

    code = "audio_invalid"

    def __init__(self, reason: str, *, name: str, field: str = "audio"):
        super().__init__(f"{name}: {reason}", details={field: [reason]})
        self.reason = reason
        self.name = name


class CoverRejected(ValidationFailed):
    code = "cover_invalid"

    def __init__(self, reason: str, *, name: str):
        super().__init__(f"{name}: {reason}", details={"cover": [reason]})
        self.reason = reason


@dataclass(frozen=True)
class AudioInfo:
    container: str  # the extension it is stored under: mp3, wav, flac, ogg, m4a, aac
    codec: str
    duration_seconds: float
    sample_rate: int | None
    size: int
    sha256: str


def ffmpeg_binary() -> str:
    """FFMPEG_BINARY, else the binary shipped in the imageio-ffmpeg wheel."""
    if settings.FFMPEG_BINARY:
        return settings.FFMPEG_BINARY
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def audio_probe(path: str | Path, *, name: str) -> AudioInfo:
    """Checks the audio file at `path` (labelled `name` in errors) and describes it.

    Raises AudioRejected when it is empty, over TRACKS_MAX_UPLOAD_BYTES, not audio,
    in a format we do not take, truncated or corrupt, or over TRACKS_MAX_DURATION_SECONDS.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        raise AudioRejected("the file could not be read", name=name) from None
    if size == 0:
        raise AudioRejected("the file is empty", name=name)
    limit = settings.TRACKS_MAX_UPLOAD_BYTES
    if size > limit:
        raise AudioRejected(
            f"the file is {size / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB", name=name
        )
    _check_wav_complete(path, size=size, name=name)

    header = _run([ffmpeg_binary(), "-hide_banner", "-nostdin", "-i", str(path)], name=name)
    found = _INPUT_RE.search(header.stderr)
    if not found:
        raise AudioRejected("not an audio file ffmpeg can read", name=name)
    container = _CONTAINERS.get(found.group(1))
    streams = _STREAM_RE.findall(header.stderr)
    audio = [desc for kind, desc in streams if kind == "Audio"]
    video = [desc for kind, desc in streams if kind == "Video" and "(attached pic)" not in desc]
    if not audio:
        raise AudioRejected("the file holds no audio stream", name=name)
    if video:
        raise AudioRejected("the file holds video; upload the audio only", name=name)
    codec = audio[0].split(None, 1)[0].rstrip(",")
    if container is None or codec not in _CODECS[container]:
        raise AudioRejected(
            f"unsupported format ({found.group(1)}/{codec}); use MP3, WAV, FLAC, OGG, M4A or AAC",
            name=name,
        )
    declared = _declared_duration(header.stderr)
    max_seconds = settings.TRACKS_MAX_DURATION_SECONDS
    if declared is not None and declared > max_seconds:
        raise AudioRejected(_too_long(declared, max_seconds), name=name)

    decoded = _run(
        [
            ffmpeg_binary(),
            "-hide_banner",
            "-nostdin",
            "-nostats",
            "-v",
            "error",
            "-i",
            str(path),
            "-map",
            "0:a:0",
            "-f",
            "null",
            "-progress",
            "pipe:1",
            "-",
        ],
        name=name,
    )
    errors = [line.strip() for line in decoded.stderr.splitlines() if line.strip()]
    if decoded.returncode != 0 or errors:
        detail = errors[-1] if errors else "decoding failed"
        raise AudioRejected(f"the audio is corrupt or truncated ({_tidy(detail)})", name=name)
    times = _OUT_TIME_RE.findall(decoded.stdout)
    seconds = int(times[-1]) / 1e6 if times else 0.0
    if seconds <= 0:
        raise AudioRejected("no audio could be decoded", name=name)
    if declared is not None and seconds < declared - max(
        _TRUNCATION_SLACK_S, _TRUNCATION_SLACK_RATIO * declared
    ):
        raise AudioRejected(
            f"the file is truncated: {seconds:.1f} s decoded of {declared:.1f} s", name=name
        )
    if seconds > max_seconds:
        raise AudioRejected(_too_long(seconds, max_seconds), name=name)
    rate = _SAMPLE_RATE_RE.search(audio[0])
    return AudioInfo(
        container=container,
        codec=codec,
        duration_seconds=round(seconds, 3),
        sample_rate=int(rate.group(1)) if rate else None,
        size=size,
        sha256=file_sha256(path),
    )


@dataclass(frozen=True)
class _Result:
    returncode: int
    stdout: str
    stderr: str


def _run(command: list[str], *, name: str) -> _Result:
    try:
        result = subprocess.run(command, capture_output=True, check=False, timeout=_PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise AudioRejected("the file took too long to read", name=name) from None
    return _Result(
        result.returncode,
        result.stdout.decode("utf-8", "replace"),
        result.stderr.decode("utf-8", "replace"),
    )


def _declared_duration(stderr: str) -> float | None:
    # A duration ffmpeg estimated from the bitrate is not a declaration.
    if "Estimating duration from bitrate" in stderr:
        return None
    found = _DURATION_RE.search(stderr)
    if not found:
        return None
    hours, minutes, seconds = found.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _too_long(seconds: float, limit: int) -> str:
    return f"the audio lasts {seconds / 60:.1f} min; the limit is {limit / 60:.0f} min"


def _tidy(line: str) -> str:
    # "[flac @ 0x55…] invalid residual" → "flac: invalid residual": no addresses in messages.
    return re.sub(r"\[([^\]@]+?) @ 0x[0-9a-f]+\]\s*", r"\1: ", line)[:200]


def _check_wav_complete(path: Path, *, size: int, name: str) -> None:
    """A WAV's data chunk states its length, and ffmpeg silently decodes a cut one."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return
    position = 12
    while position + 8 <= len(head):
        chunk_id = head[position : position + 4]
        (chunk_size,) = struct.unpack("<I", head[position + 4 : position + 8])
        if chunk_id == b"data":
            # 0 and 0xFFFFFFFF mean "length unknown" (a streamed WAV).
            if chunk_size not in (0, 0xFFFFFFFF) and position + 8 + chunk_size > size:
                have = size - position - 8
                raise AudioRejected(
                    f"the file is truncated: {have} of {chunk_size} audio bytes", name=name
                )
            return
        position += 8 + chunk_size + (chunk_size & 1)


# --- Cover art -----------------------------------------------------------------
_COVER_FORMATS = {"JPEG": ".jpg", "PNG": ".png"}
_MAX_COVER_PIXELS = 6000 * 6000


def cover_check(upload, *, name: str) -> str:
    """Checks a JPEG/PNG cover (size, format, dimensions); returns the extension to store."""
    from PIL import Image, UnidentifiedImageError

    size = upload.size
    if not size:
        raise CoverRejected("the image is empty", name=name)
    if size > settings.TRACKS_MAX_COVER_BYTES:
        raise CoverRejected(
            f"the image is {size / 1e6:.1f} MB; the limit is "
            f"{settings.TRACKS_MAX_COVER_BYTES / 1e6:.0f} MB",
            name=name,
        )
    upload.seek(0)
    try:
        with Image.open(upload) as image:
            fmt = image.format
            width, height = image.size
            if width * height > _MAX_COVER_PIXELS:
                raise CoverRejected(f"the image is too large ({width}×{height})", name=name)
            image.verify()
    except CoverRejected:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        raise CoverRejected("not a readable JPEG or PNG image", name=name) from None
    finally:
        upload.seek(0)
    if fmt not in _COVER_FORMATS:
        raise CoverRejected(f"{fmt} images are not accepted; use JPEG or PNG", name=name)
    return _COVER_FORMATS[fmt]
