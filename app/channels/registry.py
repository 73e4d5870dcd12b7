"""Which platforms Stockbridge can connect, and how to build a client for each."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.channels.base import ChannelClient
from app.core.rules import ALL_PROGRESS, ChannelRules


@dataclass(frozen=True, slots=True)
class Platform:
    key: str
    label: str
    role: str
    default_base_url: str
    secret_label: str
    account_label: str
    client_path: str  # "module:Class", imported only when needed
    sandbox_path: str = ""  # the platform's local twin, "module:Class"
    account_required: bool = True
    token_link: Callable[[], str] | None = None
    other_base_urls: dict[str, str] = field(default_factory=dict)  # e.g. {"Staging": url}
    manual_payment_methods: frozenset[str] = frozenset()
    default_mapping: str = "sku"  # how listings link to products unless the merchant says

    def client_class(self) -> type:
        module, _, name = self.client_path.partition(":")
        return getattr(importlib.import_module(module), name)

    def sandbox_class(self) -> type:
        module, _, name = self.sandbox_path.partition(":")
        return getattr(importlib.import_module(module), name)

    def client_options(self, settings: dict[str, Any]) -> dict[str, Any]:
        """Constructor options a channel's settings translate into."""
        if self.key == "selldone":
            from app.settings import channel_setting

            return {"statuses": tuple(channel_setting(settings, "import_statuses"))}
        if self.key == "sello":
            return {"status_map": dict(settings.get("status_map") or {})}
        if self.key == "retailcrm":
            from app.channels.retailcrm.stores import store_map

            return {
                "store_code": settings.get("store_code") or None,
                "store_map": store_map(settings),
                "site": settings.get("site") or None,
            }
        if self.key == "tradegecko":
            from app.store.exports import STOCK_MASTER

            return {"stock_events": bool(settings.get(STOCK_MASTER))}
        return {}

    def make_client(
        self,
        base_url: str,
        account: str,
        settings: dict[str, Any],
        secret: str,
        *,
        name: str = "",
    ) -> ChannelClient:
        """A client for one channel. ``name`` (the channel's) lets a platform whose
        tokens rotate (TradeGecko) save the renewed sign-in in that channel's keyring
        entry before using it."""
        options = self.client_options(settings)
        if self.key == "tradegecko" and name:
            options["token_store"] = _keyring_store(name)
        return self.client_class()(base_url, account, secret, **options)

    def rules(self) -> ChannelRules:
        cls = self.client_class()
        return ChannelRules(
            label=self.label,
            capabilities=frozenset(cls.capabilities),
            progress_targets=frozenset(getattr(cls, "progress_targets", ALL_PROGRESS)),
            manual_payment_methods=self.manual_payment_methods,
        )


def _keyring_store(name: str) -> Callable[[str], None]:
    """Saves a renewed sign-in under the channel's keyring entry (access and rotating
    refresh token together), so the next start uses the live refresh token."""

    def store(secret: str) -> None:
        from app import secrets
        from app.channels.tradegecko.oauth import parse_secret

        parsed = parse_secret(secret)
        for value in (secret, *(() if isinstance(parsed, str) else parsed.tokens())):
            secrets.remember(value)
        secrets.store(name, secret)

    return store


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
        client_path="app.channels.selldone.client:SelldoneClient",
        sandbox_path="app.channels.selldone.sandbox:SelldoneSandbox",
        token_link=_selldone_link,
    ),
    "sellar": Platform(
        key="sellar",
        label="Sellar",
        role="Wholesale marketplace",
        default_base_url="https://api.sellar.io",
        secret_label="Developer API key (SLR.…)",
        account_label="Supplier ID (optional)",
        client_path="app.channels.sellar.client:SellarClient",
        sandbox_path="app.channels.sellar.sandbox:SellarSandbox",
        account_required=False,
        other_base_urls={"Staging": "https://api-staging.sellar.io"},
        manual_payment_methods=frozenset({"manual"}),
    ),
}


PLATFORMS["sello"] = Platform(
    key="sello",
    label="Sello",
    role="Multichannel listing",
    default_base_url="https://api.sello.io/v5",
    secret_label="API key",
    account_label="Account name (optional)",
    client_path="app.channels.sello.client:SelloClient",
    sandbox_path="app.channels.sello.sandbox:SelloSandbox",
    account_required=False,
)


PLATFORMS["retailcrm"] = Platform(
    key="retailcrm",
    label="RetailCRM",
    role="CRM (Stockbridge is its warehouse system)",
    default_base_url="https://{account}.retailcrm.ru/api/v5",
    secret_label="API key",
    account_label="Account address",
    client_path="app.channels.retailcrm.client:RetailCrmClient",
    sandbox_path="app.channels.retailcrm.sandbox:RetailCrmSandbox",
    account_required=False,
)


PLATFORMS["tradegecko"] = Platform(
    key="tradegecko",
    label="TradeGecko",
    role="Inventory (stock master) and order desk",
    default_base_url="https://api.tradegecko.com",
    secret_label="Privileged access token",
    account_label="Account ID (optional)",
    client_path="app.channels.tradegecko.client:TradeGeckoClient",
    sandbox_path="app.channels.tradegecko.sandbox:TradeGeckoSandbox",
    account_required=False,
    default_mapping="id",  # SKUs are not unique in TradeGecko: link by variant id
)


class UnknownPlatform(KeyError):
    def __str__(self) -> str:
        return f"Unknown platform '{self.args[0]}'. Known: {', '.join(sorted(PLATFORMS))}."


def platform(key: str) -> Platform:
    try:
        return PLATFORMS[key.lower()]
    except KeyError:
        raise UnknownPlatform(key) from None


def capabilities(key: str) -> frozenset[str]:
    """What a platform's client can do, without connecting (for enabling buttons)."""
    return frozenset(platform(key).client_class().capabilities) if key in PLATFORMS else frozenset()


def rules(key: str) -> ChannelRules:
    return platform(key).rules() if key in PLATFORMS else ChannelRules()
