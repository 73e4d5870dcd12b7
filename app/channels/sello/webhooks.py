"""Sello webhooks as re-fetch hints. Pure functions.

Sello POSTs to the merchant's URL when an order or product changes (events ``orderNew``,
``orderPaid``, ``orderUpdated``, ``productUpdated``, ``productQuantityUpdated``). The
body "will only contain the ID of the order or the ID of the product"; its exact shape
is not documented (platforms/sello.md §5, §11.3), and deliveries are retried for over
an hour, so duplicates and late arrivals are normal. A webhook is therefore never
trusted as data: it only says what to fetch again through the API.

Because the shape is unknown, :func:`refetch_hint` accepts what a sender plausibly
posts — a JSON object (``id``, ``order_id``/``orderId``, ``product_id``/``productId``,
optionally nested under ``data``, ``order`` or ``product``), a form-encoded body, or
a bare id — and the event name from the body (``hook``, ``type``, ``event``) or from
the caller. Register one URL per event with the event in the URL (e.g.
``…/sello/hook?event=orderPaid&secret=…``) so the event is always known; Sello signs
nothing, so the secret in the URL is the only authentication (§5).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from app.channels.errors import PayloadError
from app.channels.sello.mapping import parse_id

ORDER_HOOKS = frozenset({"orderNew", "orderPaid", "orderUpdated"})
PRODUCT_HOOKS = frozenset({"productUpdated", "productQuantityUpdated"})
HOOKS = ORDER_HOOKS | PRODUCT_HOOKS

_ORDER_KEYS = ("order_id", "orderId")
_PRODUCT_KEYS = ("product_id", "productId")
_EVENT_KEYS = ("hook", "type", "event")
_NESTED = ("data", "order", "product")


@dataclass(frozen=True, slots=True)
class RefetchHint:
    """What a webhook asks the app to fetch again: ``kind`` is "order" or "product"."""

    kind: str
    id: str
    hook: str = ""


@dataclass(slots=True)
class RefetchPlan:
    """Many hints folded together: each id once, whatever the number of deliveries."""

    order_ids: list[str]
    product_ids: list[str]


def refetch_hint(body: Any, hook: str | None = None) -> RefetchHint:
    """Turn one webhook delivery into the order or product to re-fetch.

    ``body`` is the request body (bytes, text or already-parsed JSON); ``hook`` the
    event name when the receiving URL tells it. Raises :class:`PayloadError` when the
    body names no id or contradicts the event.
    """
    fields = _fields(body)
    event = (hook or "").strip() or next(
        (str(fields[key]).strip() for key in _EVENT_KEYS if fields.get(key)), ""
    )
    if event and event not in HOOKS:
        raise PayloadError(f"unknown Sello webhook event {event!r}")
    order_id = _first(fields, _ORDER_KEYS, "order id")
    product_id = _first(fields, _PRODUCT_KEYS, "product id")
    plain_id = _first(fields, ("id",), "id")
    if event in ORDER_HOOKS:
        if product_id and not (order_id or plain_id):
            raise PayloadError(f"the {event} webhook names a product, not an order")
        found = order_id or plain_id
        kind = "order"
    elif event in PRODUCT_HOOKS:
        if order_id and not (product_id or plain_id):
            raise PayloadError(f"the {event} webhook names an order, not a product")
        found = product_id or plain_id
        kind = "product"
    elif order_id and not product_id:
        found, kind = order_id, "order"
    elif product_id and not order_id:
        found, kind = product_id, "product"
    else:
        raise PayloadError(
            "the webhook does not say whether it is about an order or a product;"
            " register the URL with the event name in it"
        )
    if not found:
        raise PayloadError(f"the {event or 'Sello'} webhook carries no id")
    return RefetchHint(kind=kind, id=found, hook=event)


def refetch_plan(hints: Iterable[RefetchHint]) -> RefetchPlan:
    """The distinct orders and products to fetch, in first-seen order."""
    orders: dict[str, None] = {}
    products: dict[str, None] = {}
    for hint in hints:
        (orders if hint.kind == "order" else products).setdefault(hint.id, None)
    return RefetchPlan(order_ids=list(orders), product_ids=list(products))


def _fields(body: Any) -> dict[str, Any]:
    """A flat dict of the body's fields, whatever its encoding."""
    if isinstance(body, bytes | bytearray):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            raise PayloadError("the webhook body is not text") from None
    if isinstance(body, str):
        stripped = body.strip()
        if not stripped:
            raise PayloadError("the webhook body is empty")
        if stripped[0] in "{[" or stripped.isdigit():
            try:
                body = json.loads(stripped)
            except json.JSONDecodeError:
                raise PayloadError("the webhook body is not valid JSON") from None
        else:
            body = dict(parse_qsl(stripped, keep_blank_values=False))
    if isinstance(body, int | float) and not isinstance(body, bool):
        return {"id": body}
    if isinstance(body, list) and len(body) == 1:
        return _fields(body[0])
    if not isinstance(body, Mapping):
        raise PayloadError("the webhook body is not an object")
    fields = dict(body)
    for key in _NESTED:
        nested = body.get(key)
        if isinstance(nested, Mapping):
            inner = dict(nested)
            if key in ("order", "product") and "id" in inner:
                # {"order": {"id": 1}} names the kind by its key.
                inner[f"{key}_id"] = inner.pop("id")
            for name, value in inner.items():
                fields.setdefault(name, value)
    return fields


def _first(fields: Mapping[str, Any], keys: tuple[str, ...], what: str) -> str | None:
    for key in keys:
        value = fields.get(key)
        if value not in (None, ""):
            return parse_id(value, f"webhook {what}")
    return None
