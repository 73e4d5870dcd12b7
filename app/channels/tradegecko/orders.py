"""Sales orders in TradeGecko: export once, then walk them through their life.

Following the Sales Channel Guide (seed) and the order actions (reference §12.3):

* **Export** (:meth:`OrderDesk.export`): search ``GET /orders?reference_number=…``
  first; only when nothing carries the reference, ``POST /orders`` with an
  ``Idempotency-Key`` derived from the request. The key makes a create that timed out
  safe to send again (TradeGecko replays the first answer); the search covers retries
  that come later than the key's 24 hours. The company is reused by id or e-mail, and
  addresses are reused when the same place is already on file (TradeGecko never
  de-duplicates them); otherwise they are embedded in the create.
* **Lifecycle** (:meth:`OrderDesk.push`), always reading the order before writing, in
  the documented order invoice → pay → pack → fulfil:

  ============  ==============================================================
  confirmed     ``PUT status=finalized`` (if draft/active), ``actions/invoice``
  dispatched    confirmed, then ``actions/pack`` and ``actions/fulfil``
  delivered     dispatched, then ``received_at`` on each fulfilled fulfillment
  paid          ``actions/pay`` (it invoices what is not invoiced yet)
  cancel        ``actions/void``
  return        ``POST /fulfillment_returns`` for everything shipped
  tracking      tracking number/URL on the order's fulfillments
  ============  ==============================================================

  Every write also carries an ``Idempotency-Key`` built from the order's state as read,
  so a write retried after a timeout is applied once.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import aclosing
from typing import Any

from app.channels.errors import PayloadError, Rejected
from app.channels.tradegecko import mapping
from app.channels.tradegecko.mapping import ExportOrder, GeckoOrder, Placement
from app.channels.tradegecko.session import GeckoSession
from app.core.models import OrderPush, OrderStatus

log = logging.getLogger(__name__)

PROGRESS_TARGETS = frozenset({OrderStatus.CONFIRMED, OrderStatus.DISPATCHED, OrderStatus.DELIVERED})
_DEAD_FULFILMENT = frozenset({"void", "deleted"})


def path_id(value: Any, what: str) -> str:
    """A TradeGecko id for a URL path; anything else is a local mistake no retry fixes."""
    try:
        return mapping.parse_id(value, f"{what} id")
    except PayloadError:
        raise Rejected(f"{value!r} is not a TradeGecko {what} id") from None


class OrderDesk:
    """Sales-order export and lifecycle for one TradeGecko account."""

    def __init__(self, session: GeckoSession, clock: Callable[[], float] = time.time) -> None:
        self.session = session
        self._clock = clock

    # --- reading ----------------------------------------------------------------------

    async def get(self, order_id: str) -> GeckoOrder:
        answer = await self.session.call(
            "GET", f"/orders/{order_id}", what=f"sales order {order_id}"
        )
        return mapping.gecko_order_from_payload(mapping.unwrap(answer.body, "order"))

    async def find_by_reference(self, reference: str) -> GeckoOrder | None:
        """The order already carrying ``reference`` (the first created, if several)."""
        found: list[GeckoOrder] = []
        async for rows, _body in self.session.pages(
            "/orders",
            "order",
            what=f"orders with reference {reference}",
            params=[("reference_number", reference)],
        ):
            # The filter's matching rules are undocumented: insist on equality here.
            found += [
                mapping.gecko_order_from_payload(row)
                for row in rows
                if mapping.text(row.get("reference_number")) == reference
            ]
        if len(found) > 1:
            log.warning("%d TradeGecko orders carry reference %s", len(found), reference)
        return min(found, key=lambda order: int(order.id)) if found else None

    async def _fulfillments(self, order_id: str) -> tuple[list[dict], dict[str, list[dict]]]:
        """The order's live fulfillments and their line items (by fulfillment id)."""
        fulfillments: list[dict[str, Any]] = []
        items: dict[str, list[dict[str, Any]]] = defaultdict(list)
        sideloaded = True
        async for rows, body in self.session.pages(
            "/fulfillments",
            "fulfillment",
            what=f"the fulfillments of order {order_id}",
            params=[("order_id", order_id)],
        ):
            fulfillments += [
                row for row in rows if mapping.text(row.get("status")) not in _DEAD_FULFILMENT
            ]
            if isinstance(body.get("fulfillment_line_items"), list):
                for item in mapping.unwrap_list(body, "fulfillment_line_item"):
                    items[mapping.parse_id(item.get("fulfillment_id"), "fulfillment_id")].append(
                        item
                    )
            else:
                sideloaded = False
        if fulfillments and not sideloaded:
            ids = ",".join(mapping.parse_id(f.get("id"), "fulfillment id") for f in fulfillments)
            async for rows, _body in self.session.pages(
                "/fulfillment_line_items",
                "fulfillment_line_item",
                what=f"the shipped lines of order {order_id}",
                params=[("fulfillment_id", ids)],
            ):
                for item in rows:
                    items[mapping.parse_id(item.get("fulfillment_id"), "fulfillment_id")].append(
                        item
                    )
        return fulfillments, items

    async def _line_items(self, order_id: str) -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = []
        async for rows, _body in self.session.pages(
            "/order_line_items",
            "order_line_item",
            what=f"the lines of order {order_id}",
            params=[("order_id", order_id)],
        ):
            lines += rows
        return lines

    # --- export -----------------------------------------------------------------------

    async def export(self, order: ExportOrder) -> str:
        """Create the sales order once; returns its TradeGecko id (also on a repeat)."""
        mapping.validate_export(order)
        existing = await self.find_by_reference(order.reference)
        if existing is not None:
            log.info("order %s is already TradeGecko order %s", order.reference, existing.id)
            return existing.id
        placement = await self._placement(order)
        body = mapping.order_body(order, placement, mapping.format_date(self._clock()))
        answer = await self.session.call(
            "POST",
            "/orders",
            what=f"sales order {order.reference}",
            json_body=body,
            idempotency_key=mapping.idempotency_key("order", body),
        )
        created = mapping.gecko_order_from_payload(mapping.unwrap(answer.body, "order"))
        log.info("order %s exported as TradeGecko order %s", order.reference, created.id)
        return created.id

    async def _company_by_email(self, email: str) -> str:
        wanted = mapping.text(email).lower()
        if not wanted:
            return ""
        pages = self.session.pages(
            "/companies",
            "company",
            what=f"companies with e-mail {wanted}",
            params=[("email", wanted)],
        )
        async with aclosing(pages):  # the search may stop at the first match
            async for rows, _body in pages:
                for row in rows:
                    if (
                        mapping.text(row.get("email")).lower() == wanted
                        and mapping.text(row.get("company_type")) != "supplier"
                        and mapping.text(row.get("status") or "active") == "active"
                    ):
                        return mapping.parse_id(row.get("id"), "company id")
        return ""

    async def _addresses(self, company_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        async for rows, _body in self.session.pages(
            "/addresses",
            "address",
            what=f"the addresses of company {company_id}",
            params=[("company_id", company_id)],
        ):
            found += rows
        return found

    async def _placement(self, order: ExportOrder) -> Placement:
        """Company and addresses: existing records where they exist, embedded otherwise."""
        company_id = order.company_id or await self._company_by_email(order.customer_email)
        shipping, billing = order.shipping_address, order.billing_address
        if not company_id:
            if shipping is None:  # validate_export refuses this; kept for direct callers
                raise Rejected(f"a new customer needs a shipping address (order {order.reference})")
            ship_label = mapping.address_label(shipping, set(), "Shipping")
            placement = Placement(
                company=mapping.company_body(order),
                shipping_address=mapping.address_body(shipping, ship_label),
            )
            if billing is not None and billing != shipping:
                bill_label = mapping.address_label(billing, {ship_label}, "Billing")
                placement = Placement(
                    company=placement.company,
                    shipping_address=placement.shipping_address,
                    billing_address=mapping.address_body(billing, bill_label),
                )
            return placement
        stored = await self._addresses(company_id)
        live = [a for a in stored if mapping.text(a.get("status") or "active") == "active"]
        labels = {mapping.text(a.get("label")) for a in stored}
        fields: dict[str, Any] = {"company_id": company_id}
        if shipping is None:
            if not live:
                raise Rejected(
                    f"TradeGecko company {company_id} has no address to ship order"
                    f" {order.reference} to"
                )
            fields["shipping_address_id"] = mapping.parse_id(live[0].get("id"), "address id")
        for key, address in (("shipping_address", shipping), ("billing_address", billing)):
            if address is None or (key == "billing_address" and address == shipping):
                continue  # no billing address: TradeGecko bills the shipping address
            match = next((a for a in live if mapping.address_matches(address, a)), None)
            if match is not None:
                fields[f"{key}_id"] = mapping.parse_id(match.get("id"), "address id")
                continue
            label = mapping.address_label(
                address, labels, "Shipping" if key == "shipping_address" else "Billing"
            )
            labels.add(label)
            fields[key] = {**mapping.address_body(address, label), "company_id": int(company_id)}
        return Placement(**fields)

    # --- lifecycle --------------------------------------------------------------------

    async def push(self, push: OrderPush) -> None:
        """Apply one order change, reading the order first so a retry never applies twice."""
        handlers = {
            "progress": self._progress,
            "paid": self._paid,
            "cancel": self._cancel,
            "return": self._return,
            "tracking": self._tracking,
        }
        handler = handlers.get(push.kind)
        if handler is None:
            raise Rejected(f"TradeGecko orders take no change called {push.kind!r}")
        order = await self.get(path_id(push.order_external_id, "order"))
        await handler(order, push)

    def _refuse_closed(self, order: GeckoOrder) -> None:
        if order.closed:
            raise Rejected(f"TradeGecko order {order.order_number or order.id} is {order.status}")

    async def _action(
        self, order: GeckoOrder, action: str, body: dict[str, Any] | None = None
    ) -> GeckoOrder:
        """``POST /orders/{id}/actions/{action}``, then the order as it now stands."""
        answer = await self.session.call(
            "POST",
            f"/orders/{order.id}/actions/{action}",
            what=f"the {action} of order {order.order_number or order.id}",
            json_body=body,
            # The state read goes into the key: the same step from the same state is
            # one operation, whatever the number of attempts.
            idempotency_key=mapping.idempotency_key(action, order.id, order.raw.get("updated_at")),
        )
        if isinstance(answer.body.get("order"), dict):
            return mapping.gecko_order_from_payload(answer.body["order"])
        return await self.get(order.id)  # the action's answer is undocumented: read again

    async def _put(
        self, path: str, root: str, fields: dict[str, Any], what: str, version: Any
    ) -> None:
        """``PUT`` (204 or 200 with the record); ``version`` is the record's
        ``updated_at`` as read, so the same change from the same state is one operation."""
        await self.session.call(
            "PUT",
            path,
            what=what,
            json_body={root: fields},
            idempotency_key=mapping.idempotency_key("put", path, fields, version),
        )

    async def _progress(self, order: GeckoOrder, push: OrderPush) -> None:
        target = push.target
        if target not in PROGRESS_TARGETS:
            raise Rejected(
                "TradeGecko orders can be marked confirmed, dispatched or delivered"
                f" (asked: {target or 'nothing'})"
            )
        self._refuse_closed(order)
        order = await self._confirm(order)
        if target is OrderStatus.CONFIRMED:
            return
        if push.fulfil_line_ids:
            await self._dispatch_lines(order, push)
        else:
            await self._dispatch(order, push)
        if target is OrderStatus.DELIVERED:
            await self._deliver(order)

    async def _confirm(self, order: GeckoOrder) -> GeckoOrder:
        """Finalize, then invoice what is not invoiced yet. (Lines are not chosen here:
        TradeGecko invoices a whole order.)"""
        if order.status in ("draft", "active"):
            await self._put(
                f"/orders/{order.id}",
                "order",
                {"status": "finalized"},
                f"the confirmation of order {order.order_number or order.id}",
                order.raw.get("updated_at"),
            )
            order = await self.get(order.id)
        if order.invoice_status != "invoiced":
            order = await self._action(order, "invoice")
        return order

    def _tracking_fields(self, push: OrderPush) -> dict[str, Any]:
        fields = {}
        if push.tracking_code:
            fields["tracking_number"] = push.tracking_code
        if push.tracking_url:
            fields["tracking_url"] = push.tracking_url
        return fields

    async def _dispatch(self, order: GeckoOrder, push: OrderPush) -> GeckoOrder:
        if order.fulfillment_status == "shipped":
            return order
        tracking = self._tracking_fields(push)
        body = {"fulfillment": tracking} if tracking else None
        if order.packed_status != "packed":
            order = await self._action(order, "pack", body)  # fires fulfillment.create
        if order.fulfillment_status != "shipped":
            order = await self._action(order, "fulfil", body)
        return order

    async def _dispatch_lines(self, order: GeckoOrder, push: OrderPush) -> None:
        """Ship only the lines of the given *variant ids*: a packed fulfillment with those
        lines (what is not packed yet), then each packed fulfillment holding them → fulfilled."""
        wanted = {path_id(value, "variant") for value in push.fulfil_line_ids or []}
        lines = await self._line_items(order.id)
        chosen = {
            mapping.parse_id(line.get("id"), "order line id"): line
            for line in lines
            if line.get("variant_id") is not None
            and mapping.parse_id(line.get("variant_id"), "variant_id") in wanted
        }
        present = {mapping.parse_id(c.get("variant_id"), "variant_id") for c in chosen.values()}
        if wanted - present:
            raise Rejected(
                f"TradeGecko order {order.order_number or order.id} has no line for variant"
                f" {', '.join(sorted(wanted - present))}"
            )
        fulfillments, items = await self._fulfillments(order.id)
        packed: dict[str, float] = defaultdict(float)
        for fulfillment in fulfillments:
            for item in items.get(mapping.parse_id(fulfillment.get("id"), "fulfillment id"), []):
                line_id = mapping.parse_id(item.get("order_line_item_id"), "order_line_item_id")
                packed[line_id] += mapping.parse_decimal(
                    item.get("quantity"), "quantity", default=0.0
                )
        to_pack = {
            line_id: remaining
            for line_id, line in chosen.items()
            if (
                remaining := mapping.parse_decimal(line.get("quantity"), "quantity")
                - packed[line_id]
            )
            > 1e-9
        }
        tracking = self._tracking_fields(push)
        if to_pack:
            body = {
                "order_id": int(order.id),
                "packed_at": mapping.format_date(self._clock()),
                **tracking,
                "fulfillment_line_items": [
                    {"order_line_item_id": int(line_id), "quantity": mapping.format_decimal(qty)}
                    for line_id, qty in sorted(to_pack.items())
                ],
            }
            await self.session.call(
                "POST",
                "/fulfillments",
                what=f"a shipment of order {order.order_number or order.id}",
                json_body={"fulfillment": body},
                idempotency_key=mapping.idempotency_key(
                    "fulfillment", order.id, body["fulfillment_line_items"]
                ),
            )
            fulfillments, items = await self._fulfillments(order.id)
        for fulfillment in fulfillments:
            fulfillment_id = mapping.parse_id(fulfillment.get("id"), "fulfillment id")
            holds = {
                mapping.parse_id(item.get("order_line_item_id"), "order_line_item_id")
                for item in items.get(fulfillment_id, [])
            }
            if mapping.text(fulfillment.get("status")) == "packed" and holds & set(chosen):
                fields = {
                    "status": "fulfilled",
                    "shipped_at": mapping.format_timestamp(self._clock()),
                    **tracking,
                }
                await self._put(
                    f"/fulfillments/{fulfillment_id}",
                    "fulfillment",
                    fields,
                    f"fulfillment {fulfillment_id}",
                    fulfillment.get("updated_at"),
                )

    async def _deliver(self, order: GeckoOrder) -> None:
        """TradeGecko has no "delivered" order state: the fulfillment's ``received_at``
        (the date the customer received the shipment) records it."""
        fulfillments, _items = await self._fulfillments(order.id)
        shipped = [f for f in fulfillments if mapping.text(f.get("status")) == "fulfilled"]
        if not shipped:
            raise Rejected(
                f"TradeGecko order {order.order_number or order.id} has not been shipped"
            )
        now = mapping.format_timestamp(self._clock())
        for fulfillment in shipped:
            if not mapping.text(fulfillment.get("received_at")):
                fulfillment_id = mapping.parse_id(fulfillment.get("id"), "fulfillment id")
                await self._put(
                    f"/fulfillments/{fulfillment_id}",
                    "fulfillment",
                    {"received_at": now},
                    f"the delivery of fulfillment {fulfillment_id}",
                    fulfillment.get("updated_at"),
                )

    async def _paid(self, order: GeckoOrder, push: OrderPush) -> None:
        if order.payment_status == "paid":
            return
        self._refuse_closed(order)
        await self._action(
            order, "pay", {"payment": {"paid_at": mapping.format_timestamp(self._clock())}}
        )

    async def _cancel(self, order: GeckoOrder, push: OrderPush) -> None:
        if order.closed:
            return  # void (or deleted) already: nothing left to cancel
        await self._action(order, "void")

    async def _return(self, order: GeckoOrder, push: OrderPush) -> None:
        """Everything shipped comes back as one fulfillment return (unless one exists)."""
        if order.status == "deleted":
            raise Rejected(f"TradeGecko order {order.order_number or order.id} was deleted")
        returns = self.session.pages(
            "/fulfillment_returns",
            "fulfillment_return",
            what=f"the returns of order {order.order_number or order.id}",
            params=[("order_id", order.id)],
        )
        async with aclosing(returns):
            async for rows, _body in returns:
                if any(mapping.text(row.get("status")) not in _DEAD_FULFILMENT for row in rows):
                    return  # the return is already recorded
        fulfillments, items = await self._fulfillments(order.id)
        shipped: dict[str, float] = defaultdict(float)
        location = order.stock_location_id
        for fulfillment in fulfillments:
            if mapping.text(fulfillment.get("status")) != "fulfilled":
                continue
            location = location or mapping.text(fulfillment.get("stock_location_id"))
            for item in items.get(mapping.parse_id(fulfillment.get("id"), "fulfillment id"), []):
                line_id = mapping.parse_id(item.get("order_line_item_id"), "order_line_item_id")
                shipped[line_id] += mapping.parse_decimal(
                    item.get("quantity"), "quantity", default=0.0
                )
        lines = [
            {"order_line_item_id": int(line_id), "quantity": mapping.format_decimal(quantity)}
            for line_id, quantity in sorted(shipped.items())
            if quantity > 0
        ]
        if not lines:
            raise Rejected(
                f"nothing of TradeGecko order {order.order_number or order.id} was shipped,"
                " so nothing can come back"
            )
        body: dict[str, Any] = {"order_id": int(order.id), "fulfillment_return_line_items": lines}
        if location:
            body["location_id"] = int(location)
        if push.reason:
            body["notes"] = push.reason
        await self.session.call(
            "POST",
            "/fulfillment_returns",
            what=f"the return of order {order.order_number or order.id}",
            json_body={"fulfillment_return": body},
            idempotency_key=mapping.idempotency_key("return", order.id, lines),
        )

    async def _tracking(self, order: GeckoOrder, push: OrderPush) -> None:
        fields = self._tracking_fields(push)
        if not fields:
            return
        fulfillments, _items = await self._fulfillments(order.id)
        if not fulfillments:
            raise Rejected(
                f"TradeGecko order {order.order_number or order.id} is not packed yet; the"
                " tracking code goes with the dispatch"
            )
        for fulfillment in fulfillments:
            if all(mapping.text(fulfillment.get(k)) == v for k, v in fields.items()):
                continue
            fulfillment_id = mapping.parse_id(fulfillment.get("id"), "fulfillment id")
            await self._put(
                f"/fulfillments/{fulfillment_id}",
                "fulfillment",
                fields,
                f"the tracking of fulfillment {fulfillment_id}",
                fulfillment.get("updated_at"),
            )


__all__ = ["OrderDesk", "PROGRESS_TARGETS", "path_id"]
