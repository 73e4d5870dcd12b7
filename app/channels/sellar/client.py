"""Sellar integrations API client (one supplier, one developer API key).

Implements :class:`app.channels.base.ChannelClient`. Everything Sellar-specific about
talking HTTP lives here: paths, paging and sort syntax, the error envelope, and the
write rules the integrator must respect (platforms/sellar.md §2.6–§2.7, §6). Payload
translation is in :mod:`app.channels.sellar.mapping`.

What the API lets an integration do, and therefore what this client offers:

* read orders, products, customers (supplier-retailer connections) and webhooks;
* write ``customInvoiceNumber`` (never overwriting another number), ``dispatchedAt`` /
  ``deliveredAt`` on confirmed orders, ``paidAt`` alone on ``manual`` orders, and a
  product's stock as ``availableStock``.

Confirming and cancelling orders are Sellar-app actions: ``confirmedAt`` is writable
but deliberately undocumented ("integrators should not use it") and there is no cancel
field, so those pushes succeed only when Sellar already shows the result.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from app import __version__
from app.channels import base
from app.channels.errors import (
    AccessDenied,
    AuthFailed,
    NotFound,
    PayloadError,
    RateLimited,
    Rejected,
    ServerError,
)
from app.channels.http_util import HttpSession, RequestPacer, SleepFn, parse_retry_after, redact
from app.channels.sellar import mapping
from app.core.models import (
    ChannelCustomer,
    ChannelListing,
    ChannelOrder,
    OrderPage,
    OrderPush,
    OrderStatus,
    PaymentStatus,
    QuarantinedItem,
    ShopInfo,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.sellar.io"
STAGING_BASE_URL = "https://api-staging.sellar.io"
KEY_PREFIX = "SLR."
# Undocumented; 100 is what production integrations use (reference §2.3, S17).
MAX_PAGE_SIZE = 100
# Sellar documents no rate limit. A self-imposed ceiling keeps a runaway loop from
# hammering a small supplier's account; normal syncs never come near it.
REQUESTS_PER_MINUTE = 300
# Pages re-read from the front after a multi-page pass, at most (see fetch_orders).
CATCH_UP_PAGES = 20
NEWEST_FIRST = json.dumps(["updatedAt", "DESC"], separators=(",", ":"))

_RANK = {
    OrderStatus.REQUESTED: 0,
    OrderStatus.CONFIRMED: 1,
    OrderStatus.DISPATCHED: 2,
    OrderStatus.DELIVERED: 3,
}
_NO_SUCH_PUSH = {
    "tracking": "Sellar has no field for tracking codes",
    "return": "Sellar's API has no returns",
}
_MISSING_WORDS = ("does not exist", "not exist", "not found")


class SellarClient(base.SessionClient):
    """One Sellar supplier account, reached with its developer API key."""

    platform = "sellar"
    capabilities = frozenset(
        {
            base.CAP_ORDERS,
            base.CAP_LISTINGS,
            base.CAP_STOCK_PUSH,
            base.CAP_PROGRESS,
            base.CAP_INVOICE,
            base.CAP_PAID,
        }
    )
    # The progress targets Sellar accepts from an integration; confirming is done in
    # the Sellar app (a CONFIRMED push only succeeds once Sellar shows it confirmed).
    progress_targets = frozenset({OrderStatus.DISPATCHED, OrderStatus.DELIVERED})

    def __init__(
        self,
        base_url: str,
        account: str,
        token: str,
        *,
        timeout: float = 30.0,
        page_size: int = MAX_PAGE_SIZE,
        overlap_seconds: int = 300,
        sleep: SleepFn = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        key = (token or "").strip()
        if key[:7].lower() == "bearer ":  # pasted together with the header word
            key = key[7:].strip()
        if not key:
            raise ValueError("a Sellar API key is required")
        # The key identifies the supplier; a supplier id, when given, is checked by
        # check_connection so a key of another account is caught before any sync.
        self.account = str(account or "").strip()
        if self.account and not self.account.isdigit():
            raise ValueError("the Sellar supplier ID is a number (or leave it empty)")
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
        self.overlap_seconds = max(0, int(overlap_seconds))
        # Malformed products / connections of the last fetch_listings / fetch_retailers
        # pass: the protocol's pages have no room for them, so they wait here.
        self.quarantined_listings: list[QuarantinedItem] = []
        self.quarantined_customers: list[QuarantinedItem] = []
        self._token = key
        self._session = HttpSession(
            self.base_url,
            headers={
                "Authorization": f"Bearer {key}",
                "Accept": "application/json",
                "User-Agent": f"Stockbridge/{__version__}",
            },
            timeout=timeout,
            pacer=RequestPacer(REQUESTS_PER_MINUTE, 60.0, sleep=sleep),
            sleep=sleep,
            transport=transport,
            secrets=(key,),
        )

    # --- connection ------------------------------------------------------------------

    async def check_connection(self) -> ShopInfo:
        """One cheap authenticated read; names the supplier from its newest order.

        Sellar has no "who am I" endpoint: the supplier is embedded in every order, and
        a supplier without orders is known by the ``SupplierId`` of its products.
        """
        rows = await self._rows("/orders", 0, "the order list", limit=1, sort=True)
        supplier: dict[str, Any] = {}
        supplier_id = ""
        if rows and isinstance(rows[0], dict):
            supplier = rows[0].get("Supplier") if isinstance(rows[0].get("Supplier"), dict) else {}
            supplier_id = _text(rows[0].get("SupplierId") or supplier.get("id"))
        else:
            products = await self._rows("/products", 0, "the product list", limit=1)
            if products and isinstance(products[0], dict):
                supplier_id = _text(products[0].get("SupplierId"))
        if self.account and supplier_id and supplier_id != self.account:
            raise AccessDenied(
                f"this Sellar key belongs to supplier {supplier_id}, not to supplier"
                f" {self.account}. Enter the key of supplier {self.account}, or change the"
                " supplier ID."
            )
        business = supplier.get("Business") if isinstance(supplier.get("Business"), dict) else {}
        name = _text(business.get("name")) or (
            f"Sellar supplier {supplier_id}" if supplier_id else "Sellar supplier"
        )
        return ShopInfo(
            name=name,
            account_id=supplier_id or self.account,
            currency=_text(supplier.get("currency")),
            extra={
                "base_url": self.base_url,
                "staging": urlsplit(self.base_url).hostname == urlsplit(STAGING_BASE_URL).hostname,
                "key_looks_right": self._token.startswith(KEY_PREFIX),
            },
        )

    # --- orders ----------------------------------------------------------------------

    async def fetch_orders(self, since: float | None) -> AsyncIterator[OrderPage]:
        """Orders changed since ``since`` (minus the overlap), newest first, page by page.

        Sellar has no change filter, so this pages ``order[]=["updatedAt","DESC"]`` and
        stops on a short page or on the first order older than the watermark minus
        ``overlap_seconds``. A change made while paging moves that order to the front:
        the rows behind it shift back by one (read twice, yielded once), and the
        changed order itself would be missed. So after a pass of more than one page the
        front is read again until an order already seen, unchanged, comes up. Every
        order of the pass is yielded once, in its newest version read.
        """
        cutoff = None if since is None else since - self.overlap_seconds
        seen: dict[str, float] = {}
        refused: set[str] = set()
        offset = 0
        pages = 0
        previous: list[Any] | None = None
        while True:
            rows = await self._rows("/orders", offset, "the order list", sort=True)
            pages += 1
            ids = [_row_key(row)[0] for row in rows]
            if rows and ids == previous:
                raise PayloadError("Sellar sent the same page of orders twice; paging stopped")
            previous = ids
            page, stop = self._order_page(rows, seen, refused, cutoff, catching_up=False)
            if page.orders or page.quarantined:
                yield page
            if stop or len(rows) < self.page_size:
                break
            offset += len(rows)
        if pages > 1:
            async for page in self._catch_up(seen, refused, cutoff):
                yield page

    async def _catch_up(
        self, seen: dict[str, float], refused: set[str], cutoff: float | None
    ) -> AsyncIterator[OrderPage]:
        """Re-read the front for orders changed during the pass (see fetch_orders)."""
        offset = 0
        for _ in range(CATCH_UP_PAGES):
            rows = await self._rows("/orders", offset, "the order list", sort=True)
            page, stop = self._order_page(rows, seen, refused, cutoff, catching_up=True)
            if page.orders or page.quarantined:
                yield page
            if stop or len(rows) < self.page_size:
                return
            offset += len(rows)
        log.warning("Sellar orders kept changing while paging; the next sync brings the rest")

    def _order_page(
        self,
        rows: list[Any],
        seen: dict[str, float],
        refused: set[str],
        cutoff: float | None,
        *,
        catching_up: bool,
    ) -> tuple[OrderPage, bool]:
        """Map one page; the bool says paging may stop (watermark or known front reached)."""
        page = OrderPage(orders=[])
        # Rows older than the watermark end the pass, but only after the whole page: a
        # page's rows are not always in order, and stopping at the first old row would
        # skip newer ones behind it.
        reached = False
        for row in rows:
            row_id, updated = _row_key(row)
            if cutoff is not None and updated is not None and updated < cutoff:
                reached = True
                continue
            if (
                row_id is not None
                and updated is not None
                and seen.get(row_id, -math.inf) >= updated
            ):
                if catching_up:
                    return page, True  # the front caught up with what the pass read
                continue  # shifted back by a change in front of it: read twice
            try:
                order = mapping.order_from_payload(row)
            except PayloadError as exc:
                # Rows without an id are told apart by their content, so each is kept.
                external_id = (
                    row_id
                    or "?" + hashlib.sha1(repr(row).encode("utf-8", "replace")).hexdigest()[:12]
                )
                if row_id is not None and updated is not None:
                    seen[row_id] = updated
                if external_id not in refused:
                    refused.add(external_id)
                    log.warning("Sellar order %s quarantined: %s", external_id, exc.message)
                    page.quarantined.append(
                        QuarantinedItem(
                            kind="order", external_id=external_id, reason=exc.message, raw=row
                        )
                    )
                continue
            seen[order.external_id] = order.updated_at
            page.orders.append(order)
        return page, reached

    async def fetch_order(self, order_id: str | int) -> ChannelOrder:
        """One order by id, e.g. after a webhook named it (raises NotFound if unknown)."""
        return mapping.order_from_payload(await self._get_order(_path_id(order_id, "order")))

    async def _get_order(self, order_id: str) -> dict[str, Any]:
        body = await self._call("GET", f"/orders/{order_id}", what=f"order {order_id}")
        order = mapping.unwrap(body)
        if not isinstance(order, dict) or "id" not in order:
            raise PayloadError(f"Sellar's answer for order {order_id} has no order in it")
        return order

    # --- catalogue, stock and customers ----------------------------------------------

    async def fetch_listings(self) -> AsyncIterator[list[ChannelListing]]:
        """Every product item (keg, cask, case…) as a listing, page by page."""
        self.quarantined_listings = []
        seen: set[str] = set()
        async for rows in self._all_pages("/products", "the product list"):
            listings = self.read_listings(
                rows,
                mapping.listings_from_product,
                what="Sellar product",
                row_id=lambda row: _row_key(row)[0] or "",
                seen=seen,
            )
            if listings:
                yield listings

    async def fetch_retailers(self) -> AsyncIterator[list[ChannelCustomer]]:
        """The supplier's customers (supplier-retailer connections), page by page."""
        self.quarantined_customers = []
        seen: set[str] = set()
        async for rows in self._all_pages("/supplier-retailer-connections", "the customer list"):
            customers: list[ChannelCustomer] = []
            for row in rows:
                if isinstance(row, dict) and _text(row.get("deletedAt")):
                    continue  # a removed connection is no customer any more
                try:
                    customer = mapping.customer_from_connection(row)
                except PayloadError as exc:
                    raw_id = _row_key(row)[0] or "?"
                    self.quarantined_customers.append(
                        QuarantinedItem("customer", raw_id, exc.message, row)
                    )
                    continue
                if customer.ref not in seen:
                    seen.add(customer.ref)
                    customers.append(customer)
            if customers:
                yield customers

    async def push_stock(self, listing: ChannelListing, quantity: float) -> None:
        """Set the item's ``availableStock`` (the engine already subtracted commitments).

        Sending ``stock`` would make Sellar subtract its committed stock a second time
        (§2.7); the two are never sent together. Sellar counts whole units: fractions
        round down and nothing goes below zero.
        """
        product_id = _path_id(listing.product_id or listing.external_id, "product")
        amount = max(0, math.floor(float(quantity) + 1e-9))
        body = await self._call(
            "PUT",
            f"/products/{product_id}",
            json={"availableStock": amount},
            what=f"product {product_id}",
        )
        product = mapping.unwrap(body)
        if not isinstance(product, dict):
            raise PayloadError(f"Sellar's answer for product {product_id} has no product in it")
        kept = product.get("availableStock")
        if kept is not None and _as_float(kept) != amount:
            raise Rejected(f"Sellar kept the stock of product {product_id} at {kept}, not {amount}")

    # --- order changes ---------------------------------------------------------------

    async def push_order(self, push: OrderPush) -> None:
        """Apply one order change, reading the order first so a retry never applies twice."""
        if push.kind in _NO_SUCH_PUSH:
            raise Rejected(_NO_SUCH_PUSH[push.kind])
        handlers = {
            "invoice": self._push_invoice,
            "progress": self._push_progress,
            "paid": self._push_paid,
            "cancel": self._push_cancel,
        }
        handler = handlers.get(push.kind)
        if handler is None:
            raise Rejected(f"Sellar has no order change called {push.kind!r}")
        order_id = _path_id(push.order_external_id, "order")
        order = await self._get_order(order_id)
        await handler(order_id, order, push)

    async def _push_invoice(self, order_id: str, order: dict[str, Any], push: OrderPush) -> None:
        wanted = push.invoice_number.strip()
        if not wanted:
            raise Rejected(f"there is no invoice number to send for Sellar order {order_id}")
        current = _text(order.get("customInvoiceNumber"))
        if current == wanted:
            return
        if current:
            # The number is printed on the buyer's invoice PDF and locks at confirmation:
            # replacing it is the merchant's decision, made in Sellar.
            raise Rejected(
                f"Sellar order {order_id} already has invoice number {current}; Stockbridge"
                f" does not overwrite it with {wanted}. Change it in Sellar if {wanted} is right."
            )
        self._refuse_if_cancelled(order_id, order)
        answer = await self._put_order(order_id, {"customInvoiceNumber": wanted})
        if _text(answer.get("customInvoiceNumber")) != wanted:
            raise Rejected(f"Sellar did not record invoice number {wanted} on order {order_id}")

    async def _push_progress(self, order_id: str, order: dict[str, Any], push: OrderPush) -> None:
        target = push.target
        if target not in _RANK or target is OrderStatus.REQUESTED:
            raise Rejected(
                "Sellar orders can only be marked confirmed, dispatched or delivered"
                f" (asked: {target or 'nothing'})"
            )
        self._refuse_if_cancelled(order_id, order)
        current = mapping.order_status(order)
        if _RANK[current] >= _RANK[target]:
            return  # already there or further: nothing to send
        if current is OrderStatus.REQUESTED:
            if target is OrderStatus.CONFIRMED:
                raise Rejected(
                    f"Sellar lets suppliers accept orders only in the Sellar app: confirm order"
                    f" {order_id} there."
                )
            raise Rejected(
                f"Sellar order {order_id} is not confirmed yet: confirm it in the Sellar app,"
                f" then mark it {target} again."
            )
        # One field per request: dispatched first, so a delivered order was dispatched.
        if not _text(order.get("dispatchedAt")):
            answer = await self._put_order(order_id, {"dispatchedAt": _now()})
            if not _text(answer.get("dispatchedAt")):
                raise Rejected(f"Sellar did not mark order {order_id} dispatched")
        if target is OrderStatus.DELIVERED:
            answer = await self._put_order(order_id, {"deliveredAt": _now()})
            if not _text(answer.get("deliveredAt")):
                raise Rejected(f"Sellar did not mark order {order_id} delivered")

    async def _push_paid(self, order_id: str, order: dict[str, Any], push: OrderPush) -> None:
        if mapping.payment_status(order) is PaymentStatus.PAID:
            return
        kind = mapping.payment_type(order)
        if kind in mapping.SELLAR_COLLECTED:
            raise Rejected("Sellar collects card payments itself; this order cannot be marked paid here")  # fmt: skip
        if kind != mapping.MANUAL:
            raise Rejected(
                f"Sellar only lets integrations mark manual-invoice orders paid; order"
                f" {order_id} is paid by {kind or 'an unknown method'}"
            )
        self._refuse_if_cancelled(order_id, order)
        if not _text(order.get("confirmedAt")):
            raise Rejected(
                f"Sellar order {order_id} is not confirmed yet: confirm it in the Sellar app"
                " before marking it paid."
            )
        # paidAt must be the only field of its request (§2.6).
        answer = await self._put_order(order_id, {"paidAt": _now()})
        if not _text(answer.get("paidAt")):
            raise Rejected(f"Sellar did not mark order {order_id} paid")

    async def _push_cancel(self, order_id: str, order: dict[str, Any], push: OrderPush) -> None:
        if mapping.order_status(order) is OrderStatus.CANCELLED:
            return
        raise Rejected(
            f"Sellar's API cannot cancel orders: cancel order {order_id} in the Sellar app"
            " (Sellar allows it until the order is dispatched)."
        )

    @staticmethod
    def _refuse_if_cancelled(order_id: str, order: dict[str, Any]) -> None:
        if mapping.order_status(order) is OrderStatus.CANCELLED:
            raise Rejected(f"Sellar order {order_id} is cancelled")

    async def _put_order(self, order_id: str, body: dict[str, Any]) -> dict[str, Any]:
        # Not retried blindly: these writes carry "now" (dispatchedAt, paidAt…), so a lost
        # answer is settled by the outbox reading the order again before writing.
        answer = await self._call(
            "PUT", f"/orders/{order_id}", json=body, what=f"order {order_id}", idempotent=False
        )
        order = mapping.unwrap(answer)
        if not isinstance(order, dict):
            raise PayloadError(f"Sellar's answer for order {order_id} has no order in it")
        return order

    # --- webhooks --------------------------------------------------------------------

    @staticmethod
    def webhook_order_id(body: Any) -> str | None:
        """Which order a webhook delivery points at (a hint to re-fetch, never data)."""
        return mapping.webhook_order_id(body)

    async def list_webhooks(self) -> list[mapping.Webhook]:
        """Every webhook subscription of this supplier."""
        hooks: list[mapping.Webhook] = []
        async for rows in self._all_pages("/webhooks", "the webhook list"):
            hooks += [mapping.webhook_from_payload(row) for row in rows]
        return hooks

    async def register_webhook(self, url: str) -> list[mapping.Webhook]:
        """Subscribe ``url`` to order.created and order.updated (one subscription each).

        Reads the subscriptions first, so calling it again adds nothing. Returns the
        subscriptions of ``url`` for both events.
        """
        parts = urlsplit(url or "")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("the webhook address must be an http:// or https:// URL")
        mine = [hook for hook in await self.list_webhooks() if hook.url == url]
        have = {hook.type for hook in mine}
        for kind in mapping.WEBHOOK_TYPES:
            if kind in have:
                continue
            body = await self._call(
                "POST", "/webhooks", json={"type": kind, "url": url}, what="the webhooks"
            )
            mine.append(mapping.webhook_from_payload(body))
        return sorted(
            (hook for hook in mine if hook.type in mapping.WEBHOOK_TYPES), key=lambda h: h.type
        )

    async def delete_webhook(self, webhook_id: str | int) -> None:
        """Unsubscribe; a subscription that no longer exists counts as deleted."""
        hook_id = _path_id(webhook_id, "webhook")
        try:
            await self._call("DELETE", f"/webhooks/{hook_id}", what=f"webhook {hook_id}")
        except NotFound as exc:
            if exc.status == 404:  # no Sellar at this address: not "already deleted"
                raise

    # --- HTTP and errors -------------------------------------------------------------

    async def _rows(
        self, path: str, offset: int, what: str, *, limit: int | None = None, sort: bool = False
    ) -> list[Any]:
        params: list[tuple[str, str | int]] = [
            ("limit", limit or self.page_size),
            ("offset", offset),
        ]
        if sort:
            params.append(("order[]", NEWEST_FIRST))
        rows = mapping.unwrap(await self._call("GET", path, params=params, what=what))
        if not isinstance(rows, list):
            raise PayloadError(f"Sellar's answer for {what} has no list in it")
        return rows

    async def _all_pages(self, path: str, what: str) -> AsyncIterator[list[Any]]:
        """Raw rows page by page until a short page (Sellar returns no total)."""
        offset = 0
        previous: list[Any] | None = None
        while True:
            rows = await self._rows(path, offset, what)
            ids = [_row_key(row)[0] for row in rows]
            if rows and ids == previous:
                raise PayloadError(f"Sellar sent the same page of {what} twice; paging stopped")
            previous = ids
            yield rows
            if len(rows) < self.page_size:
                return
            offset += len(rows)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        what: str,
        idempotent: bool | None = None,
    ) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"} if json is not None else None
        response = await self._session.request(
            method, path, params=params, json=json, headers=headers, idempotent=idempotent
        )
        return self._read(response, what=what)

    def _read(self, response: httpx.Response, *, what: str) -> dict[str, Any]:
        """The JSON object of a response, or the error it stands for."""
        status = response.status_code
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if 200 <= status < 300 and isinstance(body, dict):
            # An error envelope in a 2xx answer is still an error: believe the envelope.
            status = _envelope_status(body) or status
        message = self._error_text(body)
        if status == 401:
            raise AuthFailed(
                "the Sellar key was revoked or is wrong. In Sellar, activate a new developer"
                " API key and enter it again.",
                status=401,
            )
        if status == 403:
            raise AccessDenied(
                f"the Sellar key may not read or change {what}"
                + (f". Sellar says: {message}" if message else ""),
                status=403,
            )
        if status in (400, 404) and any(word in message.lower() for word in _MISSING_WORDS):
            raise NotFound(f"{what} does not exist on Sellar ({message})", status=status)
        if status == 404:
            raise NotFound(
                f"Sellar has no {what} at {self._session.host}: check the API address",
                status=404,
            )
        if status == 429:
            raise RateLimited(
                "Sellar is limiting requests; the app will try again shortly",
                status=429,
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        if status >= 500:
            raise ServerError(f"Sellar answered HTTP {status} for {what}", status=status)
        if status >= 400:
            raise Rejected(
                message or f"Sellar refused the request for {what} (HTTP {status})", status=status
            )
        if not isinstance(body, dict):
            raise PayloadError(f"Sellar's answer for {what} is not a JSON object", status=status)
        return body

    def _error_text(self, body: Any) -> str:
        if not isinstance(body, dict):
            return ""
        text = body.get("message") or body.get("error") or ""
        if isinstance(text, list):  # NestJS validation: one message per field
            text = "; ".join(str(part).strip() for part in text if str(part).strip())
        return redact(str(text).strip(), (self._token,))


def _envelope_status(body: dict[str, Any]) -> int | None:
    """The error status an answer's body claims, if it is an error envelope at all."""
    if "data" in body:
        return None
    code = body.get("statusCode")
    try:
        status = int(code) if code is not None and not isinstance(code, bool) else None
    except (TypeError, ValueError):
        status = None
    if status is not None and status >= 400:
        return status
    if body.get("error") and body.get("message"):
        return 400
    return None


def _row_key(row: Any) -> tuple[str | None, float | None]:
    """``(id, updatedAt)`` of a raw row, None where unreadable; paging must not fail on it."""
    if not isinstance(row, dict):
        return None, None
    try:
        row_id: str | None = mapping.parse_id(row.get("id"), "id")
    except PayloadError:
        row_id = None
    try:
        updated = mapping.parse_timestamp(row.get("updatedAt"))
        if updated is None:
            updated = mapping.parse_timestamp(row.get("createdAt"))
    except PayloadError:
        updated = None
    return row_id, updated


def _path_id(value: Any, what: str) -> str:
    """A Sellar id for a URL path; anything else is a local mistake no retry fixes."""
    try:
        return mapping.parse_id(value, f"{what} id")
    except PayloadError:
        raise Rejected(f"{value!r} is not a Sellar {what} id") from None


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _now() -> str:
    return mapping.format_timestamp(time.time())
