"""Render the mapping wizard's pages and the Products screen after it into docs/screenshots.

The Selldone sandbox (seed 1) with a small catalogue of the merchant's own, as in
tests/ui/test_mapping_screens.py: some listings match exactly, some apart from case, two
share a SKU and the gift wrapping has none. Run under a real X server:
    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python packaging/mapping_screenshots.py
Replaces only 10-mapping-wizard-*.png and 10-mapping-products-after-wizard.png.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QWizard  # noqa: E402
from screenshots import pump, wait_for  # noqa: E402 - the sibling script

from app import secrets  # noqa: E402
from app.channels.selldone.sandbox import SelldoneSandbox  # noqa: E402
from app.hub import Hub  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
CHANNEL = "Web shop"
CATALOGUE = [  # sku, name, barcode, on hand
    ("NECK-MER", "Merino neck gaiter", "", 10),
    ("SOCK-MER-BLK-39", "Merino crew socks black 39-42", "", 10),
    ("sock-mer-gry-39", "Merino crew socks grey 39-42", "", 10),
    ("WASH-250", "Wool wash 250 ml", "4269302585387", 10),
    ("GIFT", "Gift wrapping", "", 100),
    ("bl-top-m", "Base layer top M", "", 5),
    ("Bl-Top-M", "Base layer top M (old)", "", 0),
    ("BLANKET-HL", "Highland wool blanket", "", 4),
    ("MUG-ENA-CRM", "Enamel camp mug, cream", "", 6),
    ("VEST-DWN-S", "Down vest S", "", 3),
]


def prepare(data: Path, box: SelldoneSandbox) -> None:
    hub = Hub(data)
    try:
        asyncio.run(
            hub.add_channel(
                "selldone", CHANNEL, account=str(box.shop_id), secret=box.token,
                base_url=box.base_url,
            )
        )  # fmt: skip
        asyncio.run(hub.sync(CHANNEL))
        warehouse = hub.catalog.default_warehouse_id()
        for sku, name, barcode, on_hand in CATALOGUE:
            product = hub.catalog.add_product(sku, name, barcode=barcode)
            hub.ledger.record(product.id, warehouse, on_hand=on_hand, reason="stock count")
    finally:
        hub.close()


def choose(page, listing: str, key: str) -> None:
    """Select one listing on a decision page and press one of its buttons."""
    rows = page.model.rows
    page.view.clearSelection()
    page.view.selectRow(next(i for i, r in enumerate(rows) if r["external_id"] == listing))
    page.buttons[key].click()


def main() -> int:
    from app.ui.bridge import Bridge
    from app.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv)
    secrets.use_memory_store()
    box = SelldoneSandbox(seed=1)
    box.start()
    data = Path(tempfile.mkdtemp(prefix="stockbridge-mapping-shots-"))
    prepare(data, box)
    bridge = Bridge(data)
    window = MainWindow(bridge, title_suffix="Demo shop")
    window.resize(1360, 860)
    window.show()
    window.go("Products")
    pump(0.5)
    products = window.products
    wizard = products.open_wizard()
    wizard.resize(1000, 640)
    wait_for(lambda: wizard.plan is not None)
    shots = []

    def shot(name: str) -> None:
        pump(0.5)
        path = OUT / f"10-mapping-{name}.png"
        wizard.grab().save(str(path))
        shots.append(path)

    shot("wizard-1-automatic")
    wizard.next()
    conflicts = wizard.conflicts
    choose(conflicts, "6116", "best")  # the gift wrapping: GIFT
    choose(conflicts, "6103", "best")  # the wool wash: WASH-250
    choose(conflicts, "6117", "ignore")  # the outlet wash: not sold from stock
    conflicts.view.clearSelection()
    shot("wizard-2-conflicts")
    wizard.next()
    unmapped = wizard.unmapped
    choose(unmapped, "6102:18003", "best")
    choose(unmapped, "6121", "create")
    unmapped.view.clearSelection()
    shot("wizard-3-unmapped")
    wizard.next()
    shot("wizard-4-summary")
    wizard.button(QWizard.WizardButton.FinishButton).click()
    wait_for(lambda: wizard.outcome is not None)
    products.refresh()
    pump(1.0)
    path = OUT / "10-mapping-products-after-wizard.png"
    window.grab().save(str(path))
    shots.append(path)
    for path in shots:
        print(f"saved {path.relative_to(ROOT)}")
    QTimer.singleShot(0, app.quit)
    bridge.stop()
    box.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
