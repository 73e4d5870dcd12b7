"""The Selldone "sandbox twin": a loopback HTTP server behaving like the backoffice API.

It follows the researched Selldone API reference (platforms/selldone.md). Where the public
sources are silent it takes the choices of the reference's §11:

* app-level errors are 4xx with ``{"error": true, "error_msg", "code"}``; 401 is
  ``{"message": "Unauthenticated."}``; a missing scope or another shop id is 403 with
  ``code`` 201 (``token_has_no_access``); validation errors are Laravel 422 bodies;
* the fulfilment sequence is enforced (``strict_states``): only the next state, a
  repeat answers ``changed: false``;
* ``delivery-returned`` goes from ``SentOrder`` back to ``PreparingOrder``;
* the order ``updated_at`` filter is Unix seconds, strictly greater;
* relations appear only when asked for with ``with[]``;
* default order sort is ``reserved_at`` DESC then ``id`` DESC;
* 80 requests / 60 s per token, 429 ``{"message": "Too Many Attempts."}`` + Retry-After;
* stock: product.quantity = Σ variant quantities; Payed/COD takes stock, reject or
  Canceled gives it back; negative quantities are refused.

The numeric ``code`` values other than 201 are not published; :data:`ERROR_CODES`
lists the sandbox's own.
"""

from __future__ import annotations

import calendar
import random
import string
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from app.channels.sandbox_http import (
    HTTPError,
    RateLimiter,
    Request,
    Response,
    SandboxHTTPServer,
    retry_after_seconds,
)
from app.channels.selldone.seed import (
    BASKET_STATUSES,
    DELIVERY_STATES,
    PAID_STATUSES,
    REJECT_REASONS,
    OrderIndex,
    ShopFactory,
    laravel_time,
)

SCOPE_SHOP_READ = "backoffice:shop:read"
SCOPE_ORDER_READ = "backoffice:order:read"
SCOPE_ORDER_WRITE = "backoffice:order:write"
SCOPE_PRODUCT_READ = "backoffice:product:read"
SCOPE_PRODUCT_WRITE = "backoffice:product:write"
SCOPE_CUSTOMER_READ = "backoffice:customer:read"
SCOPE_CUSTOMER_WRITE = "backoffice:customer:write"
# The ERP Bridge default link (erp/README) plus product:write (needed for stock) and
# customer:read; what issue_token() grants when no scopes are given.
DEFAULT_SCOPES = (
    "selldone:identification",
    SCOPE_SHOP_READ,
    SCOPE_ORDER_READ,
    SCOPE_ORDER_WRITE,
    SCOPE_PRODUCT_READ,
    SCOPE_PRODUCT_WRITE,
    "backoffice:category:read",
    SCOPE_CUSTOMER_READ,
)

ERROR_CODES = {
    "token_has_no_access": 201,  # the only code with public evidence (reference §9)
    "not_found_basket": 301,
    "not_found_product": 302,
    "not_found_variant": 303,
    "invalid_state_transition": 410,
    "order_not_payed": 411,
    "order_rejected": 412,
    "reject_not_allowed": 413,
    "not_sent": 414,
    "product_has_variants": 420,
}
ORDER_TYPES = ("PHYSICAL", "VIRTUAL", "FILE", "SERVICE", "SUBSCRIPTION", "AVO", "FUL", "POS", "HYP", "BILL")  # fmt: skip
PRODUCT_STATUSES = ("Open", "Close", "Pending", "Rejected")
ORDER_SORTS = ("id", "price", "status", "delivery_state", "country", "reserved_at", "created_at", "updated_at")  # fmt: skip
PRODUCT_SORTS = ("id", "title", "price", "quantity", "created_at", "updated_at")
CUSTOMER_SORTS = ("id", "name", "created_at", "updated_at", "purchase_at")
MAX_LIMIT = 250
_RELATIONS = frozenset({"items", "buyer", "customer"})  # stored on the basket, shown on request
_SHOP = r"/shops/(?P<shop_id>\d+)"
_BASKET = _SHOP + r"/process-center/baskets/(?P<basket_id>\d+)"
_PRODUCT_BRIEF = ("id", "shop_id", "type", "title", "sku", "mpn", "gtin", "price", "currency", "quantity", "status", "unit", "unit_float")  # fmt: skip
_VARIANT_BRIEF = ("id", "product_id", "sku", "mpn", "gtin", "color", "style", "volume", "pricing", "price", "quantity", "enable")  # fmt: skip


# ------------------------------------------------------------------ error helpers
def app_error(status: int, key: str, message: str) -> HTTPError:
    """Selldone's application error body."""
    return HTTPError(status, {"error": True, "error_msg": message, "code": ERROR_CODES[key]})


def invalid(field: str, message: str) -> HTTPError:
    """A Laravel validation failure (422) for one field."""
    return HTTPError(422, {"message": message, "errors": {field: [message]}})


def _attr(field: str) -> str:
    """Laravel's attribute wording: ``sortBy`` → ``sort by``, ``tracking_url`` → ``tracking url``."""
    words = "".join(f" {c.lower()}" if c.isupper() else c for c in field)
    return words.replace("_", " ").strip()


def _int_param(value: Any, field: str, default: int, lo: int, hi: int | None = None) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(str(value))
    except ValueError:
        raise invalid(field, f"The {_attr(field)} field must be an integer.") from None
    if number < lo:
        raise invalid(field, f"The {_attr(field)} field must be at least {lo}.")
    if hi is not None and number > hi:
        raise invalid(field, f"The {_attr(field)} field must not be greater than {hi}.")
    return number


def _bool_param(value: Any, default: bool) -> bool:
    """PHP's ``$request->boolean()``: true/1/on/yes are true, anything else false."""
    if value is None or value == "":
        return default
    return str(value).strip().lower() in ("1", "true", "on", "yes")


def _array_param(request: Request, field: str, allowed: Iterable[str] | None) -> list[str] | None:
    """A bracket array (``field[]=…``); a plain scalar is refused like Laravel's array rule."""
    value = request.query.get(field)
    if value is None:
        return None
    if not isinstance(value, list):
        raise invalid(field, f"The {_attr(field)} field must be an array.")
    if allowed is not None:
        allowed = tuple(allowed)
        for i, item in enumerate(value):
            if item not in allowed:
                raise invalid(f"{field}.{i}", f"The selected {field}.{i} is invalid.")
    return value


def _iso_to_ts(value: str) -> int:
    """Laravel ISO string → Unix seconds (UTC)."""
    return calendar.timegm(time.strptime(value[:19], "%Y-%m-%dT%H:%M:%S"))


def _parse_date(value: str, field: str) -> float:
    """ISO 8601 for the product filter. Bare digits are refused: seconds belong to orders."""
    text = value.strip()
    try:
        if not text or text.lstrip("-").isdigit():
            raise ValueError(text)
        parsed = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        raise invalid(field, f"The {_attr(field)} field must be a valid date.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _number(value: Any) -> float | None:
    """Laravel's ``numeric``: numbers and numeric strings, never booleans."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


class _OrderView(Mapping[int, dict]):
    """``sandbox.orders``: basket id → full basket (with items, buyer, customer).

    Generated benchmark orders are stored compactly; reading one here turns it into a
    regular stored dict (so the returned object is live and stays the same object).
    """

    def __init__(self, sandbox: SelldoneSandbox) -> None:
        self._sandbox = sandbox

    def __getitem__(self, basket_id: int) -> dict:
        with self._sandbox.lock:
            if basket_id not in self._sandbox._index:
                raise KeyError(basket_id)
            return self._sandbox._promote(basket_id)

    def __iter__(self) -> Iterator[int]:
        return iter(list(self._sandbox._index))

    def __len__(self) -> int:
        return len(self._sandbox._index)

    def __contains__(self, basket_id: object) -> bool:
        return basket_id in self._sandbox._index


class SelldoneSandbox(SandboxHTTPServer):
    """A Selldone shop on 127.0.0.1 with the backoffice endpoints an ERP uses."""

    def __init__(
        self,
        *,
        seed: int = 1,
        port: int = 0,
        shop_id: int = 3817,
        rate_limit_per_minute: int = 80,
        strict_states: bool = True,
        extra_orders: int = 0,
        lines_per_order: int = 3,
    ) -> None:
        super().__init__(port=port)
        self.shop_id = shop_id
        self.strict_states = strict_states
        self.rate_limit_per_minute = rate_limit_per_minute
        self._factory = ShopFactory(shop_id=shop_id, seed=seed, now=int(time.time()))
        self.shop = self._factory.shop
        self.products: dict[int, dict] = self._factory.products
        self.customers: dict[int, dict] = self._factory.customers
        self._variants = self._factory.variants
        # _index has a row for every order (ids ascending); _full holds the orders
        # stored as dicts. Generated orders live only in _index until first touched.
        self._index: dict[int, OrderIndex] = {}
        self._full: dict[int, dict] = {}
        self._list_cache: dict[tuple, list[OrderIndex]] = {}
        for basket in self._factory.seed_orders():
            self._full[basket["id"]] = basket
            row = OrderIndex(id=basket["id"], spec=None)
            # Seeded history already shipped from stock: today's quantities include it.
            row.deducted = basket["status"] in PAID_STATUSES and basket["reject"] is None
            self._index[basket["id"]] = row
            self._reindex(basket)
        for row in self._factory.generate_extra(max(0, extra_orders), max(1, lines_per_order)):
            self._index[row.id] = row
        self.orders: Mapping[int, dict] = _OrderView(self)
        self._tokens: dict[str, frozenset[str]] = {}
        self._token_rng = random.Random(f"selldone-sandbox-token:{seed}")
        self._limiter = RateLimiter(rate_limit_per_minute, 60.0)
        self._last_ts = self._factory.now
        self.token = self.issue_token()
        self._add_routes()

    # ============================================================ Python API
    def issue_token(self, scopes: list[str] | None = None) -> str:
        """A new opaque bearer token for this shop (deterministic sequence per seed)."""
        alphabet = string.ascii_letters + string.digits
        with self.lock:
            token = "".join(self._token_rng.choice(alphabet) for _ in range(80))
            self._tokens[token] = frozenset(DEFAULT_SCOPES if scopes is None else scopes)
            return token

    def revoke_token(self, token: str) -> None:
        """Revoke a token; later requests with it get 401. Unknown tokens raise KeyError."""
        with self.lock:
            del self._tokens[token]

    def create_order(
        self,
        items: list[dict],
        *,
        buyer: dict | None = None,
        status: str = "Payed",
        receiver: dict | None = None,
    ) -> dict:
        """Play the buyer: check out a PHYSICAL basket and return it (live stored dict).

        ``items``: ``[{"product_id", "variant_id", "count"}]``. ``buyer``: None for a
        guest, ``{"customer_id": id}`` for an existing customer, or ``{"name", "email",
        "phone"}`` (matched by e-mail, else created). ``receiver`` overrides fields of
        the delivery address. Payed/COD orders take stock at once.
        """
        if status not in BASKET_STATUSES:
            raise ValueError(f"status must be one of {', '.join(BASKET_STATUSES)}")
        if not isinstance(items, list) or not items:
            raise ValueError("items must be a non-empty list")
        with self.lock:
            lines = [self._order_line(item) for item in items]
            customer = self._buyer_customer(buyer)
            factory = self._factory
            if customer is not None:
                base_receiver = dict(customer["address"])
            else:
                base_receiver = factory.guest_address(factory.next_basket_id)
            if receiver is not None:
                if not isinstance(receiver, dict):
                    raise ValueError("receiver must be an object")
                base_receiver |= receiver
            now = self._now()
            payed = status == "Payed"
            basket = factory.build_basket(
                basket_id=factory.next_basket_id,
                first_item_id=factory.next_item_id,
                lines=lines,
                customer=customer,
                receiver=base_receiver,
                status=status,
                created_ts=now,
                guest_email=None if customer else f"guest{factory.next_basket_id}@example.org",
                payment_id=factory.next_payment_id if payed else None,
                payment_type="stripe" if payed else None,
            )
            factory.next_basket_id += 1
            factory.next_item_id += len(lines)
            factory.next_payment_id += payed
            if customer is not None and status != "Open":
                customer["purchase_at"] = basket["created_at"]
            self._full[basket["id"]] = basket
            self._index[basket["id"]] = OrderIndex(id=basket["id"], deducted=False, spec=None)
            self._reindex(basket)
            self._apply_stock_rule(basket)
            return basket

    def set_order_status(self, basket_id: int, status: str) -> dict:
        """Play the buyer/payment side: move the basket's ``status`` (Payed, COD, Canceled…)."""
        if status not in BASKET_STATUSES:
            raise ValueError(f"status must be one of {', '.join(BASKET_STATUSES)}")
        with self.lock:
            if basket_id not in self._index:
                raise KeyError(f"no order {basket_id}")
            basket = self._promote(basket_id)
            if basket["status"] == status:
                return basket
            basket["status"] = status
            if status != "Open" and basket["reserved_at"] is None:
                basket["reserved_at"] = laravel_time(self._now())
            if status == "Payed" and basket["payment_id"] is None:
                basket["payment_id"] = self._factory.next_payment_id
                basket["payment_type"] = "stripe"
                self._factory.next_payment_id += 1
            self._touch(basket)
            self._apply_stock_rule(basket)
            return basket

    def physical_orders(self, statuses: Iterable[str] = ("Payed", "COD")) -> list[dict]:
        """The full baskets the list endpoint would return for ``statuses``, default order.

        Generated orders come back as freshly built dicts (not stored); do not mutate.
        """
        with self.lock:
            rows = self._filtered_rows(frozenset(statuses), "reserved_at", True, None, None, None)
            return [self._basket(row.id) for row in rows]

    def state_calls(self, basket_id: int) -> list[str]:
        """``state`` values POSTed to ``/state`` for ``basket_id``, in order (all outcomes)."""
        suffix = f"/process-center/baskets/{basket_id}/state"
        return [
            entry["json"].get("state") if isinstance(entry["json"], dict) else None
            for entry in self.requests_to(suffix, "POST")
            if entry["path"].endswith(suffix)
        ]

    def product_quantity(self, product_id: int, variant_id: int | None = None) -> float:
        with self.lock:
            if variant_id is not None:
                variant = self._variants[variant_id]
                if variant["product_id"] != product_id:
                    raise KeyError(f"variant {variant_id} is not on product {product_id}")
                return float(variant["quantity"])
            return float(self.products[product_id]["quantity"])

    # ============================================================ order storage
    def _now(self) -> int:
        """Whole seconds, never going backwards (Laravel timestamps have 1 s resolution)."""
        self._last_ts = max(self._last_ts, int(time.time()))
        return self._last_ts

    def _basket(self, basket_id: int) -> dict:
        """Read access: the stored dict, or a transient build of a generated order."""
        basket = self._full.get(basket_id)
        if basket is None:
            basket = self._factory.materialize(self._index[basket_id])
        return basket

    def _promote(self, basket_id: int) -> dict:
        """Write access: make sure the order is stored as a dict and return that dict."""
        basket = self._full.get(basket_id)
        if basket is None:
            row = self._index[basket_id]
            basket = self._factory.materialize(row)
            self._full[basket_id] = basket
            row.spec = None
        return basket

    def _reindex(self, basket: dict) -> None:
        row = self._index[basket["id"]]
        row.status = basket["status"]
        row.delivery_state = basket["delivery_state"]
        row.reserved_ts = _iso_to_ts(basket["reserved_at"]) if basket["reserved_at"] else None
        row.created_ts = _iso_to_ts(basket["created_at"])
        row.updated_ts = _iso_to_ts(basket["updated_at"])
        row.price = basket["price"]
        row.customer_id = basket["customer_id"]
        row.product_ids = tuple({item["product_id"] for item in basket["items"]})
        row.country = (basket["receiver_info"] or {}).get("country")
        self._list_cache.clear()

    def _touch(self, basket: dict) -> None:
        """Bump ``updated_at`` (never backwards) and refresh the listing index."""
        stamp = max(self._now(), self._index[basket["id"]].updated_ts or 0)
        basket["updated_at"] = laravel_time(stamp)
        self._reindex(basket)

    def _apply_stock_rule(self, basket: dict) -> None:
        """Hold stock exactly while the order is Payed/COD and not rejected (§11.9)."""
        row = self._index[basket["id"]]
        wanted = basket["status"] in PAID_STATUSES and basket["reject"] is None
        if wanted == bool(row.deducted):
            return
        sign = -1.0 if wanted else 1.0
        for item in basket["items"]:
            product = self.products.get(item["product_id"])
            if product is None:
                continue
            variant = self._variants.get(item["variant_id"]) if item["variant_id"] else None
            current = variant["quantity"] if variant is not None else product["quantity"]
            # Orders may oversell (a negative count is what the merchant must see);
            # only the API refuses to *set* a negative quantity.
            self._set_quantity(product, variant, current + sign * float(item["count"]))
        row.deducted = wanted

    def _set_quantity(self, product: dict, variant: dict | None, quantity: float) -> None:
        stamp = laravel_time(self._now())
        if variant is not None:
            variant["quantity"] = float(quantity)
            variant["updated_at"] = stamp
            product["quantity"] = float(sum(v["quantity"] for v in product["product_variants"]))
        else:
            product["quantity"] = float(quantity)
        product["updated_at"] = stamp

    def _order_line(self, item: Any) -> tuple[dict, dict | None, float]:
        if not isinstance(item, dict):
            raise ValueError("each item must be an object")
        product = self.products.get(item.get("product_id"))
        if product is None:
            raise ValueError(f"unknown product_id {item.get('product_id')!r}")
        variant_id = item.get("variant_id")
        variant = None
        if product["product_variants"]:
            variant = self._variants.get(variant_id)
            if variant is None or variant["product_id"] != product["id"]:
                raise ValueError(
                    f"product {product['id']} has variants: give one of its variant_id"
                )
        elif variant_id is not None:
            raise ValueError(f"product {product['id']} has no variants")
        count = _number(item.get("count", 1))
        if count is None or count <= 0:
            raise ValueError("count must be a positive number")
        if not product["unit_float"] and count != int(count):
            raise ValueError(f"product {product['id']} is sold in whole units")
        return product, variant, count if product["unit_float"] else int(count)

    def _buyer_customer(self, buyer: Any) -> dict | None:
        if buyer is None:
            return None
        if not isinstance(buyer, dict):
            raise ValueError("buyer must be an object or null")
        if buyer.get("customer_id") is not None:
            customer = self.customers.get(buyer["customer_id"])
            if customer is None:
                raise ValueError(f"unknown customer_id {buyer['customer_id']!r}")
            return customer
        # A buyer object as the API shows it: ``id`` is the Selldone user id.
        user_id = buyer.get("id")
        if user_id is not None and (isinstance(user_id, bool) or not isinstance(user_id, int)):
            raise ValueError("buyer id must be an integer user id")
        email = (buyer.get("email") or "").strip().lower()
        for customer in self.customers.values():
            if (user_id is not None and customer["user_id"] == user_id) or (
                email and customer["email"].lower() == email
            ):
                return customer
        if not buyer.get("name"):
            raise ValueError("a new buyer needs a name")
        return self._factory.add_customer(
            buyer["name"],
            email=email or None,
            phone=buyer.get("phone"),
            created=self._now(),
            user_id=user_id,
        )

    # ============================================================ presentation
    def _present(self, basket: dict, relations: set[str]) -> dict:
        out = {k: v for k, v in basket.items() if k not in _RELATIONS}
        with_products = "products" in relations
        if "items" in relations or with_products:
            out["items"] = [self._present_item(item, with_products) for item in basket["items"]]
        if "buyer" in relations:
            out["buyer"] = basket["buyer"]
            out["customer"] = basket["customer"]
        if "payment" in relations:
            out["payment"] = self._payment_of(basket)
        if "connect_orders" in relations:
            out["connect_orders"] = []
        return out

    def _present_item(self, item: dict, with_products: bool) -> dict:
        if not with_products:
            return dict(item)
        product = self.products.get(item["product_id"])
        variant = self._variants.get(item["variant_id"]) if item["variant_id"] else None
        return item | {
            "product": {k: product[k] for k in _PRODUCT_BRIEF} if product else None,
            "variant": {k: variant[k] for k in _VARIANT_BRIEF} if variant else None,
        }

    @staticmethod
    def _payment_of(basket: dict) -> dict | None:
        if basket["payment_id"] is None:
            return None
        return {
            "id": basket["payment_id"], "amount": basket["price"], "currency": basket["currency"],
            "gateway_code": basket["payment_type"], "status": "Payed",
            "created_at": basket["reserved_at"], "updated_at": basket["reserved_at"],
        }  # fmt: skip

    def _filtered_rows(
        self,
        statuses: frozenset[str],
        sort_by: str,
        desc: bool,
        updated_after: int | None,
        product_id: int | None,
        customer_id: int | None,
    ) -> list[OrderIndex]:
        """Matching rows, sorted; cached until the next order change."""
        key = (statuses, sort_by, desc, updated_after, product_id, customer_id)
        cached = self._list_cache.get(key)
        if cached is not None:
            return cached
        rows = [
            row
            for row in self._index.values()
            if row.status in statuses
            and (updated_after is None or row.updated_ts > updated_after)
            and (customer_id is None or row.customer_id == customer_id)
            and (product_id is None or product_id in row.product_ids)
        ]
        # _index is in ascending id order, so one stable sort on the primary key leaves
        # ties in id order; reversing first gives the "then id DESC" tie-break.
        if desc:
            rows.reverse()
        if sort_by != "id":
            rows.sort(key=_ORDER_SORT_KEYS[sort_by], reverse=desc)
        if len(self._list_cache) > 16:
            self._list_cache.clear()
        self._list_cache[key] = rows
        return rows

    # ============================================================ HTTP plumbing
    def before_request(self, request: Request) -> Response | None:
        token = ""
        auth = request.header("authorization") or ""
        if auth[:7].lower() == "bearer ":
            token = auth[7:].strip()
        scopes = self._tokens.get(token) if token else None
        # Laravel's default API limiter keys by user, else by IP; here: by token.
        allowed, remaining, retry = self._limiter.hit(
            f"token:{token}" if scopes is not None else f"ip:{request.client_ip}"
        )
        request.context["remaining"] = remaining
        if not allowed:
            wait = retry_after_seconds(retry)
            raise HTTPError(
                429,
                {"message": "Too Many Attempts."},
                {"Retry-After": str(wait), "X-RateLimit-Reset": str(int(time.time()) + wait)},
            )
        if scopes is None:
            raise HTTPError(401, {"message": "Unauthenticated."})
        shop_id = request.params.get("shop_id")
        if shop_id is not None and int(shop_id) != self.shop_id:
            # An ERP token is bound to one shop; any other shop id is "no access".
            raise app_error(403, "token_has_no_access", "token_has_no_access")
        needed = request.route.meta.get("scopes", ()) if request.route else ()
        if needed and not scopes.intersection(needed):
            raise app_error(403, "token_has_no_access", "token_has_no_access")
        return None

    def after_request(self, request: Request, response: Response) -> None:
        response.headers.setdefault("Cache-Control", "max-age=0, private")
        if self._limiter.limit > 0:
            response.headers["X-RateLimit-Limit"] = str(self._limiter.limit)
            response.headers["X-RateLimit-Remaining"] = str(request.context.get("remaining", 0))

    def _add_routes(self) -> None:
        route = self.add_route
        types = "|".join(ORDER_TYPES)
        order_r, order_w = (SCOPE_ORDER_READ,), (SCOPE_ORDER_WRITE,)
        product_r = (SCOPE_PRODUCT_READ, SCOPE_PRODUCT_WRITE)
        route("GET", r"/shops/me/(?P<shop_id>\d+)", self._h_shop, scopes=(SCOPE_SHOP_READ,))
        route("GET", _SHOP + rf"/process-center/baskets-(?P<type>{types})", self._h_list_orders, scopes=order_r)  # fmt: skip
        route("GET", _BASKET, self._h_order, scopes=order_r)
        route("POST", _BASKET + "/state", self._h_state, scopes=order_w)
        route("POST", _BASKET + "/delivery-returned", self._h_delivery_returned, scopes=order_w)
        route("PUT", _BASKET + "/tracking", self._h_tracking, scopes=order_w)
        route("PUT", _BASKET + "/reject", self._h_reject, scopes=order_w)
        route("DELETE", _BASKET + "/reject", self._h_unreject, scopes=order_w)
        route("GET", _SHOP + "/products/all-admin", self._h_products, scopes=product_r)
        route("GET", _SHOP + r"/products/(?P<product_id>\d+)/admin", self._h_product, scopes=product_r)  # fmt: skip
        route("POST", _SHOP + r"/products/(?P<product_id>\d+)/quantity", self._h_product_quantity, scopes=(SCOPE_PRODUCT_WRITE,))  # fmt: skip
        route("POST", _SHOP + r"/products/(?P<product_id>\d+)/variants/(?P<variant_id>\d+)/quantity", self._h_variant_quantity, scopes=(SCOPE_PRODUCT_WRITE,))  # fmt: skip
        route("GET", _SHOP + "/customers", self._h_customers, scopes=(SCOPE_CUSTOMER_READ, SCOPE_CUSTOMER_WRITE))  # fmt: skip
        # Control routes (no auth, no rate limit, not logged).
        route("POST", r"/_sandbox/orders", self._c_create_order)
        route("POST", r"/_sandbox/orders/(?P<basket_id>\d+)/status", self._c_order_status)
        route("POST", r"/_sandbox/tokens", self._c_issue_token)
        route("DELETE", r"/_sandbox/tokens/(?P<token>[^/]+)", self._c_revoke_token)
        route("GET", r"/_sandbox/summary", self._c_summary)

    def _order_for_write(self, request: Request) -> dict:
        basket_id = int(request.params["basket_id"])
        if basket_id not in self._index:
            raise app_error(404, "not_found_basket", "Order not found.")
        return self._promote(basket_id)

    @staticmethod
    def _body(request: Request) -> dict:
        body = request.json
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise HTTPError(
                422, {"message": "The request body must be a JSON object.", "errors": {}}
            )
        return body

    # ============================================================ order handlers
    def _h_shop(self, _request: Request) -> dict:
        queue = sum(
            1
            for row in self._index.values()
            if row.status in PAID_STATUSES and row.delivery_state in DELIVERY_STATES[:3]
        )
        return {"shop": self.shop, "orderQue": queue}

    def _h_list_orders(self, request: Request) -> dict:
        query = request.query
        offset = _int_param(query.get("offset"), "offset", 0, 0)
        limit = _int_param(query.get("limit"), "limit", 20, 1, MAX_LIMIT)
        sort_by = query.get("sortBy") or "reserved_at"
        if sort_by not in ORDER_SORTS:
            raise invalid("sortBy", "The selected sort by is invalid.")
        desc = _bool_param(query.get("sortDesc"), True)
        statuses = _array_param(request, "statuses", BASKET_STATUSES) or ["Payed", "COD"]
        relations = set(_array_param(request, "with", None) or ())
        if "payment-compact" in relations:  # the dashboard's lighter variant
            relations.add("payment")
        updated_after = None
        if query.get("updated_at") not in (None, ""):
            seconds = _number(query["updated_at"])
            if seconds is None:
                raise invalid("updated_at", "The updated at field must be a number.")
            updated_after = int(seconds // 1)  # seconds precision, strictly greater
        product_id = _int_param(query.get("product_id"), "product_id", 0, 1) or None
        customer_id = _int_param(query.get("customer_id"), "customer_id", 0, 1) or None
        if request.params["type"] != "PHYSICAL":
            return {"orders": [], "total": 0}  # the twin only sells physical goods
        rows = self._filtered_rows(
            frozenset(statuses), sort_by, desc, updated_after, product_id, customer_id
        )
        page = rows[offset : offset + limit]
        return {
            "orders": [self._present(self._basket(row.id), relations) for row in page],
            "total": len(rows),
        }

    def _h_order(self, request: Request) -> dict:
        basket_id = int(request.params["basket_id"])
        if basket_id not in self._index:
            raise app_error(404, "not_found_basket", "Order not found.")
        relations = {"items", "products", "buyer", "payment"}
        return {"basket": self._present(self._basket(basket_id), relations)}

    def _check_processable(self, basket: dict) -> None:
        if basket["status"] not in PAID_STATUSES:
            raise app_error(
                422,
                "order_not_payed",
                f"Only paid orders can be processed (status is {basket['status']}).",
            )
        if basket["reject"] is not None:
            raise app_error(
                422, "order_rejected", "This order was rejected and cannot be processed."
            )

    def _h_state(self, request: Request) -> dict:
        basket = self._order_for_write(request)
        body = self._body(request)
        state = body.get("state")
        if state in (None, ""):
            raise invalid("state", "The state field is required.")
        if state not in DELIVERY_STATES:
            raise invalid("state", "The selected state is invalid.")
        delivery_info = body.get("delivery_info")
        if delivery_info is not None and not isinstance(delivery_info, dict):
            raise invalid("delivery_info", "The delivery info field must be an array.")
        self._check_processable(basket)
        current = DELIVERY_STATES.index(basket["delivery_state"])
        target = DELIVERY_STATES.index(state)
        if target == current:
            return self._state_answer(basket, state, changed=False, updated=0)
        if target < current or (self.strict_states and target > current + 1):
            raise app_error(
                422,
                "invalid_state_transition",
                f"Cannot change the delivery state from {basket['delivery_state']} to {state}; "
                f"the next state is {DELIVERY_STATES[min(current + 1, 4)]}.",
            )
        updated = 0
        if state == "OrderConfirm":
            updated = self._confirm_items(basket, body.get("list"))
        if state == "PreparingOrder" and delivery_info:
            # Merge: the ERP may send only packaging fields; tracking data must survive.
            basket["delivery_info"] = dict(basket["delivery_info"] or {}) | delivery_info
        if state == "ToCustomer":
            basket["delivery_at"] = laravel_time(self._now())
        basket["delivery_state"] = state
        self._touch(basket)
        return self._state_answer(basket, state, changed=True, updated=updated)

    def _confirm_items(self, basket: dict, wanted: Any) -> int:
        items = basket["items"]
        if wanted is None:
            chosen = {item["id"] for item in items}
        elif isinstance(wanted, list):
            known = {item["id"] for item in items}
            for i, item_id in enumerate(wanted):
                if (
                    isinstance(item_id, bool)
                    or not isinstance(item_id, int)
                    or item_id not in known
                ):
                    raise invalid(f"list.{i}", f"The selected list.{i} is invalid.")
            chosen = set(wanted)
        else:
            raise invalid("list", "The list field must be an array.")
        stamp = laravel_time(self._now())
        for item in items:
            if item["id"] in chosen:
                item["check"] = True
                item["updated_at"] = stamp
        return len(chosen)

    @staticmethod
    def _state_answer(basket: dict, state: str, *, changed: bool, updated: int) -> dict:
        answer: dict[str, Any] = {"delivery_state": state}
        if state == "OrderConfirm":
            answer["updated"] = updated
        answer["changed"] = changed
        if state == "OrderConfirm":
            answer["items"] = [dict(item) for item in basket["items"]]
        if state == "ToCustomer":
            answer["delivery_at"] = basket["delivery_at"]
        return answer

    def _h_delivery_returned(self, request: Request) -> dict:
        self._body(request)  # the dashboard sends {state, list, delivery_info}; unused
        basket = self._order_for_write(request)
        self._check_processable(basket)
        if basket["delivery_state"] != "SentOrder":
            raise app_error(
                422,
                "not_sent",
                f"Only sent orders can be returned (state is {basket['delivery_state']}).",
            )
        basket["delivery_state"] = "PreparingOrder"
        self._touch(basket)
        return {"delivery_state": "PreparingOrder", "changed": True}

    def _h_tracking(self, request: Request) -> dict:
        basket = self._order_for_write(request)
        body = self._body(request)
        updates: dict[str, Any] = {}
        if "tracking_code" in body:
            code = body["tracking_code"]
            if code is not None and (isinstance(code, bool) or not isinstance(code, str | int)):
                raise invalid("tracking_code", "The tracking code field must be a string.")
            code = None if code in (None, "") else str(code)
            if code is not None and len(code) > 255:
                raise invalid("tracking_code", "The tracking code field must not be greater than 255 characters.")  # fmt: skip
            updates["tracking_code"] = code
        if "tracking_url" in body:
            url = body["tracking_url"]
            url = None if url in (None, "") else url  # Laravel turns "" into null
            if url is not None:
                if not isinstance(url, str) or not _is_http_url(url):
                    raise invalid("tracking_url", "The tracking url field must be a valid URL.")
                if len(url) > 512:
                    raise invalid("tracking_url", "The tracking url field must not be greater than 512 characters.")  # fmt: skip
            updates["tracking_url"] = url
        info = dict(basket["delivery_info"] or {}) | updates
        if updates:
            basket["delivery_info"] = info
            self._touch(basket)
        return {
            "success": True,
            "tracking_code": info.get("tracking_code"),
            "tracking_url": info.get("tracking_url"),
            "delivery_info": info,
        }

    def _h_reject(self, request: Request) -> dict:
        basket = self._order_for_write(request)
        body = self._body(request)
        reason = body.get("reject")
        if reason in (None, ""):
            raise invalid("reject", "The reject field is required.")
        if reason not in REJECT_REASONS:
            raise invalid("reject", "The selected reject is invalid.")
        if "express" in body and body["express"] not in (True, False, 0, 1, None):
            raise invalid("express", "The express field must be true or false.")
        if (
            basket["status"] not in ("COD", "Payed", "Reserved")
            or basket["delivery_state"] == "ToCustomer"
        ):
            raise app_error(
                422,
                "reject_not_allowed",
                f"An order with status {basket['status']} in {basket['delivery_state']} cannot be rejected.",
            )
        if basket["reject"] != reason:
            basket["reject"] = reason
            basket["reject_at"] = laravel_time(self._now())
            self._touch(basket)
            self._apply_stock_rule(basket)
        return {"reject": basket["reject"], "reject_at": basket["reject_at"], "success": True}

    def _h_unreject(self, request: Request) -> dict:
        basket = self._order_for_write(request)
        if basket["reject"] is not None:  # idempotent: undoing twice is not an error
            basket["reject"] = basket["reject_at"] = None
            self._touch(basket)
            self._apply_stock_rule(basket)
        return {"reject": None, "reject_at": None, "success": True}

    # ============================================================ product handlers
    def _h_products(self, request: Request) -> dict:
        query = request.query
        offset = _int_param(query.get("offset"), "offset", 0, 0)
        limit = _int_param(query.get("limit"), "limit", 20, 1, MAX_LIMIT)
        with_variants = _bool_param(query.get("with_product_variants"), False)
        sort_by = query.get("sortBy") or "id"
        if sort_by not in PRODUCT_SORTS:
            raise invalid("sortBy", "The selected sort by is invalid.")
        desc = _bool_param(query.get("sortDesc"), True)
        statuses = _array_param(request, "statuses", PRODUCT_STATUSES)
        types = _array_param(request, "types", ORDER_TYPES[:5])
        after = None
        if query.get("updated_at") not in (None, ""):
            after = _parse_date(str(query["updated_at"]), "updated_at")
        needle = str(query.get("search") or "").strip().lower()
        matches = []
        for product in self.products.values():
            if statuses and product["status"] not in statuses:
                continue
            if types and product["type"] not in types:
                continue
            if after is not None and _iso_to_ts(product["updated_at"]) <= after:
                continue
            if needle and not _product_matches(product, needle):
                continue
            matches.append(product)
        matches.sort(key=lambda p: p["id"], reverse=desc)
        if sort_by != "id":
            matches.sort(key=lambda p: p[sort_by] if sort_by != "title" else p["title"] or "", reverse=desc)  # fmt: skip
        page = [self._present_product(p, with_variants) for p in matches[offset : offset + limit]]
        answer: dict[str, Any] = {"products": page, "folders": [], "parent_folders": []}
        if _bool_param(query.get("with_total"), False):
            answer["total"] = len(matches)
        return answer

    @staticmethod
    def _present_product(product: dict, with_variants: bool) -> dict:
        out = {k: v for k, v in product.items() if k != "product_variants"}
        if with_variants:
            out["product_variants"] = [dict(v) for v in product["product_variants"]]
        return out

    def _product_or_404(self, request: Request) -> dict:
        product = self.products.get(int(request.params["product_id"]))
        if product is None:
            raise app_error(404, "not_found_product", "Product not found.")
        return product

    def _h_product(self, request: Request) -> dict:
        product = self._product_or_404(request)
        return {
            "product": self._present_product(product, True),
            "product_data": None,
            "orderQue": 0,
        }

    @staticmethod
    def _quantity_from(request: Request) -> float:
        body = SelldoneSandbox._body(request)
        if body.get("quantity") in (None, ""):
            raise invalid("quantity", "The quantity field is required.")
        quantity = _number(body["quantity"])
        if quantity is None:
            raise invalid("quantity", "The quantity field must be a number.")
        if quantity < 0:
            raise invalid("quantity", "The quantity field must be at least 0.")
        return quantity

    def _h_product_quantity(self, request: Request) -> dict:
        product = self._product_or_404(request)
        quantity = self._quantity_from(request)
        if product["product_variants"]:
            raise app_error(
                422,
                "product_has_variants",
                "This product has variants; set the quantity of each variant instead.",
            )
        self._set_quantity(product, None, quantity)
        return {"success": True, "quantity": product["quantity"]}

    def _h_variant_quantity(self, request: Request) -> dict:
        product = self._product_or_404(request)
        variant = self._variants.get(int(request.params["variant_id"]))
        if variant is None or variant["product_id"] != product["id"]:
            raise app_error(404, "not_found_variant", "Variant not found.")
        quantity = self._quantity_from(request)
        self._set_quantity(product, variant, quantity)
        return {"success": True, "quantity": variant["quantity"]}

    def _h_customers(self, request: Request) -> dict:
        query = request.query
        offset = _int_param(query.get("offset"), "offset", 0, 0)
        limit = _int_param(query.get("limit"), "limit", 20, 1, MAX_LIMIT)
        sort_by = query.get("sortBy") or "id"
        if sort_by not in CUSTOMER_SORTS:
            raise invalid("sortBy", "The selected sort by is invalid.")
        desc = _bool_param(query.get("sortDesc"), True)
        needle = str(query.get("search") or "").strip().lower()
        matches = [
            c
            for c in self.customers.values()
            if not needle
            or any(needle in str(c[k] or "").lower() for k in ("name", "email", "phone"))
        ]
        matches.sort(key=lambda c: c["id"], reverse=desc)
        if sort_by != "id":
            matches.sort(key=lambda c: c[sort_by] or "", reverse=desc)
        return {"customers": matches[offset : offset + limit], "total": len(matches)}

    # ============================================================ control handlers
    def _c_create_order(self, request: Request) -> Response:
        body = self._body(request)
        unknown = set(body) - {"items", "buyer", "status", "receiver"}
        if unknown:
            raise ValueError(f"unknown keys: {sorted(unknown)}")
        basket = self.create_order(
            body.get("items"),
            buyer=body.get("buyer"),
            status=body.get("status") or "Payed",
            receiver=body.get("receiver"),
        )
        return Response(201, self._present(basket, {"items", "products", "buyer", "payment"}))

    def _c_order_status(self, request: Request) -> dict:
        basket_id = int(request.params["basket_id"])
        if basket_id not in self._index:
            raise HTTPError(404, {"error": True, "error_msg": f"no order {basket_id}"})
        basket = self.set_order_status(basket_id, str(self._body(request).get("status")))
        return self._present(basket, {"items", "buyer"})

    def _c_issue_token(self, request: Request) -> Response:
        scopes = self._body(request).get("scopes")
        if scopes is not None and (
            not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes)
        ):
            raise ValueError("scopes must be a list of strings")
        token = self.issue_token(scopes)
        return Response(201, {"token": token, "scopes": sorted(self._tokens[token])})

    def _c_revoke_token(self, request: Request) -> dict:
        try:
            self.revoke_token(request.params["token"])
        except KeyError:
            raise HTTPError(404, {"error": True, "error_msg": "unknown token"}) from None
        return {"success": True}

    def _c_summary(self, _request: Request) -> dict:
        by_status: dict[str, int] = dict.fromkeys(BASKET_STATUSES, 0)
        by_state: dict[str, int] = dict.fromkeys(DELIVERY_STATES, 0)
        for row in self._index.values():
            by_status[row.status] += 1
            if row.status in PAID_STATUSES:
                by_state[row.delivery_state] += 1
        rejected = sum(1 for b in self._full.values() if b["reject"] is not None)
        rejected += sum(1 for r in self._index.values() if r.spec is not None and r.spec[3])
        return {
            "shop_id": self.shop_id,
            "orders": {
                "total": len(self._index),
                "by_status": by_status,
                "by_delivery_state": by_state,  # Payed/COD orders only
                "rejected": rejected,
            },
            "products": len(self.products),
            "variants": len(self._variants),
            "customers": len(self.customers),
            "tokens": len(self._tokens),
        }


_ORDER_SORT_KEYS = {
    "reserved_at": lambda r: (
        -1 if r.reserved_ts is None else r.reserved_ts
    ),  # NULL lowest, as MySQL
    "created_at": lambda r: r.created_ts,
    "updated_at": lambda r: r.updated_ts,
    "price": lambda r: r.price,
    "status": lambda r: r.status,
    "delivery_state": lambda r: DELIVERY_STATES.index(r.delivery_state),  # ENUM sorts by position
    "country": lambda r: r.country or "",
}


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.netloc)
        and not any(c.isspace() for c in url)
    )


def _product_matches(product: dict, needle: str) -> bool:
    """The dashboard search covers title, SKU and brand; variants' SKUs are included."""
    fields = [product["title"], product["sku"], product["brand"], product["mpn"], product["gtin"]]
    fields += [v["sku"] for v in product["product_variants"]]
    return any(needle in str(value).lower() for value in fields if value)


__all__ = ["DEFAULT_SCOPES", "ERROR_CODES", "SelldoneSandbox"]
