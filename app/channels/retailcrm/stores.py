"""Which RetailCRM store (warehouse) shows the stock of which local warehouse. Pure.

A channel keeps the pairs in its settings as ``store_map``: ``{store code: local
warehouse id}``. Each store then receives *that* warehouse's available stock, and a
shipment names the store of the warehouse the order ships from.

Channels connected before the map existed have only ``store_code``: that one store keeps
receiving the stock of every warehouse together, as before (``ALL_WAREHOUSES``). The
first saved map replaces it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

STORE_MAP = "store_map"
LEGACY_STORE = "store_code"
# The warehouse of a legacy single store: every local warehouse summed.
ALL_WAREHOUSES: int | None = None


class StoreMapError(ValueError):
    """A store map the merchant asked for that cannot work; the message says why."""


@dataclass(frozen=True, slots=True)
class StorePair:
    """One row of the store table, as the dialog and ``channel stores`` show it."""

    store: str
    store_name: str
    warehouse_id: int | None  # None: not mapped (or, legacy, all warehouses)
    warehouse_name: str
    active: bool = True
    counts: bool = True  # False for stores that record only "in stock: yes/no"


def store_map(settings: Mapping[str, Any]) -> dict[str, int | None]:
    """The channel's effective ``{store code: warehouse id}``, oldest form included.

    A saved map wins; otherwise the single ``store_code`` receives all warehouses
    (``ALL_WAREHOUSES``); with neither, nothing.
    """
    raw = settings.get(STORE_MAP)
    if isinstance(raw, Mapping) and raw:
        pairs: dict[str, int | None] = {}
        for code, warehouse in raw.items():
            code = str(code).strip()
            if code and warehouse is not None and str(warehouse).strip().isdigit():
                pairs[code] = int(warehouse)
        if pairs:
            return pairs
    legacy = str(settings.get(LEGACY_STORE) or "").strip()
    return {legacy: ALL_WAREHOUSES} if legacy else {}


def store_for_warehouse(pairs: Mapping[str, int | None], warehouse_id: int | None) -> str | None:
    """The store that stands for ``warehouse_id``; a legacy single store stands for all."""
    for code, warehouse in pairs.items():
        if warehouse is ALL_WAREHOUSES or warehouse == warehouse_id:
            return code
    return None


def checked_map(
    wanted: Mapping[str, int | None],
    stores: Iterable[str],
    warehouses: Mapping[int, str],
) -> dict[str, int]:
    """``wanted`` as it will be saved (unmapped stores dropped), or StoreMapError.

    Every store must exist in RetailCRM and every warehouse locally; one warehouse feeds
    one store only, since two stores showing the same goods would sell them twice.
    """
    known = set(stores)
    result: dict[str, int] = {}
    used: dict[int, str] = {}
    for code, warehouse in wanted.items():
        code = str(code).strip()
        if warehouse is None:
            continue
        if code not in known:
            raise StoreMapError(
                f"RetailCRM has no store '{code}'. Its stores are: {', '.join(sorted(known))}."
            )
        if warehouse not in warehouses:
            raise StoreMapError(f"There is no local warehouse number {warehouse}.")
        if warehouse in used:
            raise StoreMapError(
                f"{warehouses[warehouse]} is already shown in store '{used[warehouse]}';"
                f" a warehouse can fill one RetailCRM store only (otherwise its stock"
                f" would be sold twice). Choose another warehouse for '{code}'."
            )
        used[warehouse] = code
        result[code] = int(warehouse)
    if not result:
        raise StoreMapError(
            "Choose a warehouse for at least one RetailCRM store, or Stockbridge has"
            " nowhere to send stock."
        )
    return result


def parse_pairs(texts: Iterable[str]) -> list[tuple[str, str]]:
    """``STORE=WAREHOUSE`` arguments as pairs; the warehouse may be named or numbered.

    ``STORE=`` (nothing after the sign) takes the store out of the map.
    """
    pairs = []
    for text in texts:
        store, sign, warehouse = text.partition("=")
        if not sign or not store.strip():
            raise StoreMapError(
                f"'{text}' is not STORE=WAREHOUSE, e.g. main='Main warehouse' or north=2."
            )
        pairs.append((store.strip(), warehouse.strip()))
    return pairs
