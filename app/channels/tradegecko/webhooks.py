"""TradeGecko webhook deliveries: is it genuine, and what should be re-read? Pure functions.

A delivery (reference §14.2) is a POST whose JSON body only *points* at a record::

    {"object_id": 1234567, "event": "fulfillment.create", "timestamp": 1546272000,
     "resource_url": "https://api.tradegecko.com/fulfillments/1234567.json"}

with ``X-Gecko-Signature`` = Base64(HMAC-SHA256(key = the OAuth application secret,
message = the body bytes)). The receiver checks the signature over the *raw* bytes it
received (as TradeGecko's own sample app does), then re-fetches what the event names:
the body carries no record data, and an unsigned body must never be trusted anyway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

SIGNATURE_HEADER = "X-Gecko-Signature"
DELIVERY_HEADER = "X-Gecko-Delivery"

# What Stockbridge re-reads for each resource an event is about.
REFETCH_STOCK = "stock"  # the variant's per-location stock (fetch_variant_stock)
REFETCH_LISTING = "listing"  # the catalogue (a new product or variant)
REFETCH_ORDER = "order"  # the state of an exported sales order
REFETCH_CUSTOMER = "customer"  # companies / addresses
REFETCH_LOCATIONS = "locations"  # the list of stock locations

_EVENT_REFETCH = {
    "variant.stock_level_update": REFETCH_STOCK,
    "variant.create": REFETCH_LISTING,
    "product.create": REFETCH_LISTING,
    "product.update": REFETCH_LISTING,
    "product.destroy": REFETCH_LISTING,
    "location.create": REFETCH_LOCATIONS,
    "location.update": REFETCH_LOCATIONS,
}
_RESOURCE_REFETCH = {
    "order": REFETCH_ORDER,
    "fulfillment": REFETCH_ORDER,
    "fulfillment_return": REFETCH_ORDER,
    "invoice": REFETCH_ORDER,
    "payment": REFETCH_ORDER,
    "company": REFETCH_CUSTOMER,
    "address": REFETCH_CUSTOMER,
    "contact": REFETCH_CUSTOMER,
}

_KNOWN_RESOURCES = frozenset(_RESOURCE_REFETCH) | {"variant", "product", "location"}


def sign(body: bytes, app_secret: str) -> str:
    """The ``X-Gecko-Signature`` value TradeGecko sends for ``body``."""
    digest = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(body: bytes, header: str, app_secret: str) -> bool:
    """True only when ``header`` is TradeGecko's signature of exactly these bytes.

    The comparison is on the decoded digests in constant time, so neither timing nor a
    different Base64 spelling (trailing newline, missing padding) gives anything away.
    No secret, no header or a malformed header is a refusal, never an acceptance.
    """
    if not app_secret or not header or not isinstance(body, bytes | bytearray):
        return False
    candidate = header.strip()
    candidate += "=" * (-len(candidate) % 4)
    try:
        claimed = base64.b64decode(candidate, validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = hmac.new(app_secret.encode("utf-8"), bytes(body), hashlib.sha256).digest()
    return hmac.compare_digest(claimed, expected)


@dataclass(frozen=True, slots=True)
class WebhookHint:
    """What a delivery asks the receiver to re-read.

    ``resource`` is the record kind the event is about (``variant``, ``fulfillment``…),
    ``object_id`` its id, ``refetch`` one of the ``REFETCH_*`` words ("" when Stockbridge
    has no use for the event).
    """

    event: str
    resource: str
    object_id: str
    refetch: str
    timestamp: float | None = None


def _parse(body: Any) -> dict[str, Any] | None:
    if isinstance(body, bytes | bytearray):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return None
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return None
    return body if isinstance(body, dict) else None


def _id_from_url(url: str) -> str:
    """``…/fulfillments/1234567.json`` → ``1234567``."""
    last = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    last = last.removesuffix(".json")
    return last if last.isdigit() else ""


def webhook_hint(body: Any) -> WebhookHint | None:
    """The re-fetch a delivery calls for; None when the body is not a TradeGecko event.

    ``variant.stock_level_update`` → ``WebhookHint(resource="variant", object_id=<variant
    id>, refetch="stock")``. The documentation's example spells one event in the plural
    (``fulfillments.create``); the resource is singularised so both forms work.
    """
    parsed = _parse(body)
    if parsed is None:
        return None
    event = str(parsed.get("event") or "").strip().lower()
    if "." not in event:
        return None
    resource, _, _action = event.partition(".")
    if resource.endswith("s") and resource[:-1] in _KNOWN_RESOURCES:
        resource = resource[:-1]
        event = f"{resource}.{_action}"
    raw_id = parsed.get("object_id")
    object_id = str(raw_id).strip() if raw_id not in (None, "") else ""
    if not object_id.isdigit():
        object_id = _id_from_url(str(parsed.get("resource_url") or ""))
    if not object_id:
        return None
    refetch = _EVENT_REFETCH.get(event) or _RESOURCE_REFETCH.get(resource, "")
    stamp = parsed.get("timestamp")
    timestamp = (
        float(stamp) if isinstance(stamp, int | float) and not isinstance(stamp, bool) else None
    )
    return WebhookHint(event, resource, object_id, refetch, timestamp)


__all__ = [
    "DELIVERY_HEADER",
    "REFETCH_CUSTOMER",
    "REFETCH_LISTING",
    "REFETCH_LOCATIONS",
    "REFETCH_ORDER",
    "REFETCH_STOCK",
    "SIGNATURE_HEADER",
    "WebhookHint",
    "sign",
    "verify_signature",
    "webhook_hint",
]
