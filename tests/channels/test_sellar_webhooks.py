"""Sellar webhooks: registered with a secret, received on loopback only, used as hints."""

import asyncio
import json

import httpx
import pytest

from app.channels.sellar.sandbox import SellarSandbox
from app.hub import Hub
from app.sync.webhooks import WebhookReceiver, webhook_secret

NAME = "Wholesale"


@pytest.fixture
def box():
    sandbox = SellarSandbox(seed=5)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def hub(tmp_path, box):
    h = Hub(tmp_path / "data")
    asyncio.run(h.add_channel("sellar", NAME, account="", secret=box.token, base_url=box.base_url))
    asyncio.run(h.sync(NAME))
    yield h
    h.close()


def test_public_address_is_registered_once_with_a_secret(hub, box):
    hub.channels.update(NAME, settings={"webhook_public_url": "https://hooks.example.com/sb"})
    asyncio.run(hub.sync(NAME))
    asyncio.run(hub.sync(NAME))
    posts = box.requests_to("/webhooks", "POST")
    assert len(posts) == 2  # order.created and order.updated, registered once
    secret = webhook_secret(NAME, create=False)
    assert all(
        p["json"]["url"].startswith("https://hooks.example.com/sb/hooks/Wholesale?key=")
        for p in posts
    )
    assert all(secret in p["json"]["url"] for p in posts)
    stored = json.dumps(hub.channels.get(NAME).settings)
    assert secret not in stored  # the secret lives in the keyring only


def test_a_delivery_rereads_that_order_and_a_bad_key_is_refused(hub, box):
    retailer = next(iter(box.retailers))
    product = next(p for p in box.products.values() if p.get("sku"))
    placed = box.place_order(retailer, [{"product_id": product["id"], "quantity": 1}])
    seen = []

    def on_hint(name, body):
        seen.append(asyncio.run(hub.engine.apply_hint(name, body)))

    receiver = WebhookReceiver(on_hint, port=0)
    url = receiver.start()
    try:
        secret = webhook_secret(NAME)
        body = {"type": "order.created", "data": {"id": placed["id"], "RetailerId": 1, "price": 0}}
        bad = httpx.post(f"{url}/hooks/{NAME}?key=wrong", json=body)
        assert bad.status_code == 403 and seen == []
        good = httpx.post(f"{url}/hooks/{NAME}?key={secret}", json=body)
        assert good.status_code == 202
        assert seen and seen[0].ok and seen[0].orders_created == 1
        assert box.requests_to(f"/orders/{placed['id']}", "GET")  # read from the API, not the body
        assert hub.order_detail(f"{NAME}:{placed['id']}")["status"] == "requested"
    finally:
        receiver.stop()


def test_receiver_listens_on_loopback_only():
    with pytest.raises(ValueError, match="127.0.0.1"):
        WebhookReceiver(lambda *a: None, host="0.0.0.0")
