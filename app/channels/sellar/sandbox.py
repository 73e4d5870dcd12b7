"""The Sellar "sandbox twin": a loopback HTTP server behaving like Sellar's integrations API.

It serves every documented endpoint (platforms/sellar.md §2.2) with the documented
shapes: root paths, Bearer ``SLR.`` keys, the ``{"data": …}`` envelope, limit/offset
paging without a total, the Sequelize-style ``order[]=["updatedAt","DESC"]`` sort on
orders, 400 (not 404) for ids that do not exist and 401 for a bad or rotated key. The
business rules live in :mod:`app.channels.sellar.state`; the data in ``seed``.

Where the reference is silent the sandbox takes its §5 proposals:

* error bodies are NestJS-style ``{"statusCode", "message", "error"}``;
* ``limit`` is 1–100 (default 25); an offset past the end answers ``{"data": []}``;
  unknown query parameters (``updatedSince``…) are ignored, so no client can rely on
  a filter; a non-array ``order`` is refused;
* ties in the sort fall back to id descending; NULLs sort first in DESC, last in ASC;
* no rate limit unless ``rate_limit_per_minute`` is set (then 429 + Retry-After);
* webhook deliveries are recorded in :attr:`SellarSandbox.webhook_events` and POSTed
  only with ``deliver_webhooks=True``, body ``{"type", "createdAt", "data": <order>}``
  (any 2xx counts, no retries, no signature — none is documented).

Control routes under ``/_sandbox/`` play the retailer and the supplier's Sellar screens
(place, confirm, finalise, dispatch, deliver, cancel, pay, void), rotate the key and
read stock; each has a Python method of the same meaning.
"""

from __future__ import annotations

import copy
import json
import logging
import random
import time
from typing import Any

from app.channels.sandbox_http import (
    HTTPError,
    RateLimiter,
    Request,
    Response,
    SandboxHTTPServer,
    retry_after_seconds,
)
from app.channels.sandbox_webhooks import WebhookCourier
from app.channels.sellar import seed as seeding
from app.channels.sellar.state import RuleError, SellarState

log = logging.getLogger(__name__)

MAX_LIMIT = 100
DEFAULT_LIMIT = 25
ORDER_SORT_COLUMNS = ("createdAt", "updatedAt", "confirmedAt")
_ID = r"(?P<id>[^/]+)"
_ACTIONS = ("confirm", "finalize", "dispatch", "deliver", "cancel", "pay", "void")
_REASONS = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}


def error_body(status: int, message: str) -> dict[str, Any]:
    """Sellar's error answer (NestJS ``HttpException`` shape, reference §5)."""
    return {"statusCode": status, "message": message, "error": _REASONS.get(status, "Error")}


def bad_request(message: str) -> HTTPError:
    return HTTPError(400, error_body(400, message))


def _int_query(value: Any, name: str, default: int, lo: int, hi: int | None = None) -> int:
    if value is None or value == "":
        return default
    if not isinstance(value, str) or not value.strip().lstrip("-").isdigit():
        raise bad_request(f"{name} must be an integer")
    number = int(value)
    if number < lo or (hi is not None and number > hi):
        limit = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise bad_request(f"{name} must be {limit}")
    return number


def _path_id(request: Request) -> int:
    raw = request.params["id"]
    if not raw.isdigit():
        raise bad_request("Validation failed (numeric string is expected)")
    return int(raw)


def _sort_key(column: str) -> Any:
    # One key for both directions: (is null, value) puts NULLs last ascending and first
    # descending, as PostgreSQL does.
    return lambda order: (order[column] is None, order[column] or "")


class SellarSandbox(SandboxHTTPServer):
    """One Sellar supplier account on 127.0.0.1 with the integrations API."""

    def __init__(
        self,
        *,
        seed: int = 1,
        port: int = 0,
        extra_orders: int = 0,
        max_limit: int = MAX_LIMIT,
        rate_limit_per_minute: int = 0,
        deliver_webhooks: bool = False,
    ) -> None:
        super().__init__(port=port)
        self.state = SellarState(seed=seed, extra_orders=extra_orders)
        self.max_limit = max_limit
        self.deliver_webhooks = deliver_webhooks
        self.webhook_events: list[dict[str, Any]] = []
        self.webhook_deliveries: list[dict[str, Any]] = []
        self._limiter = RateLimiter(rate_limit_per_minute, 60.0)
        self._courier = WebhookCourier(
            "sellar-webhooks", self.lock, self.webhook_deliveries, timeout=3
        )
        self.state.listener = self._on_order_event
        self._add_routes()

    # ============================================================ Python API
    @property
    def token(self) -> str:
        """The supplier's current developer API key (``SLR.…``)."""
        return self.state.key

    @property
    def orders(self) -> dict[int, dict[str, Any]]:
        """Stored orders by id (live dicts: scalars, ``OrderItems``, addresses)."""
        return self.state.orders

    @property
    def products(self) -> dict[int, dict[str, Any]]:
        """Product items (the sellable kegs, casks and cases) by id (live dicts)."""
        return self.state.products

    @property
    def retailers(self) -> dict[int, dict[str, Any]]:
        return self.state.retailers

    @property
    def connections(self) -> dict[int, dict[str, Any]]:
        return self.state.connections

    @property
    def warnings(self) -> list[str]:
        """Uses of undocumented fields (``confirmedAt`` writes)."""
        return self.state.warnings

    def rotate_key(self) -> str:
        """Sellar invalidates the key and the supplier activates a new one (S4).

        Returns the new key; the old one gets 401 from now on.
        """
        with self.lock:
            rng = random.Random(f"sellar-rotate:{self.state.key}")
            self.state.key = seeding.api_key(rng)
            return self.state.key

    def product_by_sku(self, sku: str) -> dict[str, Any]:
        """The first product item with this SKU (the item name for SKU-less ones)."""
        with self.lock:
            return self.state.product_by_ref(sku)

    def product_stock(self, product_id: int) -> tuple[int, int, int]:
        """``(total, committed, available)`` of one product item."""
        with self.lock:
            product = self.state.products[product_id]
            return product["stock"], product["committedStock"], product["availableStock"]

    def retailer_id(self, name: str) -> int:
        """The id of a retailer by business name (seeded or added)."""
        with self.lock:
            for retailer in self.state.retailers.values():
                if retailer["Business"]["name"] == name:
                    return retailer["id"]
        raise KeyError(f"no retailer called {name!r}")

    def add_retailer(self, name: str, kind: str = "pub", *, connected: bool = False) -> dict:
        """A new retailer; without ``connected`` it is not among the supplier's customers."""
        with self.lock:
            return copy.deepcopy(self.state.add_retailer(name, kind, connected=connected))

    def place_order(
        self,
        retailer_id: int,
        items: list[dict[str, Any]],
        payment: str = "manual",
        *,
        purchase_order_number: str | None = None,
    ) -> dict[str, Any]:
        """Play the retailer: place an order request and return it as the API shows it.

        ``items``: ``[{"product_id", "variant_id"?, "quantity"}]`` where ``product_id``
        is a product item id, or a beer (Parent) id together with ``variant_id``, the
        item id. ``payment``: ``manual``, ``stripe`` or ``checkout``.
        """
        if not isinstance(items, list) or not items:
            raise ValueError("items must be a non-empty list")
        with self.lock:
            lines = [self._line(item) for item in items]
            order = self.state.place_order(
                retailer_id, lines, payment, purchase_order=purchase_order_number
            )
            return self.order_payload(order["id"])

    def confirm_order(self, order_id: int) -> dict[str, Any]:
        """The supplier accepts the request in Sellar (stock moves from committed to gone)."""
        return self._act(order_id, "confirm")

    def finalize_order(self, order_id: int) -> dict[str, Any]:
        return self._act(order_id, "finalize")

    def dispatch_order(self, order_id: int) -> dict[str, Any]:
        return self._act(order_id, "dispatch")

    def deliver_order(self, order_id: int) -> dict[str, Any]:
        return self._act(order_id, "deliver")

    def cancel_order(self, order_id: int, reason: str = "") -> dict[str, Any]:
        """Cancel in Sellar (before dispatch only): stock is released or restored."""
        return self._act(order_id, "cancel", reason)

    def pay_order(self, order_id: int) -> dict[str, Any]:
        """Mark paid in Sellar (supplier, manual) or pay the Stripe invoice (buyer)."""
        return self._act(order_id, "pay")

    def void_order(self, order_id: int) -> dict[str, Any]:
        """The Stripe invoice is voided: Sellar sets ``voidedAt``."""
        return self._act(order_id, "void")

    def order_payload(self, order_id: int) -> dict[str, Any]:
        """The order exactly as ``GET /orders/{id}`` returns it inside ``data`` (a copy)."""
        with self.lock:
            return copy.deepcopy(self._present_order(self.state.order(order_id)))

    def _act(self, order_id: int, action: str, reason: str = "") -> dict[str, Any]:
        with self.lock:
            if action == "cancel":
                self.state.cancel(order_id, reason)
            else:
                getattr(self.state, action)(order_id)
            return self.order_payload(order_id)

    def _line(self, item: Any) -> tuple[int, int]:
        if not isinstance(item, dict):
            raise ValueError("each item must be an object")
        product_id, variant_id = item.get("product_id"), item.get("variant_id")
        quantity = item.get("quantity", 1)
        if variant_id is not None:
            variant = self.state.products.get(variant_id)
            if variant is None or product_id not in (None, variant["ParentId"], variant["id"]):
                raise ValueError(f"variant {variant_id!r} is not an item of product {product_id!r}")
            return variant["id"], quantity
        if product_id in self.state.products:
            return product_id, quantity
        if product_id in self.state.parents:
            items = [
                p for p in self.state.products.values()
                if p["ParentId"] == product_id and not p["deletedAt"]
            ]  # fmt: skip
            if len(items) == 1:
                return items[0]["id"], quantity
            raise ValueError(f"product {product_id} has several items: give a variant_id")
        raise ValueError(f"unknown product_id {product_id!r}")

    # ============================================================ presentation
    def _present_product(self, product: dict[str, Any]) -> dict[str, Any]:
        parent = self.state.parents.get(product["ParentId"])
        out = dict(product)
        if parent is not None:
            siblings = [
                p for p in self.state.products.values()
                if p["ParentId"] == parent["id"] and not p["deletedAt"]
            ]  # fmt: skip
            out["Parent"] = parent | {
                key: sum(p[key] for p in siblings)
                for key in ("stock", "committedStock", "availableStock")
            }
        return out

    def _present_order(self, order: dict[str, Any]) -> dict[str, Any]:
        out = {key: value for key, value in order.items() if key != "OrderItems"}
        out["OrderItems"] = [
            item | {"Product": self._present_product(self.state.products[item["ProductId"]])}
            for item in order["OrderItems"]
        ]
        out["Retailer"] = self.state.retailers.get(order["RetailerId"])
        out["Supplier"] = self.state.supplier
        return out

    def _present_connection(self, connection: dict[str, Any]) -> dict[str, Any]:
        supplier = self.state.supplier
        return connection | {
            "Retailer": self.state.retailers.get(connection["RetailerId"]),
            "Supplier": {
                "id": supplier["id"],
                "Business": {
                    "id": supplier["Business"]["id"],
                    "name": supplier["Business"]["name"],
                },
            },
        }

    # ============================================================ webhooks out
    def _on_order_event(self, kind: str, order: dict[str, Any]) -> None:
        """Record (and with ``deliver_webhooks`` queue) one order.created/updated event."""
        urls = [hook["url"] for hook in self.state.active_webhooks() if hook["type"] == kind]
        stamp = self.state.clock.stamp()
        self.webhook_events.append(
            {"type": kind, "orderId": order["id"], "createdAt": stamp, "urls": urls}
        )
        if self.deliver_webhooks and urls:
            body = {"type": kind, "createdAt": stamp, "data": self._present_order(order)}
            payload = json.dumps(body, separators=(",", ":")).encode("utf-8")
            headers = {"Content-Type": "application/json"}
            for url in urls:
                self._courier.send(url, payload, headers, {"url": url, "orderId": order["id"]})

    def start(self) -> str:
        base_url = super().start()
        if self.deliver_webhooks:
            self._courier.start()
        return base_url

    def stop(self) -> None:
        self._courier.stop()
        super().stop()

    # ============================================================ HTTP plumbing
    def before_request(self, request: Request) -> Response | None:
        auth = request.header("authorization") or ""
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        allowed, _remaining, retry = self._limiter.hit(token or request.client_ip)
        if not allowed:
            raise HTTPError(
                429,
                error_body(429, "ThrottlerException: Too Many Requests"),
                {"Retry-After": str(retry_after_seconds(retry))},
            )
        if not token or token != self.state.key:
            raise HTTPError(401, error_body(401, "Unauthorized"))
        return None

    @staticmethod
    def _no_route(request: Request, path_known: bool) -> Response:
        # Express/NestJS words; a wrong method on a known path is a 404 there too.
        return Response(404, error_body(404, f"Cannot {request.method} {request.path}"))

    def _add_routes(self) -> None:
        route = self.add_route
        route("GET", r"/orders", self._h_orders)
        route("GET", rf"/orders/{_ID}", self._h_order)
        route("PUT", rf"/orders/{_ID}", self._h_update_order)
        route("GET", r"/products", self._h_products)
        route("GET", rf"/products/{_ID}", self._h_product)
        route("PUT", rf"/products/{_ID}", self._h_update_product)
        route("GET", r"/supplier-retailer-connections", self._h_connections)
        route("GET", r"/webhooks", self._h_webhooks)
        route("POST", r"/webhooks", self._h_add_webhook)
        route("DELETE", rf"/webhooks/{_ID}", self._h_delete_webhook)
        # Control routes: no auth, no faults, not logged.
        route("POST", r"/_sandbox/orders", self._c_place_order)
        route("POST", rf"/_sandbox/orders/(?P<id>\d+)/(?P<action>{'|'.join(_ACTIONS)})", self._c_act)  # fmt: skip
        route("POST", r"/_sandbox/retailers", self._c_add_retailer)
        route("POST", r"/_sandbox/key/rotate", lambda _r: {"token": self.rotate_key()})
        route("GET", r"/_sandbox/products/(?P<id>\d+)/stock", self._c_stock)
        route("GET", r"/_sandbox/webhook-events", lambda _r: {"events": self.webhook_events})
        route("GET", r"/_sandbox/summary", self._c_summary)

    @staticmethod
    def _rules(action: Any, *args: Any) -> Any:
        """Run a state rule, answering its refusal as Sellar's 400."""
        try:
            return action(*args)
        except RuleError as exc:
            raise bad_request(str(exc)) from None

    def _page(self, request: Request, rows: list[Any]) -> list[Any]:
        limit = _int_query(request.query.get("limit"), "limit", DEFAULT_LIMIT, 1, self.max_limit)
        offset = _int_query(request.query.get("offset"), "offset", 0, 0)
        return rows[offset : offset + limit]

    # ============================================================ API handlers
    def _h_orders(self, request: Request) -> dict[str, Any]:
        rows = sorted(self.state.orders.values(), key=lambda o: o["id"], reverse=True)
        for column, descending in reversed(self._sort_spec(request)):
            rows.sort(key=_sort_key(column), reverse=descending)
        return {"data": [self._present_order(order) for order in self._page(request, rows)]}

    @staticmethod
    def _sort_spec(request: Request) -> list[tuple[str, bool]]:
        """``order[]=["column","DIR"]`` (repeatable) as ``[(column, descending)]``."""
        raw = request.query.get("order")
        if raw is None:
            return [("updatedAt", True)]
        if not isinstance(raw, list):
            raise bad_request('order must be an array: order[]=["updatedAt","DESC"]')
        spec = []
        for value in raw:
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = None
            if (
                not isinstance(parsed, list)
                or not 1 <= len(parsed) <= 2
                or parsed[0] not in ORDER_SORT_COLUMNS
                or (len(parsed) == 2 and str(parsed[1]).upper() not in ("ASC", "DESC"))
            ):
                raise bad_request(
                    f"Invalid order {value!r}: use [column, direction] with column one of"
                    f" {', '.join(ORDER_SORT_COLUMNS)} and direction ASC or DESC"
                )
            spec.append((parsed[0], len(parsed) == 2 and str(parsed[1]).upper() == "DESC"))
        return spec

    def _h_order(self, request: Request) -> dict[str, Any]:
        order = self._rules(self.state.order, _path_id(request))
        return {"data": self._present_order(order)}

    def _h_update_order(self, request: Request) -> dict[str, Any]:
        order = self._rules(self.state.update_order, _path_id(request), request.json)
        return {"data": self._present_order(order)}

    def _h_products(self, request: Request) -> dict[str, Any]:
        rows = sorted(self.state.products.values(), key=lambda p: p["id"])
        rows = [p for p in rows if not p["deletedAt"]]
        return {"data": [self._present_product(p) for p in self._page(request, rows)]}

    def _h_product(self, request: Request) -> dict[str, Any]:
        product = self._rules(self.state.product, _path_id(request))
        return {"data": self._present_product(product)}

    def _h_update_product(self, request: Request) -> dict[str, Any]:
        product = self._rules(self.state.set_stock, _path_id(request), request.json)
        return {"data": self._present_product(product)}

    def _h_connections(self, request: Request) -> dict[str, Any]:
        rows = sorted(self.state.connections.values(), key=lambda c: c["id"])
        rows = [c for c in rows if not c["deletedAt"]]
        return {"data": [self._present_connection(c) for c in self._page(request, rows)]}

    def _h_webhooks(self, request: Request) -> dict[str, Any]:
        return {"data": self._page(request, self.state.active_webhooks())}

    def _h_add_webhook(self, request: Request) -> Response:
        return Response(201, {"data": self._rules(self.state.add_webhook, request.json)})

    def _h_delete_webhook(self, request: Request) -> dict[str, Any]:
        return {"data": self._rules(self.state.delete_webhook, _path_id(request))}

    # ============================================================ control handlers
    def _c_place_order(self, request: Request) -> Response:
        body = request.json
        if not isinstance(body, dict):
            raise ValueError("send a JSON object")
        unknown = set(body) - {"retailer_id", "items", "payment", "purchase_order_number"}
        if unknown:
            raise ValueError(f"unknown keys: {sorted(unknown)}")
        order = self.place_order(
            body.get("retailer_id"),
            body.get("items"),
            body.get("payment") or "manual",
            purchase_order_number=body.get("purchase_order_number"),
        )
        return Response(201, {"data": order})

    def _c_act(self, request: Request) -> dict[str, Any]:
        order_id = int(request.params["id"])
        if order_id not in self.state.orders:
            raise HTTPError(404, error_body(404, f"no order {order_id}"))
        body = request.json if isinstance(request.json, dict) else {}
        reason = str(body.get("reason") or "")
        return {"data": self._act(order_id, request.params["action"], reason)}

    def _c_add_retailer(self, request: Request) -> Response:
        body = request.json if isinstance(request.json, dict) else {}
        retailer = self.add_retailer(
            str(body.get("name") or ""),
            str(body.get("type") or "pub"),
            connected=bool(body.get("connected")),
        )
        return Response(201, {"data": retailer})

    def _c_stock(self, request: Request) -> dict[str, Any]:
        product_id = int(request.params["id"])
        if product_id not in self.state.products:
            raise HTTPError(404, error_body(404, f"no product {product_id}"))
        total, committed, available = self.product_stock(product_id)
        return {"total": total, "committed": committed, "available": available}

    def _c_summary(self, _request: Request) -> dict[str, Any]:
        stages: dict[str, int] = {}
        for order in self.state.orders.values():
            stage = _stage(order)
            stages[stage] = stages.get(stage, 0) + 1
        return {
            "supplier": self.state.supplier["Business"]["name"],
            "orders": len(self.state.orders),
            "by_stage": stages,
            "products": len(self.state.products),
            "retailers": len(self.state.retailers),
            "connections": len(self.state.connections),
            "webhooks": len(self.state.active_webhooks()),
            "time": time.time(),
        }


def _stage(order: dict[str, Any]) -> str:
    for key, word in (
        ("voidedAt", "voided"),
        ("cancelledAt", "cancelled"),
        ("deliveredAt", "delivered"),
        ("dispatchedAt", "dispatched"),
        ("finalizedAt", "finalised"),
        ("confirmedAt", "confirmed"),
    ):
        if order[key]:
            return word
    return "requested"


__all__ = ["MAX_LIMIT", "SellarSandbox", "error_body"]
