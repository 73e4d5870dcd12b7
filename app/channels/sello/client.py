"""Sello API v5 client (one account, one API key).

Implements :class:`app.channels.base.ChannelClient`. Everything Sello-specific about
talking HTTP lives here: paths, paging, the error bodies, the request budget, reading
an order before changing its status. Payload translation is in
:mod:`app.channels.sello.mapping`, status choice in :mod:`app.channels.sello.statuses`.

The account's budget is small (30 calls a minute by default), so the client spends it
carefully:

* the order list is read newest-change first (``sort=updated_at&sort_direction=desc``,
  300 a page) and only back to the watermark (minus an overlap);
* an order's rows cost one ``GET /orders/{id}`` each, so they are fetched only for
  orders that are new or whose ``updated_at`` differs from what the engine already has
  (the ``known`` map, see :meth:`SelloClient.fetch_orders`);
* the account's statuses are read once per client and only when an order needs them;
* every request waits for the budget the server reports (:mod:`.ratelimit`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from app.channels import base
from app.channels.errors import (
    AccessDenied,
    AuthFailed,
    ChannelError,
    NotFound,
    PayloadError,
    RateLimited,
    Rejected,
    ServerError,
)
from app.channels.http_util import (
    ClockFn,
    HttpSession,
    RetryPolicy,
    SleepFn,
    parse_retry_after,
    redact,
)
from app.channels.sello import mapping
from app.channels.sello.mapping import SelloStatus
from app.channels.sello.planning import StockPushCandidate, plan_stock_pushes, sello_quantity
from app.channels.sello.ratelimit import (
    DEFAULT_MAX_WAIT,
    BudgetPacer,
    RateBudget,
    RateLimitState,
    shared_budget,
)
from app.channels.sello.statuses import status_change_for
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

DEFAULT_BASE_URL = "https://api.sello.io/v5"
ORDER_PAGE_SIZE = 300  # Sello's maximum for GET /orders
PRODUCT_PAGE_SIZE = 100  # Sello's maximum for GET /products
# Orders are handed to the engine in small pages: at 30 calls a minute a 300-order list
# page takes ten minutes to complete, and progress should be saved long before that.
ORDERS_PER_PAGE = 25
DEFAULT_OVERLAP_SECONDS = 120
# updated_at values compare as equal within this (they come from the same text).
_SAME_TIME = 0.0005


class SelloClient(base.SessionClient):
    """One Sello account, reached with an API key."""

    platform = "sello"
    capabilities = frozenset(
        {
            base.CAP_ORDERS,
            base.CAP_LISTINGS,
            base.CAP_STOCK_PUSH,
            base.CAP_PROGRESS,
            base.CAP_CANCEL,
        }
    )
    # Any step can be pushed; whether a given account can carry it depends on its
    # status mapping (push_order names the missing mapping when it cannot).
    progress_targets = frozenset(
        {OrderStatus.CONFIRMED, OrderStatus.DISPATCHED, OrderStatus.DELIVERED}
    )

    def __init__(
        self,
        base_url: str,
        account: str,
        token: str,
        *,
        language: str = "en",
        status_map: Mapping[str, OrderStatus | str] | None = None,
        timeout: float = 30.0,
        sleep: SleepFn = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: ClockFn = time.monotonic,
        known_orders: Mapping[str, float] | None = None,
        overlap_seconds: float = DEFAULT_OVERLAP_SECONDS,
        max_wait: float = DEFAULT_MAX_WAIT,
        budget: RateBudget | None = None,
    ) -> None:
        """``account`` is only a label (a Sello key belongs to one account).

        ``status_map`` is the merchant's mapping, Sello status id → local status; ids
        not in it map through their flags. ``known_orders`` is the default ``known``
        map of :meth:`fetch_orders`. ``max_wait`` bounds one wait for the request
        budget; longer waits raise :class:`RateLimited` with ``retry_after``.
        ``budget`` defaults to the process-wide budget of this account.
        """
        if not token or not token.strip():
            raise ValueError("a Sello API key is required")
        self.account = str(account or "").strip()
        self.language = (language or "en").strip() or "en"
        self.status_map: dict[str, OrderStatus] = {
            mapping.parse_id(key, "status id"): OrderStatus(value)
            for key, value in (status_map or {}).items()
        }
        self.known_orders: dict[str, float] = dict(known_orders or {})
        self.overlap_seconds = max(0.0, float(overlap_seconds))
        # Malformed catalogue products from the last fetch_listings pass: listing pages
        # have no room for them, so they wait here for the caller.
        self.quarantined_listings: list[QuarantinedItem] = []
        self._token = token.strip()
        base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.budget = budget or shared_budget(base_url, self._token, clock=clock, max_wait=max_wait)
        self._session = HttpSession(
            base_url,
            headers={
                # The raw key, no scheme: Sello's documented form (platforms/sello.md §1).
                "Authorization": self._token,
                "Accept": "application/json",
                "Accept-Language": self.language,
            },
            timeout=timeout,
            pacer=BudgetPacer(self.budget, sleep),
            retry=RetryPolicy(max_retry_after=max_wait),
            sleep=sleep,
            transport=transport,
            secrets=(self._token,),
        )
        # One request at a time: at 30 calls a minute parallel requests gain nothing,
        # and one in flight means every answer states the account's exact budget.
        self._request_lock = asyncio.Lock()
        self._statuses: dict[str, SelloStatus] | None = None
        self._status_refreshes: set[str] = set()

    @property
    def rate_limit(self) -> RateLimitState:
        """The account's request budget as last reported by Sello."""
        return self.budget.state()

    # --- connection ------------------------------------------------------------------

    async def check_connection(self) -> ShopInfo:
        """``GET /account``: proves the key works and names the account."""
        body = mapping.unwrap(await self._call("GET", "/account", what="the account"))
        if not isinstance(body, dict) or "id" not in body:
            raise PayloadError("the account answer has no account in it")
        account_id = mapping.text(body.get("id"))
        return ShopInfo(
            name=mapping.text(body.get("company"))
            or mapping.text(body.get("email"))
            or f"Sello account {account_id}",
            account_id=account_id,
            currency=mapping.text(body.get("currency")).upper(),
            extra={
                "email": mapping.text(body.get("email")),
                "country": mapping.text(body.get("country")),
                "rate_limit": self.rate_limit.limit,
            },
        )

    # --- statuses --------------------------------------------------------------------

    async def fetch_statuses(self) -> list[SelloStatus]:
        """``GET /status``: every order status of the account (also refreshes the cache)."""
        body = mapping.unwrap(await self._call("GET", "/status", what="the order statuses"))
        if isinstance(body, dict) and isinstance(body.get("status"), list):
            body = body["status"]
        if not isinstance(body, list):
            raise PayloadError("the status answer is not a list")
        statuses: list[SelloStatus] = []
        for item in body:
            try:
                statuses.append(mapping.status_from_payload(item))
            except PayloadError as exc:
                # Orders carry copies of their status's flags, so one unreadable status
                # must not block every order: those orders are read by their flags.
                log.warning("Sello status skipped: %s", exc.message)
        self._statuses = {status.id: status for status in statuses}
        return statuses

    async def _status_table(self, wanted: str | None = None) -> dict[str, SelloStatus]:
        """The cached statuses; read again once for a status id never seen before."""
        if self._statuses is None:
            await self.fetch_statuses()
        elif wanted and wanted not in self._statuses and wanted not in self._status_refreshes:
            self._status_refreshes.add(wanted)
            await self.fetch_statuses()
        assert self._statuses is not None
        return self._statuses

    # --- orders ----------------------------------------------------------------------

    async def fetch_orders(
        self, since: float | None, known: Mapping[str, float] | None = None
    ) -> AsyncIterator[OrderPage]:
        """Orders changed after ``since`` (minus ``overlap_seconds``), newest change first.

        ``known`` maps order ids the engine already stores to their ``updated_at`` (as
        this client reported it); it defaults to the constructor's ``known_orders``.
        An order listed with the same ``updated_at`` is skipped without spending a
        call; a new or changed one costs one ``GET /orders/{id}`` for its rows, unless
        the list item already carries them. Pages come newest first: advance the
        cursor only after the whole pass (the engine keeps the maximum it saw).
        """
        known_map = dict(self.known_orders if known is None else known)
        cutoff = None if since is None else float(since) - self.overlap_seconds
        page = OrderPage(orders=[])
        try:
            async for full in self._order_pages(cutoff, known_map, page):
                yield full
        except ChannelError:
            # Hand over what is already paid for (detail calls cost budget) before the
            # failure ends the pass; the next pass skips those through ``known``.
            if page.orders or page.quarantined:
                yield page
            raise
        if page.orders or page.quarantined:
            yield page

    async def _order_pages(
        self, cutoff: float | None, known_map: dict[str, float], page: OrderPage
    ) -> AsyncIterator[OrderPage]:
        """Fill ``page`` in place; yield (and start afresh) whenever it is full."""
        seen: set[str] = set()
        offset = 0
        while True:
            body = await self._call(
                "GET",
                "/orders",
                params={
                    "size": ORDER_PAGE_SIZE,
                    "offset": offset,
                    "sort": "updated_at",
                    "sort_direction": "desc",
                },
                what="the order list",
            )
            items, total = mapping.orders_from_list_body(body)
            past_watermark = False
            for item in items:
                order_id, updated_at = _list_key(item)
                if cutoff is not None and updated_at is not None and updated_at < cutoff:
                    # Sorted newest first: everything after this is older still.
                    past_watermark = True
                    break
                if order_id is None:
                    page.quarantined.append(_quarantine(item, "the order has no readable id"))
                elif order_id in seen:
                    continue  # shifted onto the next page by an order updated meanwhile
                else:
                    seen.add(order_id)
                    previous = known_map.get(order_id)
                    if (
                        previous is not None
                        and updated_at is not None
                        and abs(float(previous) - updated_at) < _SAME_TIME
                    ):
                        continue
                    await self._complete_into(page, order_id, item)
                if len(page.orders) + len(page.quarantined) >= ORDERS_PER_PAGE:
                    yield OrderPage(orders=list(page.orders), quarantined=list(page.quarantined))
                    page.orders.clear()
                    page.quarantined.clear()
            offset += len(items)
            if (
                past_watermark
                or len(items) < ORDER_PAGE_SIZE
                or (total is not None and offset >= total)
            ):
                return

    async def fetch_order(self, order_id: str) -> ChannelOrder:
        """One order with its rows (e.g. after an ``orderUpdated`` webhook)."""
        path_id = _path_id(order_id, "order")
        order = await self._order_detail(path_id)
        rows = order.get("rows")
        if not isinstance(rows, list):
            rows = await self._order_rows(path_id)
        statuses = await self._status_table(_status_id(order))
        return mapping.order_from_payload(order, rows, statuses, self.status_map)

    async def _complete_into(self, page: OrderPage, order_id: str, item: dict[str, Any]) -> None:
        """Map one listed order, fetching its rows when the list item lacks them.

        A garbled *answer* while reading the rows is a transient fault: it ends the pass
        (the cursor stays, the next sync reads the order again). Only an order whose own
        data cannot be mapped, or that is gone, is set aside.
        """
        order = item
        rows = item.get("rows") if isinstance(item, dict) else None
        try:
            # An empty list means "no rows" only when the order says it has none.
            if not isinstance(rows, list) or (
                not rows and item.get("row_count") not in (None, 0, "0")
            ):
                order = await self._order_detail(order_id)
                rows = order.get("rows")
                if not isinstance(rows, list):
                    rows = await self._order_rows(order_id)
        except NotFound as exc:
            log.warning("order %s quarantined: %s", order_id, exc.message)
            page.quarantined.append(
                QuarantinedItem(kind="order", external_id=order_id, reason=exc.message, raw=item)
            )
            return
        try:
            statuses = await self._status_table(_status_id(order))
            page.orders.append(mapping.order_from_payload(order, rows, statuses, self.status_map))
        except (PayloadError, NotFound) as exc:
            log.warning("order %s quarantined: %s", order_id, exc.message)
            page.quarantined.append(
                QuarantinedItem(kind="order", external_id=order_id, reason=exc.message, raw=item)
            )

    async def _order_detail(self, order_id: str) -> dict[str, Any]:
        body = await self._call("GET", f"/orders/{order_id}", what=f"order {order_id}")
        return mapping.order_from_detail_body(body)

    async def _order_rows(self, order_id: str) -> list[Any]:
        body = await self._call("GET", f"/orders/{order_id}/rows", what=f"the rows of order {order_id}")  # fmt: skip
        return mapping.rows_from_body(body)

    # --- order changes ---------------------------------------------------------------

    async def push_order(self, push: OrderPush) -> None:
        """Move an order to the Sello status mapped to the push's target.

        Reads the order first: nothing is sent when it already is in (or past) a
        status mapped to the target, so a retry after success costs one read.
        """
        if push.kind not in ("progress", "cancel"):
            raise Rejected(f"the Sello connector cannot send a {push.kind!r} change")
        order_id = _path_id(push.order_external_id, "order")
        order = await self._order_detail(order_id)
        statuses = await self._status_table(_status_id(order))
        try:
            status = status_change_for(push.kind, push.target, order, statuses, self.status_map)
        except Rejected:
            if all(status_id in statuses for status_id in self.status_map):
                raise
            # The merchant mapped a status created in Sello after we read the list.
            statuses = {s.id: s for s in await self.fetch_statuses()}
            status = status_change_for(push.kind, push.target, order, statuses, self.status_map)
        if status is None:
            return
        await self._call(
            "PUT",
            f"/orders/{order_id}",
            json={"status_id": int(status.id)},
            what=f"order {order_id}",
        )

    # --- catalogue and stock ---------------------------------------------------------

    async def fetch_listings(self) -> AsyncIterator[list[ChannelListing]]:
        """Every product as a listing, 100 per request, oldest first (stable paging)."""
        self.quarantined_listings = []
        offset = 0
        while True:
            body = await self._call(
                "GET",
                "/products",
                params={
                    "size": PRODUCT_PAGE_SIZE,
                    "offset": offset,
                    # created_at never changes, so products cannot move between pages.
                    "sort": "created_at",
                    "sort_direction": "asc",
                },
                what="the product list",
            )
            products, total = mapping.products_from_list_body(body)
            listings: list[ChannelListing] = []
            for product in products:
                try:
                    listings.append(mapping.listing_from_product(product))
                except PayloadError as exc:
                    item = _quarantine(product, exc.message, kind="listing")
                    log.warning("product %s skipped: %s", item.external_id, exc.message)
                    self.quarantined_listings.append(item)
            if listings:
                yield listings
            offset += len(products)
            if len(products) < PRODUCT_PAGE_SIZE or (total is not None and offset >= total):
                return

    async def fetch_listing(self, product_id: str) -> ChannelListing:
        """``GET /products/{id}``: one product, full data."""
        path_id = _path_id(product_id, "product")
        body = await self._call("GET", f"/products/{path_id}", what=f"product {path_id}")
        return mapping.listing_from_product(mapping.product_from_body(body))

    async def fetch_listing_by_sku(self, sku: str) -> ChannelListing:
        """``GET /products/sku/{sku}``: the product whose ``private_reference`` is ``sku``."""
        if not sku or not sku.strip():
            raise Rejected("a SKU is needed to look a product up on Sello")
        path = f"/products/sku/{quote(sku.strip(), safe='')}"
        body = await self._call("GET", path, what=f"the product with SKU {sku.strip()}")
        return mapping.listing_from_product(mapping.product_from_body(body))

    def plan_stock(
        self, items: list[tuple[ChannelListing, float, float | None]], reserve: int
    ) -> tuple[list[list[tuple[ChannelListing, float]]], float]:
        """Waves of stock pushes that fit the account's budget, most urgent first.

        The engine sends wave 0 now and each later wave one rate-limit window after the
        previous; ``reserve`` calls per window stay free for pulling orders.
        """
        state = self.rate_limit
        budget = max(1, state.limit - reserve)
        candidates = [StockPushCandidate(listing, qty, changed) for listing, qty, changed in items]
        waves = plan_stock_pushes(candidates, budget)
        return [[(c.listing, c.quantity) for c in wave] for wave in waves], state.window

    async def push_stock(self, listing: ChannelListing, quantity: float) -> None:
        """Set the product's ``quantity`` (whole units, never below zero): one PUT."""
        product_id = _path_id(listing.product_id, "product")
        await self._call(
            "PUT",
            f"/products/{product_id}",
            json={"quantity": sello_quantity(quantity)},
            what=f"product {product_id}",
        )

    async def fetch_integrations(self) -> dict[str, str]:
        """Integration id → display name (the marketplaces orders come from)."""
        body = mapping.unwrap(await self._call("GET", "/integrations", what="the integrations"))
        if not isinstance(body, list):
            raise PayloadError("the integrations answer is not a list")
        return {
            mapping.parse_id(item.get("id"), "integration id"): mapping.text(
                item.get("display_name")
            )
            for item in body
            if isinstance(item, dict)
        }

    # --- HTTP and errors -------------------------------------------------------------

    async def _call(
        self, method: str, path: str, *, params: Any = None, json: Any = None, what: str
    ) -> Any:
        async with self._request_lock:
            response = await self._session.request(method, path, params=params, json=json)
        return self._read(response, what=what)

    def _read(self, response: httpx.Response, *, what: str) -> Any:
        """The JSON body of a 2xx response (None when empty), or the error it stands for."""
        status = response.status_code
        try:
            body: Any = response.json() if response.content.strip() else None
        except ValueError:
            body = _UNREADABLE
        message = self._error_text(body)
        if status == 401:
            raise AuthFailed(
                "Sello refused the API key: it was deleted or is wrong. Create a new key"
                " in Sello's account settings and enter it again.",
                status=401,
            )
        if status == 403:
            raise AccessDenied(
                f"the Sello API key may not read or change {what}"
                + (f". Sello says: {message}" if message else ""),
                status=403,
            )
        if status == 404:
            raise NotFound(message or f"{what} does not exist on Sello", status=404)
        if status == 429:
            raise RateLimited(
                "Sello's request budget is used up; the app will try again shortly",
                status=429,
                retry_after=_retry_after(response),
            )
        if status >= 500:
            raise ServerError(f"Sello answered HTTP {status} for {what}", status=status)
        if status >= 400:
            raise Rejected(message or f"Sello answered HTTP {status} for {what}", status=status)
        if body is _UNREADABLE:
            raise PayloadError(f"Sello's answer for {what} is not JSON", status=status)
        if isinstance(body, dict) and body.get("errorType"):
            # A crashed request handler answering 200 with its error object.
            raise ServerError(
                f"Sello failed while answering for {what}" + (f": {message}" if message else ""),
                status=status,
            )
        return body

    def _error_text(self, body: Any) -> str:
        if not isinstance(body, dict):
            return ""
        value = body.get("message") or body.get("error") or body.get("errorMessage") or ""
        return redact(str(value).strip(), (self._token,))


_UNREADABLE = object()


def _retry_after(response: httpx.Response) -> float | None:
    for header in ("retry-after", "x-ratelimit-reset"):
        seconds = parse_retry_after(response.headers.get(header))
        if seconds is not None:
            return seconds
    return None


def _list_key(item: Any) -> tuple[str | None, float | None]:
    """An order list item's id and updated_at, or None for what cannot be read."""
    if not isinstance(item, dict):
        return None, None
    try:
        order_id = mapping.parse_id(item.get("id"), "order id")
    except PayloadError:
        return None, None
    try:
        updated = mapping.parse_timestamp(item.get("updated_at"), "updated_at")
    except PayloadError:
        updated = None
    return order_id, updated


def _status_id(order: Mapping[str, Any]) -> str | None:
    try:
        return mapping.optional_id(order.get("status_id"), "status_id")
    except PayloadError:
        return None


def _quarantine(item: Any, reason: str, *, kind: str = "order") -> QuarantinedItem:
    raw_id = item.get("id") if isinstance(item, dict) else None
    external_id = str(raw_id) if raw_id not in (None, "") else "?"
    return QuarantinedItem(kind=kind, external_id=external_id, reason=reason, raw=item)


def _path_id(value: Any, what: str) -> str:
    """A Sello id for a URL path; anything else is a local mistake no retry fixes."""
    try:
        return mapping.parse_id(value, f"{what} id")
    except PayloadError:
        raise Rejected(f"{value!r} is not a Sello {what} id") from None


__all__ = ["DEFAULT_BASE_URL", "SelloClient"]
