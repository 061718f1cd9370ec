"""Capturing from live streams served on 127.0.0.1: content, dating, windows, and every
way a peer can fail or misbehave (all bounded by timeouts and a hard wall-clock limit)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import numpy as np
import pytest

from fingerprinting import synth
from fingerprinting.engine import Index, Matcher, decode, fingerprint
from stream_capture.ffmpeg import SAMPLE_RATE, StreamReader, StreamUnavailable, sample_capture
from stream_capture.testing import (
    encode_mp3,
    serve_routes,
    serve_silent,
    serve_stream,
    trickle,
)
from stream_capture.tests.conftest import static_hosts
from stream_capture.urlsafety import UnsafeStreamUrl

SR = 44100
SONG_SEED = 4242


@pytest.fixture(scope="module")
def song() -> np.ndarray:
    return synth.song(SONG_SEED, 40.0, sr=SR)


@pytest.fixture(scope="module")
def matcher(song) -> Matcher:
    index = Index()
    index.add(7, fingerprint(decode(song, sample_rate=SR)))
    return Matcher(index, threshold=0.3)


def position_heard(matcher: Matcher, samples: np.ndarray) -> float:
    """Where in the song (s) the first captured sample is, by fingerprint."""
    matches = matcher.match(samples)
    assert [m.track_id for m in matches][:1] == [7]
    best = matches[0]
    return best.track_offset - best.query_offset * best.speed


def test_sample_capture_joins_live_and_dates_the_burst(loopback, song, matcher):
    # Given a station 15 s into its broadcast that bursts 10 s of back-buffer on connect
    with serve_stream(song, SR, already_on_air=15.0, burst_seconds=10.0) as url:
        started = time.monotonic()
        captured = sample_capture(url=url, seconds=8.0)
        returned = time.time()
        elapsed = time.monotonic() - started

    # Then the burst (5 s to 15 s) arrives at once, is read through to the live point, and
    # the latest 8 s are kept, dated when they were on air: the sample ends "now".
    assert captured.samples.dtype == np.float32
    assert captured.samples.shape == (8 * SAMPLE_RATE,)
    assert captured.seconds == 8.0
    assert elapsed < 2.0
    assert captured.ended_at.timestamp() == pytest.approx(returned, abs=0.3)
    on_air = (captured.started_at - url.started_at).total_seconds()
    assert 6.9 < on_air < 7.0 + elapsed
    assert position_heard(matcher, captured.samples) == pytest.approx(on_air, abs=0.3)


def test_sample_capture_at_real_time_pace(loopback, song, matcher):
    with serve_stream(song, SR, already_on_air=10.0) as url:
        connect = time.time()
        started = time.monotonic()
        captured = sample_capture(url=url, seconds=4.0)
        elapsed = time.monotonic() - started

    assert 3.5 < elapsed < 6.0
    on_air = (captured.started_at - url.started_at).total_seconds()
    assert on_air == pytest.approx(10.0 + (connect - url.started_at.timestamp() - 10.0), abs=0.4)
    assert position_heard(matcher, captured.samples) == pytest.approx(on_air, abs=0.3)


def test_stream_reader_yields_gap_free_overlapping_windows_dated_by_sample_count(
    loopback, song, matcher
):
    with serve_stream(song, SR, already_on_air=20.0, burst_seconds=12.0) as url:
        reader = StreamReader(url, window_seconds=6.0, hop_seconds=3.0)
        windows = []
        for window in reader:
            windows.append(window)
            if len(windows) == 3:
                stopped = time.monotonic()
                reader.stop()
        stop_took = time.monotonic() - stopped

    assert len(windows) == 3 and reader.connections == 1
    assert stop_took < 2.0
    # Joined live at 20 s with a 12 s burst: the first window starts 8 s in.
    first = (windows[0].started_at - url.started_at).total_seconds()
    assert first == pytest.approx(8.0, abs=0.3)
    assert [w.started_at - windows[0].started_at for w in windows] == [
        timedelta(0),
        timedelta(seconds=3),
        timedelta(seconds=6),
    ]
    hop = 3 * SAMPLE_RATE
    for earlier, later in zip(windows, windows[1:], strict=False):
        assert later.samples.shape == (6 * SAMPLE_RATE,)
        np.testing.assert_array_equal(earlier.samples[hop:], later.samples[:hop])
    for window in windows:
        on_air = (window.started_at - url.started_at).total_seconds()
        assert position_heard(matcher, window.samples) == pytest.approx(on_air, abs=0.3)


def test_stream_reader_reconnects_after_the_stream_ends(loopback, fast_timeouts):
    short = synth.song(7, 7.0, sr=SR)
    with serve_stream(short, SR, realtime=False) as url:
        reader = StreamReader(url, window_seconds=3.0, hop_seconds=3.0)
        seen = []
        for window in reader:
            seen.append((reader.connections, window.seconds))
            if reader.connections == 2:
                reader.stop()
    # Each connection yields the two whole windows the 7 s broadcast holds, then ends.
    assert seen[:3] == [(1, 3.0), (1, 3.0), (2, 3.0)]
    assert reader.last_error == "the server ended the stream"


def test_a_peer_that_never_answers_fails_within_the_read_timeout(loopback, fast_timeouts):
    with serve_silent(send_headers=False) as url:
        started = time.monotonic()
        with pytest.raises(StreamUnavailable) as caught:
            sample_capture(url=url, seconds=5.0)
        elapsed = time.monotonic() - started
    assert (
        caught.value.reason == "the server accepted the connection but sent no response within 1 s"
    )
    assert elapsed < 2.5


def test_a_stream_that_sends_headers_and_no_audio_fails_within_the_read_timeout(
    loopback, fast_timeouts
):
    with serve_silent(send_headers=True) as url:
        started = time.monotonic()
        with pytest.raises(StreamUnavailable) as caught:
            sample_capture(url=url, seconds=5.0)
        elapsed = time.monotonic() - started
    assert caught.value.reason == "no data for 1 s"
    assert elapsed < 2.5


def test_a_stream_that_stalls_mid_sample_fails(loopback, fast_timeouts, song):
    with (
        serve_stream(song, SR, realtime=False, stop_after_seconds=1.0) as url,
        pytest.raises(StreamUnavailable) as caught,
    ):
        sample_capture(url=url, seconds=5.0)
    assert caught.value.reason.startswith("no data for 1 s after ")


def test_a_trickling_stream_is_killed_at_the_wall_clock_limit(loopback, fast_timeouts, song):
    # 2 kB/s never idles for the 1 s read timeout, yet can never deliver 3 s of 128 kbit/s.
    routes = {"/slow.mp3": trickle(encode_mp3(song[: 10 * SR], SR), bytes_per_second=2000)}
    with serve_routes(routes) as base:
        started = time.monotonic()
        with pytest.raises(StreamUnavailable) as caught:
            sample_capture(url=base + "/slow.mp3", seconds=3.0)
        elapsed = time.monotonic() - started
    # limit = 3 s sample + 1 s connect timeout + 1 s slack
    assert caught.value.reason.endswith("in 5 s (the stream is too slow or stalled)")
    assert 4.5 < elapsed < 6.5


def test_refused_connection_and_http_errors_are_reported(loopback, fast_timeouts):
    with serve_routes({"/page": (200, {"Content-Type": "text/html"}, b"<html></html>")}) as base:
        with pytest.raises(StreamUnavailable) as missing:
            sample_capture(url=base + "/gone.mp3", seconds=3.0)
        with pytest.raises(StreamUnavailable) as page:
            sample_capture(url=base + "/page", seconds=3.0)
    with pytest.raises(StreamUnavailable) as refused:
        sample_capture(url=base + "/gone.mp3", seconds=3.0)  # the server has stopped
    assert missing.value.reason == "the server answered HTTP 404"
    assert page.value.reason == "the server sent text/html, not audio"
    assert refused.value.reason.startswith("cannot connect to 127.0.0.1")


def test_redirects_to_private_or_local_targets_are_refused(loopback):
    targets = {
        "/private": "http://10.0.0.1/stream.mp3",
        "/metadata": "http://169.254.169.254/latest/meta-data/",
        "/file": "file:///etc/passwd",
        "/v6": "http://[fd00::1]/stream.mp3",
    }
    routes = {path: (302, {"Location": target}, b"") for path, target in targets.items()}
    with serve_routes(routes) as base:
        for path in targets:
            with pytest.raises(UnsafeStreamUrl):
                sample_capture(url=base + path, seconds=3.0)


def test_safe_redirects_and_playlists_lead_to_the_stream(loopback, song, matcher):
    with serve_stream(song, SR, already_on_air=12.0, burst_seconds=10.0) as url:
        routes = {
            "/moved": (301, {"Location": "/again"}, b""),
            "/again": (307, {"Location": str(url)}, b""),
            "/listen.pls": (
                200,
                {"Content-Type": "audio/x-scpls"},
                f"[playlist]\nNumberOfEntries=1\nFile1={url}\nTitle1=Test\n".encode(),
            ),
            "/listen.m3u": (200, {"Content-Type": "audio/x-mpegurl"}, f"#EXTM3U\n{url}\n".encode()),
        }
        with serve_routes(routes) as base:
            for path in routes:
                captured = sample_capture(url=base + path, seconds=4.0)
                on_air = (captured.started_at - url.started_at).total_seconds()
                assert position_heard(matcher, captured.samples) == pytest.approx(on_air, abs=0.3)


def test_redirect_loops_and_bad_playlists_fail(loopback):
    routes = {
        "/a": (302, {"Location": "/b"}, b""),
        "/b": (302, {"Location": "/a"}, b""),
        "/hls": (
            200,
            {"Content-Type": "application/vnd.apple.mpegurl"},
            b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n",
        ),
        # A peer lying about the type does not get an HLS playlist past us either.
        "/hls-disguised": (
            200,
            {"Content-Type": "audio/mpeg"},
            b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nhttp://10.0.0.1/a.ts\n",
        ),
        "/local.m3u": (200, {"Content-Type": "audio/x-mpegurl"}, b"#EXTM3U\nfile:///etc/passwd\n"),
        "/private.pls": (
            200,
            {"Content-Type": "audio/x-scpls"},
            b"[playlist]\nFile1=http://192.168.0.10:8000/live\n",
        ),
    }
    with serve_routes(routes) as base:
        with pytest.raises(StreamUnavailable) as looping:
            sample_capture(url=base + "/a", seconds=3.0)
        for path in ("/hls", "/hls-disguised", "/private.pls"):
            with pytest.raises(UnsafeStreamUrl):
                sample_capture(url=base + path, seconds=3.0)
        with pytest.raises(StreamUnavailable) as local:
            sample_capture(url=base + "/local.m3u", seconds=3.0)
    assert looping.value.reason == "more than 5 redirects or playlists"
    assert local.value.reason == "the playlist names no http(s) stream"


def test_ffmpeg_reads_only_the_piped_audio_never_files(loopback, fast_timeouts):
    # A concat script or a file URL sent as "audio" cannot make ffmpeg open local files.
    routes = {
        "/concat.mp3": (
            200,
            {"Content-Type": "audio/mpeg"},
            b"ffconcat version 1.0\nfile '/etc/passwd'\n",
        ),
        "/data.mp3": (200, {"Content-Type": "audio/mpeg"}, b"file:/etc/passwd\n" * 64),
    }
    with serve_routes(routes) as base:
        for path in routes:
            with pytest.raises(StreamUnavailable) as caught:
                sample_capture(url=base + path, seconds=3.0)
            assert caught.value.reason.startswith("not decodable as audio")


def test_shoutcast_icy_responses_and_chunked_bodies_are_read(loopback, song, matcher):
    body = encode_mp3(song[: 12 * SR], SR)

    def icy(handler):
        handler.wfile.write(
            b"ICY 200 OK\r\nicy-name: Old Shoutcast\r\ncontent-type: audio/mpeg\r\n\r\n"
        )
        handler.wfile.write(body)

    def chunked(handler):
        handler.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: audio/mpeg\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        for start in range(0, len(body), 1000):
            piece = body[start : start + 1000]
            handler.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        handler.wfile.write(b"0\r\n\r\n")

    with serve_routes({"/icy": icy, "/chunked": chunked}) as base:
        for path in ("/icy", "/chunked"):
            captured = sample_capture(url=base + path, seconds=6.0)
            assert captured.samples.shape == (6 * SAMPLE_RATE,)
            # Not a live stream: all 12 s arrive at once and the latest 6 s are kept.
            assert position_heard(matcher, captured.samples) == pytest.approx(6.0, abs=0.3)


def test_capture_refuses_a_name_resolving_to_loopback(settings):
    # No loopback permission: the name is resolved, found to be 127.0.0.1, and refused
    # before any connection is made.
    settings.STREAM_CAPTURE_ALLOW_LOOPBACK = False
    with static_hosts({"evil.example": ["127.0.0.1"]}), pytest.raises(UnsafeStreamUrl):
        sample_capture(url="http://evil.example:8000/stream.mp3", seconds=3.0)
    with pytest.raises(UnsafeStreamUrl):
        sample_capture(url="http://localhost:8000/stream.mp3", seconds=3.0)


def test_connections_go_to_the_checked_address_with_the_original_host(loopback, song):
    seen = {}
    body = encode_mp3(song[: 6 * SR], SR)

    def record(handler):
        seen["host"] = handler.headers["Host"]
        seen["agent"] = handler.headers["User-Agent"]
        handler.send_response(200)
        handler.send_header("Content-Type", "audio/mpeg")
        handler.end_headers()
        handler.wfile.write(body)

    with serve_routes({"/live": record}) as base:
        port = base.rsplit(":", 1)[1]
        with static_hosts({"radio.example": ["127.0.0.1"]}):
            sample_capture(url=f"http://radio.example:{port}/live", seconds=3.0)
    assert seen == {"host": f"radio.example:{port}", "agent": seen["agent"]}
    assert seen["agent"].startswith("ZamIO-Monitor/")


def test_stop_event_ends_a_reader_blocked_on_a_stalled_stream(loopback, settings, song):
    settings.STREAM_CAPTURE_READ_TIMEOUT_SECONDS = 30
    stop = threading.Event()
    with serve_stream(song, SR, realtime=False, stop_after_seconds=2.0) as url:
        reader = StreamReader(url, window_seconds=4.0, hop_seconds=2.0, stop_event=stop)
        result = []
        thread = threading.Thread(target=lambda: result.extend(reader))
        thread.start()
        time.sleep(1.0)
        started = time.monotonic()
        reader.stop()
        thread.join(timeout=5)
    assert not thread.is_alive()
    assert time.monotonic() - started < 2.0
    assert result == []
