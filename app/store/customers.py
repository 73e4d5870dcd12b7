"""The merchant's customers, and which channel buyer is which of them.

A channel buyer is a channel plus the reference the channel gives them: Sellar
"retailer:ID", Selldone "user:ID", "customer:ID" or "guest:ID", Sello "email:…" or
"alias:…", TradeGecko "company:ID", RetailCRM's customer id. An order without any
reference is its own buyer, "order:<external id>". A link is made once and every later
order of that buyer belongs to the same customer. Links change in undoable batches,
like product links (app/store/mapping.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from app.core.mapping_csv import plan_customer_import, write_customer_mappings
from app.core.suggest import BuyerFacts, CustomerFacts, CustomerIndex, Suggestion, buyer_details
from app.store.channels import Channel, ChannelRepo
from app.store.db import Database
from app.store.mapping import CsvImport, MappingError, start_batch

# The buyer reference of an order row ``o``, as customer_links keys it.
BUYER_REF = "CASE WHEN o.customer_ref = '' THEN 'order:' || o.external_id ELSE o.customer_ref END"


def buyer_ref(customer_ref: str, external_id: str) -> str:
    return customer_ref or f"order:{external_id}"


@dataclass(frozen=True, slots=True)
class CustomerChange:
    """What to do to one buyer's link. ``create`` makes a customer from their order."""

    ref: str
    customer_id: int | None = None
    unlink: bool = False
    create: bool = False


@dataclass(slots=True)
class CustomerOutcome:
    batch_id: int | None = None
    linked: int = 0
    unlinked: int = 0
    created: int = 0
    unchanged: int = 0
    customer_ids: list[int] = field(default_factory=list)  # linked or created, in order

    def text(self) -> str:
        parts = [
            f"{verb} {n:,} {noun}{'' if n == 1 else 's'}"
            for verb, n, noun in (
                ("created", self.created, "customer"),
                ("linked", self.linked, "buyer"),
                ("unlinked", self.unlinked, "buyer"),
            )
            if n
        ]
        text = (", ".join(parts) or "nothing changed").capitalize() + "."
        if self.linked:
            text += " Their later orders belong to the same customer."
        return text


class CustomerRepo:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.channels = ChannelRepo(db)

    # -- customers ------------------------------------------------------------------------
    def add(self, name: str, *, email: str = "", phone: str = "", postcode: str = "") -> int:
        name = name.strip()
        if not (name or email.strip()):
            raise MappingError("A customer needs a name or an email.")
        with self.db.transaction() as conn:
            return int(
                conn.execute(
                    "INSERT INTO customers (name, email, phone, postcode, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (name, email.strip(), phone.strip(), postcode.strip(), time.time()),
                ).lastrowid
            )

    def get(self, customer_id: int) -> dict:
        row = self.db.one("SELECT * FROM customers WHERE id = ?", (customer_id,))
        if row is None:
            raise MappingError(f"You have no customer with id {customer_id}.")
        return dict(row)

    def index(self) -> CustomerIndex:
        rows = self.db.all("SELECT id, name, email, phone, postcode FROM customers")
        return CustomerIndex(CustomerFacts(*r) for r in rows)

    # -- buyers ---------------------------------------------------------------------------
    def customer_for(self, channel_id: int, ref: str) -> int | None:
        """The local customer a channel buyer is linked to (so all their orders are theirs)."""
        return self.db.scalar(
            "SELECT customer_id FROM customer_links WHERE channel_id = ? AND external_ref = ?",
            (channel_id, ref),
        )

    def buyers(self, channel: Channel, *, unlinked_only: bool = False) -> list[dict]:
        """Every buyer of the channel with their latest order's details and current link."""
        rows = self.db.all(
            f"SELECT {BUYER_REF} AS ref, o.customer_name AS name, o.customer_email AS email,"
            " o.receiver, COUNT(*) AS orders, MAX(COALESCE(o.placed_at, o.imported_at)) AS last"
            f" FROM orders o WHERE o.channel_id = ? GROUP BY {BUYER_REF} ORDER BY last DESC",
            (channel.id,),
        )
        links = dict(
            self.db.all(
                "SELECT external_ref, customer_id FROM customer_links WHERE channel_id = ?",
                (channel.id,),
            )
        )
        found = []
        for r in rows:
            linked = links.get(r["ref"])
            if unlinked_only and linked is not None:
                continue
            facts = _facts(r["name"], r["email"], r["receiver"])
            found.append(
                {
                    "ref": r["ref"],
                    "name": facts.name,
                    "email": facts.email,
                    "phone": facts.phone,
                    "postcode": facts.postcode,
                    "orders": r["orders"],
                    "customer_id": linked,
                }
            )
        return found

    def buyer(self, channel: Channel, ref: str) -> BuyerFacts:
        """What the buyer's latest order says about them; refuses a buyer with no orders."""
        row = self.db.one(
            "SELECT o.customer_name, o.customer_email, o.receiver FROM orders o"
            f" WHERE o.channel_id = ? AND {BUYER_REF} = ?"
            " ORDER BY COALESCE(o.placed_at, o.imported_at) DESC, o.id DESC LIMIT 1",
            (channel.id, ref),
        )
        if row is None:
            raise MappingError(f"{channel.name} has sent no orders from customer {ref}.")
        return _facts(row[0], row[1], row[2])

    def suggest(self, channel: Channel, ref: str, *, limit: int = 5) -> list[Suggestion]:
        """Your customers most likely to be this buyer: email, phone, name, postcode."""
        return self.index().suggest(self.buyer(channel, ref), limit=limit)

    # -- changing links -------------------------------------------------------------------
    def link(
        self, channel: Channel, ref: str, customer_id: int, *, source: str = "table"
    ) -> CustomerOutcome:
        self.buyer(channel, ref)
        self.get(customer_id)
        return self.apply(channel, [CustomerChange(ref, customer_id=customer_id)], source=source)

    def unlink(
        self, channel: Channel, refs: Iterable[str], *, source: str = "table"
    ) -> CustomerOutcome:
        return self.apply(channel, [CustomerChange(r, unlink=True) for r in refs], source=source)

    def create_for_buyers(
        self, channel: Channel, refs: Iterable[str], *, source: str = "table"
    ) -> CustomerOutcome:
        """Make a customer from each buyer's latest order (name, email, phone, postcode)."""
        return self.apply(channel, [CustomerChange(r, create=True) for r in refs], source=source)

    def create_from_order(self, order_id: int) -> CustomerOutcome:
        """Make a customer from this order's details and link the order's buyer to them."""
        row = self.db.one(
            "SELECT channel_id, customer_ref, external_id FROM orders WHERE id = ?", (order_id,)
        )
        if row is None:
            raise MappingError(f"No order with id {order_id}.")
        channel = self.channels.by_id(row["channel_id"])
        ref = buyer_ref(row["customer_ref"], row["external_id"])
        return self.create_for_buyers(channel, [ref], source="order")

    def apply(
        self, channel: Channel, changes: Iterable[CustomerChange], *, source: str
    ) -> CustomerOutcome:
        """Change buyers' links as one undoable batch (customers it creates go with an undo)."""
        changes = list({c.ref: c for c in changes}.values())
        out = CustomerOutcome()
        if not changes:
            return out
        now = time.time()
        with self.db.transaction() as conn:
            current = {
                r[0]: (r[1], r[2])
                for r in self.db.all(
                    "SELECT external_ref, customer_id, created_at FROM customer_links"
                    " WHERE channel_id = ?",
                    (channel.id,),
                )
            }
            items = []
            for change in changes:
                old_id, old_at = current.get(change.ref, (None, None))
                created = 0
                if change.create:
                    facts = self.buyer(channel, change.ref)
                    new_id: int | None = self.add(
                        facts.name or facts.email,
                        email=facts.email,
                        phone=facts.phone,
                        postcode=facts.postcode,
                    )
                    created = 1
                else:
                    new_id = None if change.unlink else (change.customer_id or old_id)
                if new_id == old_id:
                    out.unchanged += 1
                    continue
                items.append((change.ref, old_id, old_at, new_id, created))
                out.created += created
                out.linked += new_id is not None
                out.unlinked += new_id is None
                if new_id is not None:
                    out.customer_ids.append(new_id)
            if not items:
                return out
            out.batch_id = start_batch(self.db, channel.id, source)
            conn.executemany(
                "INSERT INTO mapping_batch_customers (batch_id, channel_id, external_ref,"
                " old_customer_id, old_linked_at, new_customer_id, created_customer)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(out.batch_id, channel.id, *item) for item in items],
            )
            conn.executemany(
                "INSERT INTO customer_links (channel_id, external_ref, customer_id, created_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (channel_id, external_ref) DO UPDATE SET"
                " customer_id = excluded.customer_id, created_at = excluded.created_at",
                [(channel.id, ref, new, now) for ref, _, _, new, _ in items if new is not None],
            )
            conn.executemany(
                "DELETE FROM customer_links WHERE channel_id = ? AND external_ref = ?",
                [(channel.id, ref) for ref, _, _, new, _ in items if new is None],
            )
            conn.execute(
                "UPDATE mapping_batches SET summary = ? WHERE id = ?", (out.text(), out.batch_id)
            )
        return out

    # -- spreadsheets ---------------------------------------------------------------------
    def export_csv(self, channel: Channel) -> str:
        """Every buyer of the channel with the customer they are linked to (blank if none)."""
        customers = {r["id"]: r for r in self.db.all("SELECT id, name, email FROM customers")}
        rows = []
        for b in self.buyers(channel):
            local = customers.get(b["customer_id"]) if b["customer_id"] else None
            rows.append(
                {
                    "channel": channel.name,
                    "customer_ref": b["ref"],
                    "buyer_name": b["name"],
                    "buyer_email": b["email"],
                    "orders": b["orders"],
                    "customer_id": local["id"] if local else "",
                    "customer_name": local["name"] if local else "",
                    "customer_email": local["email"] if local else "",
                }
            )
        return write_customer_mappings(rows)

    def import_csv(self, channel: Channel, data: bytes, *, dry_run: bool) -> CsvImport:
        """Check a filled customer mapping file; unless ``dry_run``, apply it as one batch."""
        buyers = {b["ref"]: b for b in self.buyers(channel)}
        labels: dict[int, str] = {}
        by_email: dict[str, list[int]] = {}
        for r in self.db.all("SELECT id, name, email FROM customers ORDER BY id"):
            labels[r["id"]] = f"{r['name'] or r['email']} (#{r['id']})"
            if r["email"]:
                by_email.setdefault(r["email"].strip().casefold(), []).append(r["id"])
        plan = plan_customer_import(data, channel.name, buyers, labels, by_email)
        result = CsvImport(dry_run, plan.rows, plan.changes, plan.unchanged, plan.refused)
        if not dry_run and plan.edits:
            changes = [
                CustomerChange(e.ref, customer_id=e.customer_id, unlink=e.unlink, create=e.create)
                for e in plan.edits
            ]
            result.outcome = self.apply(channel, changes, source="csv")
        return result


def _facts(name: str, email: str, receiver: str | None) -> BuyerFacts:
    try:
        details = json.loads(receiver or "{}")
    except ValueError:
        details = {}
    return buyer_details(name, email, details if isinstance(details, dict) else {})
