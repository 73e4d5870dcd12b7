"""Which platforms Stockbridge can connect, and how to build a client for each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.channels.base import ChannelClient


@dataclass(frozen=True, slots=True)
class Platform:
    key: str
    label: str
    role: str
    default_base_url: str
    secret_label: str
    account_label: str
    make_client: Callable[[str, str, dict[str, Any], str], ChannelClient]
    token_link: Callable[[], str] | None = None


def _selldone(base_url: str, account: str, settings: dict[str, Any], secret: str) -> ChannelClient:
    from app.channels.selldone.client import SelldoneClient

    return SelldoneClient(base_url, account, secret)


def _selldone_link() -> str:
    from app.channels.selldone.client import erp_token_link

    return erp_token_link()


PLATFORMS: dict[str, Platform] = {
    "selldone": Platform(
        key="selldone",
        label="Selldone",
        role="Web shop",
        default_base_url="https://api.selldone.com",
        secret_label="ERP token",
        account_label="Shop ID",
        make_client=_selldone,
        token_link=_selldone_link,
    ),
}


def capabilities(key: str) -> frozenset[str]:
    """What a platform's client can do, without connecting (for enabling buttons)."""
    if key == "selldone":
        from app.channels.selldone.client import SelldoneClient

        return frozenset(SelldoneClient.capabilities)
    return frozenset()


class UnknownPlatform(KeyError):
    def __str__(self) -> str:
        return f"Unknown platform '{self.args[0]}'. Known: {', '.join(sorted(PLATFORMS))}."


def platform(key: str) -> Platform:
    try:
        return PLATFORMS[key.lower()]
    except KeyError:
        raise UnknownPlatform(key) from None
