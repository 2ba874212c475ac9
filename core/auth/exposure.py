"""Is the server reachable beyond this machine (decided from the address it binds to), and who is a client for the back-off."""

from __future__ import annotations

import ipaddress

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def is_loopback(address: str | None) -> bool:
    """Return True when a server bound to ``address`` accepts connections from this machine only.

    Empty or missing means "every interface" (Streamlit's default when
    ``server.address`` is unset), so it is not loopback; neither are ``0.0.0.0``
    and ``::``. Host names other than ``localhost`` are not resolved (that could
    touch the network, and a name may resolve differently later): they count as
    reachable, so the app asks for a sign-in rather than guessing.

    Examples
    --------
    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("localhost")
    (True, True, True)
    >>> is_loopback("0.0.0.0"), is_loopback(""), is_loopback("192.168.1.5")
    (False, False, False)
    """
    text = (address or "").strip().strip("[]").lower()
    if not text:
        return False
    if text in _LOOPBACK_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return bool((mapped or ip).is_loopback)


def login_required(address: str | None, required: bool = False) -> bool:
    """Return True when the app must ask for a sign-in: any non-loopback bind, or ``auth.required``."""
    return bool(required) or not is_loopback(address)


def client_key(address: str | None) -> str:
    """Return the key a client's wrong passwords are counted under: its IPv4 address, or its IPv6 /64 network.

    One IPv6 host usually owns a whole /64 (SLAAC, privacy addresses), so
    counting per address would let it try a fresh address at every attempt.
    An IPv4-mapped IPv6 address counts as the IPv4 address; anything that is
    not an IP address (``local``, a proxy's name) is kept as it is.

    Examples
    --------
    >>> client_key("203.0.113.7"), client_key("::ffff:203.0.113.7"), client_key("local")
    ('203.0.113.7', '203.0.113.7', 'local')
    >>> client_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd")
    '2001:db8:1:2::/64'
    """
    text = (address or "").strip().strip("[]")
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return text or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
