"""The TradeGecko sandbox's starting data: one small New Zealand merchant.

Harbour & Pine Provisions sells honey, balms, wraps and candles from two locations
(an Auckland warehouse and a Wellington shop). The catalogue holds what a stock master
integration must cope with (reference §12.1, seed guide):

* variants with stock at both locations, one oversold (negative) at the shop;
* ``manage_stock=false`` variants (gift cards, gift wrapping — the latter without SKU);
* ``keep_selling=true`` variants and ``max_online`` caps;
* two variants sharing one SKU (TradeGecko does not enforce uniqueness);
* an archived variant and an archived location, hidden from default listings.

Companies cover business, consumer and supplier types, one disabled; a few historic
sales orders leave some stock committed. Quantities are fixed (tests compare against
the sandbox's own numbers anyway); ``seed`` varies ids, tokens and credentials.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

DAY = 86_400.0
APP_ID = 42


@dataclass(frozen=True, slots=True)
class VariantSeed:
    product: str
    name: str
    sku: str
    retail: float
    stock: tuple[float, float]  # (Auckland, Wellington)
    manage_stock: bool = True
    keep_selling: bool = False
    max_online: float | None = None
    status: str = "active"


@dataclass(frozen=True, slots=True)
class OrderPlan:
    """A historic order: who, what, where, and the actions it went through."""

    company: str
    lines: tuple[tuple[str, float], ...]  # (SKU, quantity); the first variant with the SKU
    location: int  # index into the locations (0 Auckland, 1 Wellington)
    status: str  # draft / active / finalized at creation
    steps: tuple[str, ...]  # actions after creation: invoice, pay, pack, fulfil, void
    days_ago: float


PRODUCTS: dict[str, dict[str, Any]] = {
    "Manuka Honey": {"product_type": "Pantry", "opt1": "Size", "tags": "honey,pantry"},
    "Kawakawa Balm": {"product_type": "Skincare", "opt1": "Size", "tags": "skincare"},
    "Beeswax Wraps": {"product_type": "Kitchen", "opt1": "Size", "tags": "kitchen,eco"},
    "Pohutukawa Candle": {"product_type": "Home", "opt1": "Size", "tags": "home,gift"},
    "Gift Card": {"product_type": "Service", "opt1": "Value", "tags": "gift"},
    "Gift Wrapping": {"product_type": "Service", "opt1": None, "tags": "gift"},
    "Flax Tote Bag": {"product_type": "Accessories", "opt1": "Colour", "tags": ""},
}

VARIANTS: tuple[VariantSeed, ...] = (
    VariantSeed("Manuka Honey", "250g", "HP-MH-250", 18.5, (40, 12)),
    VariantSeed("Manuka Honey", "500g", "HP-MH-500", 32.0, (25, 6)),
    VariantSeed("Manuka Honey", "1kg", "HP-MH-1000", 58.0, (14, 0), max_online=5),
    VariantSeed("Kawakawa Balm", "50ml", "HP-KB-50", 24.0, (30, 8)),
    VariantSeed("Kawakawa Balm", "100ml", "HP-KB-100", 39.0, (0, -2), keep_selling=True),
    VariantSeed("Beeswax Wraps", "Small", "HP-BW-S", 12.0, (60, 15)),
    VariantSeed("Beeswax Wraps", "Medium", "HP-BW-M", 16.0, (45, 10)),
    # The same SKU typed twice: TradeGecko accepts it, integrations must map by id.
    VariantSeed("Beeswax Wraps", "Large", "HP-BW-M", 22.0, (20, 4)),
    VariantSeed(
        "Pohutukawa Candle", "Small", "HP-PC-S", 29.0, (18, 3), keep_selling=True, max_online=10
    ),
    VariantSeed("Pohutukawa Candle", "Large", "HP-PC-L", 45.0, (7, 2)),
    VariantSeed("Gift Card", "$25", "HP-GC-25", 25.0, (0, 0), manage_stock=False),
    VariantSeed("Gift Card", "$50", "HP-GC-50", 50.0, (0, 0), manage_stock=False),
    VariantSeed("Gift Wrapping", "Gift Wrapping", "", 5.0, (0, 0), manage_stock=False),
    VariantSeed("Flax Tote Bag", "Natural", "HP-FT-N", 19.0, (3, 0), status="archived"),
)

LOCATIONS: tuple[dict[str, Any], ...] = (
    {
        "label": "Auckland Warehouse",
        "address1": "65 Tennyson St",
        "suburb": "Mt Eden",
        "city": "Auckland",
        "zip_code": "1024",
        "country": "NZ",
        "holds_stock": True,
        "status": "active",
    },
    {
        "label": "Wellington Shop",
        "address1": "118 Cuba Street",
        "suburb": "Te Aro",
        "city": "Wellington",
        "zip_code": "6011",
        "country": "NZ",
        "holds_stock": True,
        "status": "active",
    },
    {
        "label": "Christchurch Depot (closed)",
        "address1": "9 Moorhouse Avenue",
        "suburb": "",
        "city": "Christchurch",
        "zip_code": "8011",
        "country": "NZ",
        "holds_stock": False,
        "status": "archived",
    },
)

CURRENCIES: tuple[dict[str, Any], ...] = (
    {"iso": "NZD", "name": "New Zealand Dollar", "rate": "1.0", "symbol": "$"},
    {"iso": "AUD", "name": "Australian Dollar", "rate": "0.92", "symbol": "$"},
    {"iso": "USD", "name": "US Dollar", "rate": "0.61", "symbol": "US$"},
)

# (name, type, code, email, phone, status, [(label, address1, address2, city, zip, country, code)])
COMPANIES: tuple[tuple[Any, ...], ...] = (
    (
        "Kauri Cove Café",
        "business",
        "KCC-001",
        "orders@kauricove.example",
        "+64 9 555 0142",
        "active",
        [
            ("Shipping", "12 Wharf Road", "", "Russell", "0202", "New Zealand", "NZ"),
            ("Billing", "PO Box 88", "", "Russell", "0242", "New Zealand", "NZ"),
        ],
    ),
    (
        "Tui Street Deli",
        "business",
        "TSD-002",
        "hello@tuistreetdeli.example",
        "+64 4 555 0199",
        "active",
        [("Shipping", "221 Tui Street", "", "Wellington", "6011", "New Zealand", "NZ")],
    ),
    (
        "Aroha Ngata",
        "consumer",
        "",
        "aroha.ngata@example.net",
        "+64 21 555 0123",
        "active",
        [("Home", "5 Kowhai Lane", "", "Hamilton", "3204", "New Zealand", "NZ")],
    ),
    (
        "Waitemata Packaging Ltd",
        "supplier",
        "SUP-WP",
        "sales@waitematapack.example",
        "+64 9 555 0100",
        "active",
        [("Office", "Unit 3, 40 Rosedale Road", "", "Auckland", "0632", "New Zealand", "NZ")],
    ),
    (
        "Jane Tan",
        "consumer",
        "",
        "jane.tan@example.com",
        "+65 6123 4567",
        "active",
        [("Shipping", "10 Anson Road", "#12-01", "Singapore", "079903", "Singapore", "SG")],
    ),
    (
        "Old Mill Store",
        "business",
        "OMS-009",
        "owner@oldmill.example",
        "",
        "disabled",
        [("Shop", "1 Mill Lane", "", "Arrowtown", "9302", "New Zealand", "NZ")],
    ),
)

ORDERS: tuple[OrderPlan, ...] = (
    OrderPlan(
        "Kauri Cove Café",
        (("HP-MH-250", 6), ("HP-BW-S", 4)),
        0,
        "finalized",
        ("invoice", "pay", "pack", "fulfil"),
        21,
    ),
    OrderPlan("Tui Street Deli", (("HP-MH-500", 2), ("HP-PC-L", 1)), 1, "active", (), 6),
    OrderPlan("Aroha Ngata", (("HP-KB-50", 1),), 0, "finalized", ("invoice", "pack"), 3),
    OrderPlan("Jane Tan", (("HP-BW-M", 2),), 0, "active", ("void",), 2),
    OrderPlan("Kauri Cove Café", (("HP-MH-500", 3),), 0, "draft", (), 1),
)


@dataclass(slots=True)
class SeedData:
    account: dict[str, Any]
    user: dict[str, Any]
    app: dict[str, Any]
    privileged_token: str
    currencies: list[dict[str, Any]]
    locations: list[dict[str, Any]]
    products: list[dict[str, Any]]
    variants: list[dict[str, Any]]
    stock: dict[str, tuple[float, float]]  # by variant position ("0", "1"…)
    companies: list[dict[str, Any]]
    addresses: list[list[dict[str, Any]]]  # per company, same order
    orders: tuple[OrderPlan, ...] = field(default_factory=tuple)


def hex_token(rng: random.Random, length: int = 64) -> str:
    """A lowercase hex token like the 64-character ones in recorded traffic."""
    return "".join(rng.choice("0123456789abcdef") for _ in range(length))


def build(seed: int) -> SeedData:
    """The merchant's data for ``seed`` (ids and credentials vary with it)."""
    rng = random.Random(f"tradegecko:{seed}")
    account_id = 20_000 + rng.randint(1, 9_999)
    products = [
        {"name": name, "status": "active", "brand": "Harbour & Pine", **extra}
        for name, extra in PRODUCTS.items()
    ]
    variants = []
    stock = {}
    for position, spec in enumerate(VARIANTS):
        variants.append(
            {
                "product": spec.product,
                "name": spec.name,
                "sku": spec.sku,
                "retail_price": spec.retail,
                "wholesale_price": round(spec.retail * 0.6, 2),
                "buy_price": round(spec.retail * 0.35, 2),
                "manage_stock": spec.manage_stock,
                "keep_selling": spec.keep_selling,
                "max_online": spec.max_online,
                "status": spec.status,
                "opt1": spec.name if PRODUCTS[spec.product]["opt1"] else None,
                "upc": f"94{rng.randint(10**10, 10**11 - 1)}" if spec.sku else None,
            }
        )
        stock[str(position)] = spec.stock
    companies = []
    addresses = []
    for name, kind, code, email, phone, status, places in COMPANIES:
        companies.append(
            {
                "name": name,
                "company_type": kind,
                "company_code": code or None,
                "email": email,
                "phone_number": phone or None,
                "status": status,
                "tags": [kind],
            }
        )
        addresses.append(
            [
                {
                    "label": label,
                    "address1": line1,
                    "address2": line2,
                    "city": city,
                    "zip_code": zip_code,
                    "country": country,
                    "country_code": country_code,
                    "company_name": name if kind == "business" else "",
                    "email": email,
                    "phone_number": phone,
                }
                for label, line1, line2, city, zip_code, country, country_code in places
            ]
        )
    return SeedData(
        account={
            "id": account_id,
            "name": "Harbour & Pine Provisions",
            "country": "NZ",
            "time_zone": "Pacific/Auckland",
            "default_tax_treatment": "inclusive",
            "tax_label": "GST",
            "default_order_price_list_id": "retail",
            "default_purchase_order_price_list_id": "buy",
            "stock_level_warn": True,
        },
        user={"first_name": "Mere", "last_name": "Parata", "email": "mere@harbourpine.example"},
        app={
            "id": APP_ID,
            "name": "Stockbridge",
            "client_id": hex_token(rng),
            "client_secret": hex_token(rng),
        },
        privileged_token=hex_token(rng),
        currencies=[dict(c) for c in CURRENCIES],
        locations=[dict(loc) for loc in LOCATIONS],
        products=products,
        variants=variants,
        stock=stock,
        companies=companies,
        addresses=addresses,
        orders=ORDERS,
    )


__all__ = ["APP_ID", "DAY", "OrderPlan", "SeedData", "VariantSeed", "build", "hex_token"]
