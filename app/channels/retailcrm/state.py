"""The RetailCRM sandbox's account data and the rules RetailCRM applies to it. No HTTP.

Documented rules (seed; platforms/retailcrm.md §7–§9):

* ``integration-modules/{code}/edit`` creates the module or changes it; name, code,
  baseUrl and clientId are required; ``inventoriesUpload`` actions need ``callPoints``.
* ``order[shipped]`` is editable only while a warehouse system is registered.
* An inventories upload takes at most 250 offers, each named by ``id``, ``externalId``
  or ``xmlId`` with a ``stores`` list; unknown offers come back in ``notFoundOffers``.
* Every order change is written to the order history, ids strictly increasing.

Choices where the reference is silent (§12), each picked to catch client mistakes:

* a ``shipped`` edit without a registered, active warehouse module is refused with 400
  and an ``errors.shipped`` message (rather than silently ignored);
* unknown store codes, non-numeric or negative stock, an empty or over-long offers list
  are 400 "Errors in the input parameters" for the whole upload (nothing is applied);
* a store of inventory type ``available`` records 1/0 whatever number is sent;
* an uploaded ``purchasePrice`` sets the store's price and the offer's own one;
* orders do not move stock: the warehouse system (the client) owns the levels;
* unknown order fields in an edit are ignored and noted in ``warnings``.
"""

from __future__ import annotations

import copy
import math
import time
from datetime import date
from typing import Any

from app.channels.retailcrm import seed as seeding
from app.channels.retailcrm.seed import SITE, stamp

MAX_UPLOAD = 250
ID_KINDS = ("id", "externalId", "xmlId")
EDITABLE = {
    "status": "status",
    "shipped": "shipped",
    "shipmentStore": "shipment_store",
    "shipmentDate": "shipment_date",
    "managerComment": "manager_comment",
    "customerComment": "customer_comment",
}
_IDENTITY = frozenset({"id", "externalId", "number", "site"})
INPUT_ERROR = "Errors in the input parameters"
ENTITY_ERROR = "Errors in the entity format"


class RuleError(Exception):
    """A request RetailCRM refuses: the HTTP layer answers ``{success: false, …}``."""

    def __init__(self, status: int, message: str, errors: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or {}


def _number(value: Any) -> float | None:
    """A finite, non-negative JSON number; anything else is None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return value


class RetailCrmState:
    """One RetailCRM account: references, catalogue, stock, orders, history, modules."""

    def __init__(
        self,
        *,
        seed: int = 1,
        extra_offers: int = 0,
        extra_orders: int = 0,
        now: float | None = None,
    ) -> None:
        now = time.time() if now is None else now
        data = seeding.build(seed, now, extra_offers, extra_orders)
        self.key = data.key
        self.sites = {
            SITE: {"code": SITE, "name": seeding.SITE_NAME, "url": "https://leafandbean.example",
                   "currency": seeding.CURRENCY, "defaultForCrm": True},
        }  # fmt: skip
        self.stores = [dict(store) for store in seeding.STORES]
        self.statuses = {
            code: {"code": code, "name": name, "group": group, "ordering": 10 * (n + 1),
                   "active": True}
            for n, (code, name, group) in enumerate(seeding.STATUSES)
        }  # fmt: skip
        self.groups = data.groups
        self.products = data.products
        self.offers = data.offers
        self.inventories = data.inventories
        self.customers = data.customers
        self.orders: dict[int, dict[str, Any]] = {}
        self.history: list[dict[str, Any]] = []
        self.modules: dict[str, dict[str, Any]] = {}
        self.upload_sizes: list[int] = []
        self.warnings: list[str] = []
        self._next_order = seeding.FIRST_ORDER_ID
        self._next_item = seeding.FIRST_ITEM_ID
        self._next_payment = seeding.FIRST_PAYMENT_ID
        self._next_history = 1
        self._replay(data.plans)

    # --- references and catalogue ------------------------------------------------------

    def store(self, code: Any) -> dict[str, Any] | None:
        return next((s for s in self.stores if s["code"] == code), None)

    def offer_quantity(self, offer_id: int) -> float:
        """Total stock of an offer: counting stores only (availability flags are no counts)."""
        levels = self.inventories.get(offer_id, {})
        return sum(
            level["available"]
            for code, level in levels.items()
            if (self.store(code) or {}).get("inventoryType") == "integer"
        )

    def offer_payload(self, offer_id: int) -> dict[str, Any]:
        offer = {k: v for k, v in self.offers[offer_id].items() if k != "productId"}
        offer["quantity"] = self.offer_quantity(offer_id)
        return offer

    def product_payload(self, product: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in product.items() if k != "offerIds"}
        offers = [self.offer_payload(offer_id) for offer_id in product["offerIds"]]
        out["offers"] = offers
        out["quantity"] = sum(offer["quantity"] for offer in offers)
        prices = [offer["price"] for offer in offers] or [0]
        out["minPrice"], out["maxPrice"] = min(prices), max(prices)
        return out

    def inventory_payload(self, offer_id: int, details: bool) -> dict[str, Any]:
        offer = self.offers[offer_id]
        row = {
            "id": offer_id,
            "externalId": offer["externalId"],
            "xmlId": offer["xmlId"],
            "site": offer["site"],
            "quantity": self.offer_quantity(offer_id),
            "purchasePrice": offer["purchasePrice"],
        }
        if row["xmlId"] is None:
            del row["xmlId"]
        if details:
            row["stores"] = [
                {"store": code, "quantity": level["available"],
                 "purchasePrice": level["purchasePrice"]}
                for code, level in self.inventories.get(offer_id, {}).items()
            ]  # fmt: skip
        return row

    def find_offer(self, kind: str, value: Any, site: str | None) -> int | None:
        if kind == "id":
            try:
                offer_id = int(value)
            except (TypeError, ValueError):
                return None
            return offer_id if offer_id in self.offers else None
        for offer_id, offer in self.offers.items():
            same = offer[kind] is not None and str(offer[kind]) == str(value)
            if same and site in (None, offer["site"]):
                return offer_id
        return None

    # --- inventories upload --------------------------------------------------------------

    def upload(self, offers: Any, site: str | None) -> tuple[int, list[dict[str, Any]]]:
        """Apply an upload; returns ``(processedOffersCount, notFoundOffers)``."""
        if not isinstance(offers, list):
            raise RuleError(400, INPUT_ERROR, {"offers": "This value should be of type array."})
        if not offers:
            raise RuleError(400, INPUT_ERROR, {"offers": "This collection should contain 1 element or more."})  # fmt: skip
        if len(offers) > MAX_UPLOAD:
            raise RuleError(
                400,
                INPUT_ERROR,
                {"offers": f"This collection should contain {MAX_UPLOAD} elements or less."},
            )
        if site is not None and site not in self.sites:
            raise RuleError(400, INPUT_ERROR, {"site": f'Site with code "{site}" not found'})
        plan: list[tuple[int, list[tuple[str, Any, Any]]]] = []
        missing: list[dict[str, Any]] = []
        for i, offer in enumerate(offers):
            where = f"offers[{i}]"
            if not isinstance(offer, dict):
                raise RuleError(400, INPUT_ERROR, {where: "This value should be of type object."})
            given = [kind for kind in ID_KINDS if offer.get(kind) not in (None, "")]
            if not given:
                raise RuleError(400, INPUT_ERROR, {where: "Set one of the following fields: id, externalId, xmlId"})  # fmt: skip
            stores = offer.get("stores")
            if not isinstance(stores, list) or not stores:
                raise RuleError(400, INPUT_ERROR, {f"{where}.stores": "This value should not be blank."})  # fmt: skip
            rows = [self._store_row(f"{where}.stores[{j}]", row) for j, row in enumerate(stores)]
            offer_site = offer.get("site") if isinstance(offer.get("site"), str) else site
            found = self.find_offer(given[0], offer[given[0]], offer_site)
            if found is None:
                missing.append({kind: offer[kind] for kind in given})
            else:
                plan.append((found, rows))
        for offer_id, rows in plan:  # all validated: apply
            levels = self.inventories.setdefault(offer_id, {})
            for code, available, price in rows:
                level = levels.setdefault(code, {"available": 0, "purchasePrice": None})
                if available is not None:
                    level["available"] = available
                if price is not None:
                    level["purchasePrice"] = price
                    self.offers[offer_id]["purchasePrice"] = price
        self.upload_sizes.append(len(offers))
        return len(plan), missing

    def _store_row(self, where: str, row: Any) -> tuple[str, Any, Any]:
        if not isinstance(row, dict):
            raise RuleError(400, INPUT_ERROR, {where: "This value should be of type object."})
        store = self.store(row.get("code"))
        if store is None:
            raise RuleError(400, INPUT_ERROR, {f"{where}.code": f'Store with code "{row.get("code")}" not found'})  # fmt: skip
        available = row.get("available")
        price = row.get("purchasePrice")
        if available is None and price is None:
            raise RuleError(400, INPUT_ERROR, {where: "Set available or purchasePrice"})
        if available is not None:
            if _number(available) is None:
                raise RuleError(400, INPUT_ERROR, {f"{where}.available": "This value should be a number, 0 or more."})  # fmt: skip
            if store["inventoryType"] == "available":
                available = 1 if available > 0 else 0
        if price is not None and _number(price) is None:
            raise RuleError(400, INPUT_ERROR, {f"{where}.purchasePrice": "This value should be a number, 0 or more."})  # fmt: skip
        return store["code"], available, price

    # --- integration modules ---------------------------------------------------------------

    def edit_module(self, code: str, module: Any) -> bool:
        """Create or update a module; True when created."""
        if not isinstance(module, dict):
            raise RuleError(400, ENTITY_ERROR, {"integrationModule": "This value should be of type object."})  # fmt: skip
        if module.get("code") not in (None, code):
            raise RuleError(400, ENTITY_ERROR, {"code": "The code does not match the address"})
        existing = self.modules.get(code)
        merged = dict(existing or {}) | {k: v for k, v in module.items() if v is not None}
        merged["code"] = code
        errors = {
            f"integrationModule[{name}]": "This value should not be blank."
            for name in ("name", "baseUrl", "clientId")
            if not isinstance(merged.get(name), str) or not merged[name].strip()
        }
        integrations = merged.get("integrations")
        if integrations is not None and not isinstance(integrations, dict):
            errors["integrationModule[integrations]"] = "This value should be of type object."
        store = (integrations or {}).get("store") if isinstance(integrations, dict) else None
        actions = store.get("actions", []) if isinstance(store, dict) else []
        for i, action in enumerate(actions if isinstance(actions, list) else [None]):
            where = f"integrationModule[integrations][store][actions][{i}]"
            if not isinstance(action, dict) or not action.get("code") or not action.get("url"):
                errors[where] = "Set the code and url of the action."
            elif action["code"] == "inventoriesUpload" and not action.get("callPoints"):
                errors[f"{where}[callPoints]"] = "This value should not be blank."
        if errors:
            raise RuleError(400, ENTITY_ERROR, errors)
        merged.setdefault("active", True)
        merged.setdefault("integrationCode", code)
        merged.update({"freeze": False, "native": False})
        merged.setdefault("availableCountries", [])
        self.modules[code] = merged
        return existing is None

    def module_payload(self, code: str) -> dict[str, Any] | None:
        module = self.modules.get(code)
        if module is None:
            return None
        # clientId is the module's secret: RetailCRM's recorded GET answer has none.
        return {k: copy.deepcopy(v) for k, v in module.items() if k != "clientId"}

    def warehouse_registered(self) -> bool:
        """An active module declaring an ``integrations.store`` section exists."""
        return any(
            module.get("active") is True
            and isinstance((module.get("integrations") or {}).get("store"), dict)
            for module in self.modules.values()
        )

    # --- orders ----------------------------------------------------------------------------

    def create_order(
        self,
        items: list[tuple[int, float]],
        *,
        customer_id: int | None = None,
        external_id: str | None = None,
        status: str = "new",
        at: float | None = None,
        paid: bool = False,
        source: str = "user",
    ) -> dict[str, Any]:
        """A new order (history: one ``created`` entry holding the whole order)."""
        when = time.time() if at is None else at
        if status not in self.statuses:
            raise ValueError(f"unknown status {status!r}")
        if not items:
            raise ValueError("an order needs items")
        customer_id = customer_id or min(self.customers)
        customer = self.customers.get(customer_id)
        if customer is None:
            raise ValueError(f"unknown customer {customer_id!r}")
        lines = []
        for offer_id, quantity in items:
            offer = self.offers.get(offer_id)
            if offer is None:
                raise ValueError(f"unknown offer {offer_id!r}")
            lines.append(self._item(offer, quantity))
        order_id = self._next_order
        self._next_order += 1
        total = round(sum(line["initialPrice"] * line["quantity"] for line in lines), 2)
        payment_id = self._next_payment
        self._next_payment += 1
        order = {
            "id": order_id,
            "number": f"{order_id}A",
            "site": SITE,
            "status": status,
            "statusUpdatedAt": stamp(when),
            "createdAt": stamp(when),
            "orderType": "eshop-individual",
            "orderMethod": "shopping-cart",
            "currency": seeding.CURRENCY,
            "firstName": customer["firstName"],
            "lastName": customer["lastName"],
            "email": customer["email"],
            "phone": customer["phones"][0]["number"],
            "customer": copy.deepcopy(customer),
            "items": lines,
            "delivery": {"code": "courier", "cost": 0, "netCost": 0,
                         "address": {"index": customer["postcode"], "city": "Moscow",
                                     "text": "Tverskaya 1"}},
            "payments": {str(payment_id): {"id": payment_id, "type": "bank-card",
                                           "status": "paid" if paid else "not-paid",
                                           "amount": total}},
            "summ": total,
            "totalSumm": total,
            "purchaseSumm": round(sum(i["purchasePrice"] * i["quantity"] for i in lines), 2),
            "customFields": [],
            "shipped": False,
        }  # fmt: skip
        if external_id:
            order["externalId"] = external_id
        if paid:
            order["fullPaidAt"] = stamp(when)
        self.orders[order_id] = order
        self._record(when, source, order, created=True)
        return order

    def _item(self, offer: dict[str, Any], quantity: float) -> dict[str, Any]:
        item_id = self._next_item
        self._next_item += 1
        return {
            "id": item_id,
            "initialPrice": offer["price"],
            "discountTotal": 0,
            "quantity": quantity,
            "purchasePrice": offer["purchasePrice"],
            "status": "new",
            "offer": {key: offer[key] for key in ("id", "externalId", "xmlId", "name", "article", "unit")}
            | {"displayName": offer["name"]},
        }  # fmt: skip

    def find_order(self, uid: str, by: str, site: str | None) -> dict[str, Any]:
        if by == "id":
            order = self.orders.get(int(uid)) if uid.isdigit() else None
        else:
            matches = [
                o for o in self.orders.values()
                if o.get("externalId") == uid and site in (None, o["site"])
            ]  # fmt: skip
            order = matches[0] if matches else None
        if order is None or (site is not None and order["site"] != site):
            raise RuleError(404, "Not found")
        return order

    def edit_order(
        self, order: dict[str, Any], changes: Any, *, source: str = "api", at: float | None = None
    ) -> dict[str, Any]:
        """Apply an order edit: everything is validated first, then written with history."""
        if not isinstance(changes, dict):
            raise RuleError(400, ENTITY_ERROR, {"order": "This value should be of type object."})
        errors: dict[str, str] = {}
        wanted = {}
        for name, value in changes.items():
            if name in _IDENTITY:
                continue
            if name not in EDITABLE:
                self.warnings.append(f"order edit: field {name!r} ignored")
                continue
            error = self._check_field(name, value)
            if error:
                errors[name] = error
            else:
                wanted[name] = value
        if errors:
            raise RuleError(400, ENTITY_ERROR, errors)
        when = time.time() if at is None else at
        for name, value in wanted.items():
            old = order.get(name)
            if old == value:
                continue
            order[name] = value
            if name == "status":
                order["statusUpdatedAt"] = stamp(when)
            self._record(when, source, order, field=name, old=old, new=value)
        return order

    def _check_field(self, name: str, value: Any) -> str:
        if name == "status" and value not in self.statuses:
            return f'Status with code "{value}" not found'
        if name == "shipped":
            if not isinstance(value, bool):
                return "This value should be of type bool."
            if not self.warehouse_registered():
                return (
                    'The "shipped" field can be edited only when a warehouse system is'
                    " registered in the account"
                )
        if name == "shipmentStore" and self.store(value) is None:
            return f'Store with code "{value}" not found'
        if name == "shipmentDate":
            try:
                date.fromisoformat(str(value))
            except ValueError:
                return "This value is not a valid date (Y-m-d)."
            if len(str(value)) != 10:
                return "This value is not a valid date (Y-m-d)."
        if name in ("managerComment", "customerComment") and not isinstance(value, str):
            return "This value should be of type string."
        return ""

    def _record(
        self,
        when: float,
        source: str,
        order: dict[str, Any],
        *,
        created: bool = False,
        field: str = "",
        old: Any = None,
        new: Any = None,
    ) -> None:
        entry: dict[str, Any] = {
            "id": self._next_history,
            "createdAt": stamp(when),
            "source": source,
        }
        self._next_history += 1
        if source == "api":
            entry["apiKey"] = {"current": True}
        if created:
            entry["created"] = True
            entry["order"] = copy.deepcopy(order)
        else:
            reference = field in ("status", "shipmentStore")
            entry["field"] = EDITABLE[field]
            entry["oldValue"] = {"code": old} if reference and old is not None else old
            entry["newValue"] = {"code": new} if reference and new is not None else new
            entry["order"] = {key: order[key] for key in ("id", "externalId", "site", "status") if key in order}  # fmt: skip
        self.history.append(entry)

    def _replay(self, plans: list[seeding.OrderPlan]) -> None:
        """Play the seeded orders' lives, every event in time order across orders.

        Real history ids follow time; replaying plan by plan would let an old order's
        late step get a smaller id than a newer order's creation.
        """
        events: list[tuple[float, int, int, str]] = []
        for n, plan in enumerate(plans):
            events.append((plan.created_at, n, 0, "<created>"))
            for k, status in enumerate(_path_to(plan.status, plan.shipped), start=1):
                events.append((plan.created_at + k * 3_600, n, k, status))
        orders: dict[int, dict[str, Any]] = {}
        for when, n, _step, action in sorted(events):
            plan = plans[n]
            if action == "<created>":
                orders[n] = self.create_order(
                    plan.items,
                    customer_id=plan.customer,
                    external_id=plan.external_id,
                    at=when,
                    paid=plan.paid,
                    source="api" if plan.external_id else "user",
                )
            elif action == "<shipped>":
                # The warehouse of the seed's past: written directly, no module needed.
                order = orders[n]
                changes = {"shipmentStore": "main", "shipmentDate": stamp(when)[:10], "shipped": True}  # fmt: skip
                for name, value in changes.items():
                    old, order[name] = order.get(name), value
                    self._record(when, "api", order, field=name, old=old, new=value)
            else:
                self.edit_order(orders[n], {"status": action}, source="user", at=when)


def _path_to(status: str, shipped: bool) -> list[str]:
    """The status steps a seeded order took to reach ``status`` ("<shipped>" = shipment)."""
    steps = {
        "new": [],
        "client-confirmed": ["client-confirmed"],
        "prepayed": ["client-confirmed", "prepayed"],
        "awaiting-stock": ["awaiting-stock"],
        "send-to-assembling": ["client-confirmed", "send-to-assembling"],
        "assembling": ["client-confirmed", "send-to-assembling", "assembling"],
        "delivering": ["client-confirmed", "assembling", "<shipped>", "delivering"],
        "complete": ["client-confirmed", "assembling", "<shipped>", "delivering", "complete"],
        "cancel-other": ["cancel-other"],
        "return": ["client-confirmed", "assembling", "<shipped>", "delivering", "return"],
    }[status]
    return steps if shipped else [step for step in steps if step != "<shipped>"]
