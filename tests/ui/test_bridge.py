"""The bridge: engine work off the GUI thread, scheduling, pause, laptop wake."""

import threading

import pytest

from app.channels.selldone.sandbox import SelldoneSandbox
from app.ui import bridge as bridge_mod
from app.ui.bridge import PAUSED, Bridge
from tests.ui.helpers import CHANNEL, connected_bridge, on_engine


@pytest.fixture
def box():
    sandbox = SelldoneSandbox(seed=2)
    sandbox.start()
    yield sandbox
    sandbox.stop()


def test_work_runs_off_the_gui_thread_and_reports_back(qtbot, tmp_path):
    bridge = Bridge(tmp_path)
    try:
        seen = {}
        bridge.run(
            lambda hub: threading.current_thread().name,
            lambda name: seen.setdefault("thread", name),
        )
        qtbot.waitUntil(lambda: "thread" in seen, timeout=5000)
        assert seen["thread"] == "stockbridge-engine"
        assert threading.current_thread() is threading.main_thread()

        def boom(hub):
            raise ValueError("no such product")

        bridge.run(boom, on_error=lambda exc: seen.setdefault("error", str(exc)))
        qtbot.waitUntil(lambda: "error" in seen, timeout=5000)
        assert seen["error"] == "no such product"
    finally:
        bridge.stop()


def test_scheduler_syncs_due_channels_and_pause_stops_it(qtbot, tmp_path, box):
    bridge = connected_bridge(tmp_path, box, adopt=False, tick_ms=50)
    try:
        with qtbot.waitSignal(bridge.sync_finished, timeout=10000) as blocker:
            bridge.start()
        assert blocker.args[0] == CHANNEL and blocker.args[1]["ok"]
        before = len(box.requests_to("baskets-PHYSICAL"))
        bridge.set_paused(True)
        assert bridge.states[CHANNEL].state == PAUSED
        bridge.sync_now()  # the tray's Sync now is disabled while paused; the scheduler obeys too
        bridge.tick()
        qtbot.wait(300)
        assert bridge.overall_state() == PAUSED
        bridge.set_paused(False)
        # Interval not reached yet: resuming does not sync again by itself...
        qtbot.wait(200)
        after_resume = len(box.requests_to("baskets-PHYSICAL"))
        # ...but a wall-clock jump (laptop wake) does.
        bridge._wall -= bridge_mod.WALL_JUMP_SECONDS * 3
        with qtbot.waitSignal(bridge.sync_finished, timeout=10000):
            bridge.tick()
        assert len(box.requests_to("baskets-PHYSICAL")) > after_resume >= before
    finally:
        bridge.stop()


def test_new_orders_are_announced(qtbot, tmp_path, box):
    bridge = connected_bridge(tmp_path, box)
    try:
        product = next(
            p for p in box.products.values() if p.get("sku") and not p.get("product_variants")
        )
        box.create_order([{"product_id": product["id"], "variant_id": None, "count": 1}])
        with qtbot.waitSignal(
            bridge.notify,
            timeout=10000,
            check_params_cb=lambda title, msg, kind: "new order" in title,
        ) as blocker:
            bridge.sync_channel(CHANNEL)
        assert blocker.args[0] == f"1 new order from {CHANNEL}"
    finally:
        bridge.stop()


def test_failed_sync_is_reported_once(qtbot, tmp_path, box):
    bridge = connected_bridge(tmp_path, box, adopt=False)
    try:
        box.revoke_token(box.token)
        errors = []
        bridge.notify.connect(lambda title, msg, kind: kind == "error" and errors.append(msg))
        for _ in range(2):
            with qtbot.waitSignal(bridge.sync_finished, timeout=10000):
                bridge.sync_channel(CHANNEL)
        assert len(errors) == 1 and box.token not in errors[0]
        assert bridge.overall_state() == "error"
    finally:
        bridge.stop()


def test_a_listing_added_after_set_up_is_announced_once(qtbot, tmp_path, box):
    bridge = connected_bridge(tmp_path, box)
    try:
        new_id = max(box.products) + 1
        template = next(
            p for p in box.products.values() if p.get("sku") and not p.get("product_variants")
        )
        box.products[new_id] = dict(template, id=new_id, sku="NEW-SCARF-1", title="New scarf")
        on_engine(
            bridge,
            lambda hub: hub.channels.set_cursor(hub.channels.get(CHANNEL).id, "listings", "0"),
        )
        notices = []
        bridge.notify.connect(lambda title, msg, kind: notices.append(title))
        for _ in range(2):
            with qtbot.waitSignal(bridge.sync_finished, timeout=10000):
                bridge.sync_channel(CHANNEL)
            on_engine(
                bridge,
                lambda hub: hub.channels.set_cursor(hub.channels.get(CHANNEL).id, "listings", "0"),
            )
        assert notices.count(f"1 new listing on {CHANNEL}") == 1
    finally:
        bridge.stop()
