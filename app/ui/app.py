"""Starting the window: Qt application, qasync loop, single instance, tray, demo mode."""

from __future__ import annotations

import asyncio
import logging
import random
import sys
from pathlib import Path

import qasync
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from app import APP_NAME, __version__, secrets
from app.platform_integration import create_app_mutex
from app.ui.icons import icon

log = logging.getLogger(__name__)

DEMO_BUYER_EVERY_MS = 45_000
DEMO_BUYER_MAX = 40  # the simulated buyer stops by itself


def _application() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setOrganizationName(APP_NAME)
    app.setWindowIcon(icon())
    app.setQuitOnLastWindowClosed(False)  # the tray keeps running
    return app  # type: ignore[return-value]


def run_gui(data_dir: Path, *, demo: bool = False, seed: int = 1, hidden: bool = False) -> int:
    from app.ui.bridge import Bridge
    from app.ui.main_window import MainWindow
    from app.ui.single_instance import SingleInstance
    from app.ui.tray import Tray

    create_app_mutex()  # lets the installer see a running Stockbridge (Windows)
    app = _application()
    guard = SingleInstance(data_dir)
    if guard.already_running():
        print(f"{APP_NAME} is already running; its window was brought to the front.")
        return 0
    guard.listen()

    box = None
    more: dict = {}
    if demo:
        box, more = _start_demo_shop(data_dir, seed)

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        bridge = Bridge(data_dir)
    except Exception as exc:  # the database could not be opened: say so in a window
        QMessageBox.critical(
            None, APP_NAME, f"Stockbridge cannot open its data in {data_dir}:\n{exc}"
        )
        return 1
    window = MainWindow(bridge, title_suffix="Demo shop" if demo else "")
    stopped = False

    def quit_app() -> None:
        nonlocal stopped
        if stopped:
            return
        stopped = True
        tray.hide()
        bridge.stop()
        guard.close()
        for sandbox in [box, *more.values()]:
            if sandbox is not None:
                sandbox.stop()
        app.quit()

    tray = Tray(bridge, window, quit_app)
    window.tray = tray
    if not tray.available:
        # No tray on this desktop: closing the window must quit, not vanish.
        bridge.settings.set("close_to_tray", False)
    guard.raise_requested.connect(tray.show_window)
    if box is not None:
        _start_demo_buyer(bridge, box, window)
    bridge.start()
    if not (hidden or bridge.settings.get("start_in_tray")) or not tray.available:
        window.show()
    with loop:
        loop.run_forever()
    quit_app()
    return 0


def _start_demo_shop(data_dir: Path, seed: int):
    """Start the built-in sandboxes (a Selldone web shop, a Sellar wholesale account and a
    RetailCRM account) and connect them; their tokens live in memory only."""
    from app.channels.selldone.sandbox import SelldoneSandbox
    from app.demo import prepare_demo, prepare_more_channels, start_more_sandboxes
    from app.hub import Hub

    secrets.use_memory_store()
    box = SelldoneSandbox(seed=seed)
    box.start()
    more = start_more_sandboxes(seed)
    hub = Hub(data_dir)
    try:
        asyncio.run(prepare_demo(hub, box))
        asyncio.run(prepare_more_channels(hub, more))
    except BaseException:
        for sandbox in [box, *more.values()]:
            sandbox.stop()
        raise
    finally:
        hub.close()
    return box, more


def _start_demo_buyer(bridge, box, window) -> None:
    """A pretend buyer places an order every 45 s, so the demo shows orders arriving."""
    from app.demo import buyer_order

    rng = random.Random(7)
    placed = 0
    timer = QTimer(window, interval=DEMO_BUYER_EVERY_MS)

    def place() -> None:
        nonlocal placed
        if placed >= DEMO_BUYER_MAX:
            timer.stop()
            return
        placed += 1
        bridge.run(
            lambda hub: buyer_order(hub, box, rng),
            lambda basket: basket and bridge.sync_channel("Demo web shop"),
        )

    timer.timeout.connect(place)
    timer.start()
