"""Where a result download may go. A `mediaUrl` comes from the API: it is untrusted input.

A result file is saved under ComfyUI's output folder, which ComfyUI's `/view` serves to anyone
who reaches its port. Fetching whatever URL an answer names would turn the pack into a proxy
into the user's machine and network (`http://127.0.0.1:…`, the cloud metadata address, a NAS).
The rule, checked for the first URL and again for every redirect (followed by hand):

- the API's own origin (the scheme, host and port the user chose) is always allowed: that is
  where the key goes anyway, and the loopback simulator serves its files there;
- anything else must be https, carry no credentials and no control characters, and every
  address its name resolves to must be public (a name answering one public and one private
  address is refused: the connection could take either). Loopback, link-local and private
  addresses are allowed only when the API host itself resolves to one (a LAN deployment).
- after connecting, the peer's address is checked once more (a DNS answer that changed between
  the check and the connection). Through a proxy the proxy resolves names; that peer is the
  proxy the user configured, and a name this machine cannot resolve is left to it.
"""
from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

Resolver = Callable[[str, int], Iterable[str]]
DEFAULT_PORTS = {"http": 80, "https": 443}


class UnsafeUrl(Exception):
    """The URL is not one a result may be downloaded from; `str()` says why (no query string)."""


def resolve(host: str, port: int) -> list[str]:
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def is_public(address: str) -> bool:
    """A globally routable unicast address (IPv4-mapped IPv6 judged as the IPv4 it carries)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def where(url: str) -> str:
    """`scheme://host:port` of a URL, for messages: never the path or the signed query."""
    try:
        p = urlsplit(url)
        return f"{p.scheme}://{p.hostname}{f':{p.port}' if p.port else ''}"
    except ValueError:
        return "an unparsable URL"


def _origin(url: str) -> tuple[str, str, int]:
    p = urlsplit(url)
    scheme = p.scheme.lower()
    return scheme, (p.hostname or "").lower(), p.port or DEFAULT_PORTS.get(scheme, 0)


def _addresses(host: str, port: int, resolver: Resolver) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        return list(resolver(host, port))


def api_is_private(api_base: str, resolver: Resolver = resolve) -> bool:
    _, host, port = _origin(api_base)
    try:
        return any(not is_public(a) for a in _addresses(host, port, resolver))
    except (OSError, ValueError):
        return False


def check(url: str, api_base: str, *, resolver: Resolver = resolve, proxied: bool = False) -> None:
    """Raise UnsafeUrl unless a result may be downloaded from `url` (see the module doc)."""
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise UnsafeUrl("the URL holds spaces or control characters")
    try:
        parts = urlsplit(url)
        scheme, host, port = _origin(url)
    except ValueError:
        raise UnsafeUrl("the URL cannot be parsed") from None
    if scheme not in DEFAULT_PORTS:
        raise UnsafeUrl(f"{scheme or 'no'} scheme: only http(s) is fetched")
    if not host:
        raise UnsafeUrl("the URL names no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("the URL carries credentials")
    if (scheme, host, port) == _origin(api_base):
        return
    if scheme != "https":
        raise UnsafeUrl("only https is fetched from a host other than the API's own")
    try:
        addresses = _addresses(host, port, resolver)
    except OSError:
        if proxied:
            return   # the proxy resolves it; this machine may not see outside names at all
        raise UnsafeUrl(f"{host} cannot be resolved") from None
    if not addresses:
        raise UnsafeUrl(f"{host} resolves to no address")
    private = [a for a in addresses if not is_public(a)]
    if private and not api_is_private(api_base, resolver):
        raise UnsafeUrl(f"{host} resolves to a loopback, link-local or private address ({private[0]})")


def check_peer(address: str, url: str, api_base: str, resolver: Resolver = resolve) -> None:
    """After connecting without a proxy: the address really reached must pass the same rule."""
    if _origin(url) == _origin(api_base) or is_public(address) or api_is_private(api_base, resolver):
        return
    raise UnsafeUrl(f"the connection reached a loopback, link-local or private address ({address})")
