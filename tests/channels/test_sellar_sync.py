"""Sellar through the whole engine: the seed's 10-kegs example, cancellations, invoice
numbers, payments and unknown retailers, against the Sellar sandbox over loopback."""

import asyncio

import pytest

from app.channels.sellar.sandbox import SellarSandbox
from app.hub import Hub
from app.store.orders import ActionRefused

NAME = "Wholesale"


@pytest.fixture
def box():
    sandbox = SellarSandbox(seed=4)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def hub(tmp_path, box):
    h = Hub(tmp_path / "data")
    asyncio.run(h.add_channel("sellar", NAME, account="", secret=box.token, base_url=box.base_url))
    sync(h)
    h.adopt(NAME)
    sync(h)
    yield h
    h.close()


def sync(hub):
    (report,) = asyncio.run(hub.sync(NAME))
    assert report.ok, report.error
    return report


def level(hub, sku):
    row = hub.stock(sku)[0]
    return row["on_hand"], row["committed"], row["available"]


def quiet_product(hub, box):
    """A keg no open order touches, so the example's numbers are exact."""
    busy = {
        item["ProductId"] if "ProductId" in item else item.get("product_id")
        for o in box.orders.values()
        if not o.get("cancelledAt") and not o.get("deliveredAt")
        for item in o.get("OrderItems", o.get("items", []))
    }
    for product in box.products.values():
        sku = product.get("sku") or ""
        if (
            product["id"] not in busy
            and "KEG" in sku
            and hub.stock(sku)
            and level(hub, sku)[1] == 0
        ):
            return product
    pytest.fail("the seeded brewery has no idle keg")


def retailer(box):
    return next(iter(box.retailers))


def test_ten_kegs_example_end_to_end(hub, box):
    keg = quiet_product(hub, box)
    sku = keg["sku"]
    hub.count_stock(sku, 10)
    sync(hub)
    assert box.product_stock(keg["id"]) == (10, 0, 10)

    placed = box.place_order(retailer(box), [{"product_id": keg["id"], "quantity": 2}])
    sync(hub)
    assert level(hub, sku) == (10, 2, 8)
    assert box.product_stock(keg["id"]) == (10, 2, 8)

    box.confirm_order(placed["id"])
    sync(hub)
    assert level(hub, sku) == (8, 0, 8)
    assert box.product_stock(keg["id"]) == (8, 0, 8)
    pushes = [r["json"] for r in box.requests_to(f"/products/{keg['id']}", "PUT")]
    assert pushes and all(set(body) == {"availableStock"} for body in pushes)
    assert pushes[-1]["availableStock"] == 8


def test_cancellation_before_and_after_confirmation(hub, box):
    keg = quiet_product(hub, box)
    sku = keg["sku"]
    hub.count_stock(sku, 20)
    sync(hub)
    first = box.place_order(retailer(box), [{"product_id": keg["id"], "quantity": 3}])
    second = box.place_order(retailer(box), [{"product_id": keg["id"], "quantity": 4}])
    sync(hub)
    assert level(hub, sku) == (20, 7, 13)
    box.cancel_order(first["id"], "Retailer changed their mind")
    box.confirm_order(second["id"])
    sync(hub)
    assert level(hub, sku) == (16, 0, 16)
    box.cancel_order(second["id"], "Brewery could not deliver")
    sync(hub)
    assert level(hub, sku) == (20, 0, 20)
    assert box.product_stock(keg["id"]) == (20, 0, 20)


def test_invoice_number_is_written_once(hub, box):
    keg = quiet_product(hub, box)
    hub.count_stock(keg["sku"], 10)
    placed = box.place_order(retailer(box), [{"product_id": keg["id"], "quantity": 1}])
    sync(hub)
    order = hub.order_detail(f"{NAME}:{placed['id']}")
    assert order["invoice_number"].startswith("INV-")
    assert box.order_payload(placed["id"])["customInvoiceNumber"] == order["invoice_number"]
    box.confirm_order(placed["id"])
    sync(hub)
    sync(hub)
    writes = [
        r
        for r in box.requests_to(f"/orders/{placed['id']}", "PUT")
        if "customInvoiceNumber" in (r["json"] or {})
    ]
    assert len(writes) == 1
    assert hub.order_detail(f"{NAME}:{placed['id']}")["invoice_number"] == order["invoice_number"]
    # The next order gets the next number of the sequence.
    other = box.place_order(retailer(box), [{"product_id": keg["id"], "quantity": 1}])
    sync(hub)
    assert hub.order_detail(f"{NAME}:{other['id']}")["invoice_number"] != order["invoice_number"]


def test_paid_only_for_manual_payments(hub, box):
    keg = quiet_product(hub, box)
    hub.count_stock(keg["sku"], 10)
    card = box.place_order(
        retailer(box), [{"product_id": keg["id"], "quantity": 1}], payment="stripe"
    )
    manual = box.place_order(
        retailer(box), [{"product_id": keg["id"], "quantity": 1}], payment="manual"
    )
    box.confirm_order(card["id"])
    box.confirm_order(manual["id"])
    sync(hub)
    with pytest.raises(ActionRefused, match="Sellar collects stripe payments itself"):
        hub.mark_paid(f"{NAME}:{card['id']}")
    hub.mark_paid(f"{NAME}:{manual['id']}")
    sync(hub)
    assert box.order_payload(manual["id"])["paidAt"]
    assert hub.status()[0]["failed_pushes"] == 0


def test_confirm_and_cancel_happen_in_sellar(hub, box):
    keg = quiet_product(hub, box)
    hub.count_stock(keg["sku"], 10)
    placed = box.place_order(retailer(box), [{"product_id": keg["id"], "quantity": 1}])
    sync(hub)
    ref = f"{NAME}:{placed['id']}"
    with pytest.raises(ActionRefused, match="confirmed in Sellar itself"):
        hub.order_action(ref, "confirm")
    with pytest.raises(ActionRefused, match="cancelled in Sellar itself"):
        hub.order_action(ref, "cancel")
    box.confirm_order(placed["id"])
    sync(hub)
    hub.order_action(ref, "dispatch")
    sync(hub)
    assert box.order_payload(placed["id"])["dispatchedAt"]
    hub.order_action(ref, "deliver")
    sync(hub)
    assert box.order_payload(placed["id"])["deliveredAt"]


def test_unknown_retailer_commits_and_waits_for_customer_mapping(hub, box):
    keg = quiet_product(hub, box)
    hub.count_stock(keg["sku"], 10)
    stranger = box.add_retailer("The Crooked Billet", "pub", connected=False)
    placed = box.place_order(stranger["id"], [{"product_id": keg["id"], "quantity": 2}])
    sync(hub)
    assert level(hub, keg["sku"]) == (10, 2, 8)
    order = hub.db.one(
        "SELECT customer_ref, customer_name FROM orders WHERE external_id = ?", (str(placed["id"]),)
    )
    assert order["customer_ref"] == f"retailer:{stranger['id']}"
    linked = hub.db.scalar(
        "SELECT COUNT(*) FROM customer_links WHERE external_ref = ?", (order["customer_ref"],)
    )
    assert linked == 0  # listed for mapping on the Customers screen


def test_revoked_key_stops_retrying_until_a_new_key(hub, box):
    new_key = box.rotate_key()
    (report,) = asyncio.run(hub.sync(NAME))
    assert not report.ok and "key" in report.error.lower() and box.token not in report.error
    before = len(box.request_log)
    (again,) = asyncio.run(hub.sync(NAME))
    assert not again.ok and len(box.request_log) == before  # nothing sent with the bad key
    asyncio.run(hub.replace_secret(NAME, new_key))
    sync(hub)
