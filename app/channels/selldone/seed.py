"""Deterministic shop data for the Selldone sandbox: catalogue, customers and orders.

The shop is a small wool/outdoor merchant selling in EUR. Everything is derived from
``seed`` (a private ``random.Random``), with timestamps relative to the construction
time. Field sets follow the Selldone API reference (platforms/selldone.md §3, §8).

Prices follow the reference's price rule (§8.1): an item's ``price`` is the unit price
after the per-unit discount ``dis``, and ``basket.price = Σ count × item.price −
basket.discount + delivery_price``.

Benchmark orders (``extra_orders``) are kept compact: :class:`OrderIndex` holds what
filtering and sorting need plus a small ``spec`` tuple, and :meth:`ShopFactory.materialize`
rebuilds the full basket dict from it on demand. 100,000 full basket dicts would cost
close to a gigabyte; the compact rows cost a few dozen megabytes.
"""

from __future__ import annotations

import random
import time
from typing import Any

CURRENCY = "EUR"
DELIVERY_STATES = ("CheckQueue", "OrderConfirm", "PreparingOrder", "SentOrder", "ToCustomer")
BASKET_STATUSES = ("Open", "Reserved", "Payed", "Canceled", "COD")
PAID_STATUSES = frozenset({"Payed", "COD"})
REJECT_REASONS = (
    "CantAcceptCOD",
    "PaymentReturned",
    "PaymentFraud",
    "LocationOutOfService",
    "UserNotResponding",
    "ShopOwnerFault",
    "LackOfInventory",
    "LegalRestriction",
    "PricingFault",
    "SystemFault",
)
DAY = 86_400

# First ids, in the ranges the reference example uses so payloads look familiar.
FIRST_PRODUCT_ID = 6101
FIRST_VARIANT_ID = 18001
FIRST_CUSTOMER_ID = 55101
FIRST_USER_ID = 902101
FIRST_BASKET_ID = 48101
FIRST_ITEM_ID = 231001
FIRST_PAYMENT_ID = 77101


def laravel_time(ts: float | None) -> str | None:
    """Unix seconds → Laravel's ISO form ``2025-03-14T09:21:07.000000Z`` (UTC).

    The fixed-width format sorts lexicographically in time order.
    """
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(int(ts)))


def ean13(base12: str) -> str:
    """Append the EAN-13 check digit to 12 digits."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(base12))
    return base12 + str((10 - total % 10) % 10)


# --------------------------------------------------------------------- catalogue
# (title, sku, brand, price, discount, weight kg, mpn, has gtin, variants, options)
# variants: (sku, dims, variant price or None); dims keys are Selldone dimension names.
# fmt: off
_CATALOG: list[tuple[Any, ...]] = [
    # First on purpose: the lowest product id is a plain product without variants.
    ("Merino Neck Gaiter", "NECK-MER", "Nordwolle", 24.9, 0.0, 0.06, None, False, [], {}),
    ("Merino Crew Socks", "SOCK-MER", "Nordwolle", 21.95, 2.0, 0.1, None, False, [
        ("SOCK-MER-BLK-39", {"color": "#101010", "volume": "39-42"}, None),
        ("SOCK-MER-BLK-43", {"color": "#101010", "volume": "43-46"}, None),
        ("SOCK-MER-GRY-39", {"color": "#8a8d91", "volume": "39-42"}, None),
        ("SOCK-MER-GRY-43", {"color": "#8a8d91", "volume": "43-46"}, None),
    ], {}),
    ("Wool Wash 250 ml", "WASH-250", "Nordwolle", 8.9, 0.0, 0.3, "WW250", True, [], {}),
    ("Merino Base Layer Top", "BL-TOP", "Nordwolle", 69.0, 0.0, 0.25, None, False, [
        ("BL-TOP-S", {"volume": "S"}, None),
        ("BL-TOP-M", {"volume": "M"}, None),
        ("BL-TOP-L", {"volume": "L"}, None),
    ], {}),
    ("Alpaca Beanie", "BEANIE-ALP", "Andenwerk", 34.9, 0.0, 0.12, None, False, [
        ("BEANIE-ALP-NAT", {"color": "#e8dcc8", "style": "Natural"}, None),
        ("BEANIE-ALP-CHA", {"color": "#3b3b3b", "style": "Charcoal"}, None),
    ], {}),
    ("Loden Field Jacket", "LODEN-JKT", "Alpenloden", 289.0, 0.0, 1.4, "ALJ-2200", False, [
        ("LODEN-JKT-M", {"volume": "M"}, None),
        ("LODEN-JKT-L", {"volume": "L"}, None),
        ("LODEN-JKT-XL", {"volume": "XL"}, 299.0),
    ], {}),
    ("Felted Wool Insoles", "INSOLE-FLT", "Nordwolle", 14.5, 0.0, 0.08, None, False, [
        ("INSOLE-FLT-38", {"volume": "38"}, None),
        ("INSOLE-FLT-40", {"volume": "40"}, None),
        ("INSOLE-FLT-42", {"volume": "42"}, None),
        ("INSOLE-FLT-44", {"volume": "44"}, None),
    ], {}),
    ("Highland Wool Blanket", "BLANKET-HL", "Highland Mills", 119.0, 10.0, 1.8, "HM-B140", True, [], {}),
    ("Aran Knitting Yarn 100 g", "YARN-ARAN", "Nordwolle", 7.9, 0.0, 0.1, None, False, [
        ("YARN-ARAN-MOS", {"color": "#5d6b3a", "style": "Moss"}, None),
        ("YARN-ARAN-SLA", {"color": "#59606b", "style": "Slate"}, None),
        ("YARN-ARAN-OAT", {"color": "#d9cdb4", "style": "Oat"}, None),
    ], {}),
    ("Waxed Canvas Gaiters", "GAIT-WAX", "Fjellgear", 49.0, 0.0, 0.4, "FG-GT1", False, [], {}),
    ("Fjell Wax Bar 80 g", "WAX-BAR", "Fjellgear", 9.5, 0.0, 0.09, None, True, [], {}),
    ("Boiled Wool Mittens", "MITT-BW", "Nordwolle", 39.0, 0.0, 0.15, None, False, [
        ("MITT-BW-S", {"volume": "S"}, None),
        ("MITT-BW-M", {"volume": "M"}, None),
        ("MITT-BW-L", {"volume": "L"}, None),
    ], {}),
    ("Steel Thermos Flask 0.75 l", "FLASK-075", "Termo", 32.0, 0.0, 0.45, "TF-750", True, [], {}),
    ("Sheepskin Slippers", "SLIP-SHP", "Schafhof", 79.0, 0.0, 0.6, None, False, [
        ("SLIP-SHP-38", {"volume": "38"}, None),
        ("SLIP-SHP-40", {"volume": "40"}, None),
        ("SLIP-SHP-42", {"volume": "42"}, None),
    ], {"zero_variant": 1}),
    ("Lanolin Care Spray 200 ml", "LANO-SPR", "Nordwolle", 12.9, 0.0, 0.25, "LS-200", False, [], {}),
    # A listing without SKU: the connector must cope (link by id or manually).
    ("Gift Wrapping", "", None, 4.5, 0.0, 0.05, None, False, [], {}),
    # The same SKU as "Wool Wash 250 ml" on a second listing: a duplicate to detect.
    ("Wool Wash 250 ml (Outlet)", "WASH-250", "Nordwolle", 8.9, 2.0, 0.3, None, False, [], {}),
    ("Enamel Camp Mug", "MUG-ENA", "Fjellgear", 16.0, 0.0, 0.3, None, False, [
        ("MUG-ENA-CRM", {"color": "#f3ecd8", "style": "Cream"}, None),
        ("MUG-ENA-FOR", {"color": "#2f4f3a", "style": "Forest"}, None),
    ], {}),
    ("Rolltop Backpack 28 l", "PACK-RT28", "Fjellgear", 139.0, 0.0, 1.1, "FG-RT28", False, [
        ("PACK-RT28-OLV", {"color": "#556b2f", "style": "Olive"}, None),
        ("PACK-RT28-BLK", {"color": "#111111", "style": "Black"}, None),
    ], {}),
    ("Down Vest", "VEST-DWN", "Alpenloden", 159.0, 0.0, 0.5, None, False, [
        ("VEST-DWN-S", {"volume": "S"}, None),
        ("VEST-DWN-M", {"volume": "M"}, None),
        ("VEST-DWN-L", {"volume": "L"}, None),
    ], {"disabled_variant": 2}),
    ("Raw Fleece (per kg)", "FLEECE-RAW", "Schafhof", 18.0, 0.0, 1.0, None, False, [],
     {"unit": "kg", "unit_float": True}),
    ("Heritage Wool Scarf", "SCARF-HER", "Highland Mills", 59.0, 0.0, 0.2, None, False, [],
     {"status": "Close", "quantity": 0}),
]

# (country, state, state_code, city, postal, lat, lng, street)
_PLACES = [
    ("DE", "Berlin", "BE", "Berlin", "10119", 52.5297, 13.4015, "Torstraße"),
    ("DE", "Hamburg", "HH", "Hamburg", "20357", 53.5630, 9.9621, "Schanzenstraße"),
    ("DE", "Bayern", "BY", "München", "80802", 48.1600, 11.5860, "Leopoldstraße"),
    ("DE", "Nordrhein-Westfalen", "NW", "Köln", "50676", 50.9335, 6.9380, "Ehrenstraße"),
    ("DE", "Sachsen", "SN", "Leipzig", "04107", 51.3330, 12.3790, "Karl-Liebknecht-Straße"),
    ("DE", "Schleswig-Holstein", "SH", "Kiel", "24105", 54.3330, 10.1320, "Holtenauer Straße"),
    ("AT", "Wien", "9", "Wien", "1070", 48.2016, 16.3497, "Neubaugasse"),
    ("AT", "Tirol", "7", "Innsbruck", "6020", 47.2692, 11.4041, "Maria-Theresien-Straße"),
    ("NL", "Noord-Holland", "NH", "Amsterdam", "1015", 52.3738, 4.8840, "Prinsengracht"),
    ("CH", "Zürich", "ZH", "Zürich", "8004", 47.3769, 8.5270, "Langstrasse"),
    ("DE", "Baden-Württemberg", "BW", "Freiburg im Breisgau", "79098", 47.9960, 7.8494,
     "Kaiser-Joseph-Straße"),
    ("DE", "Bremen", "HB", "Bremen", "28203", 53.0727, 8.8240, "Ostertorsteinweg"),
]
_CUSTOMER_NAMES = [
    "Anna Schmidt", "Jonas Becker", "Lena Hofmann", "Felix Wagner", "Marie Schulz",
    "Lukas Meyer", "Sophie Gruber", "Tobias Huber", "Sanne de Vries", "Nina Keller",
    "Paul Fischer", "Clara Weber",
]
_GUEST_NAMES = [
    "Max Richter", "Julia Braun", "Ole Hansen", "Emma Vogel", "Jan Kowalski", "Mia Lange",
]
# fmt: on
_PHONE_PREFIX = {"DE": "+4930", "AT": "+431", "NL": "+3120", "CH": "+4144"}
_EMAIL_TLD = {"DE": "de", "AT": "at", "NL": "nl", "CH": "ch"}
_DELIVERY_PRICE = {"DE": 4.9, "AT": 9.9, "NL": 9.9, "CH": 14.9}
FREE_SHIPPING_FROM = 75.0  # DE only
_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
_NOTES = [None, None, None, "Please ring twice", "Leave at the neighbours", "Back entrance"]


def tracking_for(basket_id: int, country: str) -> tuple[str, str]:
    """A stable, carrier-looking tracking code and URL for a basket."""
    code = f"00340434{(basket_id * 7_919_003) % 10**12:012d}"
    if country == "AT":
        return code, f"https://www.post.at/s/sendungsdetails?snr={code}"
    return code, f"https://www.dhl.de/de/privatkunden/dhl-sendungsverfolgung.html?piececode={code}"


class OrderIndex:
    """What listing needs to filter and sort one order, without building the basket.

    ``spec`` is set only for compact generated orders (see ShopFactory.materialize);
    for orders held as full dicts it is None and the sandbox re-derives the row from
    the dict after every change.
    """

    __slots__ = (
        "id", "status", "delivery_state", "reserved_ts", "created_ts", "updated_ts",
        "price", "customer_id", "product_ids", "country", "deducted", "spec",
    )  # fmt: skip

    def __init__(self, **fields: Any) -> None:
        for name in self.__slots__:
            setattr(self, name, fields.get(name))


class ShopFactory:
    """Builds the seeded shop and every basket, both seeded and created later."""

    def __init__(self, *, shop_id: int, seed: int, now: int) -> None:
        self.shop_id = shop_id
        self.seed = seed
        self.now = now
        self.rng = random.Random(f"selldone-sandbox:{seed}")
        self.next_basket_id = FIRST_BASKET_ID
        self.next_item_id = FIRST_ITEM_ID
        self.next_payment_id = FIRST_PAYMENT_ID
        self.next_customer_id = FIRST_CUSTOMER_ID
        self.next_user_id = FIRST_USER_ID
        self.shop = self._build_shop()
        self.products: dict[int, dict] = {}
        self.variants: dict[int, dict] = {}
        self._build_catalog()
        self.customers: dict[int, dict] = {}
        # Insertion-ordered and append-only: generated orders refer to buyers by position.
        self.customer_list: list[dict] = []
        for i, name in enumerate(_CUSTOMER_NAMES):
            self.add_customer(name, place=i % len(_PLACES), created=now - (200 - 9 * i) * DAY)
        # (product, variant) pairs a buyer can put in a basket, for generated orders.
        self.sellables: list[tuple[dict, dict | None]] = [
            (p, v)
            for p in self.products.values()
            if p["status"] == "Open"
            for v in (p["product_variants"] or [None])
            if v is None or v["enable"]
        ]

    # ----------------------------------------------------------------- shop/catalogue
    def _build_shop(self) -> dict[str, Any]:
        return {
            "id": self.shop_id,
            "name": "nordwolle",
            "title": "Nordwolle Outdoor",
            "description": "Wool and outdoor gear from the north.",
            "currency": CURRENCY,
            "currencies": [CURRENCY],
            "language": "de",
            "country": "DE",
            "domain": "nordwolle.selldone.business",
            "status": "Open",
            "model": "normal",
            "created_at": laravel_time(self.now - 400 * DAY),
            "updated_at": laravel_time(self.now - 3 * DAY),
        }

    def _build_catalog(self) -> None:
        rng = self.rng
        variant_id = FIRST_VARIANT_ID
        for offset, row in enumerate(_CATALOG):
            title, sku, brand, price, discount, weight, mpn, has_gtin, variants, opts = row
            pid = FIRST_PRODUCT_ID + offset
            created = self.now - (300 - 11 * offset) * DAY
            updated = created + rng.randrange(DAY, 60 * DAY)
            product: dict[str, Any] = {
                "id": pid, "shop_id": self.shop_id, "type": "PHYSICAL",
                "status": opts.get("status", "Open"), "title": title, "title_en": None,
                "slug": title.lower().replace(" ", "-"), "sku": sku, "mpn": mpn,
                "gtin": ean13(f"426{rng.randrange(10**9):09d}") if has_gtin else None,
                "hsn": None, "gpc": None, "brand": brand, "condition": "new",
                "price": price, "currency": CURRENCY, "commission": 0.0, "discount": discount,
                "dis_start": None, "dis_end": None, "price_label": None, "pricing": "FIX",
                "price_input": "default", "valuation_id": None, "quantity": 0.0,
                "unit": opts.get("unit"), "unit_float": opts.get("unit_float", False),
                "limit_min": 0, "limit_max": 0, "lead": -1,
                "extra": {"width": 30, "length": 20, "height": 10, "weight": weight},
                "category_id": 901 + offset % 4, "tags": [], "meta": None, "parent_id": None,
                "vendor_id": None, "connect_id": None, "tax_id": None, "shipping_id": None,
                "warranty": None, "return_warranty": 14, "original": True,
                "icon": f"shops/{self.shop_id}/products/{pid}/cover.jpg",
                "created_at": laravel_time(created), "updated_at": laravel_time(updated),
                "deleted_at": None, "product_variants": [],
            }  # fmt: skip
            for index, (vsku, dims, vprice) in enumerate(variants):
                quantity = 0 if opts.get("zero_variant") == index else rng.randrange(2, 40)
                product["product_variants"].append(
                    {
                        "id": variant_id, "shop_id": self.shop_id, "product_id": pid,
                        "sku": vsku, "mpn": f"{mpn}-{index + 1}" if mpn else None,
                        "gtin": ean13(f"426{rng.randrange(10**9):09d}") if index % 2 == 0 else None,
                        "color": dims.get("color"), "style": dims.get("style"),
                        "volume": dims.get("volume"), "weight": None, "pack": None, "type": None,
                        "pricing": vprice is not None, "price": vprice,
                        "currency": CURRENCY, "commission": 0.0 if vprice else None,
                        "discount": 0.0 if vprice else None, "dis_start": None, "dis_end": None,
                        "price_label": None, "quantity": float(quantity), "image": None,
                        "enable": opts.get("disabled_variant") != index, "lead": -1,
                        "extra": None, "ar": None, "parent_id": None, "meta": None,
                        "created_at": product["created_at"], "updated_at": product["updated_at"],
                        "deleted_at": None,
                    }
                )  # fmt: skip
                self.variants[variant_id] = product["product_variants"][-1]
                variant_id += 1
            if variants:
                product["quantity"] = sum(v["quantity"] for v in product["product_variants"])
            elif "quantity" in opts:
                product["quantity"] = float(opts["quantity"])
            elif product["unit_float"]:
                product["quantity"] = round(rng.randrange(20, 300) / 10, 1)
            else:
                product["quantity"] = float(rng.choice([0, 3, 7, 12, 18, 25, 40, 60]))
            self.products[pid] = product

    # --------------------------------------------------------------------- customers
    def add_customer(
        self,
        name: str,
        *,
        email: str | None = None,
        phone: str | None = None,
        place: int | None = None,
        created: int | None = None,
        user_id: int | None = None,
    ) -> dict[str, Any]:
        """Create a registered buyer (user + shop customer row) and return the customer."""
        cid = self.next_customer_id
        self.next_customer_id += 1
        if user_id is None:
            user_id = self.next_user_id
            self.next_user_id += 1
        uid = user_id
        country = _PLACES[place if place is not None else cid % len(_PLACES)][0]
        slug = name.lower().replace(" ", ".")
        created = created if created is not None else self.now
        customer = {
            "id": cid, "shop_id": self.shop_id, "user_id": uid, "source": "customer",
            "name": name, "email": email or f"{slug}@example.{_EMAIL_TLD[country]}",
            "phone": phone or f"{_PHONE_PREFIX[country]}{1_000_000 + cid * 37 % 9_000_000}",
            "segments": [], "address": None, "billing": None, "country": country,
            "level": None, "subscribed": cid % 3 == 0, "currency": CURRENCY, "chips": 0,
            "login_at": laravel_time(created), "purchase_at": None, "birthday": None,
            "sex": None, "access": True, "banned": False, "notes": None, "meta": None,
            "created_at": laravel_time(created), "updated_at": laravel_time(created),
            "deleted_at": None,
        }  # fmt: skip
        customer["address"] = self.address(
            name, customer["phone"], place if place is not None else cid
        )
        self.customers[cid] = customer
        self.customer_list.append(customer)
        return customer

    @staticmethod
    def address(name: str, phone: str, place: int, message: str | None = None) -> dict[str, Any]:
        country, state, code, city, postal, lat, lng, street = _PLACES[place % len(_PLACES)]
        number = str(3 + (place * 17) % 140)
        return {
            "name": name, "phone": phone, "country": country, "state": state,
            "state_code": code, "city": city, "address": f"{street} {number}", "no": number,
            "unit": None, "postal": postal, "message": message,
            "location": {"lat": lat, "lng": lng}, "pickup": False,
        }  # fmt: skip

    def guest_address(self, index: int) -> dict[str, Any]:
        name = _GUEST_NAMES[index % len(_GUEST_NAMES)]
        place = (index * 5 + 2) % len(_PLACES)
        return self.address(name, f"{_PHONE_PREFIX[_PLACES[place][0]]}{7_700_000 + index}", place)

    @staticmethod
    def buyer_of(customer: dict | None) -> dict | None:
        if customer is None:
            return None
        return {k: customer[k] for k in ("name", "email", "phone")} | {"id": customer["user_id"]}

    @staticmethod
    def customer_brief(customer: dict | None) -> dict | None:
        if customer is None:
            return None
        return {k: customer[k] for k in ("id", "user_id", "name", "email", "phone")}

    # ------------------------------------------------------------------------ prices
    @staticmethod
    def unit_price(product: dict, variant: dict | None) -> tuple[float, float]:
        """(unit price after discount, per-unit discount): price + commission − discount."""
        source = variant if variant is not None and variant.get("pricing") else product
        base = float(source["price"] or 0) + float(source.get("commission") or 0)
        dis = float(source.get("discount") or 0)
        return round(base - dis, 2), round(dis, 2)

    # ----------------------------------------------------------------------- baskets
    def build_basket(
        self,
        *,
        basket_id: int,
        first_item_id: int,
        lines: list[tuple[dict, dict | None, float]],
        customer: dict | None,
        receiver: dict,
        status: str,
        created_ts: int,
        guest_email: str | None = None,
        discount: float = 0.0,
        payment_id: int | None = None,
        payment_type: str | None = None,
    ) -> dict[str, Any]:
        """A fresh basket in ``CheckQueue``; callers move delivery fields on from here."""
        created = laravel_time(created_ts)
        items = []
        subtotal = weight = 0.0
        for offset, (product, variant, count) in enumerate(lines):
            price, dis = self.unit_price(product, variant)
            subtotal += price * count
            weight += float(product["extra"]["weight"]) * count
            items.append(
                {
                    "id": first_item_id + offset, "basket_id": basket_id,
                    "product_id": product["id"], "variant_id": variant["id"] if variant else None,
                    "connect_id": None, "message": None, "preferences": None, "count": count,
                    "price": price, "currency": CURRENCY, "dis": dis, "offer_id": None,
                    "offer_count": 0, "offer_amount": 0, "cross_dis": 0, "tax": None,
                    "check": False, "fulfillment_id": None, "subscription_price_id": None,
                    "vendor_id": None, "vendor_product_id": None, "extra_pricing_id": None,
                    "created_at": created, "updated_at": created,
                }
            )  # fmt: skip
        country = receiver.get("country") or "DE"
        pickup = bool(receiver.get("pickup"))
        if pickup or (country == "DE" and subtotal >= FREE_SHIPPING_FROM):
            delivery_price = 0.0
        else:
            delivery_price = _DELIVERY_PRICE.get(country, 14.9)
        reserved = None if status == "Open" else created
        return {
            "id": basket_id, "label": None, "shop_id": self.shop_id,
            "user_id": customer["user_id"] if customer else None,
            "customer_id": customer["id"] if customer else None,
            "code": None if customer else f"G{basket_id * 31 % 1_000_000:06d}",
            "type": "PHYSICAL", "stack": 0, "status": status, "reject": None, "reject_at": None,
            "receiver_info": receiver,
            "delivery_info": {
                "type": "Pickup" if pickup else ("PostFast" if country == "DE" else "Post"),
                "distance": 0.0 if pickup else round(40 + (basket_id * 13) % 900 * 1.0, 1),
                "distance_unit": "km", "volume": {"width": 30, "length": 40, "height": 15},
                "weight": round(weight, 2), "days": list(_WEEKDAYS),
                "time_spans": ["Morning", "Evening"], "custom": False, "connect_delivery": 0,
                "inbound_delivery": 2, "outbound_delivery": 0, "vendor_delivery": 0, "date": None,
            },
            "delivery_price": delivery_price, "delivery_state": "CheckQueue", "delivery_at": None,
            "billing": None, "tax": None, "tax_shipping": None, "tax_included": None,
            "lottery_id": None, "link_id": None, "discount": discount, "affiliate_id": None,
            "email_id": None, "channel": None, "subscription_id": None, "meta": None,
            "chat": None, "price": round(subtotal - discount + delivery_price, 2),
            "currency": CURRENCY, "payment_id": payment_id, "payment_type": payment_type,
            "guest_email": guest_email if customer is None else None, "language": "de",
            "reserved_at": reserved, "created_at": created, "updated_at": created,
            "gateway_processing": None, "basket_item_returns": [],
            "items": items, "buyer": self.buyer_of(customer),
            "customer": self.customer_brief(customer),
        }  # fmt: skip

    def advance_delivery(
        self, basket: dict, state: str, at_ts: int, *, unchecked: tuple[int, ...] = ()
    ) -> None:
        """Put a freshly built basket into ``state`` as if the merchant had done it by ``at_ts``."""
        level = DELIVERY_STATES.index(state)
        basket["delivery_state"] = state
        basket["updated_at"] = laravel_time(at_ts)
        if level >= 1:
            for item in basket["items"]:
                item["check"] = item["id"] not in unchecked
        if level >= 3:
            code, url = tracking_for(basket["id"], basket["receiver_info"]["country"])
            basket["delivery_info"] |= {"tracking_code": code, "tracking_url": url}
        if level >= 4:
            basket["delivery_at"] = laravel_time(at_ts)

    # --------------------------------------------------------------------- seeding
    def seed_orders(self) -> list[dict[str, Any]]:
        """About 40 orders over the last 30 days covering every status/state combination."""
        rng = self.rng
        # (status, delivery_state, reject reason, days ago (min, max))
        plan: list[tuple[str, str, str | None, tuple[float, float]]] = []
        for state, n, ages in (
            ("CheckQueue", 5, (0.05, 2)), ("OrderConfirm", 3, (0.5, 3)),
            ("PreparingOrder", 3, (1, 5)), ("SentOrder", 4, (3, 10)),
            ("ToCustomer", 7, (10, 30)),
        ):  # fmt: skip
            plan += [("Payed", state, None, ages)] * n
        for state, n, ages in (
            ("CheckQueue", 2, (0.1, 2)), ("OrderConfirm", 1, (0.5, 3)),
            ("PreparingOrder", 1, (1, 5)), ("SentOrder", 1, (3, 10)), ("ToCustomer", 2, (10, 30)),
        ):  # fmt: skip
            plan += [("COD", state, None, ages)] * n
        plan += [
            ("Payed", "CheckQueue", "LackOfInventory", (2, 8)),
            ("Payed", "OrderConfirm", "PaymentFraud", (3, 9)),
            ("COD", "CheckQueue", "CantAcceptCOD", (2, 6)),
        ]
        plan += [("Open", "CheckQueue", None, (0, 10))] * 3
        plan += [("Reserved", "CheckQueue", None, (0.1, 3))] * 3
        plan += [("Canceled", "CheckQueue", None, (3, 30))] * 3
        timed = sorted(
            ((self.now - int(rng.uniform(*ages) * DAY), entry) for *entry, ages in plan),
            key=lambda pair: pair[0],
        )
        orders = []
        partial_done = pickup_done = False
        for index, (created_ts, (status, state, reject)) in enumerate(timed):
            guest = rng.random() < 0.3
            customer = None if guest else rng.choice(list(self.customers.values()))
            if customer is None:
                receiver = self.guest_address(index)
            else:
                receiver = dict(customer["address"], message=rng.choice(_NOTES))
            if not pickup_done and status == "Payed" and state == "SentOrder":
                # One click-and-collect order: no shipping cost, pickup flag set.
                receiver = dict(receiver, pickup=True)
                pickup_done = True
            n_lines = rng.choice([1, 1, 2, 2, 3, 4])
            chosen = rng.sample(self.sellables, n_lines)
            lines = [
                (
                    p,
                    v,
                    round(rng.choice([0.5, 1.0, 2.5]), 1)
                    if p["unit_float"]
                    else rng.choice([1, 1, 1, 2, 3]),
                )
                for p, v in chosen
            ]
            paid = status == "Payed"
            basket = self.build_basket(
                basket_id=self.next_basket_id,
                first_item_id=self.next_item_id,
                lines=lines,
                customer=customer,
                receiver=receiver,
                status=status,
                created_ts=created_ts,
                guest_email=f"guest{index}@example.org" if guest else None,
                discount=5.0 if index % 6 == 1 else 0.0,
                payment_id=self.next_payment_id if paid else None,
                payment_type=rng.choice(["stripe", "stripe", "paypal"]) if paid else None,
            )
            if basket["price"] < 0:  # a 5 EUR coupon on a tiny basket: drop the coupon
                basket["price"] = round(basket["price"] + basket["discount"], 2)
                basket["discount"] = 0.0
            self.next_basket_id += 1
            self.next_item_id += n_lines
            self.next_payment_id += 1 if paid else 0
            if status in PAID_STATUSES:
                progress = min(
                    self.now, created_ts + int(DAY * (0.2 + 1.1 * DELIVERY_STATES.index(state)))
                )
                unchecked: tuple[int, ...] = ()
                if state == "OrderConfirm" and n_lines > 1 and not partial_done:
                    unchecked = (basket["items"][-1]["id"],)  # a partial confirmation
                    partial_done = True
                self.advance_delivery(basket, state, progress, unchecked=unchecked)
                if reject:
                    reject_ts = min(self.now, progress + 3600)
                    basket |= {"reject": reject, "reject_at": laravel_time(reject_ts),
                               "updated_at": laravel_time(reject_ts)}  # fmt: skip
            elif status == "Canceled":
                basket["updated_at"] = laravel_time(min(self.now, created_ts + DAY))
            orders.append(basket)
        return orders

    # ------------------------------------------------------------- generated orders
    def generate_extra(self, count: int, lines_per_order: int) -> list[OrderIndex]:
        """``count`` compact PHYSICAL Payed/COD orders over the last 90 days.

        Uses its own RNG stream so the seeded shop is identical with or without extras.
        Generated orders count as already shipped from stock (``deducted``), like the
        seeded history: the catalogue quantities are today's quantities.
        """
        rng = random.Random(f"selldone-sandbox-extra:{self.seed}")
        sellables = self.sellables
        customers = self.customer_list
        n_sellables = len(sellables)
        max_lines = max(1, 2 * lines_per_order - 1)  # uniform 1..max → mean lines_per_order
        unit_prices = [self.unit_price(p, v)[0] for p, v in sellables]
        start = self.now - 90 * DAY
        step = (90 * DAY - 600) / max(count, 1)
        rows: list[OrderIndex] = []
        for i in range(count):
            created_ts = int(start + i * step)
            age = self.now - created_ts
            n_lines = rng.randint(1, max_lines)
            flat: list[int] = []
            subtotal = 0.0
            product_ids = set()
            for _ in range(n_lines):
                s = rng.randrange(n_sellables)
                qty = 1 if rng.random() < 0.8 else 2
                flat += (s, qty)
                subtotal += unit_prices[s] * qty
                product_ids.add(sellables[s][0]["id"])
            who = rng.randrange(-len(_GUEST_NAMES), len(customers))  # negative: a guest
            customer = customers[who] if who >= 0 else None
            place = (customer["address"] if customer else self.guest_address(-who))["country"]
            delivery = (
                0.0 if place == "DE" and subtotal >= FREE_SHIPPING_FROM else _DELIVERY_PRICE[place]
            )
            if age > 14 * DAY:
                state = "ToCustomer"
            elif age > 5 * DAY:
                state = "SentOrder"
            else:
                # Younger orders are earlier in fulfilment: 0-1.3 days CheckQueue, and so on.
                state = DELIVERY_STATES[min(3, int(age / (1.3 * DAY)))]
            status = "COD" if rng.random() < 0.2 else "Payed"
            reject = (
                rng.choice(REJECT_REASONS)
                if rng.random() < 0.02 and state != "ToCustomer"
                else None
            )
            updated_ts = min(
                self.now, created_ts + int(DAY * (0.2 + 1.1 * DELIVERY_STATES.index(state)))
            )
            basket_id = self.next_basket_id
            rows.append(
                OrderIndex(
                    id=basket_id, status=status, delivery_state=state, reserved_ts=created_ts,
                    created_ts=created_ts, updated_ts=updated_ts,
                    price=round(subtotal + delivery, 2),
                    customer_id=customer["id"] if customer else None,
                    product_ids=tuple(product_ids), country=place, deducted=reject is None,
                    spec=(self.next_item_id, tuple(flat), who, reject,
                          self.next_payment_id if status == "Payed" else None),
                )
            )  # fmt: skip
            self.next_basket_id += 1
            self.next_item_id += n_lines
            self.next_payment_id += status == "Payed"
        return rows

    def materialize(self, row: OrderIndex) -> dict[str, Any]:
        """Rebuild the full basket of a generated order from its compact row."""
        first_item_id, flat, who, reject, payment_id = row.spec
        customer = self.customer_list[who] if who >= 0 else None
        receiver = dict(customer["address"]) if customer else self.guest_address(-who)
        lines = [
            (self.sellables[flat[i]][0], self.sellables[flat[i]][1], flat[i + 1])
            for i in range(0, len(flat), 2)
        ]
        basket = self.build_basket(
            basket_id=row.id,
            first_item_id=first_item_id,
            lines=lines,
            customer=customer,
            receiver=receiver,
            status=row.status,
            created_ts=row.created_ts,
            guest_email=None if customer else f"guest{row.id}@example.org",
            payment_id=payment_id,
            payment_type="stripe" if payment_id else None,
        )
        self.advance_delivery(basket, row.delivery_state, row.updated_ts)
        if reject:
            basket |= {"reject": reject, "reject_at": laravel_time(row.updated_ts)}
        return basket
