"""Background life: the tray icon keeps Stockbridge syncing when the window is closed."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from app.ui.bridge import ERROR, IDLE, PAUSED, SYNCING, Bridge
from app.ui.icons import icon, resources_dir

TOOLTIPS = {
    IDLE: "Stockbridge — up to date",
    SYNCING: "Stockbridge — syncing…",
    ERROR: "Stockbridge — a channel needs attention",
    PAUSED: "Stockbridge — paused",
}


class Tray(QObject):
    def __init__(self, bridge: Bridge, window, quit_app, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.window = window
        self.quit_app = quit_app
        self.available = QSystemTrayIcon.isSystemTrayAvailable()
        self.icons = {state: icon(state) for state in TOOLTIPS}
        if sys.platform == "darwin":
            # The macOS menu bar wants a monochrome template image it can tint itself.
            template = QIcon(str(resources_dir() / "icons" / "stockbridge-trayTemplate.png"))
            if not template.isNull():
                template.setIsMask(True)
                self.icons = dict.fromkeys(TOOLTIPS, template)
        self.tray = QSystemTrayIcon(self.icons[IDLE], self)
        self.tray.setToolTip(TOOLTIPS[IDLE])
        self.menu = QMenu()
        # Rebuilt on every opening so it always says what is true now.
        self.menu.aboutToShow.connect(self.rebuild_menu)
        self.rebuild_menu()
        self.tray.setContextMenu(self.menu)
        self.tray.activated.connect(self._activated)
        bridge.sync_state_changed.connect(lambda *_: self.update_state())
        bridge.paused_changed.connect(lambda *_: self.update_state())
        bridge.notify.connect(self.show_message)
        if self.available:
            self.tray.show()

    def rebuild_menu(self) -> None:
        self.menu.clear()
        self.menu.addAction("Open Stockbridge", self.show_window)
        sync = self.menu.addAction("Sync now", self.bridge.sync_now)
        sync.setEnabled(not self.bridge.paused)
        if self.bridge.paused:
            self.menu.addAction("Resume syncing", lambda: self.bridge.set_paused(False))
        else:
            self.menu.addAction("Pause syncing", lambda: self.bridge.set_paused(True))
        self.menu.addSeparator()
        self.menu.addAction("Quit Stockbridge", self.quit_app)

    def update_state(self) -> str:
        state = self.bridge.overall_state()
        self.tray.setIcon(self.icons[state])
        self.tray.setToolTip(TOOLTIPS[state])
        return state

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.show_window()

    def show_window(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    def show_message(self, title: str, message: str, kind: str) -> None:
        if not self.available or not QSystemTrayIcon.supportsMessages():
            return
        level = {
            "error": QSystemTrayIcon.MessageIcon.Critical,
            "warning": QSystemTrayIcon.MessageIcon.Warning,
        }
        self.tray.showMessage(
            title, message, level.get(kind, QSystemTrayIcon.MessageIcon.Information), 8000
        )

    def hide(self) -> None:
        self.tray.hide()
