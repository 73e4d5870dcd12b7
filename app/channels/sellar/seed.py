"""Deterministic supplier data for the Sellar sandbox: a brewery, its catalogue, its
retailers and a history of orders in every state.

The supplier is a small Cornish brewery selling kegs, casks and cases in GBP to pubs,
bottle shops, bars and a distributor. Field sets follow the reference (platforms/
sellar.md §2.4–§2.8); money is pence and order line prices are unit prices (§5).

The catalogue is fixed so tests can name items by SKU; ``seed`` drives the API key, the
minutes of the order history and the generated ``extra_orders``. Orders are *plans*:
the sandbox state replays them through its own rules (place, confirm, dispatch, …) so
the stock trio of every item is consistent with the orders by construction. The SKUs
carry the mistakes real catalogues have: a duplicate, a lower-case near miss, an empty
one.
"""

from __future__ import annotations

import random
import string
import time
from dataclasses import dataclass, field
from typing import Any

CURRENCY = "GBP"
VAT_PERCENTAGE = 20
SUPPLIER_ID = 311
SUPPLIER_BUSINESS_ID = 500
FIRST_PARENT_ID = 5401
FIRST_PRODUCT_ID = 5501
FIRST_RETAILER_ID = 9051
FIRST_BUSINESS_ID = 12001
FIRST_ADDRESS_ID = 771
FIRST_CONNECTION_ID = 3301
FIRST_ORDER_ID = 48201
FIRST_ORDER_ITEM_ID = 99101
FIRST_WEBHOOK_ID = 17
DAY = 86_400.0

# Below this subtotal (pence, ex VAT) the brewery charges its delivery run.
FREE_DELIVERY_FROM = 15_000
DELIVERY_CHARGE = 1_200

# Stages an order plan ends in, in the order the rules walk them.
STAGES = (
    "requested",
    "confirmed",
    "finalized",
    "dispatched",
    "delivered",
    "cancelled_requested",
    "cancelled_confirmed",
    "voided",
)


def iso(seconds: float) -> str:
    """Unix seconds → Sellar's date-time form ``2024-05-02T09:14:03.123Z`` (UTC).

    The fixed width makes these strings sort in time order.
    """
    millis = int(round(seconds * 1000))
    whole, ms = divmod(millis, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{ms:03d}Z"


# --------------------------------------------------------------------- catalogue
# (beer, abv, kind, description, vegan, items)
# item: (sku, item name, containerType, volume litres, packQuantity, displayUnit,
#        unit price pence ex VAT, total stock today, canBackorder, active)
# fmt: off
_CATALOGUE: list[tuple[Any, ...]] = [
    ("Harbour Pale", 4.2, "beer", "Golden session pale ale with Cornish barley.", True, [
        ("HP-KEG-30", "Harbour Pale - 30L Keg", "keg", 30, 1, "keg", 9_800, 24, False, True),
        ("HP-CASK-FIR", "Harbour Pale - Firkin (9 gal)", "cask", 40.9, 1, "cask", 8_900, 18, False, True),
        ("HP-CASK-PIN", "Harbour Pale - Pin (4.5 gal)", "cask", 20.5, 1, "cask", 5_200, 6, False, True),
        ("HP-CAN-24", "Harbour Pale - 24 x 330ml Cans", "can", 0.33, 24, "case", 3_600, 40, False, True),
    ]),
    ("Lighthouse IPA", 5.6, "beer", "West-coast IPA, Citra and Mosaic.", True, [
        # The developer guide's example: 10 kegs in stock and no open orders on them.
        ("LIPA-KEG-30", "Lighthouse IPA - 30L Keg", "keg", 30, 1, "keg", 11_900, 10, False, True),
        ("LIPA-KEG-50", "Lighthouse IPA - 50L Keg", "keg", 50, 1, "keg", 18_500, 4, False, True),
        ("LIPA-CAN-24", "Lighthouse IPA - 24 x 440ml Cans", "can", 0.44, 24, "case", 5_400, 30, False, True),
    ]),
    ("Keeper's Stout", 4.8, "beer", "Roasty oatmeal stout.", False, [
        ("KS-CASK-FIR", "Keeper's Stout - Firkin (9 gal)", "cask", 40.9, 1, "cask", 9_400, 8, False, True),
        ("KS-KEG-30", "Keeper's Stout - 30L Keg", "keg", 30, 1, "keg", 10_900, 12, False, True),
        ("KS-BTL-12", "Keeper's Stout - 12 x 500ml Bottles", "bottle", 0.5, 12, "case", 3_300, 20, False, True),
    ]),
    ("Tidewater Lager", 4.5, "beer", "Crisp unfiltered lager.", True, [
        ("TWL-KEG-50", "Tidewater Lager - 50L Keg", "keg", 50, 1, "keg", 17_500, 15, True, True),
        # Copied from the 50L keg and never renamed: a duplicate SKU.
        ("TWL-KEG-50", "Tidewater Lager - 30L Keg", "keg", 30, 1, "keg", 10_900, 9, False, True),
        ("TWL-CAN-24", "Tidewater Lager - 24 x 330ml Cans", "can", 0.33, 24, "case", 3_400, 60, False, True),
    ]),
    ("Saltmarsh Gose", 4.0, "beer", "Sour wheat beer with sea salt and coriander.", True, [
        ("SG-KK-20", "Saltmarsh Gose - 20L KeyKeg", "keykeg", 20, 1, "keg", 9_200, 6, False, True),
        # Typed in lower case on Sellar: a near miss of the ERP's "SG-BTL-12".
        ("sg-btl-12", "Saltmarsh Gose - 12 x 330ml Bottles", "bottle", 0.33, 12, "case", 2_900, 14, False, True),
    ]),
    ("Winter Warmer", 6.2, "beer", "Seasonal spiced ale, back in November.", False, [
        ("WW-CASK-FIR", "Winter Warmer - Firkin (9 gal)", "cask", 40.9, 1, "cask", 9_900, 0, False, False),
    ]),
    ("Low Tide", 0.5, "beer", "Alcohol-free pale.", True, [
        ("LT-CAN-24", "Low Tide - 24 x 330ml Cans", "can", 0.33, 24, "case", 2_900, 25, False, True),
        # Never given a SKU on Sellar.
        ("", "Low Tide - 12 x 330ml Bottles", "bottle", 0.33, 12, "case", 1_700, 11, False, True),
    ]),
    ("Discovery Mixed Case", 4.9, "mixed", "Four of each core beer.", False, [
        ("MIX-12", "Discovery Mixed Case - 12 x 440ml Cans", "can", 0.44, 12, "case", 4_200, 15, False, True),
    ]),
]

# (type, name, registered name, contact, e-mail, phone, street, city, postcode, region,
#  connection: "approved" | "pending" | None)
_RETAILERS: list[tuple[Any, ...]] = [
    ("pub", "The Anchor Inn", "Anchor Inns Ltd", "Tom Penrose", "hello@anchor-inn.test", "+44 1326 310101", "4 Quay Hill", "Falmouth", "TR11 3HA", "Cornwall", "approved"),
    ("pub", "The Crown & Cushion", "Crown Taverns Ltd", "Sarah Kitto", "landlord@crowncushion.test", "+44 1872 270202", "12 Boscawen St", "Truro", "TR1 2QU", "Cornwall", "approved"),
    ("offLicense", "Bottle & Brine", "Bottle and Brine LLP", "Jem Nance", "shop@bottleandbrine.test", "+44 1736 360303", "7 Chapel St", "Penzance", "TR18 4AJ", "Cornwall", "approved"),
    ("offLicense", "The Hop Cellar", "Hop Cellar Exeter Ltd", "Priya Shah", "orders@hopcellar.test", "+44 1392 410404", "31 Fore St", "Exeter", "EX4 3AN", "Devon", "approved"),
    ("tapRoom", "Quay Street Tap Room", "QST Bars Ltd", "Dan Hocking", "bar@quaysttap.test", "+44 1752 220505", "2 Quay St", "Plymouth", "PL1 2LS", "Devon", "approved"),
    ("restaurant", "Fisherman's Rest", "Fishermans Rest St Ives Ltd", "Mel Trewin", "book@fishermansrest.test", "+44 1736 790606", "1 Wharf Rd", "St Ives", "TR26 1LF", "Cornwall", "approved"),
    ("hotel", "Coastline Hotel", "Coastline Hospitality Ltd", "Ana Lobb", "fnb@coastlinehotel.test", "+44 1637 870707", "Headland Rd", "Newquay", "TR7 1HN", "Cornwall", "pending"),
    # Ordered through the marketplace without ever being connected: an "unknown" buyer.
    ("pub", "The Lugger", "Lugger Free House Ltd", "Ben Roskilly", "ben@thelugger.test", "+44 1872 500808", "Portloe Harbour", "Truro", "TR2 5RD", "Cornwall", None),
    ("distributor", "Westcountry Ale Distribution", "Westcountry Ale Distribution Ltd", "Kerry Polglase", "buying@westcountryale.test", "+44 1208 770909", "Unit 4, Walker Lines", "Bodmin", "PL31 1EZ", "Cornwall", "approved"),
]
# fmt: on


@dataclass
class OrderPlan:
    """An order of the history: who ordered what, how they pay, how far it went."""

    retailer_id: int
    lines: list[tuple[str, int]]  # (SKU, or the item name for SKU-less items; quantity)
    payment: str  # manual | stripe | checkout
    stage: str  # one of STAGES
    age_days: float
    paid: bool = False
    invoice_number: str | None = None
    purchase_order: str | None = None
    reason: str | None = None
    discount: int = 0


@dataclass
class SeedData:
    """Everything the sandbox state starts from."""

    supplier: dict[str, Any]
    parents: dict[int, dict[str, Any]]
    products: dict[int, dict[str, Any]]
    prices: dict[int, int]
    stock_today: dict[int, int]
    retailers: dict[int, dict[str, Any]]
    connections: dict[int, dict[str, Any]]
    plans: list[OrderPlan] = field(default_factory=list)
    key: str = ""
    next_business_id: int = FIRST_BUSINESS_ID
    next_address_id: int = FIRST_ADDRESS_ID


def api_key(rng: random.Random) -> str:
    """A developer API key in Sellar's ``SLR.`` form."""
    alphabet = string.ascii_letters + string.digits
    return "SLR." + "".join(rng.choice(alphabet) for _ in range(40))


def _address(address_id: int, name: str, street: str, city: str, postcode: str, region: str) -> dict[str, Any]:  # fmt: skip
    return {"id": address_id, "name": name, "street": street, "city": city,
            "postalCode": postcode, "region": region, "country": "GB"}  # fmt: skip


def make_business(
    business_id: int,
    address_id: int,
    *,
    name: str,
    registered: str,
    contact: str,
    email: str,
    phone: str,
    street: str,
    city: str,
    postcode: str,
    region: str,
) -> dict[str, Any]:
    """A Business with its delivery and invoice addresses (ids ``address_id`` and +1)."""
    return {
        "id": business_id, "name": name, "registeredCompanyName": registered,
        "contactName": contact, "email": email,
        "invoiceEmail": "accounts@" + email.split("@", 1)[1],
        "phoneNumber": phone, "vatNumber": f"GB{business_id * 7919 % 1_000_000_000:09d}",
        "companyNumber": f"{business_id * 31:08d}", "awrsNumber": None,
        "entityType": "limitedCompany", "logoUrl": None, "websiteUrl": None,
        "DeliveryAddress": _address(address_id, name, street, city, postcode, region),
        "InvoiceAddress": _address(address_id + 1, registered, street, city, postcode, region),
    }  # fmt: skip


def build(seed: int, now: float, extra_orders: int = 0) -> SeedData:
    """The brewery as it stands at ``now``, with its order plans (oldest first).

    ``extra_orders`` adds that many older delivered orders for paging and volume tests.
    """
    rng = random.Random(f"sellar-sandbox:{seed}")
    created = iso(now - 400 * DAY)
    supplier = {
        "id": SUPPLIER_ID, "invoicesEnabled": True, "invoiceCCEmail": "accounts@kestrelcross.test",
        "invoiceCreationStage": "confirmed", "imageUrl": None,
        "description": "Independent brewery on the Fal estuary.", "urlId": "kestrel-cross-brewery",
        "vatPercentage": VAT_PERCENTAGE, "currency": CURRENCY,
        "Business": make_business(
            SUPPLIER_BUSINESS_ID, 700, name="Kestrel Cross Brewery",
            registered="Kestrel Cross Brewing Ltd", contact="Morwenna Hart",
            email="trade@kestrelcross.test", phone="+44 1326 555000", street="Unit 3, Ponsharden",
            city="Falmouth", postcode="TR11 2SE", region="Cornwall",
        ),
    }  # fmt: skip
    data = SeedData(supplier, {}, {}, {}, {}, {}, {}, key=api_key(rng))
    product_id = FIRST_PRODUCT_ID
    for index, (beer, abv, kind, description, vegan, items) in enumerate(_CATALOGUE):
        parent_id = FIRST_PARENT_ID + index
        data.parents[parent_id] = {
            "id": parent_id, "name": beer, "description": description, "kind": kind,
            "abv": abv, "new": False, "active": any(item[9] for item in items),
            "glutenFree": False, "vegan": vegan, "lactoseFree": True, "imageUrl": None,
            "heroImageUrl": None, "sku": None, "Properties": [],
        }  # fmt: skip
        for rank, item in enumerate(items):
            sku, name, container, volume, pack, unit, price, stock, backorder, active = item
            data.products[product_id] = {
                "id": product_id, "ParentId": parent_id, "SupplierId": SUPPLIER_ID,
                "sku": sku, "name": name, "displayUnit": unit, "containerType": container,
                "packQuantity": pack, "volume": volume,
                "weight": round(volume * pack + (12 if container in ("keg", "cask") else 1), 1),
                "stock": stock, "committedStock": 0, "availableStock": stock,
                "canBackorder": backorder, "active": active, "index": rank,
                "lexoRank": f"0|{parent_id:06d}:{rank}", "type": "product",
                "glutenFree": False, "vegan": vegan, "lactoseFree": True,
                "imageUrl": None, "heroImageUrl": None, "Properties": [],
                "createdAt": created, "updatedAt": created, "deletedAt": None,
            }  # fmt: skip
            data.prices[product_id] = price
            data.stock_today[product_id] = stock
            product_id += 1
    _add_retailers(data, now)
    data.plans = _extra_plans(seed, max(0, extra_orders)) + _history(rng)
    return data


def _add_retailers(data: SeedData, now: float) -> None:
    connection_id = FIRST_CONNECTION_ID
    for index, row in enumerate(_RETAILERS):
        kind, name, registered, contact, email, phone, street, city, postcode, region, link = row
        retailer_id = FIRST_RETAILER_ID + index
        business = make_business(
            data.next_business_id, data.next_address_id, name=name, registered=registered,
            contact=contact, email=email, phone=phone, street=street, city=city,
            postcode=postcode, region=region,
        )  # fmt: skip
        data.next_business_id += 1
        data.next_address_id += 2
        data.retailers[retailer_id] = {
            "id": retailer_id, "type": kind, "hasNoDraughtDutyRelief": False,
            "BusinessId": business["id"], "paymentPreference": "invoice", "Business": business,
        }  # fmt: skip
        if link is None:
            continue
        since = iso(now - (300 - 20 * index) * DAY)
        data.connections[connection_id] = {
            "id": connection_id, "SupplierId": SUPPLIER_ID, "RetailerId": retailer_id,
            "PriceTierId": 12 if kind != "distributor" else 14,
            "initiator": "supplier" if link == "approved" else "retailer",
            "approved": link == "approved",
            "customerCode": f"C{retailer_id - 9000:04d}" if link == "approved" else None,
            "notes": None, "paymentDue": "30", "fulfillmentType": "direct",
            "existingCustomer": link == "approved", "mailingListPermission": None,
            "createdAt": since, "updatedAt": since, "deletedAt": None,
        }  # fmt: skip
        connection_id += 1


def retailer_id(name: str) -> int:
    """The seeded retailer id of ``name`` (e.g. ``"The Anchor Inn"``)."""
    for index, row in enumerate(_RETAILERS):
        if row[1] == name:
            return FIRST_RETAILER_ID + index
    raise KeyError(name)


def _history(rng: random.Random) -> list[OrderPlan]:
    """One or more orders in every stage and with every payment type, oldest first."""
    r = retailer_id
    # Minutes of jitter keep the seed visible in the data without moving the stages.
    jitter = [rng.uniform(0, 0.04) for _ in range(15)]
    plans = [
        OrderPlan(
            r("Fisherman's Rest"),
            [("LT-CAN-24", 1), ("MIX-12", 1)],
            "checkout",
            "delivered",
            20,
            paid=True,
            invoice_number="KCB-2019",
        ),  # fmt: skip
        OrderPlan(
            r("Bottle & Brine"),
            [("LIPA-CAN-24", 4)],
            "stripe",
            "delivered",
            15,
            paid=True,
            invoice_number="KCB-2022",
        ),  # fmt: skip
        OrderPlan(
            r("The Anchor Inn"),
            [("HP-CASK-FIR", 2)],
            "manual",
            "delivered",
            12,
            paid=True,
            invoice_number="KCB-2024",
        ),  # fmt: skip
        OrderPlan(
            r("The Crown & Cushion"),
            [("KS-CASK-FIR", 1), ("HP-CASK-PIN", 1)],
            "manual",
            "delivered",
            9,
            invoice_number="KCB-2027",
        ),  # fmt: skip
        OrderPlan(r("Coastline Hotel"), [("HP-CAN-24", 2)], "stripe", "voided", 8),
        OrderPlan(
            r("Quay Street Tap Room"),
            [("KS-KEG-30", 2)],
            "manual",
            "cancelled_confirmed",
            7,
            reason="Closed for refurbishment",
        ),  # fmt: skip
        OrderPlan(
            r("The Hop Cellar"),
            [("LIPA-KEG-50", 1)],
            "manual",
            "cancelled_requested",
            6,
            reason="Ordered by mistake",
        ),  # fmt: skip
        OrderPlan(
            r("Westcountry Ale Distribution"),
            [("TWL-KEG-50", 4), ("LIPA-KEG-50", 2)],
            "stripe",
            "dispatched",
            5,
            paid=True,
            invoice_number="KCB-2030",
            purchase_order="WAD-PO-7781",
            discount=2_000,
        ),  # fmt: skip
        OrderPlan(
            r("Fisherman's Rest"),
            [("KS-BTL-12", 3)],
            "manual",
            "dispatched",
            4,
            invoice_number="KCB-2031",
        ),  # fmt: skip
        OrderPlan(
            r("Quay Street Tap Room"),
            [("TWL-KEG-50", 2), ("HP-KEG-30", 1)],
            "manual",
            "finalized",
            2.5,
            purchase_order="QST-0412",
        ),  # fmt: skip
        OrderPlan(
            r("The Crown & Cushion"),
            [("KS-KEG-30", 1), ("HP-CAN-24", 2)],
            "manual",
            "confirmed",
            1.5,
            invoice_number="KCB-2033",
        ),  # fmt: skip
        OrderPlan(
            r("The Hop Cellar"),
            [("LT-CAN-24", 2), ("MIX-12", 2), ("Low Tide - 12 x 330ml Bottles", 1)],
            "checkout",
            "confirmed",
            1.2,
            paid=True,
        ),  # fmt: skip
        OrderPlan(
            r("Bottle & Brine"), [("LIPA-CAN-24", 3), ("sg-btl-12", 2)], "stripe", "requested", 0.5
        ),  # fmt: skip
        OrderPlan(
            r("The Anchor Inn"),
            [("HP-KEG-30", 2), ("HP-CASK-FIR", 1)],
            "manual",
            "requested",
            0.3,
            purchase_order="ANC-118",
        ),  # fmt: skip
        OrderPlan(r("The Lugger"), [("TWL-CAN-24", 2)], "manual", "requested", 0.2),
    ]
    for plan, extra in zip(plans, jitter, strict=True):
        plan.age_days += extra
    return plans


def _extra_plans(seed: int, count: int) -> list[OrderPlan]:
    """``count`` older delivered orders (21–140 days ago) for paging and volume tests.

    A separate RNG stream: the seeded history is identical with or without extras.
    """
    rng = random.Random(f"sellar-sandbox-extra:{seed}")
    buyers = [FIRST_RETAILER_ID + i for i, row in enumerate(_RETAILERS) if row[10] == "approved"]
    skus = [item[0] for *_, items in _CATALOGUE for item in items if item[0] and item[9]]
    plans = []
    for index in range(count):
        lines = {rng.choice(skus): rng.randint(1, 4) for _ in range(rng.randint(1, 3))}
        payment = rng.choice(("manual", "manual", "stripe", "checkout"))
        plans.append(
            OrderPlan(
                rng.choice(buyers),
                sorted(lines.items()),
                payment,
                "delivered",
                140 - index * (119 / max(count, 1)),
                paid=payment != "manual" or rng.random() < 0.8,
                invoice_number=f"KCB-{1000 + index}",
            )
        )
    return plans
