"""The window's demo: three built-in channels connected, their catalogues adopted."""

from __future__ import annotations

from app.hub import Hub
from app.ui.app import _start_demo_shop


def test_the_demo_connects_a_web_shop_a_wholesale_account_and_a_crm(tmp_path):
    box, more = _start_demo_shop(tmp_path / "demo", seed=1)
    try:
        hub = Hub(tmp_path / "demo")
        try:
            channels = {
                c["name"]: c["platform"] for c in hub.db.all("SELECT name, platform FROM channels")
            }
            assert channels == {
                "Demo web shop": "selldone",
                "Demo wholesale": "sellar",
                "Demo CRM": "retailcrm",
            }
            for name in channels:
                linked = [r for r in hub.listings(name) if r["product_sku"]]
                assert linked, f"{name}: no listing was adopted"
            assert hub.db.one("SELECT COUNT(*) FROM orders")[0] > 0
        finally:
            hub.close()
        # A second start on the same folder reconnects to the new twins (new addresses).
        for sandbox in [box, *more.values()]:
            sandbox.stop()
        box, more = _start_demo_shop(tmp_path / "demo", seed=1)
        hub = Hub(tmp_path / "demo")
        try:
            assert hub.db.one("SELECT COUNT(*) FROM channels")[0] == 3
        finally:
            hub.close()
    finally:
        for sandbox in [box, *more.values()]:
            sandbox.stop()
