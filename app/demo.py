"""`stockbridge demo --headless`: the whole flow on the built-in Selldone sandbox.

Starts the sandbox on loopback, connects to it (its token held in memory only: it is
the sandbox's, not a merchant's), syncs, adopts the shop's listings as the local
catalogue, then plays a buyer placing an order and shows the stock commit reaching
the shop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path

from app import secrets
from app.hub import Hub

DEMO_CHANNEL = "Demo web shop"


def _sellable(hub: Hub, sku: str) -> float:
    return next(r["sellable"] for r in hub.stock(sku))


async def prepare_demo(hub: Hub, box):
    """Connect the sandbox shop, import it and adopt its listings. Returns the reports."""
    if hub.channels.exists(DEMO_CHANNEL):
        # A previous demo in this folder: the new sandbox has a new address and token.
        hub.channels.update(DEMO_CHANNEL, base_url=box.base_url)
        await hub.replace_secret(DEMO_CHANNEL, box.token)
    else:
        await hub.add_channel(
            "selldone",
            DEMO_CHANNEL,
            account=str(box.shop_id),
            secret=box.token,
            base_url=box.base_url,
        )
    first = (await hub.sync(DEMO_CHANNEL))[0]
    adopted = hub.adopt(DEMO_CHANNEL)
    second = (await hub.sync(DEMO_CHANNEL))[0]
    return first, adopted, second


# The other built-in sandboxes the window's demo connects beside the web shop, so a
# merchant sees several channels in one place: (platform, channel name).
MORE_CHANNELS = (("sellar", "Demo wholesale"), ("retailcrm", "Demo CRM"))


def start_more_sandboxes(seed: int = 1) -> dict[str, object]:
    """Start the Sellar and RetailCRM twins on loopback; the caller stops them."""
    from app.channels import registry

    boxes: dict[str, object] = {}
    try:
        for platform, _name in MORE_CHANNELS:
            box = registry.platform(platform).sandbox_class()(seed=seed)
            box.start()
            boxes[platform] = box
    except Exception:
        for box in boxes.values():
            box.stop()
        raise
    return boxes


async def prepare_more_channels(hub: Hub, boxes: dict[str, object]) -> None:
    """Connect (or reconnect) the wholesale and CRM twins and adopt their listings."""
    for platform, name in MORE_CHANNELS:
        box = boxes[platform]
        if hub.channels.exists(name):
            hub.channels.update(name, base_url=box.base_url)
            await hub.replace_secret(name, box.token)
        else:
            await hub.add_channel(
                platform, name, account="", secret=box.token, base_url=box.base_url
            )
        await hub.sync(name)
        hub.adopt(name)
        await hub.sync(name)


DEMO_BUYERS = (
    "Lena Fischer",
    "Jonas Weber",
    "Mia Schulz",
    "Paul Wagner",
    "Emma Becker",
    "Ben Hoffmann",
)


def buyer_order(hub: Hub, box, rng) -> dict | None:
    """Play a buyer on the sandbox shop: one order for a product that is linked and in stock."""
    linked = [
        r
        for r in hub.listings(DEMO_CHANNEL)
        if r["product_sku"] and (r["channel_quantity"] or 0) >= 2
    ]
    if not linked:
        return None
    listing = rng.choice(linked)
    product_ref, _, variant_ref = listing["listing"].partition(":")
    return box.create_order(
        [
            {
                "product_id": int(product_ref),
                "variant_id": int(variant_ref) if variant_ref else None,
                "count": rng.choice((1, 1, 2)),
            }
        ],
        buyer={
            "id": 990000 + rng.randrange(1000),
            "name": rng.choice(DEMO_BUYERS),
            "email": "buyer@example.com",
            "phone": "+49301234567",
        },
    )


async def _run(hub: Hub, box) -> dict:
    first, adopted, second = await prepare_demo(hub, box)

    # Play the buyer: an order for the first linked single-SKU product.
    listing = next(r for r in hub.listings(DEMO_CHANNEL) if r["product_sku"])
    product_ref, _, variant_ref = listing["listing"].partition(":")
    before = _sellable(hub, listing["product_sku"])
    basket = box.create_order(
        [
            {
                "product_id": int(product_ref),
                "variant_id": int(variant_ref) if variant_ref else None,
                "count": 2,
            }
        ],
        buyer={
            "id": 990001,
            "name": "Demo Buyer",
            "email": "buyer@example.com",
            "phone": "+49301234567",
        },
    )
    third = (await hub.sync(DEMO_CHANNEL))[0]
    after = _sellable(hub, listing["product_sku"])
    shop_qty = box.product_quantity(int(product_ref), int(variant_ref) if variant_ref else None)
    orders = hub.order_list()
    by_status: dict[str, int] = {}
    for o in orders:
        by_status[o["status"]] = by_status.get(o["status"], 0) + 1
    return {
        "sandbox": box.base_url,
        "first_sync": first.as_dict(),
        "adopt": {
            "created": adopted.created,
            "linked": adopted.linked,
            "released": adopted.released,
            "needs_you": adopted.conflicts,
        },
        "second_sync": second.as_dict(),
        "buyer_order_sync": third.as_dict(),
        "orders_by_status": by_status,
        "needs_mapping": sum(1 for o in orders if o["needs_mapping"]),
        "buyer_order": {
            "number": f"SM-{basket['id']}",
            "sku": listing["product_sku"],
            "quantity": 2,
            "available_before": before,
            "available_after": after,
            "shop_quantity_after_push": shop_qty,
        },
        "committed": [r for r in hub.stock() if r["committed"]],
    }


def run_headless_demo(args: argparse.Namespace) -> int:
    from app.channels.selldone.sandbox import SelldoneSandbox

    secrets.use_memory_store()
    explicit = getattr(args, "data_dir", None)
    folder = Path(explicit) if explicit else Path(tempfile.mkdtemp(prefix="stockbridge-demo-"))
    box = SelldoneSandbox(seed=args.seed)
    box.start()
    hub = Hub(folder)
    try:
        result = asyncio.run(_run(hub, box))
    finally:
        hub.close()
        box.stop()
    result["data_dir"] = str(folder)
    if getattr(args, "json", False):
        print(json.dumps(result, indent=2, default=str))
        return 0
    print(_describe(result))
    return 0


def _describe(r: dict) -> str:
    first, adopt, third, buyer = (
        r["first_sync"],
        r["adopt"],
        r["buyer_order_sync"],
        r["buyer_order"],
    )
    lines = [
        f"Stockbridge demo — Selldone sandbox at {r['sandbox']}",
        f"Data folder: {r['data_dir']}",
        "",
        f"1. Connected and synced: {first['listings_seen']} listings, {first['orders_created']} orders imported"
        f" ({first['needs_mapping']} waiting for product mapping).",
        f"2. Adopted the shop's listings as your catalogue: {adopt['created']} products created,"
        f" {adopt['linked']} listings linked, {adopt['released']} waiting orders released.",
    ]
    for c in adopt["needs_you"]:
        lines.append(
            f"     needs you: listing {c['listing']} ({c['sku'] or 'no SKU'}, {c['name']}): {c['reason']}"
        )
    lines.append(
        "   Orders now: " + ", ".join(f"{n} {s}" for s, n in sorted(r["orders_by_status"].items()))
    )
    lines.append(
        f"3. A buyer ordered 2 × {buyer['sku']} ({buyer['number']}). After the next sync"
        f" ({third['orders_created']} new order, {third['pushes_sent']} updates sent):"
    )
    lines.append(
        f"   available {buyer['available_before']:g} → {buyer['available_after']:g};"
        f" the shop now shows {buyer['shop_quantity_after_push']:g}."
    )
    lines.append("")
    lines.append("Committed stock (reserved for open orders):")
    width = max((len(c["sku"]) for c in r["committed"]), default=3)
    for c in r["committed"]:
        lines.append(
            f"   {c['sku'].ljust(width)}  on hand {c['on_hand']:g}  committed {c['committed']:g}"
            f"  available {c['available']:g}"
        )
    return "\n".join(lines)
