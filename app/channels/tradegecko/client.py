"""TradeGecko API client: the merchant's stock master and the home of exported orders.

Implements :class:`app.channels.base.ChannelClient` from the *sales channel's* side of
TradeGecko's Sales Channel Guide (seed): Stockbridge is the integration, TradeGecko the
inventory system behind it. So, unlike the shop clients:

* stock flows *in*: :meth:`TradeGeckoClient.fetch_stock` reads every variant's
  ``locations[]`` (per-location on hand and committed) with its ``manage_stock`` /
  ``keep_selling`` / ``max_online`` flags, incrementally through ``updated_at_min``;
  :meth:`fetch_locations` lists the locations a local warehouse maps to. Nothing is
  ever pushed back (no ``stock_push`` capability: TradeGecko is the master);
* orders flow *out*: :meth:`export_order` creates a sales order exactly once and
  :meth:`push_order` walks it through invoice → pay → pack → fulfil (see :mod:`.orders`);
  no orders are imported from TradeGecko.

HTTP, auth (privileged token or rotating OAuth refresh) and the error envelope are in
:mod:`.session`; payload translation in :mod:`.mapping`; webhooks in :mod:`.webhooks`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import httpx

from app.channels import base
from app.channels.errors import AccessDenied, PayloadError, Rejected
from app.channels.http_util import SleepFn
from app.channels.tradegecko import mapping, oauth
from app.channels.tradegecko.mapping import (
    ExportOrder,
    GeckoOrder,
    StockLocation,
    VariantStock,
)
from app.channels.tradegecko.orders import PROGRESS_TARGETS, OrderDesk, path_id
from app.channels.tradegecko.session import MAX_PAGE_SIZE, GeckoSession, TokenStore
from app.channels.tradegecko.webhooks import (
    WebhookHint,
    sign,
    verify_signature,
    webhook_hint,
)
from app.core.models import (
    ChannelCustomer,
    ChannelListing,
    OrderPage,
    OrderPush,
    QuarantinedItem,
    ShopInfo,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = oauth.DEFAULT_BASE_URL
# TradeGecko is the merchant's stock master: its per-location stock becomes local on hand.
CAP_STOCK_MASTER = "stock_master"
# Orders from the other channels can be exported to TradeGecko as sales orders.
CAP_EXPORT_ORDERS = "export_orders"
DEFAULT_OVERLAP_SECONDS = 300
# ids[] filters per request: well below any "Request-URI too long" (414).
IDS_PER_REQUEST = 100
# Events a stock master integration subscribes to (Sales Channel Guide, steps 2 and 3).
STOCK_EVENTS = ("variant.stock_level_update", "variant.create", "product.create")
# Oldest first: rows created while paging land at the end instead of shifting pages.
_OLDEST_FIRST = ("order", "created_at asc")


class TradeGeckoClient(base.SessionClient):
    """One TradeGecko account, reached with a privileged token or OAuth credentials.

    ``token`` is either a privileged access token or the string of
    :meth:`OAuthCredentials.to_secret`; in the latter case renewed credentials are
    handed to ``token_store`` (to be saved where ``token`` came from) before use.
    """

    platform = "tradegecko"
    capabilities = frozenset(
        {
            base.CAP_LISTINGS,
            base.CAP_PROGRESS,
            base.CAP_TRACKING,
            base.CAP_PAID,
            base.CAP_CANCEL,
            base.CAP_RETURN,
            CAP_STOCK_MASTER,
            CAP_EXPORT_ORDERS,
        }
    )
    progress_targets = PROGRESS_TARGETS

    def __init__(
        self,
        base_url: str,
        account: str,
        token: str,
        *,
        timeout: float = 30.0,
        sleep: SleepFn = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        token_store: TokenStore | None = None,
        page_size: int = MAX_PAGE_SIZE,
        overlap_seconds: int = DEFAULT_OVERLAP_SECONDS,
        clock: Callable[[], float] = time.time,
        stock_events: bool = True,
    ) -> None:
        self.account = str(account or "").strip()
        # Subscribe to stock webhooks (only a stock master has a use for them).
        self.stock_events = stock_events
        if self.account and not self.account.isdigit():
            raise ValueError("the TradeGecko account ID is a number (or leave it empty)")
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
        self.overlap_seconds = max(0, int(overlap_seconds))
        self._clock = clock
        self._session = GeckoSession(
            self.base_url,
            token,
            timeout=timeout,
            sleep=sleep,
            transport=transport,
            token_store=token_store,
            clock=clock,
        )
        self._orders = OrderDesk(self._session, clock)
        self._currencies: set[str] | None = None
        # Records the last pass refused: the protocol's pages have no room for them.
        self.quarantined_listings: list[QuarantinedItem] = []
        self.quarantined_customers: list[QuarantinedItem] = []

    @property
    def auth_kind(self) -> str:
        """``oauth`` or ``privileged``."""
        return self._session.auth_kind

    @property
    def credentials(self) -> oauth.OAuthCredentials | None:
        """The OAuth credentials currently in use (after any renewal), if any."""
        return self._session.credentials

    @property
    def latest_secret(self) -> str | None:
        """The secret to keep from now on: the renewed sign-in (refresh tokens rotate,
        so the one this client was built with may be dead); None for a privileged token."""
        credentials = self._session.credentials
        return credentials.to_secret() if credentials is not None else None

    # --- connection ------------------------------------------------------------------

    async def check_connection(self) -> ShopInfo:
        """``GET /accounts/current`` (the documented check), plus its currency's code."""
        answer = await self._session.call("GET", "/accounts/current", what="the account")
        account = mapping.unwrap(answer.body, "account")
        account_id = mapping.parse_id(account.get("id"), "account id")
        if self.account and account_id != self.account:
            raise AccessDenied(
                f"this TradeGecko sign-in belongs to account {account_id}, not to account"
                f" {self.account}. Sign in to account {self.account}, or change the account ID."
            )
        currency = ""
        if account.get("default_currency_id") is not None:
            currency_id = path_id(account["default_currency_id"], "currency")
            body = await self._session.call(
                "GET", f"/currencies/{currency_id}", what=f"currency {currency_id}"
            )
            currency = mapping.text(mapping.unwrap(body.body, "currency").get("iso"))
        return ShopInfo(
            name=mapping.text(account.get("name")) or f"TradeGecko account {account_id}",
            account_id=account_id,
            currency=currency,
            extra={
                "base_url": self.base_url,
                "auth": self.auth_kind,
                "primary_location_id": mapping.text(account.get("primary_location_id")),
            },
        )

    # --- stock master ----------------------------------------------------------------

    async def fetch_locations(self) -> list[StockLocation]:
        """The account's active locations (each maps to one local warehouse)."""
        found: list[StockLocation] = []
        async for rows, _body in self._session.pages(
            "/locations",
            "location",
            what="the locations",
            params=[_OLDEST_FIRST],
            limit=self.page_size,
        ):
            found += [mapping.location_from_payload(row) for row in rows]
        return found

    async def fetch_stock(self, since: float | None) -> AsyncIterator[list[VariantStock]]:
        """Every variant's per-location stock, page by page; only those changed since
        ``since`` (minus the overlap) when given.

        Untracked (``manage_stock`` false) variants are included with their flag: the
        engine, not this client, decides to leave them alone.
        """
        params: list[tuple[str, Any]] = [_OLDEST_FIRST]
        if since is not None:
            cutoff = since - self.overlap_seconds
            params.append(("updated_at_min", mapping.format_timestamp(cutoff)))
        async for rows, _body in self._session.pages(
            "/variants", "variant", what="the variants' stock", params=params, limit=self.page_size
        ):
            yield [mapping.variant_stock_from_payload(row) for row in rows]

    async def fetch_variant_stock(self, variant_ids: Iterable[str | int]) -> list[VariantStock]:
        """The stock of named variants (``ids[]``), e.g. after ``variant.stock_level_update``."""
        ids = list(dict.fromkeys(path_id(value, "variant") for value in variant_ids))
        found: list[VariantStock] = []
        for start in range(0, len(ids), IDS_PER_REQUEST):
            chunk = ids[start : start + IDS_PER_REQUEST]
            async for rows, _body in self._session.pages(
                "/variants",
                "variant",
                what="the variants' stock",
                params=[("ids[]", value) for value in chunk],
                limit=MAX_PAGE_SIZE,
            ):
                found += [mapping.variant_stock_from_payload(row) for row in rows]
        return found

    async def fetch_listings(self) -> AsyncIterator[list[ChannelListing]]:
        """Every active variant as a listing; its ``external_id`` is the variant id."""
        self.quarantined_listings = []
        async for rows, _body in self._session.pages(
            "/variants",
            "variant",
            what="the variants",
            params=[_OLDEST_FIRST],
            limit=self.page_size,
        ):
            listings = self.read_listings(
                rows,
                lambda row: [mapping.listing_from_variant(row)],
                what="TradeGecko variant",
                row_id=lambda row: mapping.text(row.get("id")),
            )
            if listings:
                yield listings

    async def push_stock(self, listing: ChannelListing, quantity: float) -> None:
        """Refused: TradeGecko is the stock master, Stockbridge only reads its stock."""
        raise Rejected(
            "TradeGecko holds the stock: Stockbridge reads it from TradeGecko and never"
            f" writes it (variant {listing.external_id})"
        )

    async def fetch_orders(self, since: float | None) -> AsyncIterator[OrderPage]:
        """No orders are imported from TradeGecko: it is where orders *go*.

        Importing them would count every exported order twice. The engine calls every
        client's order pull; this one ends at once and leaves its cursor untouched.
        """
        nothing: tuple[OrderPage, ...] = ()
        for page in nothing:
            yield page

    async def fetch_currencies(self) -> set[str]:
        """The ISO codes of the account's active currencies (read once per client)."""
        if self._currencies is None:
            found: set[str] = set()
            async for rows, _body in self._session.pages(
                "/currencies", "currency", what="the currencies", limit=self.page_size
            ):
                found |= {
                    mapping.text(row.get("iso")).upper()
                    for row in rows
                    if mapping.text(row.get("status") or "active") == "active"
                }
            self._currencies = found
        return set(self._currencies)

    # --- companies -------------------------------------------------------------------

    async def fetch_companies(self) -> AsyncIterator[list[ChannelCustomer]]:
        """The merchant's customers (business and consumer companies), with a postcode
        from each one's addresses."""
        self.quarantined_customers = []
        async for rows, _body in self._session.pages(
            "/companies",
            "company",
            what="the companies",
            params=[("company_type[]", "business"), ("company_type[]", "consumer"), _OLDEST_FIRST],
            limit=self.page_size,
        ):
            rows = [r for r in rows if mapping.text(r.get("company_type")) != "supplier"]
            addresses = await self._addresses_of(rows)
            customers: list[ChannelCustomer] = []
            for row in rows:
                try:
                    company_id = mapping.parse_id(row.get("id"), "company id")
                    customers.append(
                        mapping.customer_from_company(row, addresses.get(company_id, []))
                    )
                except PayloadError as exc:
                    raw_id = mapping.text(row.get("id")) or "?"
                    self.quarantined_customers.append(
                        QuarantinedItem("customer", raw_id, exc.message, row)
                    )
            if customers:
                yield customers

    async def _addresses_of(self, companies: list[dict[str, Any]]) -> dict[str, list[dict]]:
        ids = [mapping.text(c.get("id")) for c in companies if mapping.text(c.get("id")).isdigit()]
        by_company: dict[str, list[dict[str, Any]]] = {}
        if not ids:
            return by_company
        # ID filters take comma lists (reference §5): one request per page of companies.
        async for rows, _body in self._session.pages(
            "/addresses",
            "address",
            what="the companies' addresses",
            params=[("company_id", ",".join(ids))],
        ):
            for row in rows:
                owner = mapping.text(row.get("company_id"))
                by_company.setdefault(owner, []).append(row)
        return by_company

    # --- sales orders ----------------------------------------------------------------

    async def export_order(self, order: ExportOrder) -> str:
        """Create the sales order once; returns the TradeGecko order id.

        Safe to call again for the same ``order.reference``: the existing order's id
        comes back and nothing is created.
        """
        return await self._orders.export(order)

    async def fetch_order(self, order_id: str | int) -> GeckoOrder:
        """An exported order's state in TradeGecko (statuses, fulfillments, returns)."""
        return await self._orders.get(path_id(order_id, "order"))

    async def find_order(self, reference: str) -> GeckoOrder | None:
        """The order exported under ``reference``, if TradeGecko has one."""
        return await self._orders.find_by_reference(reference)

    async def push_order(self, push: OrderPush) -> None:
        """Apply one lifecycle change to an exported order (read before write)."""
        await self._orders.push(push)

    # --- webhooks --------------------------------------------------------------------

    async def list_webhooks(self) -> list[dict[str, Any]]:
        hooks: list[dict[str, Any]] = []
        async for rows, _body in self._session.pages("/webhooks", "webhook", what="the webhooks"):
            hooks += rows
        return hooks

    async def register_webhooks(
        self, address: str, events: Iterable[str] = STOCK_EVENTS
    ) -> list[dict[str, Any]]:
        """Subscribe ``address`` to ``events``, skipping subscriptions that exist already."""
        if not address.startswith(("http://", "https://")):
            raise ValueError("the webhook address must be an http:// or https:// URL")
        mine = [hook for hook in await self.list_webhooks() if hook.get("address") == address]
        have = {hook.get("event") for hook in mine}
        for event in dict.fromkeys(events):
            if event in have:
                continue
            answer = await self._session.call(
                "POST",
                "/webhooks",
                what=f"the {event} webhook",
                json_body={"webhook": {"address": address, "event": event}},
                idempotency_key=mapping.idempotency_key("webhook", address, event),
            )
            mine.append(mapping.unwrap(answer.body, "webhook"))
        return mine

    async def register_webhook(self, address: str) -> None:
        """The engine's hook (as for Sellar): subscribe ``address`` to the stock events
        when this channel is the stock master; deliveries are only hints to re-read."""
        if self.stock_events:
            await self.register_webhooks(address, STOCK_EVENTS)

    @staticmethod
    def verify_signature(body: bytes, header: str, app_secret: str) -> bool:
        """See :func:`app.channels.tradegecko.webhooks.verify_signature`."""
        return verify_signature(body, header, app_secret)

    @staticmethod
    def webhook_hint(body: Any) -> WebhookHint | None:
        """See :func:`app.channels.tradegecko.webhooks.webhook_hint`."""
        return webhook_hint(body)


__all__ = [
    "CAP_EXPORT_ORDERS",
    "CAP_STOCK_MASTER",
    "DEFAULT_BASE_URL",
    "STOCK_EVENTS",
    "TradeGeckoClient",
    "sign",
    "verify_signature",
    "webhook_hint",
]
