"""Deterministic account data for the RetailCRM sandbox: a tea-and-coffee shop with
four stores, a catalogue of products and offers with cost prices, and orders in every
status group.

Field sets follow platforms/retailcrm.md §7–§8. The catalogue is fixed so tests can
name offers by article; ``seed`` drives the API key, the stock levels, the minutes of
the order history and the generated extras (``extra_offers`` more offers in their own
products, ``extra_orders`` more orders). Orders are *plans*: the sandbox state replays
them through its own rules, so the order history is consistent with the orders by
construction. The catalogue has the flaws real ones have: a Cyrillic name, an offer
without an article, two offers sharing one.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SITE = "leaf-and-bean"
SITE_NAME = "Leaf & Bean"
CURRENCY = "RUB"
FIRST_PRODUCT_ID = 201
FIRST_OFFER_ID = 3001
FIRST_GROUP_ID = 11
FIRST_ORDER_ID = 5001
FIRST_ITEM_ID = 70001
FIRST_PAYMENT_ID = 901
FIRST_CUSTOMER_ID = 401
DAY = 86_400.0

STORES: list[dict[str, Any]] = [
    {"code": "main", "name": "Main warehouse", "type": "store-type-warehouse",
     "inventoryType": "integer", "active": True},
    {"code": "north", "name": "North depot", "type": "store-type-warehouse",
     "inventoryType": "integer", "active": True},
    {"code": "showroom", "name": "Showroom", "type": "store-type-retail",
     "inventoryType": "integer", "active": True},
    {"code": "supplier", "name": "Dropship supplier", "type": "store-type-supplier",
     "inventoryType": "available", "active": True},
]  # fmt: skip

# (code, name, group): RetailCRM's standard statuses plus one custom code, so a client
# must learn groups from the API rather than from a table of its own.
STATUSES: list[tuple[str, str, str]] = [
    ("new", "New", "new"),
    ("availability-confirmed", "Availability confirmed", "approval"),
    ("client-confirmed", "Confirmed by client", "approval"),
    ("prepayed", "Prepaid", "approval"),
    ("awaiting-stock", "Awaiting stock", "approval"),
    ("send-to-assembling", "Sent to assembling", "assembling"),
    ("assembling", "Assembling", "assembling"),
    ("assembling-complete", "Assembled", "assembling"),
    ("send-to-delivery", "Sent to delivery", "delivery"),
    ("delivering", "Delivering", "delivery"),
    ("complete", "Complete", "complete"),
    ("no-call", "No answer", "cancel"),
    ("cancel-other", "Cancelled", "cancel"),
    ("return", "Returned", "cancel"),
]

GROUPS: list[tuple[str, str, int | None]] = [  # (externalId, name, parent index)
    ("tea", "Tea", None),
    ("coffee", "Coffee", None),
    ("teaware", "Teaware", None),
    ("black-tea", "Black tea", 0),
]

# (name, article, group index, [(offer name, article, externalId, xmlId, price, cost, barcode)])
CATALOGUE: list[tuple[str, str, int, list[tuple]]] = [
    ("Assam Breakfast", "TEA-ASSAM", 3, [
        ("Assam Breakfast 100 g", "TEA-ASSAM-100", "assam-100", "WH-0001", 390, 142.5, "4601234500017"),
        ("Assam Breakfast 250 g", "TEA-ASSAM-250", "assam-250", "WH-0002", 890, 331.0, "4601234500024"),
    ]),
    ("Чай Эрл Грей", "TEA-EARL", 3, [
        ("Чай Эрл Грей 100 г", "TEA-EARL-100", "earl-100", None, 420, 150.0, "4601234500031"),
    ]),
    ("Sencha Green", "TEA-SENCHA", 0, [
        ("Sencha Green 100 g", "TEA-SENCHA-100", "sencha-100", None, 510, 205.75, ""),
    ]),
    ("Colombia Supremo beans", "COF-COL", 1, [
        ("Colombia Supremo 250 g", "COF-COL-250", "colombia-250", "WH-0101", 760, 298.0, "4601234500109"),
        ("Colombia Supremo 1 kg", "COF-COL-1000", "colombia-1000", "WH-0102", 2650, 1040.0, "4601234500116"),
    ]),
    ("Ethiopia Yirgacheffe beans", "COF-ETH", 1, [
        ("Ethiopia Yirgacheffe 250 g", "COF-ETH-250", "ethiopia-250", None, 940, 402.0, ""),
    ]),
    ("Ceramic teapot", "POT-CER", 2, [
        ("Ceramic teapot, white", "POT-CER-W", "teapot-white", None, 1990, 870.0, ""),
        ("Ceramic teapot, black", "POT-CER-B", "teapot-black", None, 1990, 870.0, ""),
    ]),
    ("Paper filters #4", "", 2, [
        ("Paper filters #4, 100 pcs", "FLT-4", "filters-100", None, 290, 95.0, ""),
        ("Paper filters #4, 200 pcs", "FLT-4", "filters-200", None, 490, 170.0, ""),
    ]),
    ("Tasting spoon", "", 2, [
        ("Tasting spoon", "", "spoon", None, 350, 120.0, ""),
    ]),
]  # fmt: skip

CUSTOMERS: list[tuple[str, str, str, str, str]] = [  # first, last, email, phone, postcode
    ("Anna", "Sokolova", "anna@example.ru", "+79161234567", "101000"),
    ("Ivan", "Petrov", "ivan.petrov@example.ru", "+79031112233", "190000"),
    ("Olga", "Smirnova", "olga@example.ru", "+79264445566", "620014"),
    ("Mark", "Hughes", "mark@example.com", "+447700900123", "SW1A 1AA"),
]

# (days ago, customer, [(offer index, quantity)], final status, shipped, shop order?, paid)
ORDER_PLANS: list[tuple[float, int, list[tuple[int, float]], str, bool, bool, bool]] = [
    (20.0, 0, [(0, 2), (4, 1)], "complete", True, True, True),
    (15.0, 1, [(5, 1)], "complete", True, False, True),
    (12.0, 2, [(2, 3)], "cancel-other", False, True, False),
    (9.0, 3, [(7, 1), (9, 2)], "return", True, True, True),
    (6.0, 0, [(1, 1)], "delivering", True, True, True),
    (4.0, 1, [(3, 2), (11, 1)], "assembling", False, False, False),
    (3.0, 2, [(6, 1)], "send-to-assembling", False, True, True),
    (2.0, 3, [(8, 1)], "prepayed", False, True, True),
    (1.5, 0, [(0, 1), (2, 1)], "awaiting-stock", False, False, False),
    (1.0, 1, [(10, 4)], "client-confirmed", False, True, False),
    (0.5, 2, [(4, 2)], "new", False, True, False),
    (0.2, 3, [(1, 1), (5, 1)], "new", False, False, False),
]


@dataclass
class OrderPlan:
    created_at: float
    customer: int
    items: list[tuple[int, float]]  # (offer id, quantity)
    status: str
    shipped: bool
    external_id: str | None
    paid: bool


@dataclass
class SeedData:
    key: str
    products: dict[int, dict[str, Any]]
    offers: dict[int, dict[str, Any]]
    groups: dict[int, dict[str, Any]]
    inventories: dict[int, dict[str, dict[str, Any]]]
    customers: dict[int, dict[str, Any]]
    plans: list[OrderPlan] = field(default_factory=list)


def api_key(rng: random.Random) -> str:
    """A 32-character key in RetailCRM's alphabet (letters and digits)."""
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(32))


def stamp(seconds: float) -> str:
    """Unix seconds as RetailCRM writes date-times (the sandbox's zone is UTC)."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def build(seed: int, now: float, extra_offers: int = 0, extra_orders: int = 0) -> SeedData:
    """The whole account for ``seed`` as of ``now`` (Unix seconds)."""
    rng = random.Random(f"retailcrm:{seed}")
    groups = {}
    for index, (external, name, parent) in enumerate(GROUPS):
        groups[FIRST_GROUP_ID + index] = {
            "id": FIRST_GROUP_ID + index,
            "externalId": external,
            "name": name,
            "site": SITE,
            "active": True,
            "parentId": None if parent is None else FIRST_GROUP_ID + parent,
        }
    products: dict[int, dict[str, Any]] = {}
    offers: dict[int, dict[str, Any]] = {}
    next_offer = FIRST_OFFER_ID
    catalogue = list(CATALOGUE) + [
        (f"Blend No. {n}", f"BLEND-{n:04d}", 0,
         [(f"Blend No. {n} 100 g", f"BLEND-{n:04d}-100", f"blend-{n}", None, 300 + n % 200,
           round(100 + (n % 97) * 1.5, 2), "")])
        for n in range(1, extra_offers + 1)
    ]  # fmt: skip
    for index, (name, article, group, rows) in enumerate(catalogue):
        product_id = FIRST_PRODUCT_ID + index
        updated = now - DAY * rng.uniform(30, 90)
        products[product_id] = {
            "id": product_id,
            "externalId": f"p-{product_id}",
            "article": article,
            "name": name,
            "type": "product",
            "groups": [{"id": FIRST_GROUP_ID + group, "externalId": GROUPS[group][0]}],
            "active": True,
            "markable": False,
            "catalogId": 1,
            "updatedAt": stamp(updated),
            "offerIds": [],
        }
        for offer_name, offer_article, external, xml, price, cost, barcode in rows:
            offers[next_offer] = {
                "id": next_offer,
                "productId": product_id,
                "externalId": external,
                "xmlId": xml,
                "article": offer_article,
                "name": offer_name,
                "price": price,
                "prices": [{"priceType": "base", "price": price, "ordering": 991}],
                "purchasePrice": cost,
                "active": True,
                "barcode": barcode,
                "site": SITE,
                "unit": {"code": "pc", "name": "Piece", "sym": "pcs"},
                "vatRate": "none",
            }
            products[product_id]["offerIds"].append(next_offer)
            next_offer += 1
    inventories = {}
    for offer_id, offer in offers.items():
        levels = {}
        for store in STORES:
            if store["inventoryType"] == "available":
                available = rng.choice((0, 1))
            else:
                available = rng.choice((0, 0, 3, 5, 8, 12, 20, 40))
            levels[store["code"]] = {
                "available": available,
                "purchasePrice": offer["purchasePrice"],
            }
        inventories[offer_id] = levels
    customers = {}
    for index, (first, last, mail, phone, postcode) in enumerate(CUSTOMERS):
        customers[FIRST_CUSTOMER_ID + index] = {
            "type": "customer",
            "id": FIRST_CUSTOMER_ID + index,
            "externalId": f"c-{index + 1}",
            "firstName": first,
            "lastName": last,
            "email": mail,
            "phones": [{"number": phone}],
            "postcode": postcode,
            "site": SITE,
        }
    offer_ids = sorted(offers)
    plans = []
    for n, (days, customer, items, status, shipped, shop, paid) in enumerate(ORDER_PLANS):
        minutes = rng.randint(0, 600)
        plans.append(
            OrderPlan(
                created_at=now - days * DAY - minutes * 60,
                customer=FIRST_CUSTOMER_ID + customer,
                items=[(offer_ids[i], q) for i, q in items],
                status=status,
                shipped=shipped,
                external_id=f"web-{1001 + n}" if shop else None,
                paid=paid,
            )
        )
    for n in range(extra_orders):
        plans.append(
            OrderPlan(
                created_at=now - DAY - (extra_orders - n) * 60,
                customer=FIRST_CUSTOMER_ID + n % len(CUSTOMERS),
                items=[(offer_ids[n % len(offer_ids)], 1 + n % 3)],
                status=("new", "client-confirmed", "assembling")[n % 3],
                shipped=False,
                external_id=f"web-x{n + 1}",
                paid=n % 2 == 0,
            )
        )
    plans.sort(key=lambda plan: plan.created_at)
    return SeedData(
        key=api_key(rng),
        products=products,
        offers=offers,
        groups=groups,
        inventories=inventories,
        customers=customers,
        plans=plans,
    )
