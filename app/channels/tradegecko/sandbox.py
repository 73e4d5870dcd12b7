"""The TradeGecko "sandbox twin": a loopback HTTP server behaving like api.tradegecko.com.

The real API is retired (reference §0), so this twin is what the client is tested
against. It serves the resources a sales-channel integration uses with the documented
shapes and rules:

* ``Authorization: Bearer`` with a privileged token or OAuth tokens
  (:mod:`.sandbox_auth`: authorize redirect, code and refresh grants, rotation);
* singular/plural envelopes, ``201`` + ``Location`` on create, ``204`` on PUT (``200``
  with the record for addresses), ``422 {"errors": {field: [messages]}}``;
* ``page``/``limit`` paging with ``X-Pagination`` and ``Link``, the documented filters
  (:mod:`.sandbox_query`), ``include=`` sideloads on shows;
* 300 requests per 300-second window per application (fixed windows aligned to the
  clock, §17.6), ``X-Rate-Limit-Limit/-Remaining/-Reset`` on every answer, 429 without
  Retry-After; the window is shortenable for tests;
* ``Idempotency-Key`` on POST/PUT: a successful answer is replayed for 24 hours
  (failures are not stored, so a corrected request can go through — §17.20);
* webhooks signed with the application secret (``X-Gecko-Signature``), recorded in
  :attr:`TradeGeckoSandbox.webhook_events` and POSTed when ``deliver_webhooks`` is on.

Business rules live in :mod:`.state` / :mod:`.state_orders`, JSON shapes in
:mod:`.sandbox_views`. Test helpers: :meth:`~TradeGeckoSandbox.set_stock`,
:attr:`~TradeGeckoSandbox.creates_applied`, :meth:`~TradeGeckoSandbox.drop_next_create`.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.channels.sandbox_http import Request, Response, SandboxHTTPServer
from app.channels.sandbox_webhooks import WebhookCourier
from app.channels.tradegecko import sandbox_resources as resources
from app.channels.tradegecko import sandbox_views as views
from app.channels.tradegecko.sandbox_auth import ACCESS_TOKEN_TTL, OAuthServer, TokenInfo
from app.channels.tradegecko.sandbox_resources import RESOURCES, error_body
from app.channels.tradegecko.state import GeckoState
from app.channels.tradegecko.state_shipping import delete_fulfillment
from app.channels.tradegecko.state_values import BadRequest, Invalid, Missing, record_id
from app.channels.tradegecko.webhooks import DELIVERY_HEADER, SIGNATURE_HEADER, sign

log = logging.getLogger(__name__)

IDEMPOTENCY_TTL = 24 * 3600.0
_ID = r"(?P<id>\d+)"


class ResponseDropped(ConnectionError):
    """Raised after a request was applied, so the connection closes without an answer."""


@dataclass(slots=True)
class _Stored:
    method: str
    path: str
    status: int
    body: Any
    headers: dict[str, str]
    expires_at: float


@dataclass(slots=True)
class _Drop:
    path: str
    stall: float


def _normalise(path: str) -> str:
    """``/orders/`` and ``/fulfillments/12.json`` are the same routes (§1)."""
    if path.endswith(".json"):
        path = path[: -len(".json")]
    return path.rstrip("/") or "/"


class TradeGeckoSandbox(SandboxHTTPServer):
    """One TradeGecko account with its OAuth application, on 127.0.0.1."""

    def __init__(
        self,
        *,
        seed: int = 1,
        port: int = 0,
        rate_limit: int = 300,
        window_seconds: float = 300.0,
        app_secret: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        redirect_uris: tuple[str, ...] | None = None,
        access_token_ttl: float = ACCESS_TOKEN_TTL,
        deliver_webhooks: bool = False,
        extra_orders: int = 0,
    ) -> None:
        if extra_orders:
            # The other twins grow their order lists for benchmarks; TradeGecko sends no
            # orders to Stockbridge (orders go *to* it), so there is nothing to grow.
            raise ValueError("the TradeGecko sandbox has no orders to import: no extra orders")
        super().__init__(port=port)
        if app_secret and client_secret and app_secret != client_secret:
            raise ValueError("webhooks are signed with the application secret: one secret")
        if window_seconds <= 0:
            raise ValueError("the rate-limit window must be positive")
        self.state = GeckoState(seed=seed)
        app = self.state.app
        app["client_id"] = client_id or app["client_id"]
        app["client_secret"] = client_secret or app_secret or app["client_secret"]
        self.auth = OAuthServer(
            app,
            self.state.privileged_token,
            redirect_uris=redirect_uris,
            access_token_ttl=access_token_ttl,
        )
        self.rate_limit = rate_limit
        self.window_seconds = float(window_seconds)
        self.deliver_webhooks = deliver_webhooks
        self.webhook_events: list[dict[str, Any]] = []
        self.webhook_deliveries: list[dict[str, Any]] = []
        self._counts: dict[tuple[int, int], int] = {}
        self._idempotent: dict[tuple[int, str], _Stored] = {}
        self._drops: list[_Drop] = []
        self._courier = WebhookCourier(
            "tradegecko-webhooks", self.lock, self.webhook_deliveries, timeout=10
        )
        self.state.listener = self._on_event
        self._add_routes()

    # ============================================================ Python API
    @property
    def token(self) -> str:
        """A privileged access token of the account (never expires)."""
        return self.state.privileged_token

    @property
    def client_id(self) -> str:
        return self.state.app["client_id"]

    @property
    def client_secret(self) -> str:
        return self.state.app["client_secret"]

    @property
    def app_secret(self) -> str:
        """The OAuth application secret: the key of webhook signatures."""
        return self.state.app["client_secret"]

    @property
    def authorize_decision(self) -> str:
        return self.auth.decision

    @authorize_decision.setter
    def authorize_decision(self, value: str) -> None:
        if value not in ("allow", "deny"):
            raise ValueError("the decision is allow or deny")
        self.auth.decision = value

    @property
    def variants(self) -> dict[int, dict[str, Any]]:
        return self.state.variants

    @property
    def orders(self) -> dict[int, dict[str, Any]]:
        return self.state.orders

    @property
    def order_line_items(self) -> dict[int, dict[str, Any]]:
        return self.state.order_line_items

    @property
    def fulfillments(self) -> dict[int, dict[str, Any]]:
        return self.state.fulfillments

    @property
    def fulfillment_returns(self) -> dict[int, dict[str, Any]]:
        return self.state.fulfillment_returns

    @property
    def companies(self) -> dict[int, dict[str, Any]]:
        return self.state.companies

    @property
    def addresses(self) -> dict[int, dict[str, Any]]:
        return self.state.addresses

    @property
    def locations(self) -> dict[int, dict[str, Any]]:
        return self.state.locations

    @property
    def creates_applied(self) -> int:
        """Sales orders actually created through the API (replays and refusals excluded)."""
        return self.state.creates_applied

    def stock_locations(self) -> list[int]:
        return self.state.stock_locations()

    def set_stock(self, variant_id: int, location_id: int, quantity: float) -> None:
        """The merchant counts stock in TradeGecko (touches the variant, fires the webhook)."""
        with self.lock:
            self.state.set_stock(variant_id, location_id, quantity)

    def stock(self, variant_id: int, location_id: int) -> tuple[float, float]:
        """``(stock on hand, committed)`` of a variant at a location."""
        with self.lock:
            return (
                self.state.on_hand.get((variant_id, location_id), 0.0),
                self.state.committed(variant_id, location_id),
            )

    def add_currency(self, iso: str, rate: float, symbol: str = "") -> dict[str, Any]:
        """The merchant enables another currency in TradeGecko (Settings → Currencies)."""
        with self.lock:
            record = self.state.add_currency(
                time.time(),
                iso=iso.upper(),
                name=iso.upper(),
                rate=f"{rate}",
                symbol=symbol or iso.upper(),
            )
            return dict(record)

    def variants_by_sku(self, sku: str) -> list[dict[str, Any]]:
        with self.lock:
            return [v for v in self.state.variants.values() if v["sku"] == sku]

    def present(self, plural: str, record_id_: int) -> dict[str, Any]:
        """A record exactly as ``GET /<plural>/<id>`` shows it (a copy)."""
        resource = RESOURCES[plural]
        with self.lock:
            record = resource.table(self.state).get(record_id_)
            if record is None:
                raise KeyError(f"no {resource.root} {record_id_}")
            return copy.deepcopy(resource.view(self.state, record))

    def drop_next_create(self, path: str = "/orders", *, stall: float = 0.0) -> None:
        """Apply the next successful ``POST <path>`` but lose its answer.

        With ``stall`` 0 the connection closes without a response; otherwise the answer
        is held back ``stall`` seconds (past the client's timeout) — either way the
        server did the work and the client does not know it.
        """
        with self.lock:
            self._drops.append(_Drop(_normalise(path), float(stall)))

    def receive_return(self, return_id: int) -> None:
        """The merchant marks returned goods received in TradeGecko (stock comes back)."""
        with self.lock:
            self.state.update_return(return_id, {"status": "received"})

    def expire_access_tokens(self) -> None:
        with self.lock:
            self.auth.expire_access_tokens()

    def issue_privileged_token(self) -> str:
        with self.lock:
            return self.auth.issue_privileged()

    def revoke_token(self, token: str) -> None:
        with self.lock:
            self.auth.revoke(token)

    # ============================================================ webhooks out
    def _on_event(self, event: str, object_id: int, plural: str) -> None:
        """Record (and with ``deliver_webhooks`` queue) one signed delivery per event."""
        body = json.dumps(
            {
                "object_id": object_id,
                "event": event,
                "timestamp": int(time.time()),
                "resource_url": f"{self.base_url or 'http://127.0.0.1'}/{plural}/{object_id}.json",
            },
            separators=(",", ":"),
        ).encode("utf-8")
        signature = sign(body, self.app_secret)
        addresses = self.state.subscribers(event)
        delivery = str(uuid.uuid4())
        self.webhook_events.append(
            {
                "event": event,
                "object_id": object_id,
                "body": body,
                "signature": signature,
                "delivery_id": delivery,
                "addresses": addresses,
            }
        )
        if self.deliver_webhooks:
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: signature,
                DELIVERY_HEADER: delivery,
            }
            for address in addresses:
                self._courier.send(address, body, headers, {"address": address})

    def start(self) -> str:
        base_url = super().start()
        if self.deliver_webhooks:
            self._courier.start()
        return base_url

    def stop(self) -> None:
        self._courier.stop()
        super().stop()

    # ============================================================ HTTP plumbing
    def _dispatch(self, request: Request) -> Any:
        """Normalise the path, run the base dispatch, then lose the answer if asked.

        The base's wire answer is passed through untouched (its type belongs to
        :mod:`app.channels.sandbox_http`); a dropped answer raises, which makes the
        handler close the connection without a response.
        """
        request.path = _normalise(request.path)
        answer = super()._dispatch(request)
        drop: _Drop | None = request.context.get("drop")
        if drop is not None:
            if drop.stall <= 0:
                raise ResponseDropped(f"answer to {request.method} {request.path} dropped")
            time.sleep(drop.stall)  # outside the lock: other requests go on meanwhile
        return answer

    def _hit(self, app_id: int) -> tuple[bool, int, int]:
        """Count one request in the app's fixed window: (allowed, remaining, reset epoch)."""
        now = time.time()
        window = math.floor(now / self.window_seconds)
        reset = math.ceil((window + 1) * self.window_seconds)
        if self.rate_limit <= 0:
            return True, 0, reset
        for key in [k for k in self._counts if k[1] < window]:
            del self._counts[key]
        used = self._counts.get((app_id, window), 0)
        if used >= self.rate_limit:
            return False, 0, reset
        self._counts[(app_id, window)] = used + 1
        return True, self.rate_limit - used - 1, reset

    def before_request(self, request: Request) -> Response | None:
        if request.route is not None and request.route.meta.get("public"):
            if "application/x-www-form-urlencoded" in (request.header("content-type") or ""):
                # The base parses every body as JSON before the handler; the token
                # endpoint also takes the oauth2 gem's form encoding, read by its handler.
                request._json, request._json_parsed = None, True
            return None
        auth = request.header("authorization") or ""
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        info = self.auth.authenticate(token)
        if not isinstance(info, TokenInfo):
            return Response(
                401,
                error_body(401, info),
                {
                    "WWW-Authenticate": f'Bearer realm="TradeGecko", error="invalid_token", error_description="{info}"'
                },
            )
        request.context["app_id"] = info.app_id
        allowed, remaining, reset = self._hit(info.app_id)
        request.context["rate"] = (remaining, reset)
        if not allowed:
            return Response(
                429, error_body(429, "Rate limit exceeded: 300 requests per 300 seconds")
            )
        key = request.header("idempotency-key")
        if key and request.method in ("POST", "PUT"):
            stored = self._idempotent.get((info.app_id, key))
            if stored is not None and stored.expires_at > time.time():
                if (stored.method, stored.path) != (request.method, request.path):
                    return Response(
                        422,
                        {
                            "errors": {
                                "idempotency_key": ["has already been used for another request"]
                            }
                        },
                    )
                request.context["replayed"] = True
                return Response(stored.status, copy.deepcopy(stored.body), dict(stored.headers))
            request.context["idempotency_key"] = key
        return None

    def after_request(self, request: Request, response: Response) -> None:
        headers = response.headers
        headers.setdefault("X-Request-Id", str(uuid.uuid4()))
        headers.setdefault("X-Runtime", "0.012")
        headers.setdefault(
            "Cache-Control",
            "no-cache" if response.status == 422 else "max-age=0, private, must-revalidate",
        )
        if isinstance(response.body, dict | list):
            headers["Content-Type"] = "application/json; charset=utf-8"
        rate = request.context.get("rate")
        if rate is not None:
            remaining, reset = rate
            headers["X-Rate-Limit-Limit"] = str(self.rate_limit)
            headers["X-Rate-Limit-Remaining"] = str(remaining)
            headers["X-Rate-Limit-Reset"] = str(reset)
        ok = 200 <= response.status < 300
        key = request.context.get("idempotency_key")
        if key and ok:
            self._idempotent[(request.context["app_id"], key)] = _Stored(
                request.method,
                request.path,
                response.status,
                copy.deepcopy(response.body),
                {k: v for k, v in headers.items() if k == "Location"},
                time.time() + IDEMPOTENCY_TTL,
            )
        if ok and request.method == "POST" and not request.context.get("replayed"):
            drop = next((d for d in self._drops if d.path == request.path), None)
            if drop is not None:
                self._drops.remove(drop)
                request.context["drop"] = drop

    @staticmethod
    def _no_route(request: Request, path_known: bool) -> Response:
        return Response(404, error_body(404, f"No route matches [{request.method}] {request.path}"))

    # ============================================================ routes
    def _add_routes(self) -> None:
        route = self.add_route
        route("GET", r"/oauth/authorize", lambda r: self.auth.authorize(r), public=True)
        route("POST", r"/oauth/token", lambda r: self.auth.token(r), public=True)
        route("GET", r"/accounts/current", lambda _r: {"account": self.state.account})
        route("GET", r"/users/current", lambda _r: {"user": self.state.user})
        for plural in RESOURCES:
            route("GET", rf"/{plural}", self._guard(self._index, plural))
            route("GET", rf"/{plural}/{_ID}", self._guard(self._show, plural))
        creates = {
            "orders": lambda body, r: self.state.create_order(
                body, source_id=str(r.context["app_id"])
            ),
            "companies": lambda body, _r: self.state.create_company(body),
            "addresses": lambda body, _r: self.state.create_address(body),
            "fulfillments": lambda body, _r: self.state.create_fulfillment(body),
            "fulfillment_returns": lambda body, _r: self.state.create_return(body),
            "webhooks": lambda body, r: self.state.add_webhook(body, r.context["app_id"]),
        }
        for plural, create in creates.items():
            route("POST", rf"/{plural}", self._guard(self._create, plural, create))
        updates = {
            "orders": self.state.update_order,
            "fulfillments": self.state.update_fulfillment,
            "fulfillment_returns": self.state.update_return,
            "addresses": self.state.update_address,
        }
        for plural, update in updates.items():
            route("PUT", rf"/{plural}/{_ID}", self._guard(self._update, plural, update))
        route(
            "POST",
            rf"/orders/{_ID}/actions/(?P<action>invoice|pay|pack|fulfil|fulfill|void)",
            self._guard(self._action),
        )
        route("DELETE", rf"/fulfillments/{_ID}", self._guard(self._delete_fulfillment))
        route("DELETE", rf"/webhooks/{_ID}", self._guard(self._delete_webhook))
        # Control routes: no auth, no faults, not logged.
        route("POST", r"/_sandbox/stock", self._c_stock)
        route("POST", r"/_sandbox/drop-next-create", self._c_drop)
        route(
            "POST",
            r"/_sandbox/tokens/expire",
            lambda _r: (self.auth.expire_access_tokens(), {"ok": True})[1],
        )
        route("GET", r"/_sandbox/webhook-events", self._c_events)
        route("GET", r"/_sandbox/summary", self._c_summary)

    @staticmethod
    def _guard(handler: Callable[..., Response], *args: Any) -> Callable[[Request], Response]:
        """Answer the state's refusals as TradeGecko does (422 / 404 / 400)."""

        def run(request: Request) -> Response:
            try:
                return handler(request, *args)
            except Invalid as exc:
                return Response(422, {"errors": exc.errors})
            except Missing as exc:
                return Response(404, error_body(404, str(exc)))
            except BadRequest as exc:
                return Response(400, error_body(400, str(exc)))

        return run

    def _index(self, request: Request, plural: str) -> Response:
        return resources.index(self.state, plural, request, self.base_url)

    def _show(self, request: Request, plural: str) -> Response:
        return resources.show(self.state, plural, request)

    def _root(self, request: Request, root: str) -> dict[str, Any]:
        body = request.json
        record = body.get(root) if isinstance(body, dict) else None
        if not isinstance(record, dict):
            raise BadRequest(f"param is missing or the value is empty: {root}")
        return record

    def _create(
        self, request: Request, plural: str, create: Callable[[dict, Request], dict]
    ) -> Response:
        resource = RESOURCES[plural]
        record = create(self._root(request, resource.root), request)
        location = f"{self.base_url}/{plural}/{record['id']}"
        return Response(
            201, {resource.root: resource.view(self.state, record)}, {"Location": location}
        )

    def _update(
        self, request: Request, plural: str, update: Callable[[Any, Any], dict]
    ) -> Response:
        resource = RESOURCES[plural]
        record = update(int(request.params["id"]), self._root(request, resource.root))
        if plural == "addresses":  # addresses answer 200 with the record since 2020-08
            return Response(200, {"address": views.address(self.state, record)})
        return Response(204, None)

    def _action(self, request: Request) -> Response:
        body = request.json if isinstance(request.json, dict) else {}
        order = self.state.act(int(request.params["id"]), request.params["action"], body)
        return Response(200, {"order": views.order(self.state, order)})

    def _delete_fulfillment(self, request: Request) -> Response:
        fulfillment = self.state.fulfillments.get(int(request.params["id"]))
        if fulfillment is None or fulfillment["status"] == "deleted":
            raise Missing(f"Couldn't find Fulfillment with 'id'={request.params['id']}")
        order = self.state.orders[fulfillment["order_id"]]
        before = self.state.levels(
            {i["variant_id"] for i in self.state.items_of(fulfillment["id"]) if i["variant_id"]}
        )
        delete_fulfillment(self.state, fulfillment)
        self.state._touch(order)
        self.state._stock_changed(before)
        return Response(204, None)

    def _delete_webhook(self, request: Request) -> Response:
        self.state.delete_webhook(int(request.params["id"]))
        return Response(204, None)

    # ============================================================ control
    def _c_stock(self, request: Request) -> dict[str, Any]:
        body = request.json if isinstance(request.json, dict) else {}
        variant_id, location_id = (
            record_id(body.get("variant_id")),
            record_id(body.get("location_id")),
        )
        quantity = body.get("quantity")
        if variant_id is None or location_id is None or not isinstance(quantity, int | float):
            raise ValueError("send variant_id, location_id and a numeric quantity")
        try:
            self.state.set_stock(variant_id, location_id, float(quantity))
        except Missing as exc:
            raise KeyError(str(exc)) from None
        on_hand, committed = self.stock(variant_id, location_id)
        return {"stock_on_hand": on_hand, "committed": committed}

    def _c_drop(self, request: Request) -> dict[str, Any]:
        body = request.json if isinstance(request.json, dict) else {}
        self.drop_next_create(
            str(body.get("path") or "/orders"), stall=float(body.get("stall") or 0)
        )
        return {"ok": True}

    def _c_events(self, _request: Request) -> dict[str, Any]:
        return {
            "events": [
                {**{k: v for k, v in event.items() if k != "body"}, "body": event["body"].decode()}
                for event in self.webhook_events
            ]
        }

    def _c_summary(self, _request: Request) -> dict[str, Any]:
        statuses: dict[str, int] = {}
        for order in self.state.orders.values():
            statuses[order["status"]] = statuses.get(order["status"], 0) + 1
        return {
            "account": self.state.account["name"],
            "variants": len(self.state.variants),
            "locations": self.state.stock_locations(),
            "orders": statuses,
            "creates_applied": self.state.creates_applied,
            "webhooks": len(self.state.webhooks),
        }


__all__ = ["RESOURCES", "ResponseDropped", "TradeGeckoSandbox", "error_body"]
