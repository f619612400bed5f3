"""Which URLs and addresses the bot may fetch or show (the SSRF policy).

Pure functions on URL strings and IP addresses; no DNS and no I/O. The fetcher applies
:func:`refusal_reason` to every URL before connecting (the first URL and every redirect hop) and
:func:`address_allowed` to every address the resolver returns, so a host name that resolves to a
private address is refused before a single byte is sent.

Invariants:

- Only ``http`` and ``https`` URLs with a host and without credentials (``user:pass@``) are allowed.
- A host written as a number in any form other than a canonical dotted quad or an IPv6 literal
  (``0x7f000001``, ``2130706433``, ``127.1``, ``0177.0.0.1``) is always refused, allowlist or not:
  such forms exist only to confuse parsers.
- Checks apply to the ASCII (IDNA) form of the host, the form the HTTP client connects to.
- An address is public only when it is globally routable after unwrapping IPv4-mapped (and 6to4)
  IPv6, and is not loopback, private, link-local (including the 169.254.169.254 metadata address),
  carrier-grade NAT (100.64.0.0/10), multicast, reserved or unspecified.
- The operator's :class:`Allowlist` is the only way to reach a non-public address or a
  non-standard port; an empty allowlist permits nothing extra.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})
STANDARD_PORTS = frozenset({80, 443, 8080, 8443})
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")


@dataclass(frozen=True)
class Allowlist:
    """Operator exceptions to the policy: networks (CIDRs) and exact host names.

    A URL whose host is listed, or whose address falls in a listed network, may use a private
    address and any port; ``ports`` are extra ports allowed for every host. An empty allowlist
    (the default) permits nothing extra.
    """

    networks: tuple[IPNetwork, ...] = ()
    hostnames: frozenset[str] = field(default_factory=frozenset)
    ports: frozenset[int] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, entries: Iterable[str], ports: Iterable[int] = ()) -> Allowlist:
        """Build from config strings: each is a CIDR or address (``127.0.0.1/32``, ``::1``) or a
        host name (``feeds.internal``). Raises ``ValueError`` naming a malformed entry."""
        networks: list[IPNetwork] = []
        hostnames: set[str] = set()
        for raw in entries:
            entry = raw.strip().lower()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            if "/" in entry or not re.fullmatch(r"[a-z0-9.-]+", entry) or _is_numeric_host(entry):
                raise ValueError(f"allowlist entry {raw!r} is neither a CIDR nor a host name")
            hostnames.add(entry.rstrip("."))
        return cls(tuple(networks), frozenset(hostnames), frozenset(ports))

    def permits_host(self, host: str) -> bool:
        """True when ``host`` (a name or an address literal) is explicitly allowed."""
        host = host.lower().rstrip(".").strip("[]")
        if host in self.hostnames:
            return True
        address = parse_address(host)
        return address is not None and self.permits_address(address)

    def permits_address(self, address: IPAddress) -> bool:
        """True when ``address`` (unwrapped) lies in one of the allowed networks."""
        address = unwrap(address)
        return any(address.version == net.version and address in net for net in self.networks)


NO_ALLOWLIST = Allowlist()


def unwrap(address: IPAddress) -> IPAddress:
    """The IPv4 address hidden in an IPv4-mapped (``::ffff:a.b.c.d``) or 6to4 IPv6 address, else
    ``address`` itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def parse_address(host: str) -> IPAddress | None:
    """The address for a canonical literal host (``203.0.113.5``, ``2001:db8::1``, ``[::1]``),
    else None. Non-canonical numeric forms are not addresses here; see :func:`refusal_reason`."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def is_public_address(address: IPAddress) -> bool:
    """True for globally routable unicast addresses only (see the module invariants)."""
    address = unwrap(address)
    if (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
    ):
        return False
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return False
    return address.is_global


def address_allowed(address: IPAddress, allowlist: Allowlist = NO_ALLOWLIST) -> bool:
    """True when the bot may connect to ``address``: public, or permitted by the allowlist."""
    return is_public_address(address) or allowlist.permits_address(address)


def _is_numeric_host(host: str) -> bool:
    """True for hosts that some parser would read as an IPv4 number (WHATWG: the last label is
    numeric), e.g. ``0x7f000001``, ``2130706433``, ``127.1``, ``1.2.3.0x4``."""
    labels = host.rstrip(".").split(".")
    return bool(labels) and bool(_NUMERIC_LABEL.match(labels[-1]))


def refusal_reason(url: str, allowlist: Allowlist = NO_ALLOWLIST) -> str | None:
    """Why the bot must not fetch ``url``, in plain words; None when the URL itself is acceptable.

    This is the static half of the policy: host names are not resolved here (the fetcher's
    resolver checks every resolved address with :func:`address_allowed`).
    """
    if not isinstance(url, str) or not url or len(url) > 4096:
        return "not a URL"
    if any(ch.isspace() or ord(ch) < 0x20 or ch == "\\" for ch in url):
        return "the URL contains whitespace, control characters or backslashes"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "the URL cannot be parsed"
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        return f"scheme {scheme or '(none)'!r} is not http or https"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "the URL carries credentials"
    host = (parts.hostname or "").lower()
    if not host:
        return "the URL has no host"
    if not host.isascii():
        # The HTTP stack maps international names to ASCII (NFKC), so "１２７.０.０.１" would
        # become 127.0.0.1: check the form it will really use.
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            return f"host {host!r} is not a valid international name"
    address = parse_address(host)
    if address is None:
        if _is_numeric_host(host):
            return f"host {host!r} is a number in a non-standard form"
        bare = host.rstrip(".")
        if bare in _LOCAL_NAMES or bare.endswith(".localhost"):
            if not allowlist.permits_host(bare):
                return f"host {host!r} is the local machine"
    elif not address_allowed(address, allowlist):
        return f"address {address} is not public"
    if (
        port is not None
        and port not in STANDARD_PORTS
        and port not in allowlist.ports
        and not allowlist.permits_host(host)
    ):
        return f"port {port} is not a standard web port"
    return None


def redirect_refusal_reason(from_url: str, to_url: str, allowlist: Allowlist = NO_ALLOWLIST) -> str | None:
    """Why a redirect from ``from_url`` to the absolute ``to_url`` must not be followed; None when
    it may be. Adds the downgrade rule (https to http is refused) to :func:`refusal_reason`."""
    reason = refusal_reason(to_url, allowlist)
    if reason is not None:
        return reason
    if urlsplit(from_url).scheme.lower() == "https" and urlsplit(to_url).scheme.lower() == "http":
        return "redirect from https to http"
    return None


def is_safe_link(url: str | None) -> bool:
    """True when ``url`` may be shown to users as a link or image: absolute http(s), a real host,
    no credentials, no local or non-public address literal. Ports are not restricted here."""
    if not url:
        return False
    reason = refusal_reason(url)
    return reason is None or reason.startswith("port ")
