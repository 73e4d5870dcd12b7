"""Deterministic account data for the Sello sandbox: statuses, integrations, products, orders.

The account is a Swedish perfume and cosmetics shop selling through Sello on several
marketplaces (Tradera, CDON in Sweden and Norway, Fyndiq, Amazon) and its own
WooCommerce shop. Everything comes from ``seed`` (private ``random.Random`` streams)
with timestamps relative to the construction time. Field sets and value styles follow
platforms/sello.md §4 and §10: order and product ids are numbers, status ids strings,
prices per integration strings, timestamps ``2022-05-22T21:18:20.000Z``.

Market ids other than Tradera's 1 are not published; the ones below are the
sandbox's own.
"""

from __future__ import annotations

import random
import time
from typing import Any

DAY = 86_400
FIRST_ORDER_ID = 35_729_801
FIRST_ORDER_NUMBER = 1001
FIRST_ROW_ID = 37_977_401
FIRST_PRODUCT_ID = 3_635_051
TAX = 25
EUR_RATE = {"SEK": 0.088, "NOK": 0.086, "EUR": 1.0}

ACCOUNT: dict[str, Any] = {
    # Scalars are strings, as in the documented example (§4.7).
    "id": "8346", "company": "Norrdoft Handel AB", "email": "order@norrdoft.example",
    "invoice_email": "faktura@norrdoft.example", "phone": "+46701234567",
    "address": "Kungsgatan 24", "zip": "11156", "city": "Stockholm", "country": "SE",
    "currency": "SEK", "vat_number": "SE556688888001", "type": "commission", "is_agent": "0",
    "setup_completed": "1", "beta": "0", "referrer": "0", "flags": "", "notes": "",
    "industry_id": None, "average_sales": "13512", "paid_to": "2031-12-31",
    "created_at": "2014-10-01 13:08:09", "invoices": {"overdue": [], "unpaid": []},
}  # fmt: skip

# (id, title, color, paid, delivered, active, deleted)
STATUSES: list[tuple[str, str, str, bool, bool, bool, bool]] = [
    ("2591257", "Awaiting payment", "#1a1ad4", False, False, True, False),
    ("2591259", "Payment received", "#bfdabf", True, False, True, False),
    ("2591260", "Packed", "#f0c36d", True, False, True, False),
    ("2591261", "Shipped", "#3c9a3c", True, True, False, False),
    ("2591262", "Cancelled", "#b0b0b0", False, False, False, False),
    ("2591263", "Deleted", "#6b6b6b", False, False, False, True),
]
AWAITING, PAID, PACKED, SHIPPED, CANCELLED, DELETED = (s[0] for s in STATUSES)

# (id, display_name, market_id, initials, price shape, currency by country)
INTEGRATIONS: list[tuple[int, str, int, str, str]] = [
    (46162, "Tradera", 1, "TRAD", "auction"),
    (46170, "CDON", 3, "CDON", "country"),
    (46175, "Fyndiq", 2, "FYND", "language"),
    (46180, "Amazon SE", 7, "AMZN", "flat"),
    (46190, "Norrdoft webshop", 5, "WOO", "flat"),
]
TRADERA, CDON, FYNDIQ, AMAZON, WEBSHOP = (i[0] for i in INTEGRATIONS)

# (sku, name, brand, price SEK, quantity, weight g, group, EAN?, inactive on, folder)
# fmt: off
CATALOGUE: list[tuple[str, str, str, int, int, int, str | None, bool, tuple[int, ...], str]] = [
    ("PVE001", "Versace Bright Crystal Edt 30ml", "Versace", 389, 12, 180, "PVE", True, (), "Parfym för henne"),
    ("PVE002", "Versace Bright Crystal Edt 50ml", "Versace", 489, 10, 250, "PVE", True, (), "Parfym för henne"),
    ("PVE003", "Versace Bright Crystal Edt 90ml", "Versace", 689, 4, 380, "PVE", True, (AMAZON,), "Parfym för henne"),
    ("CKO-100", "Calvin Klein One Edt 100ml", "Calvin Klein", 329, 25, 330, None, True, (), "Unisex"),
    ("HBB-050", "Hugo Boss Bottled Edt 50ml", "Hugo Boss", 459, 7, 260, None, True, (), "Parfym för honom"),
    ("DGL-050", "Dolce & Gabbana Light Blue Edt 50ml", "Dolce & Gabbana", 549, 2, 240, None, True, (TRADERA,), "Parfym för henne"),
    ("ARM-AQ75", "Armani Acqua di Gio Edt 75ml", "Armani", 629, 9, 300, None, True, (), "Parfym för honom"),
    ("LAN-IDO", "Lancôme Idôle Edp 50ml", "Lancôme", 799, 3, 270, None, True, (FYNDIQ,), "Parfym för henne"),
    ("NIV-SOFT", "Nivea Soft Creme 200ml", "Nivea", 59, 48, 230, None, True, (TRADERA,), "Hudvård"),
    ("LOR-REV", "L'Oréal Revitalift Dagkräm 50ml", "L'Oréal", 149, 0, 120, None, True, (), "Hudvård"),
    ("MAC-RW", "MAC Lipstick Ruby Woo", "MAC", 249, 15, 30, "MAC", True, (TRADERA,), "Smink"),
    ("MAC-VG", "MAC Lipstick Velvet Teddy", "MAC", 249, 6, 30, "MAC", True, (TRADERA,), "Smink"),
    ("CLQ-DDM", "Clinique Dramatically Different Moisturizing Lotion+ 125ml", "Clinique", 339, 11, 200, None, True, (), "Hudvård"),
    ("BRU-KIT", "Travel Brush Kit 5 st", "Norrdoft", 199, 20, 150, None, False, (AMAZON, FYNDIQ), "Tillbehör"),
    ("", "Presentinslagning", "Norrdoft", 29, 500, 20, None, False, (TRADERA, CDON, FYNDIQ, AMAZON), "Tillbehör"),
    ("CKO-100", "Calvin Klein One Edt 100ml (Outlet)", "Calvin Klein", 279, 1, 330, None, False, (TRADERA, CDON, FYNDIQ, AMAZON), "Outlet"),
    ("PRD-SOL", "Prada Luna Rossa Ocean Edt 100ml", "Prada", 1095, 1, 410, None, True, (), "Parfym för honom"),
    ("YSL-LIB", "YSL Libre Edp 30ml", "Yves Saint Laurent", 749, 5, 190, None, True, (AMAZON,), "Parfym för henne"),
]
# (first, last, email, alias, phone, address, zip, city, country)
CUSTOMERS: list[tuple[str, str, str, str, str, str, str, str, str]] = [
    ("Anna", "Svensson", "anna.svensson@example.se", "annas", "+46700000001", "Storgatan 1", "11122", "Stockholm", "SE"),
    ("Erik", "Lindqvist", "erik.l@example.se", "eriklind", "+46700000002", "Vasagatan 12", "41124", "Göteborg", "SE"),
    ("Maja", "Holm", "maja.holm@example.se", "majah", "+46700000003", "Södra Förstadsgatan 8", "21143", "Malmö", "SE"),
    ("Oskar", "Berg", "oskar.berg@example.se", "oskarb", "+46700000004", "Drottninggatan 44", "75310", "Uppsala", "SE"),
    ("Ingrid", "Nilsen", "ingrid.nilsen@example.no", "ingridn", "+4791000005", "Karl Johans gate 5", "0154", "Oslo", "NO"),
    ("Lars", "Hansen", "lars.hansen@example.no", "larsh", "+4791000006", "Bryggen 3", "5003", "Bergen", "NO"),
    ("Sofia", "Ek", "sofia.ek@example.se", "sofiaek", "+46700000007", "Kungsgatan 9", "90326", "Umeå", "SE"),
    ("Johan", "Ström", "", "johanstrom", "+46700000008", "Rådhusgatan 2", "83130", "Östersund", "SE"),
    ("Elsa", "Persson", "elsa.p@example.se", "", "+46700000009", "Ågatan 16", "58222", "Linköping", "SE"),
    ("Nils", "Muhrén", "nils@example.se", "Nils 2017", "+46701838828", "Kungsgatan 24", "80292", "Gävle", "SE"),
]
# fmt: on
_SHIPPING_OPTIONS = {
    TRADERA: ("Posten", 49),
    CDON: ("PostNord", 39),
    FYNDIQ: ("PostNord", 29),
    AMAZON: ("DHL", 0),
    WEBSHOP: ("Instabox", 39),
}
_PAYMENT_OPTIONS = {
    TRADERA: "Tradera Pay",
    CDON: "CDON",
    FYNDIQ: "Fyndiq",
    AMAZON: "Amazon Pay",
    WEBSHOP: "Klarna",
}


def sello_time(ts: float | None) -> str | None:
    """Unix seconds → ``2022-05-22T21:18:20.000Z`` (UTC), the live API's form."""
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(int(ts)))


def ean13(base12: str) -> str:
    """Append the EAN-13 check digit to 12 digits."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(base12))
    return base12 + str((10 - total % 10) % 10)


def status_payload(row: tuple[str, str, str, bool, bool, bool, bool]) -> dict[str, Any]:
    status_id, title, color, paid, delivered, active, deleted = row
    return {
        "id": status_id, "title": title, "color": color, "is_paid": paid,
        "is_delivered": delivered, "is_active": active, "is_deleted": deleted,
    }  # fmt: skip


class AccountFactory:
    """Builds the seeded account and every order, seeded, generated or created later."""

    def __init__(self, *, seed: int, now: int) -> None:
        self.seed = seed
        self.now = now
        self.rng = random.Random(f"sello-sandbox:{seed}")
        self.next_order_id = FIRST_ORDER_ID
        self.next_number = FIRST_ORDER_NUMBER
        self.next_row_id = FIRST_ROW_ID
        self.statuses: dict[str, dict[str, Any]] = {s[0]: status_payload(s) for s in STATUSES}
        self.integrations: dict[int, dict[str, Any]] = {
            row[0]: self._integration(*row) for row in INTEGRATIONS
        }
        self.products: dict[int, dict[str, Any]] = {}
        self._build_catalogue()

    # --- account -----------------------------------------------------------------------
    def _integration(self, iid: int, name: str, market: int, initials: str, _shape: str) -> dict:
        return {
            "id": iid, "user_id": int(ACCOUNT["id"]), "market_id": market,
            "market_user_id": str(100_000 + iid), "market_token": "***", "extra": "1",
            "endpoint": "", "display_name": name,
            "created_at": sello_time(self.now - 900 * DAY),
            "last_order_check": sello_time(self.now - 300),
            "expires_at": None, "status_id_paid": int(PAID), "status_id_unpaid": int(AWAITING),
            "status": "active", "status_updated": sello_time(self.now - 900 * DAY),
            "sandbox": 0, "version": None, "type": "marketplace" if market != 5 else "webshop",
            "initials": initials, "parent_id": 0,
        }  # fmt: skip

    def _build_catalogue(self) -> None:
        rng = self.rng
        groups: dict[str, int] = {}
        for offset, row in enumerate(CATALOGUE):
            sku, name, brand, price, quantity, weight, group, has_ean, inactive, folder = row
            pid = FIRST_PRODUCT_ID + offset
            group_id = groups.setdefault(group, 2_224_430 + len(groups)) if group else pid + 1_000
            created = self.now - (700 - 30 * offset) * DAY
            # Every fifth product was never edited: Sello sends updated_at null (§4.3).
            edited = min(self.now - DAY, created + rng.randrange(DAY, 200 * DAY))
            updated = None if offset % 5 == 4 else edited
            active = {iid: iid not in inactive for iid, *_ in INTEGRATIONS}
            self.products[pid] = {
                "id": pid, "folder_id": 1_032_760 + len(folder) % 7, "folder_name": folder,
                "brand_id": str(400 + sum(map(ord, brand)) % 97), "brand_name": brand,
                "condition": "new", "tax": str(TAX), "group_id": group_id,
                "private_name": name, "private_reference": sku, "quantity": quantity,
                "stock_location": f"{chr(65 + offset % 6)}-{10 + offset}",
                "created_at": sello_time(created), "updated_at": sello_time(updated),
                "volume": 0, "volume_unit": "m3", "weight": weight,
                "purchase_price": round(price * 0.55), "notes": "",
                "sold": rng.randrange(0, 150), "unsold": 0,
                "last_sold": sello_time(self.now - rng.randrange(1, 60) * DAY),
                "shipping": {str(iid): {"posten": "0.00", "dhl": None, "pickup": False}
                             for iid, *_ in INTEGRATIONS},
                "prices": self._prices(price),
                "texts": {"default": {"sv": {"name": name}, "en": {"use": "sv"}}},
                "categories": {"default": {"id": "161202"},
                               **{str(iid): [{"id": str(8000 + iid % 97)}] for iid, *_ in INTEGRATIONS}},
                "integrations": {
                    str(iid): {"active": on, "item_id": (227_600_000 + pid % 100_000) if on else 0}
                    for iid, on in active.items()
                },
                "properties": (
                    [{"property": "EAN", "value": {"default": ean13(f"80110{rng.randrange(10**7):07d}")}}]
                    if has_ean else []
                ),
                "auctions": {},
                "images": [{"id": 27_507_900 + offset,
                            "url_large": f"https://images.sello.io/item/{pid}/large.jpg",
                            "url_small": f"https://images.sello.io/item/{pid}/small.jpg"}],
                # Single-product-only fields (§4.3), hidden in the list.
                "tax_class": None, "quantity_threshold": 2, "manufacturer": None,
                "manufacturer_no": f"M-{sku}" if sku else "", "submitter_id": None,
                "delivery_times": {"default": {"min": 1, "max": 3}},
            }  # fmt: skip

    @staticmethod
    def _prices(price: int) -> dict[str, Any]:
        """Per-integration prices in each channel type's own shape (§4.3), as strings."""
        return {
            str(TRADERA): {"store": str(price), "auction": {"start": 0, "buynow": 0, "reserve": 0}},
            str(CDON): {
                "SE": {"store": str(price - 10), "regular": str(round(price * 1.4))},
                "NO": {"store": str(round(price * 1.05)), "regular": str(round(price * 1.45))},
            },
            str(FYNDIQ): {"sv": {"store": str(price - 20), "campaign": None}},
            str(AMAZON): {"store": str(price + 6), "campaign": None},
            str(WEBSHOP): {"store": str(price), "campaign": str(round(price * 0.9))},
            "default": {"calculate": False, "adjust": False, "minimum_price": "",
                        "target_price": "", "recommended_price": ""},
        }  # fmt: skip

    def unit_price(self, product: dict[str, Any], integration_id: int, country: str) -> tuple[float, str]:  # fmt: skip
        """What a buyer pays each on ``integration_id``, and in which currency."""
        prices = product["prices"].get(str(integration_id))
        if integration_id == CDON:
            market = "NO" if country == "NO" else "SE"
            return float(prices[market]["store"]), "NOK" if market == "NO" else "SEK"
        if integration_id == FYNDIQ:
            return float(prices["sv"]["store"]), "SEK"
        if prices is None:  # own orders (integration 0): the webshop price
            prices = product["prices"][str(WEBSHOP)]
        return float(prices.get("campaign") or prices["store"]), "SEK"

    def sellable(self, integration_id: int) -> list[dict[str, Any]]:
        """Products a buyer can order on ``integration_id`` (all for own orders)."""
        key = str(integration_id)
        return [
            p
            for p in self.products.values()
            if integration_id == 0 or p["integrations"].get(key, {}).get("active")
        ]

    # --- orders --------------------------------------------------------------------------
    def build_order(
        self,
        *,
        integration_id: int,
        status_id: str,
        lines: list[tuple[Any, ...]],
        customer: tuple[str, ...] | dict[str, Any] | None,
        created_ts: int,
        updated_ts: int | None = None,
        market_reference: str | None = None,
        currency: str | None = None,
        shipping_cost: float | None = None,
        notes: str = "",
    ) -> dict[str, Any]:
        """One complete order (list fields plus ``rows``); ids are taken from the counters."""
        integration = self.integrations.get(integration_id)
        market = integration["market_id"] if integration else 0
        info = _customer_fields(customer)
        country = info["customer_country_code"] or "SE"
        order_id, number = self.next_order_id, self.next_number
        self.next_order_id += 1
        self.next_number += 1
        stamp = sello_time(created_ts)
        if market_reference is None:
            market_reference = str(114_700_000 + order_id % 100_000) if integration_id else ""
        rows, goods, weight = [], 0.0, 0
        for line in lines:
            product, quantity = line[0], line[1]
            price, row_currency = self.unit_price(product, integration_id, country)
            if len(line) > 2 and line[2] is not None:
                price = float(line[2])  # a price agreed on the marketplace
            currency = currency or row_currency
            goods += price * quantity
            weight += product["weight"] * quantity
            ean = next((p["value"]["default"] for p in product["properties"]
                        if p["property"] == "EAN"), None)  # fmt: skip
            rows.append({
                "id": self.next_row_id, "product_id": product["id"],
                "reference": product["private_reference"], "title": product["private_name"],
                "quantity": quantity, "price": price, "tax": TAX,
                "total_vat": round(price * quantity * TAX / (100 + TAX), 2),
                "item_no": str(product["integrations"].get(str(integration_id), {}).get("item_id") or ""),
                "integration_id": integration_id, "stock_location": product["stock_location"],
                "identifier": ean, "identifier_type": "EAN" if ean else None,
                "purchase_price": product["purchase_price"],
                "total_weight": product["weight"] * quantity, "submitter": None,
                "tradera_order_id": int(market_reference)
                if integration_id == TRADERA and market_reference.isdigit() else None,
                "created_at": stamp,
            })  # fmt: skip
            self.next_row_id += 1
        currency = currency or "SEK"
        option, default_cost = _SHIPPING_OPTIONS.get(integration_id, ("Posten", 49))
        shipping = float(default_cost if shipping_cost is None else shipping_cost)
        total = round(goods + shipping, 2)
        status = self.statuses[status_id]
        order = {
            "id": order_id, "number": number, "status_id": int(status_id), "weight": weight,
            "icons": [], "reminder_sent": False, "integration_id": integration_id,
            "market": market,
            "market_reference": market_reference,
            "created_at": stamp, "delivered_at": None,
            "updated_at": sello_time(max(created_ts, updated_ts or created_ts)),
            "currency": currency, "shipping_cost": shipping, "shipping_option": option,
            "payment_option": _PAYMENT_OPTIONS.get(integration_id, ""),
            "total": total, "total_eur": round(total * EUR_RATE.get(currency, 0.09), 2),
            **info,
            "is_deleted": False, "is_active": True, "is_paid": False, "is_delivered": False,
            "is_new": True, "notes": notes, "row_count": len(rows),
            # Live single-order extras (§4.1).
            "total_vat": round(sum(r["total_vat"] for r in rows), 2),
            "tracking": [], "returns": [],
            "rows": rows,
        }  # fmt: skip
        apply_status_flags(order, status, at=order["updated_at"])
        return order

    def seed_orders(self) -> list[dict[str, Any]]:
        """About forty orders over the last 30 days across marketplaces and statuses."""
        rng = self.rng
        # (status, count, age in days (min, max))
        plan = [
            (AWAITING, 4, (0.05, 2)), (PAID, 9, (0.1, 3)), (PACKED, 5, (0.5, 4)),
            (SHIPPED, 16, (3, 30)), (CANCELLED, 3, (2, 20)), (DELETED, 1, (5, 25)),
        ]  # fmt: skip
        timed = sorted(
            (self.now - int(rng.uniform(*ages) * DAY), status)
            for status, count, ages in plan
            for _ in range(count)
        )
        integrations = [TRADERA, TRADERA, CDON, CDON, FYNDIQ, AMAZON, WEBSHOP, 0]
        orders = []
        for index, (created_ts, status) in enumerate(timed):
            integration_id = integrations[index % len(integrations)]
            customer = CUSTOMERS[rng.randrange(len(CUSTOMERS))]
            if integration_id == CDON and index % 3 == 0:
                customer = CUSTOMERS[4 + index % 2]  # a Norwegian CDON buyer
            if index == 7:
                customer = None  # a manual order without any buyer details
            lines = self._random_lines(rng, integration_id)
            progress = 0 if status == AWAITING else int(rng.uniform(0.1, 2.5) * DAY)
            orders.append(
                self.build_order(
                    integration_id=integration_id,
                    status_id=status,
                    lines=lines,
                    customer=customer,
                    created_ts=created_ts,
                    updated_ts=min(self.now - 60, created_ts + progress),
                    notes="Ring på dörren" if index % 9 == 4 else "",
                )
            )
        return orders

    def generate_extra(self, count: int) -> list[dict[str, Any]]:
        """``count`` more orders over the last 90 days (own RNG: the seed stays the same)."""
        rng = random.Random(f"sello-sandbox-extra:{self.seed}")
        start = self.now - 90 * DAY
        step = (90 * DAY - 3600) / max(count, 1)
        integrations = [TRADERA, CDON, FYNDIQ, AMAZON, WEBSHOP]
        orders = []
        for i in range(count):
            created_ts = int(start + i * step)
            age = self.now - created_ts
            if age > 7 * DAY:
                status = SHIPPED if rng.random() < 0.95 else CANCELLED
            else:
                status = rng.choice([PAID, PAID, PACKED, SHIPPED, AWAITING])
            integration_id = integrations[rng.randrange(len(integrations))]
            orders.append(
                self.build_order(
                    integration_id=integration_id,
                    status_id=status,
                    lines=self._random_lines(rng, integration_id),
                    customer=CUSTOMERS[rng.randrange(len(CUSTOMERS))],
                    created_ts=created_ts,
                    updated_ts=min(self.now - 3600, created_ts + int(rng.uniform(0.1, 3) * DAY)),
                )
            )
        return orders

    def _random_lines(self, rng: random.Random, integration_id: int) -> list[tuple[dict, int]]:
        choices = self.sellable(integration_id)
        picked = rng.sample(choices, min(len(choices), rng.choice([1, 1, 1, 2, 2, 3])))
        return [(product, rng.choice([1, 1, 1, 2])) for product in picked]


def apply_status_flags(order: dict[str, Any], status: dict[str, Any], *, at: str | None) -> None:
    """Copy a status's flags onto an order, as Sello does on every status change (§4.1).

    ``delivered_at`` is set when the order enters a delivered status and cleared when it
    leaves one (the sandbox's choice where the docs are silent, §11.6).
    """
    was_delivered = order.get("is_delivered")
    order["status_id"] = int(status["id"])
    for key in ("is_deleted", "is_active", "is_paid", "is_delivered"):
        order[key] = bool(status[key])
    if status["is_delivered"] and not was_delivered:
        order["delivered_at"] = at
    elif not status["is_delivered"]:
        order["delivered_at"] = None


def _customer_fields(customer: tuple[str, ...] | dict[str, Any] | None) -> dict[str, str]:
    keys = (
        "customer_first_name", "customer_last_name", "customer_email", "customer_alias",
        "customer_phone", "customer_address", "customer_zip", "customer_city",
        "customer_country_code",
    )  # fmt: skip
    fields = dict.fromkeys(keys, "")
    if isinstance(customer, tuple):
        fields.update(zip(keys, customer, strict=True))
    elif isinstance(customer, dict):
        for key, value in customer.items():
            name = key if key.startswith("customer_") else f"customer_{key}"
            if name not in (*keys, "customer_mobile", "customer_address_2"):
                raise ValueError(f"unknown customer field {key!r}")
            fields[name] = "" if value is None else str(value)
    fields.setdefault("customer_mobile", fields["customer_phone"])
    fields.setdefault("customer_address_2", "")
    return fields
