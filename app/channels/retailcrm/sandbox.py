"""The RetailCRM "sandbox twin": a loopback server behaving like RetailCRM's API v5 for
the warehouse-system integration (platforms/retailcrm.md §10 is its checklist).

* Paths live under ``/api/v5`` (``start()`` returns that prefix); ``/api/credentials``
  and ``/api/api-versions`` sit beside it, as on the real host.
* Auth: ``X-API-KEY`` in any case, ``apiKey`` in the query or in the body. A wrong key
  is 403 ``Wrong "apiKey" value.``, a missing one 403 ``"apiKey" is missing.``.
* Queries are parsed PHP-style with nesting: ``filter[sites][]``, ``filter[sites][0]``
  and a repeated ``filter[x]`` are the same list; ``filter=None`` (the official Python
  client's default) means no filter; booleans may be 1/0, true/false or True/False.
* Bodies: urlencoded or multipart forms; ``offers``, ``order`` and
  ``integrationModule`` are JSON strings (spaced or compact, ``\\uXXXX`` or UTF-8);
  stray ``filter``/``limit``/``page`` fields are ignored.
* Answers: ``{"success": …}`` JSON, ``application/json; charset=UTF-8``, ``Server:
  nginx``; lists carry ``pagination`` and accept ``limit`` 20, 50 or 100.
* Limits: 10 requests per second per IP, answered ``503 Service Temporarily
  Unavailable`` (an nginx HTML page by default, JSON on request); at most 250 offers
  per upload. Refused requests are listed in :attr:`RetailCrmSandbox.breaches`.

Business rules and the sandbox's choices where the docs are silent are in
:mod:`app.channels.retailcrm.state`; the data in :mod:`app.channels.retailcrm.seed`.
"""

from __future__ import annotations

import copy
import json
import math
import re
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from app.channels.retailcrm.callback import parse_form
from app.channels.retailcrm.state import INPUT_ERROR, RetailCrmState, RuleError
from app.channels.sandbox_http import (
    HTTPError,
    RateLimiter,
    Request,
    Response,
    SandboxHTTPServer,
    _RequestHandler,
)

API = "/api/v5"
PAGE_LIMITS = (20, 50, 100)
RAW_QUERY_HEADER = "x-sandbox-raw-query"  # how the raw query reaches the hooks
JSON_TYPE = "application/json; charset=UTF-8"
NGINX_503 = (
    "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    "<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_TRUE = frozenset({"1", "true", "True", "TRUE", "yes"})
_FALSE = frozenset({"0", "false", "False", "FALSE", "no", ""})
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_NAME = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def envelope_error(status: int, message: str, errors: Any = None) -> HTTPError:
    body: dict[str, Any] = {"success": False, "errorMsg": message}
    if errors:
        body["errors"] = errors
    return HTTPError(status, body)


def parse_php_query(raw: str) -> dict[str, Any]:
    """A query string as PHP reads it, nested brackets included.

    ``a[b][]=1&a[b][]=2``, ``a[b][0]=1&a[b][1]=2`` and ``a[b]=1&a[b]=2`` all give
    ``{"a": {"b": ["1", "2"]}}`` (the last one is the checklist's tolerance, not PHP).
    """
    result: dict[str, Any] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        match = _NAME.match(key)
        if match is None:
            result[key] = value
            continue
        _put(result, match.group(1), _SEGMENT.findall(match.group(2)), value)
    return result


def _put(container: dict[str, Any], name: str, segments: list[str], value: str) -> None:
    current = container.get(name)
    if not segments:
        if isinstance(current, list):
            current.append(value)
        elif isinstance(current, str):
            container[name] = [current, value]
        else:
            container[name] = value
        return
    head, rest = segments[0], segments[1:]
    if (head == "" or head.isdigit()) and not rest:
        if not isinstance(current, list):
            current = [] if current is None or isinstance(current, dict) else [current]
            container[name] = current
        current.append(value)
        return
    if not isinstance(current, dict):
        current = {}
        container[name] = current
    _put(current, head, rest, value)


def flag(value: Any) -> bool | None:
    """A boolean filter value in any form clients send; None when absent."""
    if value is None:
        return None
    text = value[-1] if isinstance(value, list) and value else value
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise envelope_error(400, INPUT_ERROR, {"filter": f"{text!r} is not a boolean"})


def listing(value: Any) -> list[str]:
    """A filter that may be a list, a scalar or absent, as a list of strings."""
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


class _Handler(_RequestHandler):
    """The base handler, plus the raw query string (nested PHP arrays need it)."""

    server_version = "nginx"  # the Server header RetailCRM's answers carry

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        del self.headers[RAW_QUERY_HEADER]  # never trust a client-sent copy
        self.headers[RAW_QUERY_HEADER] = urlsplit(self.path).query
        return True


class RetailCrmSandbox(SandboxHTTPServer):
    """One RetailCRM account on 127.0.0.1 with the warehouse-system API."""

    def __init__(
        self,
        *,
        seed: int = 1,
        port: int = 0,
        rate_per_second: int = 10,
        extra_offers: int = 0,
        extra_orders: int = 0,
        rate_limit_body: str = "html",
    ) -> None:
        super().__init__(port=port)
        if rate_limit_body not in ("html", "json"):
            raise ValueError("rate_limit_body is 'html' or 'json'")
        self.state = RetailCrmState(seed=seed, extra_offers=extra_offers, extra_orders=extra_orders)
        self.rate_per_second = rate_per_second
        self.rate_limit_body = rate_limit_body
        self.breaches: list[dict[str, Any]] = []
        self._limiter = RateLimiter(rate_per_second, 1.0)
        self._add_routes()

    # ============================================================ Python API
    @property
    def token(self) -> str:
        return self.state.key

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:port``: what the official clients take as the CRM URL."""
        return self.base_url[: -len(API)] if self.base_url.endswith(API) else self.base_url

    @property
    def offers(self) -> dict[int, dict[str, Any]]:
        """Offers by id (live dicts, ``productId`` included)."""
        return self.state.offers

    @property
    def inventories(self) -> dict[int, dict[str, dict[str, Any]]]:
        """``{offer id: {store code: {"available", "purchasePrice"}}}`` (live)."""
        return self.state.inventories

    @property
    def orders(self) -> dict[int, dict[str, Any]]:
        return self.state.orders

    @property
    def history(self) -> list[dict[str, Any]]:
        return self.state.history

    @property
    def stores(self) -> list[dict[str, Any]]:
        return self.state.stores

    @property
    def module(self) -> dict[str, Any] | None:
        """The registered module (``stockbridge`` first, else any), None before registration."""
        modules = self.state.modules
        return modules.get("stockbridge") or next(iter(modules.values()), None)

    @property
    def upload_requests(self) -> list[int]:
        """Offers per accepted ``inventories/upload`` request, in order."""
        return self.state.upload_sizes

    @property
    def warnings(self) -> list[str]:
        return self.state.warnings

    def offer_by_article(self, article: str) -> dict[str, Any]:
        with self.lock:
            for offer in self.state.offers.values():
                if offer["article"] == article:
                    return offer
        raise KeyError(f"no offer with article {article!r}")

    def stock(self, offer_id: int, store: str) -> tuple[float, float | None]:
        """``(available, purchasePrice)`` of an offer in a store."""
        with self.lock:
            level = self.state.inventories.get(offer_id, {}).get(store)
            return (0, None) if level is None else (level["available"], level["purchasePrice"])

    def create_order(
        self,
        items: list[tuple[int, float]],
        *,
        status: str = "new",
        customer_id: int | None = None,
        external_id: str | None = None,
        paid: bool = False,
    ) -> dict[str, Any]:
        """Play a shop or a manager: a new order of ``[(offer id, quantity)]`` (a copy)."""
        with self.lock:
            return copy.deepcopy(
                self.state.create_order(
                    items, status=status, customer_id=customer_id,
                    external_id=external_id, paid=paid,
                )
            )  # fmt: skip

    def set_order_status(self, order_id: int, status: str) -> dict[str, Any]:
        """Play a manager moving an order to another status (history records it)."""
        with self.lock:
            order = self.state.orders[order_id]
            try:
                self.state.edit_order(order, {"status": status}, source="user")
            except RuleError as exc:
                raise ValueError(f"{exc.message}: {exc.errors}") from None
            return copy.deepcopy(order)

    def fire_inventories_upload(
        self, offers: list[dict[str, Any]], *, code: str = "stockbridge", timeout: float = 10.0
    ) -> tuple[int, Any]:
        """Play RetailCRM calling the module's ``inventoriesUpload`` callback.

        As the convention for module callbacks goes (platforms/retailcrm.md §9.2–§9.3):
        a form POST to ``baseUrl + url`` with ``clientId`` and the offers as JSON in
        ``offers`` (that field's name is the documented assumption). Returns the
        module's status and JSON answer.
        """
        import httpx

        with self.lock:
            module = copy.deepcopy(self.state.modules.get(code))
        if not module:
            raise ValueError(f"no module {code!r} is registered")
        actions = ((module.get("integrations") or {}).get("store") or {}).get("actions") or []
        action = next((a for a in actions if a.get("code") == "inventoriesUpload"), None)
        if action is None:
            raise ValueError(f"module {code!r} has no inventoriesUpload callback")
        url = module["baseUrl"].rstrip("/") + action["url"]
        answer = httpx.post(
            url,
            data={"clientId": module["clientId"], "offers": json.dumps(offers)},
            timeout=timeout,
        )
        try:
            body = answer.json()
        except ValueError:
            body = answer.text
        return answer.status_code, body

    # ============================================================ HTTP plumbing
    def start(self) -> str:
        root = super().start()
        if self._httpd is not None:
            # Before any client can know the port: later connections get the handler
            # that keeps the raw query string.
            self._httpd.RequestHandlerClass = _Handler
        self.base_url = root + API if not root.endswith(API) else root
        return self.base_url

    def before_request(self, request: Request) -> Response | None:
        allowed, _remaining, retry = self._limiter.hit(request.client_ip)
        if not allowed:
            self.breaches.append({"time": time.time(), "path": request.path, "ip": request.client_ip})  # fmt: skip
            headers = {"Retry-After": str(max(1, math.ceil(retry)))}
            if self.rate_limit_body == "json":
                body: Any = {"success": False, "errorMsg": "Service Temporarily Unavailable"}
                headers["Content-Type"] = JSON_TYPE
            else:
                body, headers["Content-Type"] = NGINX_503, "text/html"
            raise HTTPError(503, body, headers)
        # The base's query parse keeps one bracket level; RetailCRM filters nest.
        request.query = parse_php_query(request.header(RAW_QUERY_HEADER) or "")
        form = parse_form(request.header("content-type") or "", request.raw_body)
        request.context["form"] = form
        # The base parses every body as JSON before the handler; RetailCRM bodies are
        # forms, so the parsed form stands in for it.
        request._json, request._json_parsed = form, True
        in_query = listing(request.query.get("apiKey"))
        key = (
            request.header("x-api-key") or (in_query[-1] if in_query else "") or form.get("apiKey")
        )
        if not key:
            raise envelope_error(403, '"apiKey" is missing.')
        if key != self.state.key:
            raise envelope_error(403, 'Wrong "apiKey" value.')
        return None

    def after_request(self, request: Request, response: Response) -> None:
        response.headers.setdefault("Content-Type", JSON_TYPE)

    def _log(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Requests answered before the hooks ran (queued faults) still get the nested
        # query; every entry gets the form fields, since RetailCRM bodies are not JSON.
        if RAW_QUERY_HEADER in request.headers and "form" not in request.context:
            request.query = parse_php_query(request.header(RAW_QUERY_HEADER) or "")
        super()._log(request, *args, **kwargs)
        form = request.context.get("form")
        if form is None:
            form = parse_form(request.header("content-type") or "", request.raw_body)
        self.request_log[-1]["form"] = form

    @staticmethod
    def _no_route(request: Request, path_known: bool) -> Response:
        headers = {"Content-Type": JSON_TYPE}
        if path_known:
            return Response(405, {"success": False, "errorMsg": "Method Not Allowed"}, headers)
        return Response(404, {"success": False, "errorMsg": "API method not found"}, headers)

    def _add_routes(self) -> None:
        route = self.add_route
        route("GET", r"/api/api-versions", lambda _r: {"success": True, "versions": ["3.0", "4.0", "5.0"]})  # fmt: skip
        route("GET", r"/api/credentials", self._h_credentials)
        route("GET", rf"{API}/reference/sites", lambda _r: {"success": True, "sites": self.state.sites})  # fmt: skip
        route("GET", rf"{API}/reference/stores", lambda _r: {"success": True, "stores": self.state.stores})  # fmt: skip
        route("GET", rf"{API}/reference/statuses", lambda _r: {"success": True, "statuses": self.state.statuses})  # fmt: skip
        route("GET", rf"{API}/store/products", self._h_products)
        route("GET", rf"{API}/store/product-groups", self._h_product_groups)
        route("GET", rf"{API}/store/inventories", self._h_inventories)
        route("POST", rf"{API}/store/inventories/upload", self._h_upload)
        route("GET", rf"{API}/integration-modules/(?P<code>[^/]+)", self._h_module)
        route("POST", rf"{API}/integration-modules/(?P<code>[^/]+)/edit", self._h_module_edit)
        route("GET", rf"{API}/orders", self._h_orders)
        route("GET", rf"{API}/orders/history", self._h_history)
        route("GET", rf"{API}/orders/statuses", self._h_order_statuses)
        route("GET", rf"{API}/orders/(?P<uid>[^/]+)", self._h_order)
        route("POST", rf"{API}/orders/(?P<uid>[^/]+)/edit", self._h_order_edit)
        # Control routes (the harness): no auth, no limits, not logged.
        route("POST", r"/_sandbox/orders", self._c_create_order)
        route("POST", r"/_sandbox/orders/(?P<id>\d+)/status", self._c_status)
        route("GET", r"/_sandbox/summary", self._c_summary)

    # ============================================================ helpers
    @staticmethod
    def _filters(request: Request) -> dict[str, Any]:
        value = request.query.get("filter")
        return value if isinstance(value, dict) else {}  # "filter=None" is no filter

    def _page(self, request: Request, rows: list[Any]) -> tuple[list[Any], dict[str, int]]:
        query = request.query
        limit, page = _int(query.get("limit"), 20, "limit"), _int(query.get("page"), 1, "page")
        if limit not in PAGE_LIMITS:
            raise envelope_error(400, INPUT_ERROR, {"limit": "The value you selected is not a valid choice."})  # fmt: skip
        if page < 1:
            raise envelope_error(400, INPUT_ERROR, {"page": "This value should be 1 or more."})
        start = (page - 1) * limit
        pagination = {
            "limit": limit,
            "totalCount": len(rows),
            "currentPage": page,
            "totalPageCount": math.ceil(len(rows) / limit),
        }
        return rows[start : start + limit], pagination

    @staticmethod
    def _json_field(request: Request, name: str) -> Any:
        raw = request.context["form"].get(name)
        if raw is None:
            raise envelope_error(400, f"Parameter '{name}' is missing")
        try:
            return json.loads(raw)
        except ValueError:
            raise envelope_error(
                400, INPUT_ERROR, {name: "This value is not valid JSON."}
            ) from None

    @staticmethod
    def _rules(action: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return action(*args, **kwargs)
        except RuleError as exc:
            raise envelope_error(exc.status, exc.message, exc.errors) from None

    # ============================================================ API handlers
    def _h_credentials(self, _request: Request) -> dict[str, Any]:
        return {
            "success": True,
            "scopes": ["order_read", "order_write", "store_read", "store_write",
                       "reference_read", "integration_read", "integration_write"],
            "siteAccess": "access_full",
            "sitesAvailable": list(self.state.sites),
        }  # fmt: skip

    def _h_products(self, request: Request) -> dict[str, Any]:
        f = self._filters(request)
        ids, offer_ids = set(listing(f.get("ids"))), set(listing(f.get("offerIds")))
        sites, active = set(listing(f.get("sites"))), flag(f.get("active"))
        offer_external, offer_xml = listing(f.get("offerExternalId")), listing(f.get("offerXmlId"))
        rows = []
        for product in sorted(self.state.products.values(), key=lambda p: p["id"]):
            offers = [self.state.offers[i] for i in product["offerIds"]]
            if ids and str(product["id"]) not in ids:
                continue
            if offer_ids and not offer_ids & {str(o["id"]) for o in offers}:
                continue
            if sites and not sites & {o["site"] for o in offers}:
                continue
            if active is not None and product["active"] is not active:
                continue
            if offer_external and not set(offer_external) & {o["externalId"] for o in offers}:
                continue
            if offer_xml and not set(offer_xml) & {o["xmlId"] for o in offers}:
                continue
            rows.append(product)
        page, pagination = self._page(request, rows)
        products = [self.state.product_payload(p) for p in page]
        return {"success": True, "pagination": pagination, "products": products}

    def _h_product_groups(self, request: Request) -> dict[str, Any]:
        f = self._filters(request)
        ids, active = set(listing(f.get("ids"))), flag(f.get("active"))
        rows = [
            g for g in sorted(self.state.groups.values(), key=lambda g: g["id"])
            if (not ids or str(g["id"]) in ids) and active in (None, g["active"])
        ]  # fmt: skip
        page, pagination = self._page(request, rows)
        return {"success": True, "pagination": pagination, "productGroup": page}

    def _h_inventories(self, request: Request) -> dict[str, Any]:
        f = self._filters(request)
        ids, sites = set(listing(f.get("ids"))), set(listing(f.get("sites")))
        externals, xmls = set(listing(f.get("offerExternalId"))), set(listing(f.get("offerXmlId")))
        articles = set(listing(f.get("offerArticle")))
        offer_active, details = flag(f.get("offerActive")), flag(f.get("details"))
        rows = []
        for offer_id in sorted(self.state.offers):
            offer = self.state.offers[offer_id]
            if (
                (ids and str(offer_id) not in ids)
                or (sites and offer["site"] not in sites)
                or (externals and offer["externalId"] not in externals)
                or (xmls and offer["xmlId"] not in xmls)
                or (articles and offer["article"] not in articles)
                or (offer_active is not None and offer["active"] is not offer_active)
            ):
                continue
            rows.append(offer_id)
        page, pagination = self._page(request, rows)
        offers = [self.state.inventory_payload(i, bool(details)) for i in page]
        return {"success": True, "pagination": pagination, "offers": offers}

    def _h_upload(self, request: Request) -> dict[str, Any]:
        offers = self._json_field(request, "offers")
        site = request.context["form"].get("site") or None
        processed, missing = self._rules(self.state.upload, offers, site)
        return {"success": True, "processedOffersCount": processed, "notFoundOffers": missing}

    def _h_module(self, request: Request) -> dict[str, Any]:
        module = self.state.module_payload(request.params["code"])
        if module is None:
            raise envelope_error(404, "Not found")
        return {"success": True, "integrationModule": module}

    def _h_module_edit(self, request: Request) -> Response:
        module = self._json_field(request, "integrationModule")
        created = self._rules(self.state.edit_module, request.params["code"], module)
        return Response(201 if created else 200, {"success": True, "info": []})

    def _order_filters(self, request: Request) -> list[dict[str, Any]]:
        f = self._filters(request)
        ids, externals = set(listing(f.get("ids"))), set(listing(f.get("externalIds")))
        numbers, sites = set(listing(f.get("numbers"))), set(listing(f.get("sites")))
        extended, stores = set(listing(f.get("extendedStatus"))), set(listing(f.get("shipmentStores")))  # fmt: skip
        shipped = flag(f.get("shipped"))
        created_from, created_to = f.get("createdAtFrom"), f.get("createdAtTo")
        rows = []
        for order in sorted(self.state.orders.values(), key=lambda o: o["id"], reverse=True):
            group = self.state.statuses[order["status"]]["group"]
            if (
                (ids and str(order["id"]) not in ids)
                or (externals and order.get("externalId") not in externals)
                or (numbers and order["number"] not in numbers)
                or (sites and order["site"] not in sites)
                or (extended and not extended & {order["status"], group})
                or (stores and order.get("shipmentStore") not in stores)
                or (shipped is not None and order["shipped"] is not shipped)
                or (isinstance(created_from, str) and order["createdAt"][:10] < created_from[:10])
                or (isinstance(created_to, str) and order["createdAt"][:10] > created_to[:10])
            ):
                continue
            rows.append(order)
        return rows

    def _h_orders(self, request: Request) -> dict[str, Any]:
        page, pagination = self._page(request, self._order_filters(request))
        return {"success": True, "pagination": pagination, "orders": page}

    def _h_history(self, request: Request) -> dict[str, Any]:
        f = self._filters(request)
        since = _int(f.get("sinceId"), 0, "filter[sinceId]")
        start, end = f.get("startDate"), f.get("endDate")
        order_id, order_external = f.get("orderId"), f.get("orderExternalId")
        rows = [
            entry for entry in self.state.history
            if entry["id"] > since
            and (not isinstance(start, str) or entry["createdAt"] >= start)
            and (not isinstance(end, str) or entry["createdAt"] <= end)
            and (order_id is None or str(entry["order"]["id"]) == str(order_id))
            and (order_external is None or entry["order"].get("externalId") == order_external)
        ]  # fmt: skip
        page, pagination = self._page(request, rows)
        return {
            "success": True,
            "generatedAt": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
            "history": page,
            "pagination": pagination,
        }

    def _h_order_statuses(self, request: Request) -> dict[str, Any]:
        query = request.query
        ids, externals = set(listing(query.get("ids"))), set(listing(query.get("externalIds")))
        if not ids and not externals:
            raise envelope_error(400, "Parameter 'ids' or 'externalIds' is missing")
        rows = [
            {"id": o["id"], "externalId": o.get("externalId"), "status": o["status"],
             "group": self.state.statuses[o["status"]]["group"]}
            for o in sorted(self.state.orders.values(), key=lambda o: o["id"])
            if str(o["id"]) in ids or o.get("externalId") in externals
        ]  # fmt: skip
        return {"success": True, "orders": rows}

    def _lookup(self, request: Request, source: dict[str, Any]) -> dict[str, Any]:
        by = source.get("by") or "externalId"
        if by not in ("externalId", "id"):
            raise envelope_error(400, INPUT_ERROR, {"by": "The value you selected is not a valid choice."})  # fmt: skip
        site = source.get("site") or None
        return self._rules(self.state.find_order, request.params["uid"], by, site)

    def _h_order(self, request: Request) -> dict[str, Any]:
        return {"success": True, "order": self._lookup(request, request.query)}

    def _h_order_edit(self, request: Request) -> dict[str, Any]:
        order = self._lookup(request, request.context["form"])
        changes = self._json_field(request, "order")
        self._rules(self.state.edit_order, order, changes)
        return {"success": True, "id": order["id"], "order": order}

    # ============================================================ control handlers
    def _c_create_order(self, request: Request) -> Response:
        body = request.json if isinstance(request.json, dict) else {}
        items = [(int(i["offer_id"]), float(i.get("quantity", 1))) for i in body.get("items", [])]
        order = self.create_order(
            items,
            status=str(body.get("status") or "new"),
            external_id=body.get("external_id"),
            paid=bool(body.get("paid")),
        )
        return Response(201, {"success": True, "order": order})

    def _c_status(self, request: Request) -> dict[str, Any]:
        order_id = int(request.params["id"])
        if order_id not in self.state.orders:
            raise envelope_error(404, "Not found")
        body = request.json if isinstance(request.json, dict) else {}
        return {"success": True, "order": self.set_order_status(order_id, str(body.get("status")))}

    def _c_summary(self, _request: Request) -> dict[str, Any]:
        return {
            "offers": len(self.state.offers),
            "orders": len(self.state.orders),
            "history": len(self.state.history),
            "module": self.module is not None,
            "uploads": list(self.state.upload_sizes),
            "breaches": len(self.breaches),
        }


def _int(value: Any, default: int, name: str) -> int:
    if isinstance(value, list):
        value = value[-1] if value else None
    if value is None or value == "":
        return default
    if not str(value).strip().lstrip("-").isdigit():
        raise envelope_error(400, INPUT_ERROR, {name: "This value should be an integer."})
    return int(str(value).strip())


__all__ = ["RetailCrmSandbox", "parse_php_query"]
