"""Long work can be stopped: the job ends on the engine thread and keeps what it did."""

import asyncio
import threading

import pytest

from app.channels.selldone.sandbox import SelldoneSandbox
from app.ui.bridge import Bridge
from app.ui.connect_wizard import ConnectWizard


def test_cancel_stops_the_job_on_the_engine_thread(qtbot, tmp_path):
    bridge = Bridge(tmp_path)
    ended = threading.Event()
    called = []

    async def long_job(hub):
        try:
            await asyncio.sleep(30)
        finally:
            ended.set()

    try:
        token = bridge.run(long_job, called.append, called.append)
        qtbot.wait(100)
        assert bridge.cancel(token)
        assert ended.wait(5)
        qtbot.wait(100)
        assert called == []  # a stopped job reports nothing
        assert not bridge.cancel(token)
    finally:
        bridge.stop()


@pytest.fixture
def big_shop():
    sandbox = SelldoneSandbox(seed=1, extra_orders=4_000, rate_limit_per_minute=0)
    sandbox.start()
    yield sandbox
    sandbox.stop()


def test_stopping_the_first_import_keeps_what_was_read(qtbot, tmp_path, big_shop):
    bridge = Bridge(tmp_path / "data")
    try:
        wizard = ConnectWizard(bridge, platform="selldone")
        qtbot.addWidget(wizard)
        importer = wizard.importer
        from app.ui.connect_wizard import Connection

        conn = Connection(
            platform="selldone",
            name="Big shop",
            account=str(big_shop.shop_id),
            secret=big_shop.token,
            base_url=big_shop.base_url,
            mapping_mode="sku",
        )
        importer.start(conn)
        qtbot.waitUntil(lambda: "orders read" in importer.count_label.text(), timeout=30000)
        importer.stop_import()
        assert importer.isComplete() and "stopped" in importer.count_label.text()
        qtbot.wait(300)
        kept = bridge.reader.scalar("SELECT COUNT(*) FROM orders")
        assert 0 < kept < len(big_shop.physical_orders())
        # The next sync carries on from there: nothing lost, nothing twice.
        (report,) = bridge.engine.submit(lambda hub: hub.sync("Big shop")).result(120)
        assert report.ok
        total = bridge.reader.scalar("SELECT COUNT(*) FROM orders")
        assert total == len(big_shop.physical_orders())
    finally:
        bridge.stop()
