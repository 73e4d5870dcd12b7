"""Reading and writing TradeGecko's scalar values and envelopes. Pure functions.

TradeGecko (platforms/tradegecko.md §3, §12) wraps a record in its singular snake_case
name (``{"variant": {…}}``) and a list in the plural (``{"variants": […]}``, with the
irregular ``companies``, ``addresses``, ``currencies``). Quantities and money are decimal
*strings* whose format wanders (``"10"``, ``"10.0"``, ``"-0.0"``, sometimes a bare
number); ids are integers; timestamps are ISO 8601 UTC with milliseconds; business dates
are ``YYYY-MM-DD``. Readers here are lenient in what they accept and raise
:class:`PayloadError` naming the field when a value cannot be trusted.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from app.channels.errors import PayloadError, Rejected
from app.channels.values import identifier as parse_id  # noqa: F401 - this module's API
from app.channels.values import number, text
from app.channels.values import timestamp as parse_timestamp  # noqa: F401 - this module's API

_IRREGULAR_PLURALS = {"company": "companies", "address": "addresses", "currency": "currencies"}


# --- envelopes and scalars --------------------------------------------------------------


def plural(root: str) -> str:
    """The collection key of a resource (``variant`` → ``variants``, ``company`` → ``companies``)."""
    return _IRREGULAR_PLURALS.get(root, root + "s")


def unwrap(body: Any, root: str) -> dict[str, Any]:
    """The record inside ``{"<root>": {…}}``; PayloadError when it is not there."""
    record = body.get(root) if isinstance(body, dict) else None
    if not isinstance(record, dict):
        raise PayloadError(f"TradeGecko's answer has no {root} in it")
    return record


def record(payload: Any, root: str) -> dict[str, Any]:
    """A record as TradeGecko sends it, in its ``{"<root>": {…}}`` envelope or bare."""
    found = payload.get(root, payload) if isinstance(payload, dict) else payload
    if not isinstance(found, dict):
        raise PayloadError(f"{root} is not an object")
    return found


def unwrap_list(body: Any, root: str) -> list[dict[str, Any]]:
    """The records inside ``{"<plural>": […]}`` (non-objects are refused, not skipped)."""
    key = plural(root)
    rows = body.get(key) if isinstance(body, dict) else None
    if not isinstance(rows, list):
        raise PayloadError(f"TradeGecko's answer has no list of {key} in it")
    for row in rows:
        if not isinstance(row, dict):
            raise PayloadError(f"TradeGecko's list of {key} holds something that is not a record")
    return rows


def parse_decimal(value: Any, what: str, *, default: float | None = None) -> float:
    """A float from TradeGecko's decimal strings (or a number); ``default`` for null/blank."""
    return number(value, what, default=default) + 0.0  # "-0.0" is zero stock, not negative


def optional_decimal(value: Any, what: str) -> float | None:
    """Like :func:`parse_decimal` but null/blank stays None (``max_online`` unset)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_decimal(value, what)


def parse_bool(value: Any, *, default: bool = False) -> bool:
    """A JSON flag; the gem types some flags as integers, so 0/1 and "true"/"false" count."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    return text(value).lower() in ("true", "1", "yes", "t")


def format_timestamp(seconds: float) -> str:
    """Unix seconds as TradeGecko writes date-times: ``2015-11-02T01:22:24.817Z``."""
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def format_date(seconds: float) -> str:
    """Unix seconds as a business date (``issued_at``, ``packed_at``): ``YYYY-MM-DD``."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d")


def format_decimal(value: float) -> str:
    """A quantity or amount as TradeGecko's decimal string, without float noise ("40.9")."""
    try:
        number = Decimal(repr(float(value)))
    except (InvalidOperation, ValueError):
        raise Rejected(f"{value!r} is not a number TradeGecko can take") from None
    if not number.is_finite():
        raise Rejected(f"{value!r} is not a number TradeGecko can take")
    formatted = format(number.normalize(), "f")
    return "0" if formatted in ("-0", "0") else formatted


# --- pagination ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pagination:
    """The ``X-Pagination`` header of a collection answer (reference §4)."""

    total_records: int
    total_pages: int
    first_page: bool
    last_page: bool
    out_of_bounds: bool
    offset: int


def parse_pagination(header: str | None) -> Pagination | None:
    """The header's JSON as a record; None when absent or unreadable (paging then falls
    back to "a short page is the last one")."""
    if not header:
        return None
    try:
        data = json.loads(header)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    try:
        return Pagination(
            total_records=int(data.get("total_records") or 0),
            total_pages=int(data.get("total_pages") or 0),
            first_page=parse_bool(data.get("first_page")),
            last_page=parse_bool(data.get("last_page")),
            out_of_bounds=parse_bool(data.get("out_of_bounds")),
            offset=int(data.get("offset") or 0),
        )
    except (TypeError, ValueError, OverflowError):
        return None


# --- errors -------------------------------------------------------------------------


def _humanise(field_name: str) -> str:
    """``order_line_items.variant_id`` → ``order line items variant id``."""
    return field_name.replace(".", " ").replace("_", " ").strip()


def errors_in_words(errors: Any) -> str:
    """A 422 body's ``errors`` (field → Rails messages) as one merchant-readable sentence.

    ``{"variant_id": ["can't be blank"], "base": ["Order is void"]}`` →
    ``"Variant id can't be blank; Order is void"``. ``base`` messages stand alone.
    """
    parts: list[str] = []
    if isinstance(errors, dict):
        for name, messages in errors.items():
            items = messages if isinstance(messages, list) else [messages]
            for message in items:
                words = text(message)
                if not words:
                    continue
                if name in ("base", "", None):
                    parts.append(words)
                else:
                    parts.append(f"{_humanise(str(name))} {words}")
    elif isinstance(errors, list):
        parts = [text(item) for item in errors if text(item)]
    elif text(errors):
        parts = [text(errors)]
    sentences = [part[0].upper() + part[1:] for part in parts if part]
    return "; ".join(dict.fromkeys(sentences))


def idempotency_key(kind: str, *parts: Any) -> str:
    """A deterministic ``Idempotency-Key``: the same request content gives the same key.

    Content goes into the key so that a *changed* request (the merchant fixed what a 422
    refused) is not answered with the replay of the old one.
    """
    digest = hashlib.sha256(
        json.dumps([kind, *parts], sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()
    return f"stockbridge-{kind}-{digest[:40]}"
