"""The Sellar sandbox's data and the rules Sellar applies to it. No HTTP here.

Rules follow the reference (platforms/sellar.md); where it is silent they take its §5
proposals:

* **Life cycle** (S1, S9): requested → confirmed (``acceptedAt`` + ``confirmedAt``
  together) → finalised → dispatched → delivered; cancel only before dispatch; a
  voided Stripe invoice (``voidedAt``) is a cancellation.
* **Stock** (S1, S10, §3.2): total = available + committed. Placing commits, confirming
  turns the commitment into a deduction from total, cancelling releases the commitment
  or (after confirmation) restores the total. Dispatch and delivery change nothing.
* **Order writes** (``PUT /orders/{id}``, §2.6): only the documented fields;
  ``customInvoiceNumber`` free before confirmation and write-once after it; ``paidAt``
  alone and for ``manual`` orders only; planned dates never with the done dates;
  ``confirmedAt`` accepted but recorded as an undocumented-field warning.
* **Stock writes** (``PUT /products/{id}``, §2.7): exactly one of ``stock`` and
  ``availableStock``.

A refused request raises :class:`RuleError`; the HTTP layer answers it as Sellar's 400.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from app.channels.sellar import seed as seeding
from app.channels.sellar.seed import DAY, OrderPlan, iso

PAYMENT_TYPES = ("manual", "stripe", "checkout")
WEBHOOK_TYPES = ("order.created", "order.updated")
ORDER_WRITABLE = frozenset(
    {
        "customInvoiceNumber",
        "dispatchedAt",
        "deliveredAt",
        "dispatchPlannedAt",
        "deliveryPlannedAt",
        "paidAt",
        "confirmedAt",
    }
)
_PLANNED = frozenset({"dispatchPlannedAt", "deliveryPlannedAt"})
_DONE = frozenset({"dispatchedAt", "deliveredAt"})

EventListener = Callable[[str, dict[str, Any]], None]


class RuleError(ValueError):
    """A change Sellar refuses. The API answers it as 400, the control API as 422."""


class Clock:
    """Strictly increasing millisecond stamps that never fall behind the wall clock.

    Distinct stamps keep ``order[]=["updatedAt","DESC"]`` a total order: every change
    moves its order to the very front, as on a busy real server.
    """

    def __init__(self, start: float) -> None:
        self._last_ms = int(start * 1000)

    def stamp(self) -> str:
        self._last_ms = max(int(time.time() * 1000), self._last_ms + 1)
        return iso(self._last_ms / 1000)


def _parse_date(value: Any, field: str) -> str:
    """An ISO 8601 date-time (or date) from a request body, normalised to Sellar's form."""
    if not isinstance(value, str) or not value.strip():
        raise RuleError(f"{field} must be an ISO 8601 date-time")
    text = value.strip()
    cleaned = text[:-1] + "+00:00" if text[-1] in "Zz" else text
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise RuleError(f"{field} must be an ISO 8601 date-time (got {text!r})") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return iso(moment.timestamp())


def _whole_number(value: Any, field: str) -> int:
    """An integer from JSON: ints and integral floats; strings and booleans are refused."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleError(f"{field} must be an integer")
    if isinstance(value, float) and not value.is_integer():
        raise RuleError(f"{field} must be an integer")
    return int(value)


class SellarState:
    """One supplier account: catalogue, retailers, connections, orders and webhooks."""

    def __init__(self, *, seed: int = 1, extra_orders: int = 0, now: float | None = None) -> None:
        now = time.time() if now is None else now
        data = seeding.build(seed, now, extra_orders)
        self.clock = Clock(now)
        self.key = data.key
        self.supplier = data.supplier
        self.parents = data.parents
        self.products = data.products
        self.prices = data.prices
        self.retailers = data.retailers
        self.connections = data.connections
        self.orders: dict[int, dict[str, Any]] = {}
        self.webhooks: dict[int, dict[str, Any]] = {}
        self.warnings: list[str] = []
        self.listener: EventListener | None = None
        self._next_order_id = seeding.FIRST_ORDER_ID
        self._next_item_id = seeding.FIRST_ORDER_ITEM_ID
        self._next_webhook_id = seeding.FIRST_WEBHOOK_ID
        self._next_retailer_id = max(self.retailers) + 1
        self._next_connection_id = max(self.connections) + 1
        self._next_business_id = data.next_business_id
        self._next_address_id = data.next_address_id
        for plan in data.plans:
            self._replay(plan, now)
        # The seeded totals are today's counts: history already left the shelf, and
        # only the commitments of open requests remain to subtract.
        for product_id, total in data.stock_today.items():
            product = self.products[product_id]
            product["stock"] = total
            product["availableStock"] = total - product["committedStock"]

    # ------------------------------------------------------------------ lookups
    def order(self, order_id: int) -> dict[str, Any]:
        order = self.orders.get(order_id)
        if order is None:
            raise RuleError("Order does not exist")
        return order

    def product(self, product_id: int) -> dict[str, Any]:
        product = self.products.get(product_id)
        if product is None or product["deletedAt"]:
            raise RuleError("Product does not exist")
        return product

    def product_by_ref(self, ref: str) -> dict[str, Any]:
        """The first item whose SKU (or, for SKU-less items, name) is ``ref``."""
        for product in self.products.values():
            if product["sku"] == ref or (not product["sku"] and product["name"] == ref):
                return product
        raise KeyError(f"no product with SKU {ref!r}")

    # ------------------------------------------------------------------ buyers
    def add_retailer(self, name: str, kind: str = "pub", *, connected: bool = False) -> dict:
        """A new retailer business; ``connected`` also makes it an approved customer."""
        if not isinstance(name, str) or not name.strip():
            raise RuleError("a retailer needs a name")
        retailer_id = self._next_retailer_id
        slug = "".join(c for c in name.lower() if c.isalnum()) or "retailer"
        business = seeding.make_business(
            self._next_business_id, self._next_address_id, name=name.strip(),
            registered=f"{name.strip()} Ltd", contact="", email=f"hello@{slug}.test",
            phone="", street="1 High St", city="Truro", postcode="TR1 1AA", region="Cornwall",
        )  # fmt: skip
        self._next_retailer_id += 1
        self._next_business_id += 1
        self._next_address_id += 2
        retailer = {
            "id": retailer_id, "type": kind, "hasNoDraughtDutyRelief": False,
            "BusinessId": business["id"], "paymentPreference": "invoice", "Business": business,
        }  # fmt: skip
        self.retailers[retailer_id] = retailer
        if connected:
            stamp = self.clock.stamp()
            self.connections[self._next_connection_id] = {
                "id": self._next_connection_id, "SupplierId": self.supplier["id"],
                "RetailerId": retailer_id, "PriceTierId": 12, "initiator": "supplier",
                "approved": True, "customerCode": None, "notes": None, "paymentDue": "30",
                "fulfillmentType": "direct", "existingCustomer": False,
                "mailingListPermission": None, "createdAt": stamp, "updatedAt": stamp,
                "deletedAt": None,
            }  # fmt: skip
            self._next_connection_id += 1
        return retailer

    def place_order(
        self,
        retailer_id: int,
        lines: list[tuple[int, int]],
        payment: str = "manual",
        *,
        at: str | None = None,
        check_stock: bool = True,
        purchase_order: str | None = None,
        discount: int = 0,
    ) -> dict[str, Any]:
        """A retailer's order request: commits stock at once (S1's worked example).

        ``checkout`` orders are paid by card at checkout; ``stripe`` orders get a
        Stripe invoice the buyer pays later; ``manual`` orders are invoiced by the
        supplier and marked paid by hand or by an integration.
        """
        retailer = self.retailers.get(retailer_id)
        if retailer is None:
            raise RuleError(f"unknown retailer {retailer_id!r}")
        if payment not in PAYMENT_TYPES:
            raise RuleError(f"payment must be one of {', '.join(PAYMENT_TYPES)}")
        if not lines:
            raise RuleError("an order needs at least one line")
        wanted: dict[int, int] = {}
        for product_id, quantity in lines:
            product = self.product(product_id)
            if not product["active"]:
                raise RuleError(f"{product['name']} is not available to order")
            if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
                raise RuleError("quantities must be whole numbers of at least 1")
            wanted[product_id] = wanted.get(product_id, 0) + quantity
        if check_stock:
            for product_id, quantity in wanted.items():
                product = self.products[product_id]
                if not product["canBackorder"] and quantity > product["availableStock"]:
                    raise RuleError(
                        f"only {product['availableStock']} of {product['name']} available"
                    )
        stamp = at or self.clock.stamp()
        order_id = self._next_order_id
        self._next_order_id += 1
        items = []
        for product_id, quantity in wanted.items():
            price = self.prices[product_id]
            items.append(
                {
                    "id": self._next_item_id, "OrderId": order_id, "ProductId": product_id,
                    "quantity": quantity, "price": price, "fullPrice": price,
                    "discountable": True, "createdAt": stamp, "updatedAt": stamp,
                    "deletedAt": None,
                }
            )  # fmt: skip
            self._next_item_id += 1
        subtotal = sum(item["quantity"] * item["price"] for item in items)
        delivery = 0 if subtotal >= seeding.FREE_DELIVERY_FROM else seeding.DELIVERY_CHARGE
        vat = self.supplier["vatPercentage"]
        business = retailer["Business"]
        placed = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        order = {
            "id": order_id, "SupplierId": self.supplier["id"], "RetailerId": retailer_id,
            "DeliveryAddressId": business["DeliveryAddress"]["id"],
            "InvoiceAddressId": business["InvoiceAddress"]["id"], "type": "single",
            "createdAt": stamp, "updatedAt": stamp, "deletedAt": None,
            "acceptedAt": None, "confirmedAt": None, "finalizedAt": None,
            "dispatchPlannedAt": None, "deliveryPlannedAt": None, "dispatchedAt": None,
            "deliveredAt": None, "cancelledAt": None, "deniedAt": None, "voidedAt": None,
            "invoiceIssuedAt": None, "confirmed": None, "cancellationReason": None,
            "price": round((subtotal - discount + delivery) * (100 + vat) / 100),
            "deliveryCharge": delivery, "discountAmount": discount, "vatPercentage": vat,
            "currency": self.supplier["currency"], "requestedPrice": None,
            "hasNoDraughtDutyRelief": retailer["hasNoDraughtDutyRelief"],
            "paymentType": payment, "paymentStatus": "paid" if payment == "checkout" else "open",
            "paymentDue": iso(placed + 30 * DAY),
            "paidAt": stamp if payment == "checkout" else None,
            "customInvoiceNumber": None, "purchaseOrderNumber": purchase_order,
            "retailerInvoiceEmails": [business["invoiceEmail"]],
            "fulfillmentType": "direct", "deliveryNotes": None, "deliveryNumber": None,
            "DeliveryAddress": dict(business["DeliveryAddress"]),
            "InvoiceAddress": dict(business["InvoiceAddress"]),
            "OrderItems": items,
        }  # fmt: skip
        self.orders[order_id] = order
        self._move_stock(order, committed=+1, total=0)
        self._emit("order.created", order)
        return order

    # ------------------------------------------------- supplier and buyer actions
    def confirm(self, order_id: int, *, at: str | None = None) -> dict[str, Any]:
        """The supplier accepts the request: committed stock leaves the total."""
        order = self._open_order(order_id)
        if order["confirmedAt"]:
            return order
        stamp = at or self.clock.stamp()
        order["acceptedAt"] = order["confirmedAt"] = stamp
        if self.supplier["invoicesEnabled"]:
            order["invoiceIssuedAt"] = stamp
        self._move_stock(order, committed=-1, total=-1)
        return self._touch(order, stamp)

    def finalize(self, order_id: int, *, at: str | None = None) -> dict[str, Any]:
        """The supplier finalises a confirmed order: lines and prices are locked (S9)."""
        order = self._confirmed_order(order_id, "finalised")
        if order["finalizedAt"]:
            return order
        stamp = at or self.clock.stamp()
        order["finalizedAt"] = stamp
        return self._touch(order, stamp)

    def dispatch(self, order_id: int, *, at: str | None = None) -> dict[str, Any]:
        order = self._confirmed_order(order_id, "dispatched")
        if order["dispatchedAt"]:
            return order
        stamp = at or self.clock.stamp()
        order["dispatchedAt"] = stamp
        return self._touch(order, stamp)

    def deliver(self, order_id: int, *, at: str | None = None) -> dict[str, Any]:
        order = self._confirmed_order(order_id, "delivered")
        if order["deliveredAt"]:
            return order
        stamp = at or self.clock.stamp()
        order["deliveredAt"] = stamp
        return self._touch(order, stamp)

    def cancel(self, order_id: int, reason: str = "", *, at: str | None = None) -> dict:
        """Cancel before dispatch (S9): release the commitment or restore the total."""
        order = self.order(order_id)
        if order["cancelledAt"] or order["voidedAt"]:
            return order
        if order["dispatchedAt"] or order["deliveredAt"]:
            raise RuleError("Orders can only be cancelled before they are dispatched")
        stamp = at or self.clock.stamp()
        self._give_back(order)
        order["cancelledAt"] = stamp
        order["cancellationReason"] = reason or None
        if order["paymentStatus"] == "open":
            order["paymentStatus"] = "void"
        elif order["paymentStatus"] == "paid" and order["paymentType"] != "manual":
            order["paymentStatus"] = "refunded"  # Sellar refunds what it collected
        return self._touch(order, stamp)

    def void(self, order_id: int, *, at: str | None = None) -> dict[str, Any]:
        """The Stripe invoice is voided on Stripe: Sellar records ``voidedAt`` (S4)."""
        order = self.order(order_id)
        if order["paymentType"] == "manual":
            raise RuleError("Only Stripe-handled invoices can be voided")
        if order["voidedAt"] or order["cancelledAt"]:
            return order
        stamp = at or self.clock.stamp()
        if not (order["dispatchedAt"] or order["deliveredAt"]):
            self._give_back(order)  # goods already sent do not come back by a void
        order["voidedAt"] = stamp
        order["paymentStatus"] = "void"
        return self._touch(order, stamp)

    def pay(self, order_id: int, *, at: str | None = None) -> dict[str, Any]:
        """Mark paid as Sellar's UI does: the supplier for manual, the buyer for Stripe."""
        order = self.order(order_id)
        if order["paymentStatus"] == "paid":
            return order
        self._check_payable(order)
        stamp = at or self.clock.stamp()
        order["paidAt"] = stamp
        order["paymentStatus"] = "paid"
        return self._touch(order, stamp)

    # ------------------------------------------------------------ API writes
    def update_order(self, order_id: int, body: Any) -> dict[str, Any]:
        """``PUT /orders/{id}``: validate the whole body first, then apply it at once."""
        order = self.order(order_id)
        if not isinstance(body, dict) or not body:
            raise RuleError("Update to order failed: send the fields to change")
        unknown = sorted(set(body) - ORDER_WRITABLE)
        if unknown:
            raise RuleError(f"Update to order failed: {', '.join(unknown)} cannot be updated")
        fields = set(body)
        if "paidAt" in fields and len(fields) > 1:
            raise RuleError("Update to order failed: paidAt must be the only field in the request")
        if fields & _PLANNED and fields & (_DONE | {"paidAt"}):
            raise RuleError(
                "Update to order failed: planned dates cannot be sent with dispatchedAt,"
                " deliveredAt or paidAt"
            )
        if "confirmedAt" in fields and fields & _DONE:
            raise RuleError(
                "Update to order failed: confirmedAt cannot be sent with dispatchedAt or deliveredAt"
            )
        if order["cancelledAt"] or order["voidedAt"]:
            raise RuleError("Update to order failed: the order is cancelled")
        dates = {key: _parse_date(body[key], key) for key in fields - {"customInvoiceNumber"}}
        confirmed = bool(order["confirmedAt"])
        if "paidAt" in dates:
            if order["paymentType"] != "manual":
                raise RuleError(
                    f"Update to order failed: Sellar manages the payment of"
                    f" {order['paymentType']} orders; paidAt can only be set on manual orders"
                )
            self._check_payable(order)
        if fields & (_DONE | _PLANNED):
            if not confirmed:
                raise RuleError("Update to order failed: the order is not confirmed yet")
            if order["deliveredAt"]:
                raise RuleError("Update to order failed: a delivered order cannot be changed")
        invoice = body.get("customInvoiceNumber")
        if "customInvoiceNumber" in fields:
            if invoice is not None and not isinstance(invoice, str | int):
                raise RuleError("customInvoiceNumber must be a string")
            invoice = None if invoice in (None, "") else str(invoice).strip()
            if confirmed and order["customInvoiceNumber"]:
                raise RuleError(
                    "Update to order failed: customInvoiceNumber can only be set while it is"
                    " empty once the order is confirmed"
                )
        # Everything is valid: apply.
        stamp = self.clock.stamp()
        if "confirmedAt" in dates:
            self.warnings.append(f"order {order_id}: undocumented field confirmedAt was written")
            if not confirmed:
                self._emit_paused(lambda: self.confirm(order_id, at=dates["confirmedAt"]))
        if "customInvoiceNumber" in fields:
            order["customInvoiceNumber"] = invoice
        for key in ("dispatchPlannedAt", "deliveryPlannedAt", "dispatchedAt", "deliveredAt"):
            if key in dates:
                order[key] = dates[key]
        if "paidAt" in dates:
            order["paidAt"] = dates["paidAt"]
            order["paymentStatus"] = "paid"
        return self._touch(order, stamp)

    def set_stock(self, product_id: int, body: Any) -> dict[str, Any]:
        """``PUT /products/{id}``: exactly one of ``stock`` (total) or ``availableStock``."""
        product = self.product(product_id)
        if not isinstance(body, dict):
            raise RuleError("Send either stock or availableStock")
        unknown = sorted(set(body) - {"stock", "availableStock"})
        if unknown:
            raise RuleError(f"{', '.join(unknown)} cannot be updated through the API")
        if "stock" in body and "availableStock" in body:
            raise RuleError("Send either stock or availableStock, not both")
        if "stock" not in body and "availableStock" not in body:
            raise RuleError("Send either stock or availableStock")
        field = "stock" if "stock" in body else "availableStock"
        value = _whole_number(body[field], field)
        if value < 0:
            raise RuleError(f"{field} cannot be negative")
        committed = product["committedStock"]
        # A total below the commitments is the truth of an oversold item: available
        # then shows the shortfall instead of the push being refused.
        total = value if field == "stock" else value + committed
        product["stock"] = total
        product["availableStock"] = total - committed
        product["updatedAt"] = self.clock.stamp()
        return product

    # ---------------------------------------------------------------- webhooks
    def add_webhook(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise RuleError("Send type and url")
        kind, url = body.get("type"), body.get("url")
        if kind not in WEBHOOK_TYPES:
            raise RuleError(f"type must be one of {', '.join(WEBHOOK_TYPES)}")
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise RuleError("url must be an http or https URL")
        hook = {
            "id": self._next_webhook_id,
            "type": kind,
            "url": url,
            "createdAt": self.clock.stamp(),
            "deletedAt": None,
        }
        self._next_webhook_id += 1
        self.webhooks[hook["id"]] = hook
        return hook

    def delete_webhook(self, webhook_id: int) -> dict[str, Any]:
        hook = self.webhooks.get(webhook_id)
        if hook is None or hook["deletedAt"]:
            raise RuleError("Webhook does not exist")
        hook["deletedAt"] = self.clock.stamp()
        return hook

    def active_webhooks(self) -> list[dict[str, Any]]:
        return [hook for hook in self.webhooks.values() if not hook["deletedAt"]]

    # ---------------------------------------------------------------- helpers
    def _open_order(self, order_id: int) -> dict[str, Any]:
        order = self.order(order_id)
        if order["cancelledAt"] or order["voidedAt"]:
            raise RuleError("the order is cancelled")
        return order

    def _confirmed_order(self, order_id: int, what: str) -> dict[str, Any]:
        order = self._open_order(order_id)
        if not order["confirmedAt"]:
            raise RuleError(f"the order must be confirmed before it is {what}")
        return order

    @staticmethod
    def _check_payable(order: dict[str, Any]) -> None:
        if order["cancelledAt"] or order["voidedAt"]:
            raise RuleError("the order is cancelled")
        if order["paymentType"] == "manual":
            if not order["confirmedAt"]:
                raise RuleError("the order must be confirmed before it is marked paid")
        elif order["paymentType"] == "checkout":
            raise RuleError("checkout orders are paid by card when placed")

    def _give_back(self, order: dict[str, Any]) -> None:
        if order["confirmedAt"]:
            self._move_stock(order, committed=0, total=+1)
        else:
            self._move_stock(order, committed=-1, total=0)

    def _move_stock(self, order: dict[str, Any], *, committed: int, total: int) -> None:
        stamp = self.clock.stamp()
        for item in order["OrderItems"]:
            if item["deletedAt"]:
                continue
            product = self.products[item["ProductId"]]
            product["committedStock"] += committed * item["quantity"]
            product["stock"] += total * item["quantity"]
            product["availableStock"] = product["stock"] - product["committedStock"]
            product["updatedAt"] = stamp

    def _touch(self, order: dict[str, Any], stamp: str) -> dict[str, Any]:
        # Never backwards: a backdated action (seeding, a client's date) still counts
        # as the latest change of the row, as a database's updatedAt would.
        order["updatedAt"] = max(stamp, order["updatedAt"])
        self._emit("order.updated", order)
        return order

    def _emit(self, kind: str, order: dict[str, Any]) -> None:
        if self.listener is not None:
            self.listener(kind, order)

    def _emit_paused(self, action: Callable[[], Any]) -> None:
        """Run a nested action without its own event: the outer write emits one."""
        listener, self.listener = self.listener, None
        try:
            action()
        finally:
            self.listener = listener

    def _replay(self, plan: OrderPlan, now: float) -> None:
        """Play one seeded order from placement to its stage, with past timestamps."""
        start = now - plan.age_days * DAY
        step = min(DAY, plan.age_days * DAY / 6)

        def at(n: float) -> str:
            return iso(start + n * step)

        lines = [(self.product_by_ref(ref)["id"], qty) for ref, qty in plan.lines]
        order = self.place_order(
            plan.retailer_id, lines, plan.payment, at=at(0), check_stock=False,
            purchase_order=plan.purchase_order, discount=plan.discount,
        )  # fmt: skip
        order_id = order["id"]
        if plan.invoice_number:
            order["customInvoiceNumber"] = plan.invoice_number
        if plan.stage == "cancelled_requested":
            self.cancel(order_id, plan.reason or "", at=at(1))
        elif plan.stage == "voided":
            self.void(order_id, at=at(1))
        elif plan.stage != "requested":
            self.confirm(order_id, at=at(1))
            if plan.stage == "cancelled_confirmed":
                self.cancel(order_id, plan.reason or "", at=at(2))
            if plan.stage in ("finalized", "dispatched", "delivered"):
                self.finalize(order_id, at=at(2))
            if plan.stage in ("dispatched", "delivered"):
                self.dispatch(order_id, at=at(3))
            if plan.stage == "delivered":
                self.deliver(order_id, at=at(4))
            if plan.paid and plan.payment != "checkout":
                self.pay(order_id, at=at(5 if plan.payment == "manual" else 1.5))
