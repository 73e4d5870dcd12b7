"""The Sello "sandbox twin": a loopback HTTP server behaving like Sello API v5.

It follows the researched reference (platforms/sello.md). Paths are served both at the
root and under ``/v5`` (``{base_url}/v5`` is the twin of ``https://api.sello.io/v5``).
Where the sources are silent it takes these choices (§11):

* authentication: ``Authorization: <key>`` with the raw key, compared exactly (a
  ``Bearer`` prefix is refused); failures are 401 ``{"message": …}``; every error
  body is ``{"message": …}``;
* rate limit: ``rate_limit`` calls per ``window_seconds`` per account (all API calls,
  errors included). A window opens with the first call after the previous one ended
  (a fixed window, as Laravel-style limiters count). Every answer carries
  ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``; the reset
  is the seconds until the window ends (three decimals, rounded up) or, with
  ``reset_format="epoch"``, the Unix time it ends. Over the limit: 429
  ``{"message": …}`` with ``Retry-After`` in whole seconds; refused calls do not count;
* orders: ``size`` above 300 is clamped to 300 (as documented for products); default
  sort ``id`` descending; an unknown sort, direction or filter is a 400; list items
  carry no ``rows`` unless ``rows_in_list`` (the variant some live accounts show);
* ``PUT /orders/{id}`` answers 200 with the updated order; unknown attributes are
  ignored (documented), an unknown ``status_id`` is a 400. A status change copies the
  status's flags onto the order, sets ``delivered_at`` on entering a delivered status
  and clears it on leaving one; ``updated_at`` moves only when something changed;
* products: the list is wrapped in ``{statusCode, data}`` as documented unless
  ``wrap_products=False`` (the live variant); single products are bare objects;
  ``PUT`` accepts ``quantity`` as a whole number ≥ 0 (else 400) and answers with the
  product; a SKU shared by two products resolves to the lower id;
* a sale (an order created through the control API) takes its rows' quantities from
  stock; status changes never move stock.
"""

from __future__ import annotations

import copy
import hmac
import math
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.channels.sandbox_http import (
    HTTPError,
    Request,
    Response,
    SandboxHTTPServer,
    retry_after_seconds,
)
from app.channels.sello import sandbox_queries as q
from app.channels.sello.seed import (
    ACCOUNT,
    EUR_RATE,
    PAID,
    TRADERA,
    AccountFactory,
    apply_status_flags,
    sello_time,
)

ACCOUNT_KEY = "account"
MAX_ORDER_PAGE = 300
MAX_PRODUCT_PAGE = 100
ORDER_WRITABLE = frozenset(
    {
        "status_id", "shipping_cost", "shipping_option", "payment_option", "customer_alias",
        "customer_email", "customer_phone", "customer_mobile", "customer_first_name",
        "customer_last_name", "customer_address", "customer_address_2", "customer_zip",
        "customer_city", "customer_country_code", "is_new", "notes",
    }
)  # fmt: skip
PRODUCT_WRITABLE = frozenset(
    {"quantity", "private_name", "private_reference", "stock_location", "purchase_price", "notes"}
)
# Fields only the single order shows (the list is "a limited set", §4.1).
_ORDER_DETAIL_ONLY = ("rows", "total_vat", "tracking", "returns")
_V5 = r"(?:/v5)?"


@dataclass
class RateWindow:
    """One rate-limit window of one caller: when it opened and what it answered."""

    start: float  # monotonic
    started_at: float  # Unix time, comparable with the request log
    served: int = 0
    refused: int = 0


class FixedWindowLimiter:
    """At most ``limit`` calls per window; a window opens with the first call after the
    previous one ended. Refused calls are not counted against the window."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("the rate limit needs at least one call per positive window")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._windows: dict[str, list[RateWindow]] = {}

    def hit(self, key: str) -> tuple[bool, int, float]:
        """Record one call: ``(allowed, remaining, seconds until the window ends)``."""
        now = self._clock()
        history = self._windows.setdefault(key, [])
        if not history or now >= history[-1].start + self.window:
            history.append(RateWindow(start=now, started_at=time.time()))
        current = history[-1]
        reset_in = max(0.0, current.start + self.window - now)
        if current.served >= self.limit:
            current.refused += 1
            return False, 0, reset_in
        current.served += 1
        return True, self.limit - current.served, reset_in

    def windows(self, key: str) -> list[RateWindow]:
        return list(self._windows.get(key, ()))

    def reset(self) -> None:
        self._windows.clear()


class SelloSandbox(SandboxHTTPServer):
    """A Sello account on 127.0.0.1 with the v5 endpoints an ERP connector uses."""

    def __init__(
        self,
        *,
        seed: int = 1,
        port: int = 0,
        rate_limit: int = 30,
        window_seconds: float = 60.0,
        extra_orders: int = 0,
        reset_format: str = "seconds",
        rows_in_list: bool = False,
        wrap_products: bool = True,
    ) -> None:
        super().__init__(port=port)
        if reset_format not in ("seconds", "epoch"):
            raise ValueError("reset_format is 'seconds' or 'epoch'")
        self.rate_limit = rate_limit
        self.window_seconds = window_seconds
        self.reset_format = reset_format
        self.rows_in_list = rows_in_list
        self.wrap_products = wrap_products
        self._factory = AccountFactory(seed=seed, now=int(time.time()))
        self.account: dict[str, Any] = dict(ACCOUNT)
        self.statuses: dict[str, dict[str, Any]] = self._factory.statuses
        self.integrations: dict[int, dict[str, Any]] = self._factory.integrations
        self.products: dict[int, dict[str, Any]] = self._factory.products
        self.orders: dict[int, dict[str, Any]] = {}
        for order in self._factory.seed_orders():
            self.orders[order["id"]] = order
        for order in self._factory.generate_extra(max(0, extra_orders)):
            self.orders[order["id"]] = order
        key_rng = random.Random(f"sello-sandbox-key:{seed}")
        # Live keys are often "token:key" pairs (§1): the twin's has a colon too.
        self.token = f"{key_rng.getrandbits(128):032x}:{key_rng.getrandbits(128):032x}"
        self._limiter = FixedWindowLimiter(rate_limit, window_seconds)
        self.limit_breaches = 0
        self._last_ts = self._factory.now
        self._add_routes()

    # ============================================================ Python API
    @property
    def served_in_window(self) -> list[int]:
        """Calls served in each rate-limit window of the account, oldest first."""
        with self.lock:
            return [w.served for w in self._limiter.windows(ACCOUNT_KEY)]

    @property
    def rate_windows(self) -> list[RateWindow]:
        """The account's rate-limit windows (start, served, refused), oldest first."""
        with self.lock:
            return [copy.copy(w) for w in self._limiter.windows(ACCOUNT_KEY)]

    def reset_rate_limit(self) -> None:
        """Forget every window and breach (e.g. between the phases of a test)."""
        with self.lock:
            self._limiter.reset()
            self.limit_breaches = 0

    def create_order(
        self,
        rows: list[dict[str, Any]],
        *,
        integration_id: int = TRADERA,
        status_id: str | int = PAID,
        market_reference: str | None = None,
        customer: dict[str, Any] | None = None,
        currency: str | None = None,
        shipping_cost: float | None = None,
        notes: str = "",
    ) -> dict[str, Any]:
        """Play a marketplace sale: a new order with rows, taking the stock it sold.

        ``rows``: ``[{"product_id" or "sku", "quantity", "price" (optional)}]``.
        ``integration_id`` 0 is an own order. ``customer`` takes ``first_name``,
        ``last_name``, ``email``, ``alias``, ``phone``, ``address``, ``zip``, ``city``,
        ``country_code`` (with or without the ``customer_`` prefix). Returns the live
        stored order.
        """
        with self.lock:
            if integration_id != 0 and integration_id not in self.integrations:
                raise ValueError(f"unknown integration_id {integration_id!r}")
            status_key = str(status_id)
            if status_key not in self.statuses:
                raise ValueError(f"unknown status_id {status_id!r}")
            if not isinstance(rows, list) or not rows:
                raise ValueError("rows must be a non-empty list")
            lines = [self._sale_line(row) for row in rows]
            now = self._now()
            order = self._factory.build_order(
                integration_id=integration_id,
                status_id=status_key,
                lines=lines,
                customer=customer,
                created_ts=now,
                market_reference=market_reference,
                currency=currency,
                shipping_cost=shipping_cost,
                notes=notes,
            )
            self.orders[order["id"]] = order
            stamp = sello_time(now)
            for product, quantity, _price in lines:
                # Sello's product history records sales as quantity changes (§4.4).
                product["quantity"] -= quantity
                product["sold"] += quantity
                product["last_sold"] = stamp
                product["updated_at"] = stamp
            return order

    def set_order_status(self, order_id: int, status_id: str | int) -> dict[str, Any]:
        """Play the merchant in Sello's UI: move an order to another status."""
        with self.lock:
            if str(status_id) not in self.statuses:
                raise ValueError(f"unknown status_id {status_id!r}")
            order = self._order(order_id)
            self._apply_changes(order, {"status_id": status_id})
            return order

    def set_product_quantity(self, product_id: int, quantity: int) -> dict[str, Any]:
        """Play the merchant editing stock in Sello's UI."""
        with self.lock:
            product = self._product(product_id)
            try:
                self._apply_product_changes(product, {"quantity": quantity})
            except HTTPError as exc:  # the API's 400, as a Python argument error
                raise ValueError(exc.body["message"]) from None
            return product

    def product_quantity(self, product_id: int) -> int:
        with self.lock:
            return int(self._product(product_id)["quantity"])

    def order_status(self, order_id: int) -> str:
        """The order's current status id (as ``GET /status`` spells ids: a string)."""
        with self.lock:
            return str(self._order(order_id)["status_id"])

    # ============================================================ internals
    def _now(self) -> int:
        """Whole seconds, never going backwards (Sello's timestamps have 1 s resolution)."""
        self._last_ts = max(self._last_ts, int(time.time()))
        return self._last_ts

    def _order(self, order_id: Any) -> dict[str, Any]:
        order = self.orders.get(int(order_id))
        if order is None:
            raise HTTPError(404, {"message": "No such order found"})
        return order

    def _product(self, product_id: Any) -> dict[str, Any]:
        product = self.products.get(int(product_id))
        if product is None:
            raise HTTPError(404, {"message": "No such product found"})
        return product

    def _product_by_sku(self, sku: str) -> dict[str, Any]:
        matches = [p for p in self.products.values() if p["private_reference"] == sku and sku]
        if not matches:
            raise HTTPError(404, {"message": "No such product found"})
        return min(matches, key=lambda p: p["id"])

    def _sale_line(self, row: Any) -> tuple[dict[str, Any], int, float | None]:
        if not isinstance(row, dict):
            raise ValueError("each row must be an object")
        if row.get("product_id") is not None:
            product = self.products.get(int(row["product_id"]))
            if product is None:
                raise ValueError(f"unknown product_id {row['product_id']!r}")
        elif row.get("sku"):
            matches = [p for p in self.products.values() if p["private_reference"] == row["sku"]]
            if not matches:
                raise ValueError(f"unknown sku {row['sku']!r}")
            product = min(matches, key=lambda p: p["id"])
        else:
            raise ValueError("each row needs a product_id or a sku")
        quantity = row.get("quantity", 1)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise ValueError("quantity must be a whole number of at least 1")
        price = row.get("price")
        if price is not None and (isinstance(price, bool) or not isinstance(price, int | float)):
            raise ValueError("price must be a number")
        return product, quantity, None if price is None else float(price)

    def _apply_changes(self, order: dict[str, Any], changes: dict[str, Any]) -> bool:
        """Apply a PUT body's supported attributes; returns whether anything changed."""
        updates: dict[str, Any] = {}
        for key, value in changes.items():
            if key not in ORDER_WRITABLE:
                continue  # documented: other attributes are silently ignored
            updates[key] = q.order_value(key, value, self.statuses)
        changed = False
        stamp = sello_time(self._now())
        if "status_id" in updates and updates["status_id"] != order["status_id"]:
            apply_status_flags(order, self.statuses[str(updates["status_id"])], at=stamp)
            changed = True
        for key, value in updates.items():
            if key != "status_id" and order.get(key) != value:
                order[key] = value
                changed = True
        if "shipping_cost" in updates:
            goods = sum(float(r["price"]) * int(r["quantity"]) for r in order["rows"])
            order["total"] = round(goods + order["shipping_cost"], 2)
            order["total_eur"] = round(order["total"] * EUR_RATE.get(order["currency"], 0.09), 2)
        if changed:
            order["updated_at"] = max(order["updated_at"], stamp)
        return changed

    def _apply_product_changes(self, product: dict[str, Any], changes: dict[str, Any]) -> bool:
        changed = False
        for key, value in changes.items():
            if key not in PRODUCT_WRITABLE:
                continue
            value = q.product_value(key, value)
            if product.get(key) != value:
                product[key] = value
                changed = True
        if changed:
            product["updated_at"] = sello_time(self._now())
        return changed

    # ============================================================ HTTP plumbing
    def before_request(self, request: Request) -> Response | None:
        auth = (request.header("authorization") or "").strip()
        valid = bool(auth) and hmac.compare_digest(auth.encode(), self.token.encode())
        key = ACCOUNT_KEY if valid else f"ip:{request.client_ip}"
        allowed, remaining, reset_in = self._limiter.hit(key)
        request.context.update(remaining=remaining, reset_in=reset_in)
        if not allowed:
            self.limit_breaches += 1
            raise HTTPError(
                429,
                {
                    "message": f"Too many requests: the limit is {self.rate_limit} calls"
                    f" per {self.window_seconds:g} seconds"
                },
                {"Retry-After": str(retry_after_seconds(reset_in))},
            )
        if not valid:
            raise HTTPError(401, {"message": "Unauthorized: the API key is missing or invalid"})
        return None

    def after_request(self, request: Request, response: Response) -> None:
        reset_in = float(request.context.get("reset_in", self.window_seconds))
        # Rounded up, so a client waiting exactly this long never arrives early.
        reset_in = math.ceil(round(reset_in * 1000, 6)) / 1000  # round(): 0.4 * 1000 is 400.00…06
        reset = (
            f"{time.time() + reset_in:.3f}" if self.reset_format == "epoch" else f"{reset_in:.3f}"
        )
        response.headers["X-RateLimit-Limit"] = str(self.rate_limit)
        response.headers["X-RateLimit-Remaining"] = str(request.context.get("remaining", 0))
        response.headers["X-RateLimit-Reset"] = reset

    def _add_routes(self) -> None:
        route = self.add_route
        route("GET", _V5 + r"/account", lambda _r: dict(self.account))
        route("GET", _V5 + r"/integrations", lambda _r: list(self.integrations.values()))
        route("GET", _V5 + r"/integrations/(?P<iid>\d+)", self._h_integration)
        route("GET", _V5 + r"/status", lambda _r: list(self.statuses.values()))
        route("GET", _V5 + r"/status/(?P<sid>\d+)", self._h_status)
        route("GET", _V5 + r"/orders", self._h_orders)
        route("POST", _V5 + r"/orders", self._h_create_order)
        route("PUT", _V5 + r"/orders", self._h_change_orders)
        route("GET", _V5 + r"/orders/(?P<oid>\d+)", self._h_order)
        route("PUT", _V5 + r"/orders/(?P<oid>\d+)", self._h_change_order)
        route("GET", _V5 + r"/orders/(?P<oid>\d+)/rows", self._h_rows)
        route("GET", _V5 + r"/products", self._h_products)
        route("GET", _V5 + r"/products/sku/(?P<sku>.+)", self._h_product)
        route("PUT", _V5 + r"/products/sku/(?P<sku>.+)", self._h_change_product)
        route("GET", _V5 + r"/products/(?P<pid>\d+)", self._h_product)
        route("PUT", _V5 + r"/products/(?P<pid>\d+)", self._h_change_product)
        # Control routes (no auth, no rate limit, not logged).
        route("POST", r"/_sandbox/orders", self._c_create_order)
        route("POST", r"/_sandbox/orders/(?P<oid>\d+)/status", self._c_order_status)
        route("PUT", r"/_sandbox/products/(?P<pid>\d+)/quantity", self._c_product_quantity)
        route("GET", r"/_sandbox/rate", self._c_rate)
        route("GET", r"/_sandbox/summary", self._c_summary)

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        body = request.json
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise HTTPError(400, {"message": "The request body must be a JSON object"})
        return body

    # ============================================================ API handlers
    def _h_integration(self, request: Request) -> dict[str, Any]:
        integration = self.integrations.get(int(request.params["iid"]))
        if integration is None:
            raise HTTPError(404, {"message": "No such integration found"})
        return integration

    def _h_status(self, request: Request) -> dict[str, Any]:
        status = self.statuses.get(str(int(request.params["sid"])))
        if status is None:
            raise HTTPError(404, {"message": "No such status found"})
        return status

    def _h_orders(self, request: Request) -> dict[str, Any]:
        query = request.query
        size = min(q.int_param(query.get("size"), "size", 10, 1), MAX_ORDER_PAGE)
        offset = q.int_param(query.get("offset"), "offset", 0, 0)
        matches = q.filter_orders(list(self.orders.values()), request)
        matches = q.sort_orders(matches, query.get("sort"), query.get("sort_direction"))
        page = [self._order_item(order) for order in matches[offset : offset + size]]
        return {"meta": {"total": len(matches)}, "orders": page}

    def _order_item(self, order: dict[str, Any]) -> dict[str, Any]:
        hidden = _ORDER_DETAIL_ONLY[1:] if self.rows_in_list else _ORDER_DETAIL_ONLY
        return {k: v for k, v in order.items() if k not in hidden}

    def _h_order(self, request: Request) -> dict[str, Any]:
        return self._order(request.params["oid"])

    def _h_rows(self, request: Request) -> list[dict[str, Any]]:
        return self._order(request.params["oid"])["rows"]

    def _h_change_order(self, request: Request) -> dict[str, Any]:
        order = self._order(request.params["oid"])
        self._apply_changes(order, self._body(request))
        return order

    def _h_change_orders(self, request: Request) -> dict[str, Any]:
        body = self._body(request)
        ids, changes = body.get("orders"), body.get("changes")
        if not isinstance(ids, list) or not ids or not isinstance(changes, dict):
            raise HTTPError(400, {"message": 'Send {"orders": [ids], "changes": {...}}'})
        orders = [self._order(q.whole(value, "orders")) for value in ids]
        for key, value in changes.items():  # validate everything before changing anything
            if key in ORDER_WRITABLE:
                q.order_value(key, value, self.statuses)
        changed = [order["id"] for order in orders if self._apply_changes(order, changes)]
        return {"orders": [order["id"] for order in orders], "changed": changed}

    def _h_create_order(self, request: Request) -> Response:
        body = self._body(request)
        for required in ("integration_id", "status_id", "currency"):
            if body.get(required) in (None, ""):
                raise HTTPError(400, {"message": f"{required} is required"})
        integration_id = q.whole(body["integration_id"], "integration_id")
        if integration_id != 0 and integration_id not in self.integrations:
            raise HTTPError(400, {"message": f"Unknown integration_id {integration_id}"})
        status_id = q.order_value("status_id", body["status_id"], self.statuses)
        currency = str(body["currency"]).upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise HTTPError(400, {"message": "currency must be a three-letter code"})
        created = q.optional_time(body.get("created_at")) or self._now()
        order = self._factory.build_order(
            integration_id=integration_id,
            status_id=str(status_id),
            lines=[],
            customer={k: v for k, v in body.items() if k.startswith("customer_")},
            created_ts=created,
            market_reference=str(body.get("market_reference") or ""),
            currency=currency,
            shipping_cost=float(
                q.order_value("shipping_cost", body.get("shipping_cost") or 0, self.statuses)
            ),  # fmt: skip
            notes=str(body.get("notes") or ""),
        )
        for key in ("payment_option", "shipping_option"):
            if key in body:
                order[key] = body[key]
        self.orders[order["id"]] = order
        return Response(201, {"id": order["id"]})

    def _h_products(self, request: Request) -> dict[str, Any]:
        query = request.query
        # Documented: sizes above 100 are reset to 100.
        size = min(q.int_param(query.get("size"), "size", 100, 1), MAX_PRODUCT_PAGE)
        offset = q.int_param(query.get("offset"), "offset", 0, 0)
        matches = q.filter_products(list(self.products.values()), request)
        matches = q.sort_products(matches, query.get("sort"), query.get("sort_direction"))
        page = [q.product_list_item(p) for p in matches[offset : offset + size]]
        data = {
            "meta": {"total": len(matches)},
            "products": page,
            "groups": q.product_groups(page, self.products.values()),
        }
        return {"statusCode": 200, "data": data} if self.wrap_products else data

    def _target_product(self, request: Request) -> dict[str, Any]:
        if "sku" in request.params:
            return self._product_by_sku(request.params["sku"])
        return self._product(request.params["pid"])

    def _h_product(self, request: Request) -> dict[str, Any]:
        return q.product_detail(self._target_product(request))

    def _h_change_product(self, request: Request) -> dict[str, Any]:
        product = self._target_product(request)
        self._apply_product_changes(product, self._body(request))
        return q.product_detail(product)

    # ============================================================ control handlers
    def _c_create_order(self, request: Request) -> Response:
        body = self._body(request)
        unknown = set(body) - {
            "rows", "integration_id", "status_id", "market_reference", "customer",
            "currency", "shipping_cost", "notes",
        }  # fmt: skip
        if unknown:
            raise ValueError(f"unknown keys: {sorted(unknown)}")
        order = self.create_order(
            body.get("rows"),
            integration_id=int(body.get("integration_id", TRADERA)),
            status_id=body.get("status_id", PAID),
            market_reference=body.get("market_reference"),
            customer=body.get("customer"),
            currency=body.get("currency"),
            shipping_cost=body.get("shipping_cost"),
            notes=str(body.get("notes") or ""),
        )
        return Response(201, order)

    def _c_order_status(self, request: Request) -> dict[str, Any]:
        status_id = self._body(request).get("status_id")
        if str(status_id) not in self.statuses:
            raise ValueError(f"unknown status_id {status_id!r}")
        return self.set_order_status(int(request.params["oid"]), status_id)

    def _c_product_quantity(self, request: Request) -> dict[str, Any]:
        return self.set_product_quantity(
            int(request.params["pid"]), self._body(request).get("quantity")
        )

    def _c_rate(self, _request: Request) -> dict[str, Any]:
        return {
            "limit": self.rate_limit,
            "window_seconds": self.window_seconds,
            "limit_breaches": self.limit_breaches,
            "served_in_window": self.served_in_window,
            "windows": [
                {"started_at": w.started_at, "served": w.served, "refused": w.refused}
                for w in self.rate_windows
            ],
        }

    def _c_summary(self, _request: Request) -> dict[str, Any]:
        by_status = dict.fromkeys(self.statuses, 0)
        for order in self.orders.values():
            by_status[str(order["status_id"])] += 1
        return {
            "account": self.account["company"],
            "orders": {"total": len(self.orders), "by_status": by_status},
            "products": len(self.products),
            "integrations": len(self.integrations),
            "limit_breaches": self.limit_breaches,
        }


__all__ = ["FixedWindowLimiter", "RateWindow", "SelloSandbox"]
