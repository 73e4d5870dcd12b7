"""Editing Sello's status mapping in the window, and the engine following it."""

import pytest

from app.channels.sello.sandbox import SelloSandbox
from app.ui.bridge import Bridge
from app.ui.channels_page import ChannelsPage
from tests.ui.helpers import on_engine

NAME = "Marketplaces"


@pytest.fixture
def box():
    sandbox = SelloSandbox(seed=1, rate_limit=100, window_seconds=1.0)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def bridge(tmp_path, box):
    b = Bridge(tmp_path / "data")

    async def setup(hub):
        await hub.add_channel("sello", NAME, account="", secret=box.token, base_url=box.base_url)
        await hub.sync(NAME)
        hub.adopt(NAME)

    on_engine(b, setup)
    yield b
    b.stop()


def test_merchant_maps_a_status_to_dispatched_and_dispatch_uses_it(qtbot, bridge, box):
    page = ChannelsPage(bridge)
    qtbot.addWidget(page)
    page.show()
    dialog = page.edit_statuses(NAME)
    qtbot.waitUntil(lambda: bool(dialog.combos), timeout=10000)
    # By its flags, "Packed" (paid, active) means confirmed; this merchant packs and ships
    # in one go, so Packed means dispatched.
    packed = next(sid for sid, s in box.statuses.items() if s["title"] == "Packed")
    combo = dialog.combos[packed]
    assert combo.currentText() == "Confirmed (default)"
    combo.setCurrentIndex(combo.findData("dispatched"))
    assert dialog.choices() == {packed: "dispatched"}
    dialog.save()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5000)
    stored = on_engine(bridge, lambda hub: hub.channels.get(NAME).settings["status_map"])
    assert stored == {packed: "dispatched"}

    # An order paid on Sello: the merchant dispatches it, Sello gets the chosen status.
    order_id = next(
        oid
        for oid, o in box.orders.items()
        if box.statuses[str(o["status_id"])]["is_paid"]
        and box.statuses[str(o["status_id"])]["is_active"]
        and not box.statuses[str(o["status_id"])]["is_delivered"]
    )
    ref = f"{NAME}:{order_id}"

    async def dispatch(hub):
        detail = hub.order_detail(ref)
        if detail["needs_mapping"]:
            pytest.skip("seeded order has an unmapped product")
        hub.order_action(ref, "dispatch")
        (report,) = await hub.sync(NAME)
        return report

    report = on_engine(bridge, dispatch)
    assert report.ok, report.error
    assert box.order_status(order_id) == packed
