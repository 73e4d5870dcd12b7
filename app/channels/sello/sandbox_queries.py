"""Query parameters, filtering, sorting and presentation for the Sello sandbox.

Implements the documented list syntax (platforms/sello.md §6): ``size``/``offset``
paging, ``sort`` + ``sort_direction``, ``filter[name]=value`` (ranges ``lt``/``gt`` on
product ``quantity`` and ``last_sold``), and ``search``. Anything the docs do not list
is refused with a 400 so a client relying on an undocumented parameter is caught.
Multi-value filters (``filter[id][]=1``) are documented but not implemented here: the
shared query parser keeps only one value per such key, so they are refused too.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from app.channels.sandbox_http import HTTPError, Request

ORDER_FILTERS = frozenset(
    {
        "customer_country_code", "is_deleted", "is_active", "is_delivered", "is_new",
        "is_paid", "status_id", "integration_id",
    }
)  # fmt: skip
_ORDER_BOOL_FILTERS = frozenset({"is_deleted", "is_active", "is_delivered", "is_new", "is_paid"})
_ORDER_SEARCH = (
    "number", "market_reference", "customer_alias", "customer_email", "customer_first_name",
    "customer_last_name", "customer_city", "customer_zip", "notes",
)  # fmt: skip
PRODUCT_PLAIN_SORTS = frozenset(
    {
        "folder_name", "brand_name", "condition", "tax", "group_id", "private_name",
        "private_reference", "quantity", "stock_location", "created_at", "updated_at",
        "volume", "volume_unit", "weight", "purchase_price", "notes", "sold", "unsold",
        "last_sold",
    }
)  # fmt: skip
_PRODUCT_SORT_PATTERNS = (
    re.compile(r"texts\.default\.[a-z]{2}\.name"),
    re.compile(r"categories\.\d+\.name"),
    re.compile(r"shipping\.\d+\.\w+"),
    re.compile(r"prices\.\d+\.(store|regular|campaign|auction\.(start|buynow|reserve))"),
)
_PRODUCT_LIST_ONLY = ("folder_name", "brand_name", "auctions")
_PRODUCT_DETAIL_ONLY = (
    "tax_class", "quantity_threshold", "manufacturer", "manufacturer_no", "submitter_id",
    "delivery_times",
)  # fmt: skip
_RANGE = re.compile(r"^(?:(?P<op>lt|gt)\s+)?(?P<value>.+)$")


def bad(message: str) -> HTTPError:
    """The sandbox's 400 answer."""
    return HTTPError(400, {"message": message})


# --- scalar parameters -----------------------------------------------------------------


def whole(value: Any, name: str) -> int:
    """An integer sent as a number or a string of digits."""
    if isinstance(value, bool):
        raise bad(f"{name} must be a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise bad(f"{name} must be a whole number")


def int_param(value: Any, name: str, default: int, minimum: int) -> int:
    if value is None or value == "":
        return default
    number = whole(value, name)
    if number < minimum:
        raise bad(f"{name} must be at least {minimum}")
    return number


def boolean(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in ("true", "1"):
        return True
    if word in ("false", "0"):
        return False
    raise bad(f"{name} must be true or false")


def optional_time(value: Any) -> int | None:
    """A ``created_at`` sent when adding an order: ISO date-time (UTC when naive)."""
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise bad("created_at must be a date and time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def order_value(key: str, value: Any, statuses: dict[str, Any]) -> Any:
    """A validated value for one writable order attribute."""
    if key == "status_id":
        status_id = whole(value, "status_id")
        if str(status_id) not in statuses:
            raise bad(f"Unknown status_id {status_id}")
        return status_id
    if key == "shipping_cost":
        try:
            cost = float(value)
        except (TypeError, ValueError):
            raise bad("shipping_cost must be a number") from None
        if isinstance(value, bool) or cost < 0 or cost != cost:
            raise bad("shipping_cost must be a number of 0 or more")
        return cost
    if key == "is_new":
        return boolean(value, "is_new")
    text = "" if value is None else str(value).strip()
    if key == "customer_country_code":
        if text and not re.fullmatch(r"[A-Za-z]{2}", text):
            raise bad("customer_country_code must be two letters")
        return text.upper()
    if len(text) > 255:
        raise bad(f"{key} must be at most 255 characters")
    return text


def product_value(key: str, value: Any) -> Any:
    """A validated value for one writable product attribute."""
    if key == "quantity":
        if isinstance(value, bool) or value is None:
            raise bad("quantity must be a whole number of 0 or more")
        if isinstance(value, float) and not value.is_integer():
            raise bad("quantity must be a whole number of 0 or more")
        quantity = whole(value, "quantity")
        if quantity < 0:
            raise bad("quantity must be a whole number of 0 or more")
        return quantity
    if key == "purchase_price":
        try:
            price = float(value)
        except (TypeError, ValueError):
            raise bad("purchase_price must be a number") from None
        return round(price, 2)
    return "" if value is None else str(value).strip()


# --- filters -----------------------------------------------------------------------------


def _filters(request: Request, allowed: Callable[[str], bool]) -> dict[str, str]:
    for key in request.query:
        # parse_query keeps "filter[id][]" as a plain key (and only its last value).
        if key.startswith("filter["):
            raise bad("multi-value filters (filter[name][]=…) are not supported by the sandbox")
    raw = request.query.get("filter")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise bad("filters are given as filter[name]=value")
    for name in raw:
        if not allowed(name):
            raise bad(f"Filtering by {name} is not supported")
    return {name: str(value) for name, value in raw.items()}


def _search(request: Request) -> str:
    return str(request.query.get("search") or "").strip().lower()


def filter_orders(orders: list[dict[str, Any]], request: Request) -> list[dict[str, Any]]:
    filters = _filters(request, lambda name: name in ORDER_FILTERS)
    checks: list[Callable[[dict[str, Any]], bool]] = []
    for name, value in filters.items():
        if name in _ORDER_BOOL_FILTERS:
            wanted = boolean(value, f"filter[{name}]")
            checks.append(lambda o, n=name, w=wanted: bool(o.get(n)) == w)
        elif name == "customer_country_code":
            country = value.upper()
            checks.append(lambda o, v=country: o["customer_country_code"].upper() == v)
        else:
            wanted_id = whole(value, f"filter[{name}]")
            checks.append(lambda o, n=name, w=wanted_id: int(o.get(n) or 0) == w)
    needle = _search(request)
    if needle:
        checks.append(
            lambda o: any(needle in str(o.get(field) or "").lower() for field in _ORDER_SEARCH)
        )
    return [order for order in orders if all(check(order) for check in checks)]


def _product_filter_allowed(name: str) -> bool:
    return name in (
        "folder_id", "private_reference", "quantity", "private_name", "last_sold",
        "prices.default.calculate", "prices.default.adjust",
    ) or re.fullmatch(r"integrations\.\d+\.active", name) is not None  # fmt: skip


def filter_products(products: list[dict[str, Any]], request: Request) -> list[dict[str, Any]]:
    filters = _filters(request, _product_filter_allowed)
    checks: list[Callable[[dict[str, Any]], bool]] = []
    for name, value in filters.items():
        if name.startswith("integrations.") or name.startswith("prices.default."):
            wanted = boolean(value, f"filter[{name}]")
            checks.append(lambda p, n=name, w=wanted: bool(lookup(p, n)) == w)
        elif name == "folder_id":
            folder = whole(value, "filter[folder_id]")
            checks.append(lambda p, f=folder: p["folder_id"] == f)
        elif name == "private_reference":
            checks.append(lambda p, v=value: p["private_reference"] == v)
        elif name == "private_name":
            part = value.lower()
            checks.append(lambda p, v=part: v in p["private_name"].lower())
        elif name == "quantity":
            op, amount = _range(value, name)
            number = whole(amount, "filter[quantity]")
            checks.append(lambda p, o=op, n=number: _compare(p["quantity"], o, n))
        else:  # last_sold: dates compare as their ISO text
            op, day = _range(value, name)
            stamp = _iso_day(day)
            checks.append(lambda p, o=op, s=stamp: p["last_sold"] is not None and _compare(p["last_sold"][:10], o, s))  # fmt: skip
    needle = _search(request)
    if needle:

        def matches(product: dict[str, Any]) -> bool:
            names = [
                entry.get("name", "")
                for entry in product["texts"]["default"].values()
                if isinstance(entry, dict)
            ]
            fields = [product["private_name"], product["private_reference"], product["brand_name"], *names]  # fmt: skip
            return any(needle in str(field).lower() for field in fields)

        checks.append(matches)
    return [product for product in products if all(check(product) for check in checks)]


def _range(value: str, name: str) -> tuple[str | None, str]:
    match = _RANGE.match(value.strip())
    if match is None:
        raise bad(f"filter[{name}] is empty")
    return match.group("op"), match.group("value").strip()


def _iso_day(value: str) -> str:
    try:
        return datetime.fromisoformat(value[:10]).date().isoformat()
    except ValueError:
        raise bad("last_sold is filtered by a date (YYYY-MM-DD)") from None


def _compare(actual: Any, op: str | None, wanted: Any) -> bool:
    if op == "lt":
        return actual < wanted
    if op == "gt":
        return actual > wanted
    return actual == wanted


# --- sorting -----------------------------------------------------------------------------


def _direction(value: Any) -> bool:
    """True for descending (the documented default)."""
    word = str(value or "desc").strip().lower()
    if word not in ("asc", "desc"):
        raise bad("sort_direction must be asc or desc")
    return word == "desc"


def _sort_key(value: Any) -> tuple[int, float, str]:
    """NULL sorts first ascending (as MySQL does); numeric strings sort as numbers."""
    if value is None or value == "":
        return (0, 0.0, "")
    if isinstance(value, bool):
        return (1, float(value), "")
    if isinstance(value, int | float):
        return (1, float(value), "")
    try:
        return (1, float(value), "")
    except (TypeError, ValueError):
        return (2, 0.0, str(value).lower())


_ORDER_SORTS = frozenset(
    {
        "customer_alias",
        "number",
        "weight",
        "total_eur",
        "created_at",
        "updated_at",
        "delivered_at",
        "row_count",
    }  # fmt: skip
)


def sort_orders(orders: list[dict[str, Any]], sort: Any, direction: Any) -> list[dict[str, Any]]:
    """Sorted by ``sort`` (default: id), ties broken by id in the same direction."""
    field = str(sort or "id")
    if field != "id" and field not in _ORDER_SORTS:
        raise bad(f"Sorting by {field} is not supported")
    desc = _direction(direction)
    return sorted(orders, key=lambda o: (_sort_key(o.get(field)), o["id"]), reverse=desc)


def sort_products(products: list[dict[str, Any]], sort: Any, direction: Any) -> list[dict[str, Any]]:  # fmt: skip
    field = str(sort or "id")
    if (
        field != "id"
        and field not in PRODUCT_PLAIN_SORTS
        and not any(pattern.fullmatch(field) for pattern in _PRODUCT_SORT_PATTERNS)
    ):
        raise bad(f"Sorting by {field} is not supported")
    desc = _direction(direction)
    return sorted(products, key=lambda p: (_sort_key(lookup(p, field)), p["id"]), reverse=desc)


def lookup(item: dict[str, Any], dotted: str) -> Any:
    """``prices.46162.store`` → ``item["prices"]["46162"]["store"]`` (None when absent)."""
    value: Any = item
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


# --- presentation ------------------------------------------------------------------------


def product_list_item(product: dict[str, Any]) -> dict[str, Any]:
    """The list's limited field set (§4.3)."""
    return {k: v for k, v in product.items() if k not in _PRODUCT_DETAIL_ONLY}


def product_detail(product: dict[str, Any]) -> dict[str, Any]:
    """The single product: list-only fields dropped, currencies added to prices."""
    detail = {k: copy.deepcopy(v) for k, v in product.items() if k not in _PRODUCT_LIST_ONLY}
    for key, price in detail["prices"].items():
        if key == "default" or not isinstance(price, dict):
            continue
        if "store" in price:
            price["currency"] = "SEK"
            continue
        for market, entry in price.items():
            if isinstance(entry, dict):
                entry["currency"] = "NOK" if market == "NO" else "SEK"
    for entry in detail["integrations"].values():
        entry["extra"] = {}
    return detail


def product_groups(
    page: list[dict[str, Any]], catalogue: Iterable[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Groups with more than one product that a page's products belong to."""
    members: dict[int, list[int]] = {}
    for product in catalogue:
        members.setdefault(product["group_id"], []).append(product["id"])
    wanted = {p["group_id"] for p in page if len(members.get(p["group_id"], ())) > 1}
    return [
        {"id": gid, "products": sorted(members[gid]), "main_product": min(members[gid])}
        for gid in sorted(wanted)
    ]
