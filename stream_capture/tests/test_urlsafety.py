"""The SSRF table: every URL form that could make our servers read themselves is refused."""

from __future__ import annotations

import pytest

from stream_capture.tests.conftest import static_hosts
from stream_capture.urlsafety import UnsafeStreamUrl, url_resolve, url_validate


@pytest.mark.parametrize(
    "url",
    [
        # Not http(s): local files, ffmpeg pseudo-protocols, other network protocols.
        "file:///etc/passwd",
        "concat:/etc/passwd|/etc/shadow",
        "data:audio/mpeg;base64,SUQzBAAAAAAA",
        "subfile,,start,0,end,100,,:/etc/passwd",
        "pipe:0",
        "ftp://8.8.8.8/stream.mp3",
        "gopher://8.8.8.8:70/_x",
        "rtmp://8.8.8.8/live",
        "rtsp://8.8.8.8/live",
        "icy://8.8.8.8:8000/live",
        "/etc/passwd",
        "//8.8.8.8/stream",
        # Loopback, every spelling.
        "http://127.0.0.1:8000/stream",
        "http://127.0.0.2/stream",
        "http://localhost/stream",
        "http://LOCALHOST./stream",
        "http://2130706433/stream",
        "http://0x7f000001/stream",
        "http://0177.0.0.1/stream",
        "http://127.1/stream",
        "http://[::1]/stream",
        "http://[::ffff:127.0.0.1]/stream",
        "http://[::127.0.0.1]/stream",
        "http://[2002:7f00:1::]/stream",
        # Unspecified.
        "http://0.0.0.0:8000/",
        "http://0/",
        "http://[::]/",
        # Private and shared ranges.
        "http://10.0.0.1/stream",
        "http://172.16.5.4/stream",
        "http://192.168.1.1/stream",
        "http://100.64.0.1/stream",
        "http://[fc00::1]/stream",
        "http://[fd12:3456::1]/stream",
        "http://[::ffff:10.0.0.1]/stream",
        "http://[64:ff9b::a00:1]/stream",
        # Link-local, the cloud metadata address above all.
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/stream",
        "http://[::ffff:169.254.169.254]/",
        # Multicast and reserved.
        "http://224.0.0.1/stream",
        "http://239.255.255.250:1900/",
        "http://[ff02::1]/stream",
        "http://240.0.0.1/stream",
        "http://255.255.255.255/stream",
        # Credentials, header smuggling, HLS, garbage.
        "http://user:secret@8.8.8.8/stream",
        "http://8.8.8.8/stream\r\nX-Injected: 1",
        "http://8.8.8.8/str eam",
        "https://8.8.8.8/live/playlist.m3u8",
        "http://",
        "http://:80/",
        "http://8.8.8.8:0/",
        "http://8.8.8.8:99999/",
        "",
        "http://8.8.8.8/" + "a" * 2100,
    ],
)
def test_refused(url):
    with pytest.raises(UnsafeStreamUrl) as caught:
        url_validate(url)
    assert caught.value.status_code == 400
    assert caught.value.code == "unsafe_stream_url"
    assert caught.value.details == {"url": [caught.value.message]}


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("http://8.8.8.8:8000/live", "http://8.8.8.8:8000/live"),
        ("HTTPS://8.8.8.8/Live?x=1#top", "https://8.8.8.8/Live?x=1"),
        ("http://[2001:4860:4860::8888]:8000/s", "http://[2001:4860:4860::8888]:8000/s"),
        ("http://8.8.8.8", "http://8.8.8.8/"),
    ],
)
def test_public_addresses_pass_normalised(url, normalised):
    assert url_validate(url) == normalised


def test_a_name_resolving_to_loopback_is_refused():
    with static_hosts({"radio.example": ["127.0.0.1"]}), pytest.raises(UnsafeStreamUrl) as caught:
        url_validate("http://radio.example:8000/live")
    assert (
        caught.value.message == "radio.example resolves to a loopback address (127.0.0.1); refused."
    )


def test_one_private_answer_among_public_ones_is_refused():
    # A rebinding resolver may mix answers; the connection could land on any of them.
    with (
        static_hosts({"radio.example": ["8.8.8.8", "10.1.2.3"]}),
        pytest.raises(UnsafeStreamUrl) as caught,
    ):
        url_validate("http://radio.example/live")
    assert "10.1.2.3" in caught.value.message


def test_names_resolve_to_the_addresses_used_for_the_connection():
    with static_hosts({"radio.example": ["8.8.8.8", "2001:4860:4860::8888"]}):
        resolved = url_resolve("https://Radio.Example/live?bitrate=128")
    assert resolved.addresses == ("8.8.8.8", "2001:4860:4860::8888")
    assert (resolved.host, resolved.port, resolved.target, resolved.host_header) == (
        "radio.example",
        443,
        "/live?bitrate=128",
        "radio.example",
    )


def test_unresolvable_names_are_refused():
    with static_hosts({}), pytest.raises(UnsafeStreamUrl) as caught:
        url_validate("http://no-such-station.example/live")
    assert caught.value.message == "The host name 'no-such-station.example' does not resolve."


def test_loopback_setting_opens_loopback_only(settings):
    settings.STREAM_CAPTURE_ALLOW_LOOPBACK = True
    assert url_validate("http://127.0.0.1:8000/live") == "http://127.0.0.1:8000/live"
    assert url_validate("http://[::1]:8000/live") == "http://[::1]:8000/live"
    for url in (
        "http://10.0.0.1/",
        "http://169.254.169.254/",
        "http://0.0.0.0/",
        "http://[fe80::1]/",
    ):
        with pytest.raises(UnsafeStreamUrl):
            url_validate(url)


def test_loopback_is_off_by_default():
    from zamio import settings as project_settings

    assert project_settings.STREAM_CAPTURE_ALLOW_LOOPBACK is False
