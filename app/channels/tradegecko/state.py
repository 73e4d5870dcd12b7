"""The TradeGecko sandbox's data and the rules TradeGecko applies to it. No HTTP here.

Documented rules (reference §12, seed guide) and, where the reference is silent, the
choices its §17 proposes:

* **Orders**: statuses draft → active → finalized → fulfilled, or void; created
  ``draft`` unless the body says ``active``/``finalized``. Embedding a ``company``
  needs a ``shipping_address``; a missing billing address is the shipping address;
  lines name existing variants (or are ``freeform`` with a label); a line without a
  price takes the variant's retail price; ``currency_iso`` must match a currency.
* **Actions** (``/orders/{id}/actions/…``): ``invoice`` invoices uninvoiced lines;
  ``pay`` pays the rest, invoicing first what is not invoiced; ``pack`` needs a
  finalized order and packs what is unpacked; ``fulfil`` ships packed fulfillments and
  what is left; ``void`` voids. An action with nothing to do, or on a void order, is a
  422 with a ``base`` message (§17.14).
* **Stock**: *committed* = unshipped quantities of active and finalized orders at the
  order's location; *on hand* drops when a fulfillment becomes ``fulfilled`` and rises
  when a fulfillment return is ``received`` (§17.12). Untracked variants
  (``manage_stock`` false) never move. Any stock change touches the variant's
  ``updated_at`` (so ``updated_at_min`` finds it) and fires
  ``variant.stock_level_update``.

Refusals raise :class:`Invalid` (422 ``{"errors": {field: [messages]}}``),
:class:`Missing` (404) or :class:`BadRequest` (400).
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from app.channels.tradegecko import seed as seeding
from app.channels.tradegecko import state_orders as rules
from app.channels.tradegecko import state_shipping as shipping
from app.channels.tradegecko.state_values import (
    COMMITTING_STATES,
    GST_RATE,
    WEBHOOK_EVENTS,
    BadRequest,
    EventListener,
    Invalid,
    Missing,
    day,
    iso,
    record_id,
)


class Clock:
    """Strictly increasing millisecond stamps that never fall behind the wall clock."""

    def __init__(self) -> None:
        self._last_ms = 0

    def now(self) -> float:
        self._last_ms = max(int(time.time() * 1000), self._last_ms + 1)
        return self._last_ms / 1000


class GeckoState:
    """One TradeGecko account: catalogue, stock, companies, orders and what follows them."""

    def __init__(self, *, seed: int = 1) -> None:
        data = seeding.build(seed)
        self.clock = Clock()
        self.listener: EventListener | None = None
        self.creates_applied = 0
        self._ids = {
            kind: itertools.count(start)
            for kind, start in (
                ("currency", 1),
                ("location", 101),
                ("product", 5_001),
                ("variant", 41_001),
                ("company", 8_801),
                ("address", 9_901),
                ("order", 2_410_001),
                ("order_line_item", 7_700_001),
                ("fulfillment", 1_200_001),
                ("fulfillment_line_item", 3_300_001),
                ("fulfillment_return", 600_001),
                ("fulfillment_return_line_item", 660_001),
                ("invoice", 900_001),
                ("payment", 950_001),
                ("webhook", 1),
            )
        }
        self._numbers = {"order": 0, "invoice": 0, "credit_note": 0}
        self.app = data.app
        self.privileged_token = data.privileged_token
        self.currencies: dict[int, dict[str, Any]] = {}
        self.locations: dict[int, dict[str, Any]] = {}
        self.products: dict[int, dict[str, Any]] = {}
        self.variants: dict[int, dict[str, Any]] = {}
        self.on_hand: dict[tuple[int, int], float] = {}
        self.companies: dict[int, dict[str, Any]] = {}
        self.addresses: dict[int, dict[str, Any]] = {}
        self.orders: dict[int, dict[str, Any]] = {}
        self.order_line_items: dict[int, dict[str, Any]] = {}
        self.fulfillments: dict[int, dict[str, Any]] = {}
        self.fulfillment_line_items: dict[int, dict[str, Any]] = {}
        self.fulfillment_returns: dict[int, dict[str, Any]] = {}
        self.fulfillment_return_line_items: dict[int, dict[str, Any]] = {}
        self.invoices: dict[int, dict[str, Any]] = {}
        self.payments: dict[int, dict[str, Any]] = {}
        self.webhooks: dict[int, dict[str, Any]] = {}
        self._load(data)

    # ------------------------------------------------------------------ seeding
    def _new(self, kind: str, at: float, **fields: Any) -> dict[str, Any]:
        stamp = iso(at)
        return {"id": next(self._ids[kind]), "created_at": stamp, "updated_at": stamp, **fields}

    def add_currency(self, at: float, **fields: Any) -> dict[str, Any]:
        """An active currency record (iso, name, rate, symbol) with TradeGecko's formatting."""
        record = self._new(
            "currency",
            at,
            **fields,
            separator=".",
            delimiter=",",
            precision=2,
            format="%u%n",
            status="active",
            subunit=100,
        )
        self.currencies[record["id"]] = record
        return record

    def _load(self, data: seeding.SeedData) -> None:
        start = time.time() - 400 * seeding.DAY
        for currency in data.currencies:
            self.add_currency(start, **currency)
        for location in data.locations:
            record = self._new("location", start, address2="", state=None, **location)
            self.locations[record["id"]] = record
        stock_locations = [loc["id"] for loc in self.locations.values() if loc["holds_stock"]]
        by_name = {}
        for product in data.products:
            record = self._new(
                "product", start, description="", supplier_ids=[], image_ids=[], **product
            )
            self.products[record["id"]] = by_name[product["name"]] = record
        today: dict[int, tuple[float, float]] = {}
        for position, variant in enumerate(data.variants):
            fields = {k: v for k, v in variant.items() if k != "product"}
            # A minute apart: "created_at" orders the catalogue as it was entered.
            record = self._new(
                "variant",
                start + 60 * position,
                product_id=by_name[variant["product"]]["id"],
                position=position,
                opt2=None,
                opt3=None,
                **fields,
            )
            self.variants[record["id"]] = record
            today[record["id"]] = data.stock[str(position)]
            for location_id in stock_locations:
                self.on_hand[(record["id"], location_id)] = 0.0
        for company, places in zip(data.companies, data.addresses, strict=True):
            record = self._new("company", start, **company)
            self.companies[record["id"]] = record
            for place in places:
                address = self._new(
                    "address", start, company_id=record["id"], status="active", **place
                )
                self.addresses[address["id"]] = address
        base = min(self.currencies.values(), key=lambda c: c["id"])
        self.account = {
            **data.account,
            "created_at": iso(start),
            "updated_at": iso(start),
            "primary_location_id": stock_locations[0],
            "primary_billing_location_id": stock_locations[0],
            "default_currency_id": base["id"],
            "location_ids": list(self.locations),
        }
        self.user = {"id": 1, "account_id": self.account["id"], **data.user}
        for plan in data.orders:
            self._replay(plan)
        # History happened in the past: nothing seeded looks changed "now".
        for variant in self.variants.values():
            variant["updated_at"] = variant["created_at"]
        # The seeded figures are today's on hand: history has already left the shelf.
        for variant_id, figures in today.items():
            for location_id, amount in zip(stock_locations, figures, strict=False):
                self.on_hand[(variant_id, location_id)] = float(amount)

    def _replay(self, plan: seeding.OrderPlan) -> None:
        company = next(c for c in self.companies.values() if c["name"] == plan.company)
        address = next(a for a in self.addresses.values() if a["company_id"] == company["id"])
        lines = []
        for sku, quantity in plan.lines:
            variant = next(v for v in self.variants.values() if v["sku"] == sku)
            lines.append({"variant_id": variant["id"], "quantity": str(quantity)})
        location = [loc for loc in self.locations.values() if loc["holds_stock"]][plan.location]
        when = time.time() - plan.days_ago * seeding.DAY
        order = self.create_order(
            {
                "company_id": company["id"],
                "shipping_address_id": address["id"],
                "issued_at": day(when),
                "status": plan.status,
                "stock_location_id": location["id"],
                "order_line_items": lines,
            },
            source_id=None,
            counted=False,
        )
        for step in plan.steps:
            self.act(order["id"], step, None)
        stamp = iso(when)
        oid = order["id"]
        fulfillments = [f for f in self.fulfillments.values() if f["order_id"] == oid]
        history = [
            order,
            *self.lines_of(oid),
            *fulfillments,
            *(i for f in fulfillments for i in self.items_of(f["id"])),
            *(r for r in self.invoices.values() if r["order_id"] == oid),
            *(r for r in self.payments.values() if r["order_id"] == oid),
        ]
        for record in history:
            record["created_at"] = record["updated_at"] = stamp
        for fulfillment in fulfillments:
            if fulfillment["shipped_at"]:
                fulfillment["shipped_at"] = stamp
            fulfillment["packed_at"] = day(when)

    # ------------------------------------------------------------------ helpers
    def _emit(self, event: str, object_id: int, plural: str) -> None:
        if self.listener is not None:
            self.listener(event, object_id, plural)

    def _touch(self, record: dict[str, Any]) -> None:
        record["updated_at"] = iso(self.clock.now())

    def _get(self, table: dict[int, dict[str, Any]], record: Any, what: str) -> dict[str, Any]:
        key = record_id(record)
        if key is None or key not in table:
            raise Missing(f"{what} {record} not found")
        return table[key]

    def order(self, order_id: Any) -> dict[str, Any]:
        return self._get(self.orders, order_id, "Order")

    def lines_of(self, order_id: int) -> list[dict[str, Any]]:
        return [line for line in self.order_line_items.values() if line["order_id"] == order_id]

    def fulfillments_of(self, order_id: int, *, live: bool = True) -> list[dict[str, Any]]:
        return [
            f
            for f in self.fulfillments.values()
            if f["order_id"] == order_id and (not live or f["status"] in ("packed", "fulfilled"))
        ]

    def items_of(self, fulfillment_id: int) -> list[dict[str, Any]]:
        return [
            i for i in self.fulfillment_line_items.values() if i["fulfillment_id"] == fulfillment_id
        ]

    def returns_of(self, order_id: int) -> list[dict[str, Any]]:
        return [r for r in self.fulfillment_returns.values() if r["order_id"] == order_id]

    def return_items_of(self, return_id: int) -> list[dict[str, Any]]:
        return [
            i
            for i in self.fulfillment_return_line_items.values()
            if i["fulfillment_return_id"] == return_id
        ]

    @staticmethod
    def _shippable(line: dict[str, Any]) -> bool:
        return not line["freeform"] and line["variant_id"] is not None

    def quantity_in(self, line_id: int, statuses: Iterable[str]) -> float:
        """How much of an order line sits in fulfillments with these statuses."""
        wanted = set(statuses)
        return sum(
            item["quantity"]
            for item in self.fulfillment_line_items.values()
            if item["order_line_item_id"] == line_id
            and self.fulfillments[item["fulfillment_id"]]["status"] in wanted
        )

    def returned(self, line_id: int, statuses: Iterable[str]) -> float:
        wanted = set(statuses)
        return sum(
            item["quantity"]
            for item in self.fulfillment_return_line_items.values()
            if item["order_line_item_id"] == line_id
            and self.fulfillment_returns[item["fulfillment_return_id"]]["status"] in wanted
        )

    def committed(self, variant_id: int, location_id: int) -> float:
        """Unshipped quantities of active and finalized orders at this location."""
        variant = self.variants.get(variant_id)
        if variant is None or not variant["manage_stock"]:
            return 0.0
        total = 0.0
        for order in self.orders.values():
            if (
                order["status"] not in COMMITTING_STATES
                or order["stock_location_id"] != location_id
            ):
                continue
            for line in self.lines_of(order["id"]):
                if line["variant_id"] == variant_id and not line["freeform"]:
                    total += max(
                        0.0, line["quantity"] - self.quantity_in(line["id"], ("fulfilled",))
                    )
        return total

    def stock_locations(self) -> list[int]:
        return [loc["id"] for loc in self.locations.values() if loc["holds_stock"]]

    def levels(self, variant_ids: Iterable[int]) -> dict[int, tuple[tuple[float, float], ...]]:
        locations = self.stock_locations()
        return {
            vid: tuple(
                (self.on_hand.get((vid, lid), 0.0), self.committed(vid, lid)) for lid in locations
            )
            for vid in variant_ids
        }

    def _stock_changed(self, before: dict[int, tuple[tuple[float, float], ...]]) -> None:
        """Touch and announce every variant whose on hand or committed stock moved."""
        after = self.levels(before)
        for variant_id, figures in after.items():
            if figures != before[variant_id]:
                self._touch(self.variants[variant_id])
                self._emit("variant.stock_level_update", variant_id, "variants")

    def _order_variants(self, order_id: int) -> set[int]:
        return {line["variant_id"] for line in self.lines_of(order_id) if self._shippable(line)}

    def set_stock(self, variant_id: int, location_id: int, quantity: float) -> None:
        """The merchant counts stock in TradeGecko (a stock adjustment)."""
        variant = self._get(self.variants, variant_id, "Variant")
        if location_id not in self.stock_locations():
            raise Missing(f"Location {location_id} not found")
        before = self.levels([variant["id"]])
        self.on_hand[(variant["id"], location_id)] = float(quantity)
        self._stock_changed(before)

    # ------------------------------------------------------------------ orders
    def next_number(self, kind: str, prefix: str) -> str:
        self._numbers[kind] += 1
        return f"{prefix}{self._numbers[kind]:04d}"

    def order_total(self, order: dict[str, Any]) -> float:
        net = sum(
            line["quantity"] * line["price"] * (1 - (line["discount"] or 0) / 100)
            for line in self.lines_of(order["id"])
        )
        if order["tax_treatment"] == "exclusive":
            net *= 1 + GST_RATE
        return round(net, 2)

    def paid_amount(self, order_id: int) -> float:
        return round(
            sum(p["amount"] for p in self.payments.values() if p["order_id"] == order_id), 2
        )

    def create_order(
        self, fields: Any, *, source_id: str | None, counted: bool = True
    ) -> dict[str, Any]:
        """``POST /orders``: validate everything, then create (company, addresses, lines)."""
        built = rules.OrderBuilder(self, fields).build()
        now = self.clock.now()
        company_id = built.company_id
        if built.company is not None:
            company = self._new("company", now, status="active", tags=[], **built.company)
            self.companies[company["id"]] = company
            company_id = company["id"]
            self._emit("company.create", company_id, "companies")
        address_ids: dict[str, int] = {}
        for key, body in built.new_addresses.items():
            address = self._new("address", now, status="active", **body, company_id=company_id)
            self.addresses[address["id"]] = address
            address_ids[key] = address["id"]
            self._emit("address.create", address["id"], "addresses")
        shipping = address_ids.get("shipping_address", built.shipping_address_id)
        billing = address_ids.get("billing_address", built.billing_address_id) or shipping
        scalars = dict(built.scalars)
        scalars["order_number"] = scalars.get("order_number") or self.next_number("order", "SO")
        order = self._new(
            "order",
            now,
            **scalars,
            company_id=company_id,
            shipping_address_id=shipping,
            billing_address_id=billing,
            source_id=source_id,
            user_id=self.user["id"],
        )
        self.orders[order["id"]] = order
        before = self.levels({line["variant_id"] for line in built.lines if line["variant_id"]})
        for position, line in enumerate(built.lines):
            record = self._new(
                "order_line_item",
                now,
                order_id=order["id"],
                position=position,
                invoice_id=None,
                **line,
            )
            self.order_line_items[record["id"]] = record
        if counted:
            self.creates_applied += 1
        self._emit("order.create", order["id"], "orders")
        if order["status"] == "finalized":
            self._emit("order.finalized", order["id"], "orders")
        self._stock_changed(before)
        return order

    def update_order(self, order_id: Any, fields: Any) -> dict[str, Any]:
        order = self.order(order_id)
        # Appended lines may commit variants the order did not hold yet: watch them too.
        items = fields.get("order_line_items") if isinstance(fields, dict) else None
        added = {
            record_id(item.get("variant_id"))
            for item in (items if isinstance(items, list) else [])
            if isinstance(item, dict)
        }
        watched = self._order_variants(order["id"]) | {v for v in added if v in self.variants}
        before = self.levels(watched)
        rules.update_order(self, order, fields)
        self._touch(order)
        self._stock_changed(before)
        return order

    def act(self, order_id: Any, action: str, fields: Any) -> dict[str, Any]:
        """One of the order actions; returns the order."""
        order = self.order(order_id)
        handler = rules.ACTIONS.get(action)
        if handler is None:
            raise Missing(f"No action {action}")
        before = self.levels(self._order_variants(order["id"]))
        handler(self, order, fields if isinstance(fields, dict) else {})
        self._touch(order)
        self._stock_changed(before)
        return order

    # ----------------------------------------------------------- fulfillments
    def create_fulfillment(self, fields: Any) -> dict[str, Any]:
        order = self._order_of(fields)
        before = self.levels(self._order_variants(order["id"]))
        fulfillment = shipping.create_fulfillment(self, order, fields)
        self._touch(order)
        self._stock_changed(before)
        return fulfillment

    def update_fulfillment(self, fulfillment_id: Any, fields: Any) -> dict[str, Any]:
        fulfillment = self._get(self.fulfillments, fulfillment_id, "Fulfillment")
        order = self.orders[fulfillment["order_id"]]
        before = self.levels(self._order_variants(order["id"]))
        shipping.update_fulfillment(self, order, fulfillment, fields)
        self._touch(fulfillment)
        self._touch(order)
        self._stock_changed(before)
        return fulfillment

    def create_return(self, fields: Any) -> dict[str, Any]:
        order = self._order_of(fields)
        before = self.levels(self._order_variants(order["id"]))
        record = shipping.create_return(self, order, fields)
        self._touch(order)
        self._stock_changed(before)
        return record

    def update_return(self, return_id: Any, fields: Any) -> dict[str, Any]:
        record = self._get(self.fulfillment_returns, return_id, "Fulfillment return")
        order = self.orders[record["order_id"]]
        before = self.levels(self._order_variants(order["id"]))
        shipping.update_return(self, order, record, fields)
        self._touch(record)
        self._touch(order)
        self._stock_changed(before)
        return record

    def _order_of(self, fields: Any) -> dict[str, Any]:
        if not isinstance(fields, dict):
            raise BadRequest("the record must be an object")
        order_id = record_id(fields.get("order_id"))
        if order_id is None or order_id not in self.orders:
            raise Invalid(
                {
                    "order_id": [
                        "can't be blank" if fields.get("order_id") in (None, "") else "is invalid"
                    ]
                }
            )
        return self.orders[order_id]

    # ------------------------------------------------------------ companies
    def create_company(self, fields: Any) -> dict[str, Any]:
        if not isinstance(fields, dict):
            raise BadRequest("the company must be an object")
        errors = rules.company_errors(fields, "")
        if errors:
            raise Invalid(errors)
        allowed = (
            "name",
            "company_type",
            "company_code",
            "email",
            "phone_number",
            "website",
            "tags",
            "description",
        )
        company = self._new(
            "company",
            self.clock.now(),
            status="active",
            tags=[],
            **{k: fields[k] for k in allowed if k in fields},
        )
        self.companies[company["id"]] = company
        self._emit("company.create", company["id"], "companies")
        return company

    def create_address(self, fields: Any) -> dict[str, Any]:
        if not isinstance(fields, dict):
            raise BadRequest("the address must be an object")
        company = self.companies.get(record_id(fields.get("company_id")) or -1)
        errors = rules.address_errors(self, fields, "", company["id"] if company else None)
        if company is None:
            errors["company_id"].append(
                "can't be blank" if fields.get("company_id") in (None, "") else "is invalid"
            )
        if errors:
            raise Invalid(dict(errors))
        address = self._new(
            "address",
            self.clock.now(),
            status="active",
            company_id=company["id"],
            **rules.clean_address(fields),
        )
        self.addresses[address["id"]] = address
        self._emit("address.create", address["id"], "addresses")
        return address

    def update_address(self, address_id: Any, fields: Any) -> dict[str, Any]:
        address = self._get(self.addresses, address_id, "Address")
        if not isinstance(fields, dict):
            raise BadRequest("the address must be an object")
        merged = {**address, **rules.clean_address(fields)}
        errors = rules.address_errors(self, merged, "", address["company_id"], ignore=address["id"])
        if errors:
            raise Invalid(dict(errors))
        address.update(rules.clean_address(fields))
        self._touch(address)
        self._emit("address.update", address["id"], "addresses")
        return address

    # ------------------------------------------------------------- webhooks
    def add_webhook(self, fields: Any, app_id: int) -> dict[str, Any]:
        if not isinstance(fields, dict):
            raise BadRequest("the webhook must be an object")
        errors: dict[str, list[str]] = defaultdict(list)
        event = fields.get("event")
        address = fields.get("address")
        if not isinstance(event, str) or not event:
            errors["event"].append("can't be blank")
        elif event not in WEBHOOK_EVENTS:
            errors["event"].append("is not included in the list")
        if not isinstance(address, str) or not address:
            errors["address"].append("can't be blank")
        elif not address.startswith(("http://", "https://")):
            errors["address"].append("is not a valid URL")
        if errors:
            raise Invalid(dict(errors))
        hook = self._new(
            "webhook", self.clock.now(), event=event, address=address, oauth_application_id=app_id
        )
        self.webhooks[hook["id"]] = hook
        return hook

    def delete_webhook(self, webhook_id: Any) -> None:
        hook = self._get(self.webhooks, webhook_id, "Webhook")
        del self.webhooks[hook["id"]]

    def subscribers(self, event: str) -> list[str]:
        return [hook["address"] for hook in self.webhooks.values() if hook["event"] == event]


__all__ = ["GeckoState"]
