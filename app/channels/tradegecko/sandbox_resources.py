"""The TradeGecko sandbox's collections: what each lists, filters and sideloads.

One :class:`Resource` per collection names its record key, its store, its view
(:mod:`.sandbox_views`) and the index filters the reference documents for it (§5).
:func:`index` and :func:`show` answer the reads; writes stay in :mod:`.sandbox`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.channels.sandbox_http import Request, Response
from app.channels.tradegecko import sandbox_views as views
from app.channels.tradegecko.sandbox_query import filter_rows, paginate, sort_rows
from app.channels.tradegecko.state import GeckoState
from app.channels.tradegecko.state_values import Missing

_REASONS = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}


def error_body(status: int, message: str) -> dict[str, Any]:
    """Errors other than 422 (undocumented; §17.5's ``{"type", "message"}``)."""
    return {"type": _REASONS.get(status, "Error"), "message": message}


@dataclass(frozen=True, slots=True)
class Resource:
    """One collection: its record key, store, view and index filters."""

    root: str
    table: Callable[[GeckoState], dict[int, dict[str, Any]]]
    view: Callable[[GeckoState, dict[str, Any]], dict[str, Any]]
    fields: tuple[str, ...] = ()
    default_status: str | None = "active"
    casefold: tuple[str, ...] = ()
    meta: bool = False  # a few lists still carry {"meta": {"total": N}} (§3.1)


_ORDER_FILTERS = (
    "company_id",
    "order_number",
    "reference_number",
    "stock_location_id",
    "source_id",
    "currency_id",
    "shipping_address_id",
    "billing_address_id",
    "payment_status",
    "invoice_status",
    "packed_status",
    "fulfillment_status",
    "return_status",
    "tags",
)
RESOURCES: dict[str, Resource] = {
    "currencies": Resource("currency", lambda s: s.currencies, views.plain),
    "locations": Resource("location", lambda s: s.locations, views.plain),
    "products": Resource(
        "product", lambda s: s.products, views.product, ("product_type", "brand", "tags"), meta=True
    ),
    "variants": Resource(
        "variant", lambda s: s.variants, views.variant, ("product_id", "sku"), meta=True
    ),
    "stock_levels": Resource("stock_level", lambda s: s.variants, views.stock_level),
    "companies": Resource(
        "company",
        lambda s: s.companies,
        views.company,
        ("company_type", "company_code", "email"),
        casefold=("email",),
        meta=True,
    ),
    "addresses": Resource("address", lambda s: s.addresses, views.address, ("company_id",)),
    "orders": Resource(
        "order", lambda s: s.orders, views.order, _ORDER_FILTERS, default_status=None, meta=True
    ),
    "order_line_items": Resource(
        "order_line_item",
        lambda s: s.order_line_items,
        views.order_line_item,
        ("order_id", "variant_id"),
        default_status=None,
    ),
    "fulfillments": Resource(
        "fulfillment",
        lambda s: s.fulfillments,
        views.fulfillment,
        ("order_id", "stock_location_id", "company_id"),
        default_status=None,
        meta=True,
    ),
    "fulfillment_line_items": Resource(
        "fulfillment_line_item",
        lambda s: s.fulfillment_line_items,
        views.fulfillment_line_item,
        ("fulfillment_id", "order_line_item_id"),
        default_status=None,
    ),
    "fulfillment_returns": Resource(
        "fulfillment_return",
        lambda s: s.fulfillment_returns,
        views.fulfillment_return,
        ("order_id", "location_id", "company_id"),
        default_status=None,
    ),
    "fulfillment_return_line_items": Resource(
        "fulfillment_return_line_item",
        lambda s: s.fulfillment_return_line_items,
        views.fulfillment_return_line_item,
        ("fulfillment_return_id", "order_line_item_id"),
        default_status=None,
    ),
    "invoices": Resource(
        "invoice", lambda s: s.invoices, views.invoice, ("order_id",), default_status=None
    ),
    "payments": Resource(
        "payment", lambda s: s.payments, views.payment, ("order_id",), default_status=None
    ),
    "webhooks": Resource(
        "webhook", lambda s: s.webhooks, views.plain, ("event", "address"), default_status=None
    ),
}


def index(state: GeckoState, plural: str, request: Request, base_url: str) -> Response:
    """``GET /<plural>``: filtered, ordered, one page, with sideloads and headers."""
    resource = RESOURCES[plural]
    rows = [resource.view(state, r) for r in resource.table(state).values()]
    rows = filter_rows(
        rows,
        request.query,
        fields=resource.fields,
        default_status=resource.default_status,
        casefold=resource.casefold,
    )
    rows = sort_rows(rows, request.query)
    page, headers = paginate(rows, request.query, base_url=base_url, path=request.path)
    body: dict[str, Any] = {plural: page}
    body.update(sideloads(state, plural, page, request, index=True))
    if resource.meta:
        body["meta"] = {"total": len(rows)}
    return Response(200, body, headers)


def show(state: GeckoState, plural: str, request: Request) -> Response:
    """``GET /<plural>/<id>``, with ``include=`` sideloads (orders and products)."""
    resource = RESOURCES[plural]
    record = resource.table(state).get(int(request.params["id"]))
    if record is None:
        raise Missing(
            f"Couldn't find {resource.root.replace('_', ' ').title().replace(' ', '')} with 'id'={request.params['id']}"
        )
    shown = resource.view(state, record)
    return Response(
        200, {resource.root: shown, **sideloads(state, plural, [shown], request, index=False)}
    )


def sideloads(
    state: GeckoState, plural: str, rows: list[dict], request: Request, *, index: bool
) -> dict[str, list]:
    """``include=`` (``_include=`` in 2015 traffic) plus the children some lists always bring."""
    wanted = set()
    for name in ("include", "_include"):
        raw = request.query.get(name)
        if isinstance(raw, str):
            wanted |= {part.strip() for part in raw.split(",") if part.strip()}
    ids = {row["id"] for row in rows}
    s = state
    loads: dict[str, list] = {}
    if plural == "fulfillments":  # always sideloaded (recorded traffic)
        loads["fulfillment_line_items"] = [
            views.fulfillment_line_item(s, i)
            for i in s.fulfillment_line_items.values()
            if i["fulfillment_id"] in ids
        ]
    if plural == "fulfillment_returns":
        loads["fulfillment_return_line_items"] = [
            views.fulfillment_return_line_item(s, i)
            for i in s.fulfillment_return_line_items.values()
            if i["fulfillment_return_id"] in ids
        ]
    if plural == "products" and "variants" in wanted:
        loads["variants"] = [
            views.variant(s, v)
            for v in s.variants.values()
            if v["product_id"] in ids and v["status"] == "active"
        ]
    if plural == "orders" and not index:  # orders sideload on show only (§3.3)
        children = {
            "order_line_items": lambda: [
                views.order_line_item(s, line) for i in ids for line in s.lines_of(i)
            ],
            "fulfillments": lambda: [
                views.fulfillment(s, f) for f in s.fulfillments.values() if f["order_id"] in ids
            ],
            "fulfillment_returns": lambda: [
                views.fulfillment_return(s, r)
                for r in s.fulfillment_returns.values()
                if r["order_id"] in ids
            ],
            "invoices": lambda: [
                views.invoice(s, i) for i in s.invoices.values() if i["order_id"] in ids
            ],
            "payments": lambda: [
                views.payment(s, p) for p in s.payments.values() if p["order_id"] in ids
            ],
            "company": lambda: [views.company(s, s.companies[row["company_id"]]) for row in rows],
        }
        for name, load in children.items():
            if name in wanted:
                loads["companies" if name == "company" else name] = load()
        addresses = [
            row[f"{k}_address_id"]
            for row in rows
            for k in ("shipping", "billing")
            if f"{k}_address" in wanted
        ]
        if addresses:
            loads["addresses"] = [
                views.address(s, s.addresses[a])
                for a in dict.fromkeys(addresses)
                if a in s.addresses
            ]
    return loads


__all__ = ["RESOURCES", "Resource", "error_body", "index", "show", "sideloads"]
