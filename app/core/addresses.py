"""Which API addresses Stockbridge will send a token to."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOOPBACK_NAMES = {"localhost"}


class UnsafeAddress(ValueError):
    pass


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> str:
    """The address, normalised; refuses anything but https, except this computer's own
    test servers (the built-in sandboxes), so a token never crosses a network in clear."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeAddress(f"'{url}' is not a web address (it must start with https://).")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise UnsafeAddress(
            f"'{url}' is not encrypted. Stockbridge sends tokens only over https:// "
            "(plain http is allowed only for test servers on this computer)."
        )
    return url
