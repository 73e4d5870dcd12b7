"""Render every screen of `stockbridge demo` into docs/screenshots/*.png.

Run under a real X server so the window is drawn as a merchant sees it:
    xvfb-run -s "-screen 0 1400x900x24" .venv/bin/python packaging/screenshots.py
(Qt's offscreen platform works too: QT_QPA_PLATFORM=offscreen.)
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app import secrets  # noqa: E402
from app.channels.selldone.sandbox import SelldoneSandbox  # noqa: E402
from app.demo import (  # noqa: E402
    buyer_order,
    prepare_demo,
    prepare_more_channels,
    start_more_sandboxes,
)
from app.hub import Hub  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def pump(seconds: float) -> None:
    """Let Qt paint and deliver engine results for a while (bounded)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.02)


def wait_for(predicate, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise TimeoutError("the window did not get there in time")
        pump(0.05)


def main() -> int:
    from app.ui.bridge import Bridge
    from app.ui.main_window import SCREENS, MainWindow

    app = QApplication.instance() or QApplication(sys.argv)
    secrets.use_memory_store()
    box = SelldoneSandbox(seed=1)
    box.start()
    more = start_more_sandboxes(1)
    data = Path(tempfile.mkdtemp(prefix="stockbridge-shots-"))
    hub = Hub(data)
    try:
        asyncio.run(prepare_demo(hub, box))
        asyncio.run(prepare_more_channels(hub, more))
        import random

        rng = random.Random(3)
        for _ in range(4):  # a few fresh orders so the dashboard shows today's activity
            buyer_order(hub, box, rng)
        asyncio.run(hub.sync("Demo web shop"))
    finally:
        hub.close()
    bridge = Bridge(data)
    window = MainWindow(bridge, title_suffix="Demo shop")
    window.resize(1360, 860)
    window.show()
    bridge.sync_now()
    wait_for(lambda: all(s.state != "syncing" for s in bridge.states.values()) and bridge.states)
    pump(0.5)
    OUT.mkdir(parents=True, exist_ok=True)
    # Only this script's own pictures are replaced; others (the mapping screens) stay.
    for old in OUT.glob("0[1-9]-*.png"):
        old.unlink()
    for i, name in enumerate(SCREENS):
        window.go(name)
        if name == "Orders":
            window.orders.table.select_where(
                lambda r: r["status"] == "requested" and not r["needs_mapping"]
            )
        if name == "Stock":
            window.stock.table.view.selectRow(0)
        if name == "Products":
            window.products.table.view.selectRow(0)
        pump(0.6)
        path = OUT / f"{i + 1:02d}-{name.lower()}.png"
        window.grab().save(str(path))
        print(f"saved {path.relative_to(ROOT)}")
    # The connect wizard, on each platform's page.
    from app.channels import registry
    from app.ui.connect_wizard import ConnectWizard

    for old in OUT.glob("09-connect-wizard*.png"):
        old.unlink()
    for key in registry.PLATFORMS:
        wizard = ConnectWizard(bridge, window, platform=key)
        wizard.resize(760, 700)
        wizard.show()
        pump(0.6)
        path = OUT / f"09-connect-wizard-{key}.png"
        wizard.grab().save(str(path))
        print(f"saved {path.relative_to(ROOT)}")
        wizard.close()
    # RetailCRM's own dialogs: stores ↔ warehouses, and the stock check.
    window.go("Channels")
    stores = window.channels.edit_stores("Demo CRM")
    stores.resize(720, 420)
    pump(1.5)
    stores.grab().save(str(OUT / "11-retailcrm-stores.png"))
    print("saved docs/screenshots/11-retailcrm-stores.png")
    stores.close()
    # Someone changed two offers' stock in RetailCRM by hand: the check should find them.
    crm = more["retailcrm"]
    with crm.lock:
        for offer in sorted(crm.inventories)[:2]:
            for store in crm.inventories[offer].values():
                store["available"] = store.get("available", 0) + 12
    drift = window.channels.check_drift("Demo CRM")
    drift.resize(900, 520)
    wait_for(lambda: not drift.busy, timeout=30)
    pump(0.5)
    drift.grab().save(str(OUT / "12-retailcrm-stock-check.png"))
    print("saved docs/screenshots/12-retailcrm-stock-check.png")
    drift.close()
    QTimer.singleShot(0, app.quit)
    bridge.stop()
    for sandbox in [box, *more.values()]:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
