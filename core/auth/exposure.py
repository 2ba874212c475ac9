"""Is the server reachable beyond this machine? Decided from the address it binds to."""

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
