"""Decode any audio input to mono float32 at the one analysis rate, with FFmpeg.

Files, bytes and file objects are demuxed and decoded in this process by FFmpeg's
own libraries (through PyAV), and every input, PCM arrays included, goes through
the same FFmpeg resampler (the ``aresample`` filter with its default settings), so
a 48 kHz master and a 44.1 kHz broadcast copy land on the same sample grid. The
samples are the ones ``ffmpeg -i IN -af aresample=8000 -ac 1 -f f32le`` writes,
without starting a process, copying through pipes or handing every packet between
the command line tool's threads.

The ffmpeg command line tool (``ffmpeg_binary``) is still what live stream capture
runs, and what the tests and benchmark encode MP3s with.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
import av.logging
import numpy as np

from .errors import DecodeError, TooShortError
from .spec import SPEC

AudioSource = str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO | np.ndarray

# A container may declare a slightly longer duration than its decodable samples
# (encoder delay, padding); anything shorter than this is a truncated file.
_TRUNCATION_SLACK_S = 0.5
_TRUNCATION_SLACK_RATIO = 0.02
# What FFmpeg logs when it made the duration up from the file size and bit rate.
_ESTIMATED_DURATION = "Estimating duration from bitrate"
# FFmpeg's command line gives up when more than 2/3 of what it decoded were errors
# (-max_error_rate); the same rule tells a damaged file from a few bad frames.
_MAX_ERROR_RATE = 2 / 3
# Resampled output is pulled in frames of this many samples, input frames in
# batches: a Vorbis packet holds ~20 ms, and a Python call per packet and per
# output frame would cost as much as the decoding.
_OUT_FRAME = 65536
_PULL_EVERY = 128
# PCM arrays are fed to the resampler in frames of this many samples.
_ARRAY_FRAME = 65536
# Reads of a WAV header look at most this far.
_WAV_HEAD = 4096
# Demuxers that read other files or URLs named inside the input (playlists,
# concat lists) must not follow them: an upload could name anything. Only the
# input itself is read (a Python file object), so no protocol is needed.
_OPEN_OPTIONS = {"protocol_whitelist": "none"}

# FFmpeg's log lines carry the "estimated duration" notice and the reason a file
# does not decode; PyAV only passes them on with a level set, and by default drops
# a line equal to the one before (the second file in a row with an estimated
# duration would look declared). Each decode captures its own thread's lines, so
# none reach the logging system; decoding and filtering run on that one thread.
av.logging.set_level(av.logging.WARNING)
av.logging.set_skip_repeated(False)


def ffmpeg_binary() -> str:
    """The ffmpeg executable: ``$FFMPEG_BINARY``, else the one shipped with imageio-ffmpeg."""
    configured = os.environ.get("FFMPEG_BINARY")
    if configured:
        return configured
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def decode(
    source: AudioSource,
    *,
    sample_rate: int | None = None,
    channels: int = 1,
    name: str | None = None,
    min_seconds: float = 0.0,
) -> np.ndarray:
    """Decode ``source`` to mono float32 samples at ``SPEC.sample_rate``.

    ``source`` is a file path, the bytes of an audio file, a binary file object
    holding an audio file, or a numpy array of PCM samples (then ``sample_rate``
    is required; a 2-D array is (frames, channels)). ``name`` is used in error
    messages (defaults to the path, or ``<bytes>``/``<array>``).

    Raises ``DecodeError`` when the input is not audio, empty or truncated, and
    ``TooShortError`` when it holds less than ``min_seconds`` of audio.
    """
    if isinstance(source, np.ndarray):
        label = name or "<array>"
        samples = _decode_array(source, sample_rate=sample_rate, label=label)
    elif isinstance(source, str | os.PathLike):
        label = name or str(source)
        samples = _decode_path(Path(source), label=label)
    else:
        if isinstance(source, bytes | bytearray | memoryview):
            data = bytes(source)
        else:
            data = source.read()
        label = name or getattr(source, "name", None) or "<bytes>"
        samples = _decode_bytes(data, label=str(label))
    seconds = samples.size / SPEC.sample_rate
    if seconds < min_seconds:
        raise TooShortError(
            f"{seconds:.2f} s of audio, at least {min_seconds:.2f} s needed", source=label
        )
    return samples


def _decode_bytes(data: bytes, *, label: str) -> np.ndarray:
    if not data:
        raise DecodeError("empty input", source=label)
    _check_wav_complete(data[:_WAV_HEAD], size=len(data), label=label)
    # Seekable, so FFmpeg reads durations and headers (what tells a truncated
    # file apart from a short one) exactly as from a file.
    return _decode_file(io.BytesIO(data), label=label)


def _decode_path(path: Path, *, label: str) -> np.ndarray:
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise DecodeError(f"cannot read file ({exc.strerror})", source=label) from exc
    with handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            raise DecodeError("empty file", source=label)
        _check_wav_complete(handle.read(_WAV_HEAD), size=size, label=label)
        handle.seek(0)
        # A file object, not the path: FFmpeg would read "concat:..." or "http:..."
        # in a file name as a protocol.
        return _decode_file(handle, label=label)


def _decode_file(handle: BinaryIO, *, label: str) -> np.ndarray:
    with av.logging.Capture() as logs:
        try:
            container = av.open(handle, mode="r", options=_OPEN_OPTIONS)
        except av.FFmpegError as exc:
            raise DecodeError(f"not decodable audio ({_reason(exc, logs)})", source=label) from exc
        with container:
            if not container.streams.audio:
                raise DecodeError("not decodable audio (no audio stream)", source=label)
            stream = container.streams.audio[0]
            estimated = any(_ESTIMATED_DURATION in line[2] for line in logs)
            declared = None if estimated or container.duration is None else container.duration
            samples = _resample(_decoded_frames(container, stream, logs, label=label), label=label)
    if declared is not None:
        declared_s = declared / av.time_base
        decoded_s = samples.size / SPEC.sample_rate
        if decoded_s < declared_s - max(_TRUNCATION_SLACK_S, _TRUNCATION_SLACK_RATIO * declared_s):
            raise DecodeError(
                f"truncated: {decoded_s:.2f} s decoded of {declared_s:.2f} s declared",
                source=label,
            )
    return samples


def _decoded_frames(
    container: av.container.InputContainer,
    stream: av.audio.stream.AudioStream,
    logs: list,
    *,
    label: str,
) -> Iterator[av.AudioFrame]:
    """Every decodable frame of ``stream``, as the ffmpeg command line decodes: a
    packet that does not decode is skipped, a read error ends the input, and more
    than ``_MAX_ERROR_RATE`` of errors among frames and errors means it is not audio."""
    context = stream.codec_context
    # One thread: per-core figures, and no FFmpeg thread logging outside the capture.
    context.thread_count = 1
    if context.layout.name.endswith(" channels"):
        # No channel order (a plain WAV, raw PCM): FFmpeg's default layout for that
        # count, as the command line guesses, so the downmix to mono is defined.
        context.layout = _default_layout(context.layout.nb_channels)
    frames = errors = 0
    last_error: av.FFmpegError | None = None
    demuxed = container.demux(stream)
    while True:
        try:
            packet = next(demuxed)
        except StopIteration:
            break
        except av.FFmpegError as exc:
            last_error = exc
            break
        try:
            decoded = context.decode(packet)
        except av.FFmpegError as exc:
            errors += 1
            last_error = exc
            continue
        frames += len(decoded)
        yield from decoded
    if last_error is not None and (frames == 0 or errors > _MAX_ERROR_RATE * (frames + errors)):
        reason = _reason(last_error, logs)
        if errors:
            reason = f"{errors} of {frames + errors} frames failed: {reason}"
        raise DecodeError(f"not decodable audio ({reason})", source=label)


def _resample(frames: Iterable[av.AudioFrame], *, label: str) -> np.ndarray:
    """``frames`` through ``_Resampler``: mono float32 at the analysis rate."""
    resampler = _Resampler()
    try:
        for frame in frames:
            resampler.push(frame)
        samples = resampler.finish()
    except (av.FFmpegError, ValueError) as exc:
        # A layout FFmpeg cannot mix down (9 channels in no known order, say).
        raise DecodeError(f"cannot mix down to mono ({exc})", source=label) from exc
    if samples.size == 0:
        raise DecodeError("no audio samples decoded", source=label)
    return samples


class _Resampler:
    """FFmpeg's ``aresample`` to mono float32 at the analysis rate, fed frame by frame.

    The filter graph is built from the first frame's format and rebuilt, after
    draining the old one, when the input's format changes (an MP3 stream that
    switches sample rate): every sample comes out (the ffmpeg command line lost
    the second before such a switch).
    """

    def __init__(self) -> None:
        self._graph: av.filter.Graph | None = None
        self._source = self._sink = None
        self._signature: tuple | None = None
        self._pending = 0
        self._chunks: list[np.ndarray] = []

    def push(self, frame: av.AudioFrame) -> None:
        signature = (frame.format.name, frame.layout.name, frame.sample_rate)
        if signature != self._signature:
            self._drain(final=True)
            self._build(frame)
            self._signature = signature
        self._source.push(frame)
        self._pending += 1
        if self._pending >= _PULL_EVERY:
            self._drain(final=False)

    def finish(self) -> np.ndarray:
        self._drain(final=True)
        if not self._chunks:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(self._chunks).astype(np.float32, copy=False)

    def _build(self, frame: av.AudioFrame) -> None:
        graph = av.filter.Graph()
        graph.threads = 1
        source = graph.add_abuffer(
            format=frame.format.name,
            sample_rate=frame.sample_rate,
            layout=frame.layout.name,
            time_base=frame.time_base or Fraction(1, frame.sample_rate),
        )
        chain = [
            source,
            graph.add("aresample", str(SPEC.sample_rate)),
            graph.add("aformat", "sample_fmts=flt:channel_layouts=mono"),
            graph.add("asetnsamples", f"n={_OUT_FRAME}:p=0"),
            graph.add("abuffersink"),
        ]
        for upstream, downstream in zip(chain, chain[1:], strict=False):
            upstream.link_to(downstream)
        graph.configure()
        self._graph, self._source, self._sink = graph, source, chain[-1]

    def _drain(self, *, final: bool) -> None:
        if self._graph is None:
            return
        if final:
            self._source.push(None)
        while True:
            try:
                frame = self._sink.pull()
            except (av.BlockingIOError, av.EOFError):
                break
            self._chunks.append(frame.to_ndarray().reshape(-1))
        self._pending = 0
        if final:
            self._graph = self._source = self._sink = None
            self._signature = None


def _decode_array(array: np.ndarray, *, sample_rate: int | None, label: str) -> np.ndarray:
    if sample_rate is None or sample_rate <= 0:
        raise DecodeError("a PCM array needs its sample_rate", source=label)
    pcm = np.asarray(array)
    if pcm.ndim == 1:
        pcm = pcm[:, None]
    if pcm.ndim != 2 or pcm.shape[0] == 0 or pcm.shape[1] == 0:
        raise DecodeError(f"empty or malformed PCM array of shape {array.shape}", source=label)
    if pcm.dtype.kind in "iu":
        scale = float(np.iinfo(pcm.dtype).max) + 1.0
        pcm = pcm.astype(np.float32) / scale
    pcm = np.ascontiguousarray(pcm, dtype=np.float32)
    if not np.isfinite(pcm).all():
        raise DecodeError("PCM array contains NaN or infinity", source=label)
    return _resample(_array_frames(pcm, sample_rate), label=label)


def _array_frames(pcm: np.ndarray, sample_rate: int) -> Iterator[av.AudioFrame]:
    layout = _default_layout(pcm.shape[1])
    for start in range(0, pcm.shape[0], _ARRAY_FRAME):
        block = pcm[start : start + _ARRAY_FRAME]
        # Interleaved ("flt", packed) frames are one row of frames x channels values.
        frame = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="flt", layout=layout)
        frame.sample_rate = sample_rate
        frame.time_base = Fraction(1, sample_rate)
        frame.pts = start
        yield frame


def _default_layout(channels: int) -> av.AudioLayout:
    """FFmpeg's default layout for ``channels`` ("2c" is stereo, "6c" is 5.1)."""
    return av.AudioLayout(f"{channels}c")


def _check_wav_complete(head: bytes, *, size: int, label: str) -> None:
    """A WAV's data chunk states its length; FFmpeg silently decodes a cut one."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return
    position = 12
    while position + 8 <= len(head):
        chunk_id = head[position : position + 4]
        (chunk_size,) = struct.unpack("<I", head[position + 4 : position + 8])
        if chunk_id == b"data":
            # 0 and 0xFFFFFFFF mean "unknown length" (streamed WAV).
            if chunk_size not in (0, 0xFFFFFFFF) and position + 8 + chunk_size > size:
                raise DecodeError(
                    f"truncated WAV: {size - position - 8} of {chunk_size} data bytes",
                    source=label,
                )
            return
        position += 8 + chunk_size + (chunk_size & 1)


def _reason(exc: av.FFmpegError, logs: list) -> str:
    """FFmpeg's own words: its last error line, else the error's description."""
    errors = [line[2].strip() for line in logs if line[0] <= av.logging.ERROR and line[2].strip()]
    return errors[-1] if errors else (exc.strerror or str(exc))
