"""Which stream URLs ZamIO's servers may fetch: the SSRF guard in front of every capture.

A stream URL comes from a station manager and is fetched from inside our network, so
it must never reach our own machines: only http(s), and every address the host name
resolves to must be a public unicast one (IPv4 and IPv6, including IPv4 hidden in
IPv6 forms). `url_resolve` returns the checked addresses so the caller connects to
exactly those (a second DNS lookup could answer differently: DNS rebinding); every
redirect goes through here again. Loopback is allowed only when the
`STREAM_CAPTURE_ALLOW_LOOPBACK` setting says so (local development and tests).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

from zamio.errors import ValidationFailed

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}
# A host name resolving to this many addresses is answered with the first ones only.
_MAX_ADDRESSES = 8

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# The seam tests use to make a name resolve where they want (see `hosts_override`);
# production always asks the system resolver.
Resolver = Callable[[str, int], list[str]]


class UnsafeStreamUrl(ValidationFailed):
    """The URL may not be fetched by our servers; `message` says why in plain words."""

    code = "unsafe_stream_url"

    def __init__(self, message: str, *, url: str = ""):
        super().__init__(message, details={"url": [message]})
        self.url = url


@dataclass(frozen=True)
class ResolvedUrl:
    url: str  # normalised: lower-case scheme and host, no fragment
    scheme: str
    host: str  # ASCII (IDNA) host name or IP literal, no brackets
    port: int
    target: str  # path and query as sent in the request line
    addresses: tuple[str, ...]  # checked IPs, in resolver order

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


_resolver: Resolver = _system_resolver


def resolver_set(resolver: Resolver | None) -> Resolver:
    """Replaces the resolver (None restores the system one); returns the previous one."""
    global _resolver
    previous = _resolver
    _resolver = resolver or _system_resolver
    return previous


def url_validate(url: str) -> str:
    """The normalised URL if our servers may fetch it; raises UnsafeStreamUrl otherwise."""
    return url_resolve(url).url


def url_resolve(url: str) -> ResolvedUrl:
    """Parses, resolves and checks `url`; raises UnsafeStreamUrl with the reason."""
    scheme, host, port, target, normalised = _parse(url)
    addresses = _addresses_of(host, port, url=normalised)
    return ResolvedUrl(
        url=normalised,
        scheme=scheme,
        host=host,
        port=port,
        target=target,
        addresses=tuple(addresses),
    )


def _parse(url: str) -> tuple[str, str, int, str, str]:
    if not isinstance(url, str) or not url.strip():
        raise UnsafeStreamUrl("Enter the stream's URL.", url=str(url))
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeStreamUrl(f"The URL is longer than {MAX_URL_LENGTH} characters.", url=url)
    # Control characters and spaces would let a URL smuggle extra request headers.
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        raise UnsafeStreamUrl("The URL contains spaces or control characters.", url=url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeStreamUrl(f"The URL is malformed ({exc}).", url=url) from exc
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise UnsafeStreamUrl(
            "Only http:// and https:// stream URLs are accepted "
            "(Icecast and Shoutcast streams use them).",
            url=url,
        )
    if parts.username is not None or parts.password is not None:
        raise UnsafeStreamUrl("Stream URLs with a user name or password are not accepted.", url=url)
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeStreamUrl("The URL has no host name.", url=url)
    if port == 0:
        raise UnsafeStreamUrl("The URL's port is not valid.", url=url)
    try:
        host = host.encode("idna").decode("ascii") if not _is_ip_literal(host) else host
    except UnicodeError as exc:
        raise UnsafeStreamUrl("The URL's host name is not valid.", url=url) from exc
    path = parts.path or "/"
    if path.lower().endswith(".m3u8"):
        raise UnsafeStreamUrl(
            "HLS playlists (.m3u8) are not supported; give the station's direct "
            "Icecast/Shoutcast stream URL.",
            url=url,
        )
    target = path + (f"?{parts.query}" if parts.query else "")
    port = port or DEFAULT_PORTS[scheme]
    netloc_host = f"[{host}]" if ":" in host else host
    netloc = netloc_host if parts.port is None else f"{netloc_host}:{port}"
    normalised = urlunsplit((scheme, netloc, path, parts.query, ""))
    return scheme, host, port, target, normalised


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _addresses_of(host: str, port: int, *, url: str) -> list[str]:
    try:
        found = _resolver(host, port)
    except (OSError, UnicodeError) as exc:
        raise UnsafeStreamUrl(f"The host name {host!r} does not resolve.", url=url) from exc
    addresses = list(dict.fromkeys(found))[:_MAX_ADDRESSES]
    if not addresses:
        raise UnsafeStreamUrl(f"The host name {host!r} does not resolve.", url=url)
    # Every answer must be safe: a resolver returning one public and one private address
    # would otherwise let the connection land on the private one.
    for raw in addresses:
        reason = address_refusal(raw)
        if reason:
            raise UnsafeStreamUrl(f"{host} resolves to {reason}; refused.", url=url)
    return addresses


def address_refusal(raw: str) -> str:
    """Why our servers may not connect to this IP ("" when they may)."""
    try:
        address: IPAddress = ipaddress.ip_address(raw.split("%", 1)[0])
    except ValueError:
        return f"an unparseable address ({raw})"
    for embedded in _embedded_ipv4(address):
        reason = address_refusal(str(embedded))
        if reason:
            return reason
    if address.is_loopback:
        if settings.STREAM_CAPTURE_ALLOW_LOOPBACK:
            return ""
        return f"a loopback address ({address})"
    if address.is_unspecified:
        return f"an unspecified address ({address})"
    if address.is_link_local:
        return f"a link-local address ({address})"
    if address.is_multicast:
        return f"a multicast address ({address})"
    if address.is_private:
        return f"a private address ({address})"
    if address.is_reserved or not address.is_global:
        return f"a reserved or non-public address ({address})"
    return ""


def _embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address routes to (mapped, 6to4, Teredo, NAT64)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found = []
    if address.ipv4_mapped:
        found.append(address.ipv4_mapped)
    if address.sixtofour:
        found.append(address.sixtofour)
    if address.teredo:
        found.extend(address.teredo)
    if address in ipaddress.IPv6Network("64:ff9b::/96"):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    # IPv4-compatible (deprecated) ::a.b.c.d
    if int(address) >> 32 == 0 and int(address) > 1:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found
