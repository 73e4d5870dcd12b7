"""Shared set-up for GUI tests: a Bridge on a temp folder connected to a Selldone sandbox."""

from __future__ import annotations

from app.channels.selldone.sandbox import SelldoneSandbox
from app.ui.bridge import Bridge

CHANNEL = "Web shop"


def on_engine(bridge: Bridge, work, timeout: float = 30):
    """Run ``work(hub)`` on the engine thread and wait for it (test set-up only)."""
    return bridge.engine.submit(work).result(timeout)


def connected_bridge(tmp_path, box: SelldoneSandbox, *, adopt: bool = True, **kwargs) -> Bridge:
    bridge = Bridge(tmp_path / "data", **kwargs)

    async def setup(hub):
        await hub.add_channel(
            "selldone", CHANNEL, account=str(box.shop_id), secret=box.token, base_url=box.base_url
        )
        await hub.sync(CHANNEL)
        if adopt:
            hub.adopt(CHANNEL)
            await hub.sync(CHANNEL)

    on_engine(bridge, setup)
    return bridge
