"""Selldone Backoffice API client (ERP Bridge token, one shop).

Implements :class:`app.channels.base.ChannelClient`. Everything Selldone-specific about
talking HTTP lives here: paths, query shapes, the error envelope, the fulfilment step
sequence. Payload translation is in :mod:`app.channels.selldone.mapping`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import quote

import httpx

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
from app.channels.selldone import mapping
from app.channels.values import text
from app.core.models import (
    ChannelListing,
    OrderPage,
    OrderPush,
    OrderStatus,
    QuarantinedItem,
    RawPage,
    ShopInfo,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.selldone.com"
ERP_TOKEN_URL = "https://selldone.com/auth/erp"
ERP_SCOPES: tuple[str, ...] = (
    "selldone:identification",
    "backoffice:shop:read",
    "backoffice:order:read",
    "backoffice:order:write",
    "backoffice:product:read",
    "backoffice:product:write",
)
MAX_PAGE_SIZE = 250  # Selldone refuses larger pages on both list endpoints

SCOPE_SHOP_READ = "backoffice:shop:read"
SCOPE_ORDER_READ = "backoffice:order:read"
SCOPE_ORDER_WRITE = "backoffice:order:write"
# The SDK tags the admin product list as a *write* route; the wiki asks for both.
SCOPE_PRODUCT_LIST = "backoffice:product:read + backoffice:product:write"
SCOPE_PRODUCT_WRITE = "backoffice:product:write"

_TARGET_STEP = {
    OrderStatus.CONFIRMED: "OrderConfirm",
    OrderStatus.DISPATCHED: "SentOrder",
    OrderStatus.DELIVERED: "ToCustomer",
}
_ACCESS_WORDS = ("access", "scope", "permission", "forbidden")
_NO_SUCH_PUSH = {
    "paid": "Selldone has no API for an ERP to mark an order paid",
    "invoice": "Selldone has no field for an invoice number",
}


def erp_token_link(scopes: Sequence[str] = ERP_SCOPES, locale_host: str | None = None) -> str:
    """The ERP Bridge link a logged-in shop owner opens to create a token for one shop.

    ``locale_host`` is a language prefix (``"zh"``) or a full host
    (``"zh.selldone.com"``) for Selldone's localized sites.
    """
    url = ERP_TOKEN_URL
    if locale_host:
        host = locale_host if "." in locale_host else f"{locale_host}.selldone.com"
        url = f"https://{host}/auth/erp"
    # Brackets and colons stay literal: that is the documented link form.
    query = "&".join(f"scopes[]={quote(scope, safe=':')}" for scope in scopes)
    return f"{url}?{query}"


class SelldoneClient(base.SessionClient):
    """One Selldone shop, reached with an ERP Bridge token."""

    platform = "selldone"
    capabilities = frozenset(
        {
            base.CAP_ORDERS,
            base.CAP_LISTINGS,
            base.CAP_STOCK_PUSH,
            base.CAP_PROGRESS,
            base.CAP_PARTIAL_CONFIRM,
            base.CAP_TRACKING,
            base.CAP_CANCEL,
            base.CAP_RETURN,
        }
    )

    def __init__(
        self,
        base_url: str,
        shop_id: int | str,
        token: str,
        *,
        timeout: float = 30.0,
        page_size: int = 250,
        statuses: tuple[str, ...] = ("Payed", "COD"),
        overlap_seconds: int = 120,
        rate_limit_per_minute: int = 80,
        sleep: SleepFn = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not token:
            raise ValueError("a Selldone token is required")
        self.shop_id = str(shop_id).strip()
        if not self.shop_id.isdigit():
            raise ValueError("the Selldone shop ID is a number")
        self.page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
        self.statuses = tuple(statuses)
        self.overlap_seconds = max(0, int(overlap_seconds))
        # Malformed catalogue products from the last fetch_listings pass: the protocol's
        # listing pages have no room for them, so they wait here for the caller.
        self.quarantined_listings: list[QuarantinedItem] = []
        self._token = token
        self._session = HttpSession(
            (base_url or DEFAULT_BASE_URL).rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            # The 80/minute budget is shared with the merchant's own dashboard use.
            pacer=RequestPacer(rate_limit_per_minute, 60.0, sleep=sleep),
            sleep=sleep,
            transport=transport,
            secrets=(token,),
        )

    # --- connection ------------------------------------------------------------------

    async def check_connection(self) -> ShopInfo:
        body = await self._call(
            "GET", f"/shops/me/{self.shop_id}", scope=SCOPE_SHOP_READ, what="the shop"
        )
        shop = body.get("shop")
        if not isinstance(shop, dict):
            raise PayloadError("the shop answer has no shop object")
        currencies = shop.get("currencies")
        currency = shop.get("currency") or (
            currencies[0] if isinstance(currencies, list) and currencies else ""
        )
        return ShopInfo(
            name=str(shop.get("title") or shop.get("name") or f"Shop {self.shop_id}"),
            account_id=str(shop.get("id") or self.shop_id),
            currency=str(currency or ""),
            extra={
                "shop_id": self.shop_id,
                "domain": shop.get("domain") or "",
                "order_queue": body.get("orderQue"),
            },
        )

    # --- orders ----------------------------------------------------------------------

    async def fetch_orders(self, since: float | None) -> AsyncIterator[OrderPage]:
        """PHYSICAL orders with the configured statuses changed after ``since``.

        Pages are sorted by id ascending: ids never change, so an order updated while
        we page stays where it was, and new orders join at the end. If the match count
        drops between two pages (an order left the filter), the orders after it slid
        back past our offset; the next read starts that much earlier so none is
        skipped, and an order read twice is yielded again only if it changed. Pages
        come in id order, not time order: advance a cursor only after the whole pass.
        """
        params: list[tuple[str, str | int]] = [
            ("sortBy", "id"),
            ("sortDesc", "false"),
            ("limit", self.page_size),
        ]
        params += [("statuses[]", status) for status in self.statuses]
        params += [("with[]", relation) for relation in ("items", "buyer", "products")]
        if since is not None:
            # Selldone returns orders updated strictly after this Unix second.
            params.append(("updated_at", max(0, int(since) - self.overlap_seconds)))
        path = f"/shops/{self.shop_id}/process-center/baskets-PHYSICAL"
        offset = 0
        previous_total: int | None = None
        seen: dict[str, float] = {}
        while True:
            response = await self._session.request(
                "GET", path, params=[*params, ("offset", offset)]
            )
            body = self._read(response, scope=SCOPE_ORDER_READ, what="the order list")
            baskets = body.get("orders")
            if not isinstance(baskets, list):
                raise PayloadError("the order list answer has no orders list")
            total = _optional_int(body.get("total"))
            # The answer as sent is what the orders from it keep as their payload.
            page = self._order_page(baskets, seen, RawPage(response.content, ("orders",)))
            if page.orders or page.quarantined:
                yield page
            shrink = 0
            if total is not None and previous_total is not None and total < previous_total:
                shrink = previous_total - total
            previous_total = total
            if shrink:
                # Up to ``shrink`` unseen orders now sit just before this page.
                offset = max(0, offset - shrink)
                continue
            offset += len(baskets)
            if len(baskets) < self.page_size or (total is not None and offset >= total):
                return

    def _order_page(
        self, baskets: list[Any], seen: dict[str, float], sent: RawPage | None = None
    ) -> OrderPage:
        page = OrderPage(orders=[])
        for index, basket in enumerate(baskets):
            try:
                order = mapping.order_from_basket(basket)
            except PayloadError as exc:
                raw_id = basket.get("id") if isinstance(basket, dict) else None
                external_id = str(raw_id) if raw_id not in (None, "") else "?"
                log.warning("order %s quarantined: %s", external_id, exc.message)
                page.quarantined.append(
                    QuarantinedItem(
                        kind="order", external_id=external_id, reason=exc.message, raw=basket
                    )
                )
                continue
            if seen.get(order.external_id, float("-inf")) >= order.updated_at:
                continue  # read twice while paging, unchanged
            seen[order.external_id] = order.updated_at
            if sent is not None:
                order.source = (sent, index)
            page.orders.append(order)
        return page

    # --- catalogue and stock ---------------------------------------------------------

    async def fetch_listings(self) -> AsyncIterator[list[ChannelListing]]:
        """Every product as listings, page by page (one per product or per variant)."""
        self.quarantined_listings = []
        path = f"/shops/{self.shop_id}/products/all-admin"
        offset = 0
        while True:
            body = await self._call(
                "GET",
                path,
                params={
                    "offset": offset,
                    "limit": self.page_size,
                    "with_total": "true",
                    "with_product_variants": "true",
                    "products_only": "true",
                    "sortBy": "id",
                    "sortDesc": "false",
                },
                scope=SCOPE_PRODUCT_LIST,
                what="the product list",
            )
            products = body.get("products")
            if not isinstance(products, list):
                raise PayloadError("the product list answer has no products list")
            listings = self.read_listings(
                products,
                mapping.listings_from_product,
                what="Selldone product",
                row_id=lambda product: text(
                    product.get("id") if isinstance(product, dict) else None
                ),
            )
            if listings:
                yield listings
            offset += len(products)
            total = _optional_int(body.get("total"))
            if len(products) < self.page_size or (total is not None and offset >= total):
                return

    async def push_stock(self, listing: ChannelListing, quantity: float) -> None:
        """Set the absolute quantity of a product without variants, or of one variant."""
        amount = max(0.0, float(quantity))
        # Whole numbers go out as ints; fractional stock exists for unit_float products.
        value: int | float = int(amount) if amount.is_integer() else amount
        product = f"/shops/{self.shop_id}/products/{_path_id(listing.product_id, 'product')}"
        path = (
            f"{product}/variants/{_path_id(listing.variant_id, 'variant')}/quantity"
            if listing.variant_id
            else f"{product}/quantity"
        )
        body = await self._call(
            "POST",
            path,
            json={"quantity": value},
            scope=SCOPE_PRODUCT_WRITE,
            what=f"listing {listing.external_id}",
            idempotent=True,  # an absolute quantity can be sent twice safely
        )
        if body.get("success") is False:
            raise Rejected(f"Selldone did not accept the stock of {listing.external_id}")

    # --- order changes ---------------------------------------------------------------

    async def push_order(self, push: OrderPush) -> None:
        """Apply one order change, reading the order first so a retry never doubles it."""
        if push.kind in _NO_SUCH_PUSH:
            raise Rejected(_NO_SUCH_PUSH[push.kind])
        if push.kind not in ("progress", "tracking", "cancel", "return"):
            raise Rejected(f"Selldone has no order change called {push.kind!r}")
        basket_id = _path_id(push.order_external_id, "order")
        basket = await self._get_basket(basket_id)
        if push.kind == "progress":
            await self._push_progress(basket_id, basket, push)
        elif push.kind == "tracking":
            await self._push_tracking(basket_id, basket, push)
        elif push.kind == "cancel":
            await self._push_cancel(basket_id, basket, push)
        else:
            await self._push_return(basket_id, basket)

    def _basket_path(self, basket_id: str) -> str:
        return f"/shops/{self.shop_id}/process-center/baskets/{basket_id}"

    async def _get_basket(self, basket_id: str) -> dict[str, Any]:
        body = await self._call(
            "GET", self._basket_path(basket_id), scope=SCOPE_ORDER_READ, what=f"order {basket_id}"
        )
        basket = body.get("basket", body)
        if not isinstance(basket, dict) or "id" not in basket:
            raise PayloadError(f"the answer for order {basket_id} has no order in it")
        return basket

    async def _push_progress(self, basket_id: str, basket: dict[str, Any], push: OrderPush) -> None:
        target = _TARGET_STEP.get(push.target) if push.target else None
        if target is None:
            raise Rejected(
                f"Selldone orders can only be moved to confirmed, dispatched or delivered"
                f" (asked: {push.target or 'nothing'})"
            )
        if basket.get("reject") or basket.get("status") == "Canceled":
            raise Rejected(f"order {basket_id} is cancelled on Selldone")
        current = _delivery_step(basket)
        steps = mapping.DELIVERY_STATES
        # Steps already reached are done; being past the target is success too.
        for step in steps[steps.index(current) + 1 : steps.index(target) + 1]:
            body = {"state": step, "list": None, "delivery_info": None}
            if step == "OrderConfirm":
                body["list"] = _confirm_list(basket_id, basket, push.fulfil_line_ids)
            elif step == "PreparingOrder":
                # Selldone asks for the order's own delivery_info when nothing changed.
                body["delivery_info"] = basket.get("delivery_info")
            answer = await self._call(
                "POST",
                f"{self._basket_path(basket_id)}/state",
                json=body,
                scope=SCOPE_ORDER_WRITE,
                what=f"order {basket_id}",
                idempotent=True,  # repeating the current step answers changed:false
            )
            reached = answer.get("delivery_state")
            if reached in steps and steps.index(reached) < steps.index(step):
                raise Rejected(f"Selldone kept order {basket_id} at {reached} instead of {step}")

    async def _push_tracking(self, basket_id: str, basket: dict[str, Any], push: OrderPush) -> None:
        body = {
            key: value.strip()
            for key, value in (
                ("tracking_code", push.tracking_code),
                ("tracking_url", push.tracking_url),
            )
            if value and value.strip()
        }
        if not body:
            return
        delivery = basket.get("delivery_info") or {}
        if all(str(delivery.get(key) or "") == value for key, value in body.items()):
            return
        answer = await self._call(
            "PUT",
            f"{self._basket_path(basket_id)}/tracking",
            json=body,
            scope=SCOPE_ORDER_WRITE,
            what=f"order {basket_id}",
        )
        if answer.get("success") is False:
            raise Rejected(f"Selldone did not accept the tracking of order {basket_id}")

    async def _push_cancel(self, basket_id: str, basket: dict[str, Any], push: OrderPush) -> None:
        if basket.get("reject") or basket.get("status") == "Canceled":
            return
        if _delivery_step(basket) == "ToCustomer":
            raise Rejected(
                f"order {basket_id} is already delivered; Selldone cannot cancel delivered orders"
            )
        reason = push.reason if push.reason in mapping.REJECT_REASONS else "ShopOwnerFault"
        answer = await self._call(
            "PUT",
            f"{self._basket_path(basket_id)}/reject",
            json={"reject": reason, "express": False},
            scope=SCOPE_ORDER_WRITE,
            what=f"order {basket_id}",
        )
        if answer.get("success") is False:
            raise Rejected(f"Selldone did not cancel order {basket_id}")

    async def _push_return(self, basket_id: str, basket: dict[str, Any]) -> None:
        current = _delivery_step(basket)
        if current == "ToCustomer":
            raise Rejected(
                f"order {basket_id} is marked delivered: Selldone only accepts returns of"
                " sent orders not yet delivered"
            )
        if current != "SentOrder":
            # Not out for delivery (never sent, or the return is already recorded and
            # Selldone put it back to preparing): nothing to tell Selldone.
            return
        await self._call(
            "POST",
            f"{self._basket_path(basket_id)}/delivery-returned",
            json={"state": current, "list": None, "delivery_info": None},
            scope=SCOPE_ORDER_WRITE,
            what=f"order {basket_id}",
            idempotent=False,
        )

    # --- HTTP and errors -------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        scope: str,
        what: str,
        idempotent: bool | None = None,
    ) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"} if json is not None else None
        response = await self._session.request(
            method, path, params=params, json=json, headers=headers, idempotent=idempotent
        )
        return self._read(response, scope=scope, what=what)

    def _read(self, response: httpx.Response, *, scope: str, what: str) -> dict[str, Any]:
        """The JSON object of a response, or the error it stands for."""
        status = response.status_code
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        message = self._error_text(body)
        if status == 401:
            raise AuthFailed(
                "Selldone refused the token: it was revoked or is wrong. Create a new"
                " ERP token for this shop and enter it again.",
                status=401,
            )
        if status == 403 or (isinstance(body, dict) and body.get("error") and _is_access(body)):
            raise AccessDenied(
                f"the Selldone token may not read or change {what} (it needs the {scope}"
                f" permission). Create a new ERP token that includes it."
                + (f" Selldone says: {message}" if message else ""),
                status=status,
            )
        if status == 404:
            raise NotFound(message or f"{what} does not exist on Selldone", status=404)
        if status == 422:
            raise Rejected(self._validation_text(body) or message or "invalid data", status=422)
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            raise RateLimited(
                "Selldone is limiting requests; the app will try again shortly",
                status=429,
                retry_after=retry_after,
            )
        if status >= 500:
            raise ServerError(f"Selldone answered HTTP {status} for {what}", status=status)
        if status >= 400:
            raise Rejected(message or f"Selldone answered HTTP {status} for {what}", status=status)
        if not isinstance(body, dict):
            raise PayloadError(f"Selldone's answer for {what} is not a JSON object", status=status)
        if body.get("error"):
            # Selldone reports many refusals with HTTP 200 and error:true.
            raise Rejected(message or f"Selldone refused the change to {what}", status=status)
        return body

    def _error_text(self, body: Any) -> str:
        if not isinstance(body, dict):
            return ""
        text = body.get("error_msg") or body.get("message") or ""
        if not isinstance(text, str):
            text = str(text)
        return redact(text.strip(), (self._token,))

    def _validation_text(self, body: Any) -> str:
        """Laravel's ``{errors: {field: [messages]}}`` as one readable sentence."""
        errors = body.get("errors") if isinstance(body, dict) else None
        if not isinstance(errors, dict):
            return ""
        parts = []
        for field, messages in errors.items():
            texts = messages if isinstance(messages, list) else [messages]
            joined = " ".join(str(text).strip() for text in texts if str(text).strip())
            parts.append(f"{field}: {joined}" if joined else str(field))
        return redact("; ".join(parts), (self._token,))


def _is_access(body: dict[str, Any]) -> bool:
    """Selldone's access-denied error: code 201, or a message about access or scopes."""
    if str(body.get("code", "")).strip() == "201":
        return True
    text = str(body.get("error_msg") or body.get("message") or "").lower()
    return any(word in text for word in _ACCESS_WORDS)


def _delivery_step(basket: dict[str, Any]) -> str:
    step = basket.get("delivery_state") or "CheckQueue"
    if step not in mapping.DELIVERY_STATES:
        raise PayloadError(f"order {basket.get('id')} has an unknown delivery_state {step!r}")
    return step


def _confirm_list(
    basket_id: str, basket: dict[str, Any], line_ids: list[str] | None
) -> list[int] | None:
    """The item ids to confirm: None means every line, as Selldone reads it."""
    if line_ids is None:
        return None
    if not line_ids:
        raise Rejected(f"no line of order {basket_id} can be fulfilled: cancel the order instead")
    try:
        wanted = [int(str(line_id).strip()) for line_id in line_ids]
    except ValueError:
        raise Rejected(f"order {basket_id}: line ids must be Selldone item ids") from None
    items = basket.get("items")
    if isinstance(items, list) and items:
        known = {str(item.get("id")) for item in items if isinstance(item, dict)}
        unknown = [line for line in wanted if str(line) not in known]
        if unknown:
            raise Rejected(
                f"order {basket_id} has no line {', '.join(map(str, unknown))} on Selldone"
            )
    return wanted


def _path_id(value: Any, what: str) -> str:
    """A Selldone id for a URL path; anything else is a local mistake no retry fixes."""
    try:
        return mapping.parse_id(value, f"{what} id")
    except PayloadError:
        raise Rejected(f"{value!r} is not a Selldone {what} id") from None


def _optional_int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None
