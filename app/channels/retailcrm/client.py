"""RetailCRM API v5 client, with Stockbridge as the account's warehouse system.

Implements :class:`app.channels.base.ChannelClient` and ``BatchStockClient``. What a
warehouse system does there (seed: "The integration order of warehouse system and
fulfillment through API"; platforms/retailcrm.md):

* **register** itself: ``POST /integration-modules/{code}/edit`` with name, code,
  baseUrl, clientId and an ``integrations.store`` section (:meth:`register_module`);
  RetailCRM lets only a registered warehouse system write ``order[shipped]``;
* **upload stock and cost prices** per offer and store, at most 250 offers per request
  (:meth:`upload_inventories`, :meth:`push_stock_batch`), and read them back
  (:meth:`fetch_inventories`) for drift checks;
* **read the catalogue** (offers of ``/store/products``, product groups, stores);
* **pull orders**: a first import through ``/orders``, then incrementally through
  ``/orders/history`` with a ``sinceId`` cursor (:meth:`fetch_orders`,
  :meth:`fetch_order_history`);
* **ship**: ``POST /orders/{externalId}/edit`` setting ``shipped``, ``shipmentStore``
  and ``shipmentDate`` (:meth:`push_order` with a DISPATCHED progress push).

The order-history cursor
------------------------
The protocol's ``since`` is a timestamp, but only a history id misses nothing. After a
complete :meth:`fetch_orders`, :attr:`RetailCrmClient.history_cursor` holds the last
history id read; persist it and hand it back as ``history_since_id`` next time. Without
it, ``since`` is turned into ``filter[startDate]`` (minus ``overlap_seconds``), which
works because the engine's ``since`` is made of RetailCRM's own stamps.

Every request is paced so that at most 10 arrive in any second (the documented per-IP
limit, counted from each answer: see :mod:`.pacing`), 503/429 answers are waited out
and retried, and every request has a timeout.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, tzinfo
from typing import Any
from urllib.parse import quote

import httpx

from app import __version__
from app.channels import base
from app.channels.errors import NotFound, PayloadError, Rejected
from app.channels.http_util import RetryPolicy, SleepFn
from app.channels.retailcrm import inventory as inv
from app.channels.retailcrm import mapping
from app.channels.retailcrm import stores as store_maps
from app.channels.retailcrm.inventory import InventoryEntry, InventoryLevel, UploadResult
from app.channels.retailcrm.mapping import ModuleState, ProductGroup, Store, text
from app.channels.retailcrm.pacing import AccountPacer, shared_pacer
from app.channels.retailcrm.wire import (
    CrmSession,
    Form,
    json_field,
    normalise_base_url,
    php_params,
    raise_for_answer,
)
from app.core.models import (
    ChannelListing,
    ChannelOrder,
    OrderPage,
    OrderPush,
    OrderStatus,
    QuarantinedItem,
    ShopInfo,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://{account}.retailcrm.ru/api/v5"
PAGE_SIZES = (20, 50, 100)
# Documented: 10 requests per second from one IP. The pacer counts each request from
# its answer (see pacing.py); a 5% longer window absorbs the server's clock rounding.
REQUESTS_PER_WINDOW = 10
PACING_WINDOW = 1.05
INVENTORIES_UPLOAD_ACTION = "inventoriesUpload"
DEFAULT_CALLBACK_PATH = "/inventories"
# A desktop app has no public address; the module is then registered with a reserved
# name that can never resolve (RFC 2606), so RetailCRM never reaches a stranger.
NO_CALLBACKS_BASE_URL = "https://stockbridge.invalid"
_HISTORY_HEAD_PAGE = 20


class RetailCrmClient(base.SessionClient):
    """One RetailCRM account, reached with one API key, as its warehouse system."""

    platform = "retailcrm"
    capabilities = frozenset(
        {
            base.CAP_ORDERS,
            base.CAP_LISTINGS,
            base.CAP_STOCK_PUSH,
            base.CAP_STOCK_BATCH,
            base.CAP_PROGRESS,
        }
    )
    # A warehouse system reports shipments; statuses are the CRM managers' business.
    progress_targets = frozenset({OrderStatus.DISPATCHED})
    # Offer identifiers kept beside each listing (from ``raw``), for linking and callbacks.
    listing_identifier_kinds = ("externalId", "xmlId")

    async def ensure_registration(self, channel: Any) -> dict[str, Any]:
        """Register with or without the stock callback as the channel's switch says."""
        from app.channels.retailcrm.service import ensure_callback

        return await ensure_callback(self, channel)

    @staticmethod
    def link_listings(mapping: Any, channel: Any) -> Any:
        """The automatic linking of offers: by externalId, xmlId, then article."""
        from app.channels.retailcrm.service import link_offers

        batch, _plan = link_offers(mapping, channel)
        return batch

    def __init__(
        self,
        base_url: str,
        account: str,
        token: str,
        *,
        timeout: float = 30.0,
        sleep: SleepFn = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        site: str | None = None,
        module_code: str = "stockbridge",
        store_code: str | None = None,
        store_map: dict[str, int | None] | None = None,
        history_since_id: int | None = None,
        page_size: int = 100,
        overlap_seconds: int = 300,
        timezone: tzinfo = UTC,
        clock: Callable[[], float] = time.time,
    ) -> None:
        key = (token or "").strip()
        if not key:
            raise ValueError("a RetailCRM API key is required")
        if page_size not in PAGE_SIZES:
            raise ValueError(f"RetailCRM pages hold {', '.join(map(str, PAGE_SIZES))} rows")
        if not module_code.strip():
            raise ValueError("the integration module needs a code")
        self.base_url = normalise_base_url(base_url, account)
        self.site = (site or "").strip() or None
        self.module_code = module_code.strip()
        self.store_code = (store_code or "").strip() or None
        # {store code: local warehouse id}; None stands for all warehouses together
        # (a channel set up with one store, before stores were mapped one by one).
        self.store_map: dict[str, int | None] = dict(store_map or {})
        if not self.store_map and self.store_code:
            self.store_map = {self.store_code: store_maps.ALL_WAREHOUSES}
        if self.store_map and self.store_code not in self.store_map:
            self.store_code = next(iter(self.store_map))
        self.history_cursor = history_since_id
        self.page_size = page_size
        self.overlap_seconds = max(0, int(overlap_seconds))
        self.timezone = timezone
        # Malformed catalogue rows of the last fetch_listings: the protocol's pages
        # have no room for them, so they wait here.
        self.quarantined_listings: list[QuarantinedItem] = []
        self._clock = clock
        self._token = key
        self._status_groups: dict[str, str] = {}
        self._store_types: dict[str, str] = {}
        self._currency = ""
        self._session = CrmSession(
            self.base_url,
            headers={
                "X-API-KEY": key,
                "Accept": "application/json",
                "User-Agent": f"Stockbridge/{__version__}",
            },
            timeout=timeout,
            # Shared by every client of this account (one per sync, drift checks,
            # callbacks): the limit is the account's, not this object's.
            pacer=AccountPacer(
                shared_pacer(
                    self.base_url,
                    key,
                    limit=REQUESTS_PER_WINDOW,
                    window=PACING_WINDOW,
                    stale_after=timeout + 10.0,
                ),
                sleep,
            ),
            # 503 is RetailCRM's "too many requests": wait it out a few times, longer
            # than for an ordinary server error (the PHP examples sleep a second).
            retry=RetryPolicy(max_retries=5, base_delay=1.0, max_delay=8.0),
            sleep=sleep,
            transport=transport,
            secrets=(key,),
        )

    # --- connection and reference data ------------------------------------------------

    async def check_connection(self) -> ShopInfo:
        """Sites, stores and the module's registration: three cheap authenticated reads."""
        body = await self._get("/reference/sites", what="the list of shops (sites)")
        sites = [mapping.as_dict(row) for row in mapping.as_rows(body.get("sites"))]
        if self.site:
            sites = [row for row in sites if text(row.get("code")) == self.site] or sites
        first = sites[0] if sites else {}
        self._currency = text(first.get("currency"))
        stores = await self.fetch_stores()
        state = await self.module_state()
        host = self._session.host
        return ShopInfo(
            name=text(first.get("name")) or host,
            account_id=host,
            currency=self._currency,
            extra={
                "base_url": self.base_url,
                "sites": [text(row.get("code")) for row in sites],
                "stores": [{"code": s.code, "name": s.name, "active": s.active} for s in stores],
                "module_registered": bool(state and state.registered),
            },
        )

    async def fetch_stores(self) -> list[Store]:
        """The account's stores (warehouses), to map to local warehouses."""
        body = await self._get("/reference/stores", what="the list of stores")
        stores = [mapping.store_from_payload(row) for row in mapping.as_rows(body.get("stores"))]
        self._store_types = {store.code: store.inventory_type for store in stores}
        return stores

    async def fetch_product_groups(self) -> list[ProductGroup]:
        """Every catalogue group (``/store/product-groups``, answered as ``productGroup``)."""
        groups = []
        async for rows in self._pages("/store/product-groups", "productGroup", "product groups"):
            groups += [mapping.product_group_from_payload(row) for row in rows]
        return groups

    # --- the integration module -------------------------------------------------------

    async def register_module(
        self,
        base_url_for_callbacks: str | None,
        name: str = "Stockbridge",
        logo_url: str | None = None,
        *,
        client_id: str | None = None,
        call_points: Iterable[str] = (),
        callback_path: str = DEFAULT_CALLBACK_PATH,
        account_url: str | None = None,
    ) -> mapping.ModuleRegistration:
        """Register (or update) Stockbridge as this account's warehouse system.

        ``client_id`` identifies the account in RetailCRM's callbacks; a new random one
        is made when none is given, and the result carries it: keep it (keyring) and
        give it to the :class:`~app.channels.retailcrm.callback.CallbackReceiver`.
        With ``base_url_for_callbacks`` the ``inventoriesUpload`` callback is switched
        on at ``base_url + callback_path``; RetailCRM then needs ``call_points`` (the
        events that trigger it), whose values its docs do not list.
        """
        client_id = (client_id or "").strip() or secrets.token_urlsafe(24)
        actions: list[dict[str, Any]] = []
        callbacks = (base_url_for_callbacks or "").strip().rstrip("/")
        if callbacks:
            points = [point.strip() for point in call_points if point and point.strip()]
            if not points:
                raise ValueError(
                    "RetailCRM calls the stock callback only at the call points you name;"
                    " give at least one (see the account's Marketplace documentation)"
                )
            path = "/" + callback_path.strip().lstrip("/")
            actions.append({"code": INVENTORIES_UPLOAD_ACTION, "url": path, "callPoints": points})
        module: dict[str, Any] = {
            "code": self.module_code,
            "integrationCode": self.module_code,
            "active": True,
            "name": name.strip() or "Stockbridge",
            "clientId": client_id,
            "baseUrl": callbacks or NO_CALLBACKS_BASE_URL,
            "integrations": {"store": {"actions": actions}},
        }
        if logo_url:  # optional; shown in the account's Marketplace list
            module["logo"] = logo_url
        if account_url:
            module["accountUrl"] = account_url
        response = await self._session.request(
            "POST",
            f"/integration-modules/{quote(self.module_code, safe='')}/edit",
            json=Form({"integrationModule": json_field(module)}),
            idempotent=True,  # "edit" creates or updates: sending it twice is harmless
        )
        body = self._read(response, "the warehouse system registration")
        return mapping.ModuleRegistration(
            code=self.module_code,
            client_id=client_id,
            base_url=module["baseUrl"],
            created=response.status_code == 201,
            callbacks=bool(actions),
            info=mapping.as_dict(body.get("info")),
        )

    async def module_state(self) -> ModuleState | None:
        """The module as RetailCRM holds it, or None when it was never registered."""
        try:
            body = await self._get(
                f"/integration-modules/{quote(self.module_code, safe='')}",
                what="the Stockbridge integration module",
            )
        except NotFound as exc:
            if exc.details.get("missing") == "entity":
                return None
            raise
        return mapping.module_state_from_payload(body.get("integrationModule"))

    # --- catalogue and stock ----------------------------------------------------------

    async def fetch_listings(self) -> AsyncIterator[list[ChannelListing]]:
        """Every offer of ``/store/products`` as a listing, page by page."""
        self.quarantined_listings = []
        seen: set[str] = set()
        filters = {"sites": [self.site]} if self.site else {}
        async for rows in self._pages("/store/products", "products", "products", filters):
            listings = self.read_listings(
                rows,
                lambda row: mapping.listings_from_product(row, self.timezone),
                what="RetailCRM product",
                row_id=lambda row: text(mapping.as_dict(row).get("id")),
                seen=seen,
            )
            if listings:
                yield listings

    async def push_stock(self, listing: ChannelListing, quantity: float) -> None:
        """One listing's stock in the default store (see :meth:`push_stock_batch`)."""
        missing = await self.push_stock_batch([(listing, quantity)])
        if missing:
            raise NotFound(f"RetailCRM has no offer {listing.external_id} ({listing.name})")

    async def push_stock_batch(self, items: list[tuple[ChannelListing, float]]) -> list[str]:
        """Available stock of many listings in the default store; returns unknown offers.

        Offers are named by RetailCRM id (``ChannelListing.external_id``). Cost prices
        are left alone here; :meth:`upload_inventories` sends them.
        """
        if not items:
            return []
        store = self._default_store()
        entries = [
            InventoryEntry(listing.external_id, store, quantity, by="id")
            for listing, quantity in items
        ]
        return (await self.upload_inventories(entries)).not_found

    async def push_stock_with_costs(
        self, items: list[tuple[ChannelListing, float, float | None]]
    ) -> list[str]:
        """Available stock and purchase (cost) price of many offers in the default store;
        returns the offers RetailCRM did not know."""
        if not items:
            return []
        store = self._default_store()
        entries = [
            InventoryEntry(listing.external_id, store, quantity, purchase_price=cost, by="id")
            for listing, quantity, cost in items
        ]
        return (await self.upload_inventories(entries)).not_found

    async def push_stock_by_store(
        self, items: list[tuple[ChannelListing, dict[str, float], float | None]]
    ) -> list[str]:
        """Each offer's available stock per mapped store, with its cost price, in one
        upload per 250 offers; returns the offers RetailCRM did not know.

        ``items`` hold ``{store code: quantity}`` as the engine worked them out from
        :attr:`store_map` (each store its warehouse's stock).
        """
        entries = [
            InventoryEntry(listing.external_id, store, quantity, purchase_price=cost, by="id")
            for listing, per_store, cost in items
            for store, quantity in per_store.items()
        ]
        if not entries:
            return []
        if not self._store_types:
            await self.fetch_stores()  # "available"-type stores get 1/0, not a count
        return (await self.upload_inventories(entries)).not_found

    async def upload_inventories(self, entries: list[InventoryEntry]) -> UploadResult:
        """Send stock and cost prices, at most 250 offers per request.

        Stores of inventory type ``available`` get 1/0 (known after :meth:`fetch_stores`).
        ``site`` goes along when set, for offers named by externalId or xmlId.
        """
        offers = inv.upload_offers(entries, self._store_types)
        not_found: list[str] = []
        processed = 0
        batches = inv.batches(offers)
        for number, batch in enumerate(batches, start=1):
            form = {"offers": json_field(batch)}
            if self.site and any("id" not in offer for offer in batch):
                form = {"site": self.site} | form
            response = await self._session.request(
                "POST",
                "/store/inventories/upload",
                json=Form(form),
                idempotent=True,  # absolute levels: a repeat sets the same values
            )
            body = self._read(response, f"the stock upload ({number} of {len(batches)})")
            processed += int(mapping.number(body.get("processedOffersCount"), "count", default=0))
            not_found += inv.not_found_ids(body.get("notFoundOffers"), batch)
        if not_found:
            log.info("RetailCRM does not know %d uploaded offers", len(not_found))
        return UploadResult(len(offers), len(batches), not_found, processed)

    async def fetch_inventories(self, store_code: str | None = None) -> list[InventoryLevel]:
        """RetailCRM's stock and cost price per offer in one store (all stores if None).

        The API has no store filter: stock comes per offer with every store inside
        (``details=1``). Offers without stock in the store are absent from the result.
        """
        levels: list[InventoryLevel] = []
        filters: dict[str, Any] = {"details": True}
        if self.site:
            filters["sites"] = [self.site]
        async for rows in self._pages("/store/inventories", "offers", "stock levels", filters):
            for row in rows:
                levels += [
                    level
                    for level in inv.levels_from_offer(row)
                    if store_code is None or level.store == store_code
                ]
        return levels

    def _default_store(self) -> str:
        if not self.store_code and self.store_map:
            return next(iter(self.store_map))
        if not self.store_code:
            raise Rejected(
                "choose which RetailCRM store (warehouse) receives Stockbridge's stock in"
                " the channel settings"
            )
        return self.store_code

    # --- orders -----------------------------------------------------------------------

    async def fetch_orders(self, since: float | None) -> AsyncIterator[OrderPage]:
        """Orders changed since the history cursor, since ``since``, or all of them.

        The first import reads the newest history id *before* paging ``/orders``, so
        changes made while it pages are read from history next time.
        """
        if self.history_cursor is not None:
            async for page, _last in self.fetch_order_history(self.history_cursor):
                if page.orders or page.quarantined:
                    yield page
            return
        if since is not None:
            start = mapping.format_datetime(since - self.overlap_seconds, self.timezone)
            async for page, _last in self._history(None, start):
                if page.orders or page.quarantined:
                    yield page
            return
        head = await self._history_head()
        filters = {"sites": [self.site]} if self.site else {}
        async for rows in self._pages("/orders", "orders", "orders", filters):
            page = await self._order_page(rows, {})
            if page.orders or page.quarantined:
                yield page
        if head is not None:
            self.history_cursor = head

    async def fetch_order_history(
        self, since_id: int | None
    ) -> AsyncIterator[tuple[OrderPage, int]]:
        """Orders named by history entries after ``since_id``, with each page's last id.

        Each history page becomes the current state of the orders it names (one
        ``/orders`` request). The walk follows ``filter[sinceId]``, so entries made
        while it runs land behind the cursor and are read too (platforms/retailcrm.md
        §6); :attr:`history_cursor` follows the pages consumed.
        """
        async for item in self._history(since_id, None):
            yield item

    async def _history(
        self, since_id: int | None, start_date: str | None
    ) -> AsyncIterator[tuple[OrderPage, int]]:
        cursor = since_id
        filters: dict[str, Any] = {"sinceId": since_id} if since_id is not None else {}
        if since_id is None and start_date:
            filters = {"startDate": start_date}
        while True:
            body = await self._get(
                "/orders/history",
                params=php_params({"filter": filters, "limit": self.page_size, "page": 1}),
                what="the order history",
            )
            entries = [mapping.as_dict(row) for row in mapping.as_rows(body.get("history"))]
            if not entries:
                return
            last = int(mapping.parse_id(entries[-1].get("id"), "history id"))
            if cursor is not None and last <= cursor:
                raise PayloadError("RetailCRM's order history went backwards; paging stopped")
            page = await self._history_page(entries)
            yield page, last
            cursor = self.history_cursor = last
            filters = {"sinceId": last}
            pagination = mapping.as_dict(body.get("pagination"))
            current = mapping.number(pagination.get("currentPage"), "page", default=1)
            total = mapping.number(pagination.get("totalPageCount"), "pages", default=1)
            if current >= total:
                return

    async def _history_page(self, entries: list[dict[str, Any]]) -> OrderPage:
        """The current state of the orders one history page names, newest stamps kept."""
        stamps: dict[str, float] = {}
        order_ids: list[str] = []
        for entry in entries:
            order = mapping.as_dict(entry.get("order"))
            if order.get("id") is None:
                continue
            order_id = mapping.parse_id(order.get("id"), "history order id")
            if order_id not in stamps:
                order_ids.append(order_id)
                stamps[order_id] = 0.0
            when = mapping.parse_datetime(entry.get("createdAt"), self.timezone, "history date")
            if when is not None:
                stamps[order_id] = max(stamps[order_id], when)
        if not order_ids:
            return OrderPage(orders=[])
        body = await self._get(
            "/orders",
            params=php_params({"filter": {"ids": order_ids}, "limit": 100, "page": 1}),
            what="the changed orders",
        )
        rows = mapping.as_rows(body.get("orders"))
        found = {text(mapping.as_dict(row).get("id")) for row in rows}
        gone = [order_id for order_id in order_ids if order_id not in found]
        if gone:  # deleted since (history says "deleted"): nothing left to import
            log.info("RetailCRM orders %s no longer exist", ", ".join(gone))
        return await self._order_page(rows, {k: v for k, v in stamps.items() if v})

    async def _history_head(self) -> int | None:
        """The newest history id right now (two small reads), or None without history."""
        params = {"limit": _HISTORY_HEAD_PAGE, "page": 1}
        body = await self._get(
            "/orders/history", params=php_params(params), what="the order history"
        )
        pagination = mapping.as_dict(body.get("pagination"))
        pages = int(mapping.number(pagination.get("totalPageCount"), "pages", default=1))
        if pages > 1:
            params["page"] = pages
            body = await self._get(
                "/orders/history", params=php_params(params), what="the order history"
            )
        entries = mapping.as_rows(body.get("history"))
        if not entries:
            return None
        return int(mapping.parse_id(mapping.as_dict(entries[-1]).get("id"), "history id"))

    async def _order_page(self, rows: list[Any], stamps: dict[str, float]) -> OrderPage:
        await self._learn_groups(rows)
        page = OrderPage(orders=[])
        for row in rows:
            data = mapping.as_dict(row)
            order_id = text(data.get("id")) or "?"
            try:
                group = self._status_groups.get(text(data.get("status")), "")
                if not group:
                    raise PayloadError(f"status {data.get('status')!r} has no status group")
                order = mapping.order_from_payload(
                    row,
                    group=group,
                    updated_at=stamps.get(order_id),
                    tz=self.timezone,
                    currency=self._currency,
                )
            except PayloadError as exc:
                log.warning("RetailCRM order %s quarantined: %s", order_id, exc.message)
                page.quarantined.append(QuarantinedItem("order", order_id, exc.message, row))
                continue
            page.orders.append(order)
        return page

    async def _learn_groups(self, rows: list[Any]) -> None:
        """Learn the group of every status code on a page not seen yet.

        Codes are the account's own; ``/orders/statuses`` tells each order's group.
        """
        unknown = [
            text(mapping.as_dict(row).get("id"))
            for row in rows
            if text(mapping.as_dict(row).get("status")) not in self._status_groups
            and text(mapping.as_dict(row).get("id"))
        ]
        if not unknown:
            return
        body = await self._get(
            "/orders/statuses",
            params=php_params({"ids": unknown}),
            what="the order status groups",
        )
        for row in mapping.as_rows(body.get("orders")):
            data = mapping.as_dict(row)
            if text(data.get("status")) and text(data.get("group")):
                self._status_groups[text(data.get("status"))] = text(data.get("group"))

    async def fetch_order(self, uid: str | int, *, by: str = "id") -> ChannelOrder:
        """One order by RetailCRM id (``by="id"``) or by the shop's ``externalId``."""
        order = await self._get_order(str(uid), by=by, site=None)
        page = await self._order_page([order], {})
        if page.quarantined:
            raise PayloadError(f"RetailCRM order {uid}: {page.quarantined[0].reason}")
        return page.orders[0]

    async def _get_order(self, uid: str, *, by: str, site: str | None) -> dict[str, Any]:
        if by not in ("id", "externalId"):
            raise ValueError("orders are found by id or externalId")
        params: dict[str, Any] = {"by": by, "site": site or (self.site if by != "id" else None)}
        body = await self._get(
            f"/orders/{quote(uid, safe='')}", params=php_params(params), what=f"order {uid}"
        )
        order = body.get("order")
        if not isinstance(order, dict) or order.get("id") is None:
            raise PayloadError(f"RetailCRM's answer for order {uid} has no order in it")
        return order

    # --- shipment ---------------------------------------------------------------------

    async def push_order(self, push: OrderPush, *, warehouse_id: int | None = None) -> None:
        """Report a shipment (a DISPATCHED progress push); read first, so repeats are safe.

        ``warehouse_id`` is the local warehouse the order ships from: its mapped store
        becomes ``shipmentStore``.
        """
        if push.kind != "progress":
            raise Rejected(
                f"RetailCRM takes only shipments from its warehouse system; {push.kind!r}"
                " changes are made in RetailCRM itself"
            )
        if push.target is not OrderStatus.DISPATCHED:
            raise Rejected(
                "a warehouse system can only mark RetailCRM orders shipped (dispatched);"
                f" {push.target or 'nothing'} is set by the CRM's managers"
            )
        store = store_maps.store_for_warehouse(self.store_map, warehouse_id)
        await self.ship_order(push.order_external_id, store_code=store)

    async def ship_order(self, order_id: str, *, store_code: str | None = None) -> dict:
        """Set ``shipped``, ``shipmentStore`` and ``shipmentDate`` (today) on an order.

        The store is ``store_code`` (the store of the warehouse it ships from), else the
        one the order already names, else the default store. Returns the order as RetailCRM holds it afterwards.
        """
        order = await self._get_order(str(order_id), by="id", site=None)
        number = text(order.get("number")) or str(order_id)
        if order.get("shipped") is True:
            return order  # already shipped: a retry must not send anything
        await self._learn_groups([order])
        if self._status_groups.get(text(order.get("status"))) == "cancel":
            raise Rejected(f"RetailCRM order {number} is cancelled; it cannot be shipped")
        store = (store_code or "").strip() or text(order.get("shipmentStore"))
        store = store or self._default_store()
        external = text(order.get("externalId"))
        # externalId is the documented key; ids with '/', '?' or '#' cannot be a path.
        by_external = bool(external) and not any(c in external for c in "/?#")
        key = external if by_external else text(order.get("id"))
        change = {
            "shipped": True,
            "shipmentStore": store,
            "shipmentDate": mapping.format_date(self._clock(), self.timezone),
        }
        form = {
            "order": json_field(change),
            "by": "externalId" if by_external else "id",
            "site": text(order.get("site")) or self.site,
        }
        try:
            response = await self._session.request(
                "POST",
                f"/orders/{quote(key, safe='')}/edit",
                json=Form(form),
                idempotent=True,  # absolute fields: a repeat writes the same values
            )
            body = self._read(response, f"the shipment of order {number}")
        except Rejected as exc:
            if "shipped" in exc.message.lower() or "warehouse" in exc.message.lower():
                raise Rejected(_unregistered(number, exc.message), status=exc.status) from exc
            raise
        saved = mapping.as_dict(body.get("order"))
        if saved and saved.get("shipped") is not True:
            raise Rejected(_unregistered(number, "it kept the order unshipped"))
        return saved

    # --- HTTP -------------------------------------------------------------------------

    async def _get(
        self, path: str, *, params: list[tuple[str, str]] | None = None, what: str
    ) -> dict[str, Any]:
        response = await self._session.request("GET", path, params=params or None)
        return self._read(response, what)

    def _read(self, response: httpx.Response, what: str) -> dict[str, Any]:
        return raise_for_answer(
            response, what=what, host=self._session.host, secrets=(self._token,)
        )

    async def _pages(
        self, path: str, key: str, what: str, filters: dict[str, Any] | None = None
    ) -> AsyncIterator[list[Any]]:
        """Rows of a paged list until ``currentPage`` reaches ``totalPageCount``."""
        page = 1
        while True:
            params = {"filter": filters or {}, "limit": self.page_size, "page": page}
            body = await self._get(path, params=php_params(params), what=what)
            rows = mapping.as_rows(body.get(key))
            yield rows
            pagination = mapping.as_dict(body.get("pagination"))
            total = mapping.number(pagination.get("totalPageCount"), "pages", default=0)
            if not rows or page >= total:
                return
            page += 1


def _unregistered(number: str, said: str) -> str:
    return (
        f"RetailCRM did not mark order {number} shipped: only a registered warehouse system"
        " may do that, and Stockbridge is not registered (or was switched off) in this"
        " account. Register Stockbridge as the warehouse system in the channel settings,"
        f" then send the shipment again. RetailCRM said: {said}"
    )
