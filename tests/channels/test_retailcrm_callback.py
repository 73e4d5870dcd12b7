"""The inventoriesUpload callback switch: off by default; on, RetailCRM's stock requests
are answered by a receiver on 127.0.0.1 with each mapped store's numbers."""

from __future__ import annotations

import asyncio
import socket

import pytest

from app.channels.retailcrm import service
from app.channels.retailcrm.callback_host import CallbackHost
from app.channels.retailcrm.client import NO_CALLBACKS_BASE_URL
from app.channels.retailcrm.sandbox import RetailCrmSandbox
from app.hub import Hub
from app.settings import channel_setting

NAME = "CRM"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def box():
    with RetailCrmSandbox(seed=1) as sandbox:
        yield sandbox


@pytest.fixture
def hub(tmp_path, box):
    h = Hub(tmp_path / "data")
    asyncio.run(
        h.add_channel("retailcrm", NAME, account="", secret=box.token, base_url=box.base_url)
    )
    yield h
    h.close()


def sync(hub):
    (report,) = asyncio.run(hub.sync(NAME))
    assert report.ok, report.error


def actions(box):
    return box.module["integrations"]["store"]["actions"]


def test_the_callback_is_off_until_switched_on_then_answers_on_loopback(hub, box):
    sync(hub)
    hub.adopt(NAME)
    main = hub.catalog.warehouse_id("Main warehouse")
    asyncio.run(service.save_store_map(hub, NAME, {"main": main}))
    sync(hub)
    host = CallbackHost(lambda name, offers: service.answer_callback(hub, name, offers))
    try:
        # Off by default: registered without callbacks, nothing listening.
        assert channel_setting(hub.channels.get(NAME).settings, "stock_callback") is False
        assert actions(box) == [] and box.module["baseUrl"] == NO_CALLBACKS_BASE_URL
        assert host.reconcile(hub.channels.all()) == {} and host.receivers == {}

        # Switched on without the events it needs: the card says what is missing.
        hub.channels.update(NAME, settings={"stock_callback": True})
        sync(hub)
        assert "public address" in hub.channels.get(NAME).settings["stock_callback_error"]
        assert actions(box) == []

        port = free_port()
        public = f"http://127.0.0.1:{port}"  # stands in for the merchant's tunnel
        hub.channels.update(
            NAME,
            settings={
                "stock_callback_url": public,
                "stock_callback_points": "order.create, order.edit",
                "stock_callback_port": port,
            },
        )
        sync(hub)
        settings = hub.channels.get(NAME).settings
        assert settings["stock_callback_error"] == ""
        assert box.module["baseUrl"] == public
        assert actions(box) == [
            {"code": "inventoriesUpload", "url": "/inventories", "callPoints": ["order.create", "order.edit"]}
        ]  # fmt: skip
        requests = len(box.request_log)
        sync(hub)  # registered already: not sent again
        assert not [e for e in box.request_log[requests:] if "integration-modules" in e["path"]]

        assert host.reconcile(hub.channels.all()) == {}
        receiver = host.receivers[NAME]
        assert receiver._httpd.server_address[0] == "127.0.0.1" and receiver.port == port

        listing = next(r for r in hub.listings(NAME) if r["product_sku"])
        offer = box.offers[int(listing["listing"])]
        status, body = box.fire_inventories_upload(
            [{"externalId": offer["externalId"], "site": offer["site"]}, {"id": 999999}]
        )
        assert status == 200 and body["success"] is True
        sellable = hub.stock(listing["product_sku"])[0]["sellable"]
        assert body["offers"] == [
            {"externalId": offer["externalId"], "stores": [{"code": "main", "available": sellable}]}
        ]

        # Off again: the module loses its callback and the receiver stops.
        hub.channels.update(NAME, settings={"stock_callback": False})
        sync(hub)
        assert actions(box) == [] and box.module["baseUrl"] == NO_CALLBACKS_BASE_URL
        assert host.reconcile(hub.channels.all()) == {}
        assert host.receivers == {} and not receiver.running
    finally:
        host.stop()
