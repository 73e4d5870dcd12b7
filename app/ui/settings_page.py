"""Settings: the general switches (built from GLOBAL_SETTINGS) and where the data lives."""

from __future__ import annotations

import logging
import logging.handlers
import os
from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import QElapsedTimer, Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app import config, secrets
from app.settings import GLOBAL_SETTINGS, Settings
from app.store import backup
from app.ui.bridge import Bridge
from app.ui.settings_form import SettingsForm, muted_label
from app.ui.style import BAD, OK, when

# keyring backends by class path, in the words a merchant sees in their own system.
KEYRING_NAMES = {
    "keyring.backends.Windows.WinVaultKeyring": "Windows Credential Manager",
    "keyring.backends.macOS.Keyring": "macOS Keychain",
    "keyring.backends.SecretService.Keyring": "your desktop's keyring (Secret Service)",
    "keyring.backends.kwallet.DBusKeyring": "KDE Wallet",
    "keyring.backends.chainer.ChainerBackend": "your system's password store",
    "app.secrets.MemoryKeyring": "memory only (tokens are forgotten when Stockbridge closes)",
}
NO_KEYRING = "keyring.backends.fail.Keyring"


def keyring_words(backend: str) -> str:
    """A keyring backend's class path in words."""
    if backend == NO_KEYRING:
        return "none available: Stockbridge cannot keep tokens on this computer"
    return KEYRING_NAMES.get(backend, backend.rsplit(".", 2)[-2] if "." in backend else backend)


def log_file(data_dir: Path) -> Path:
    """The log file this process writes, or where the app would put it for this data folder."""
    for handler in logging.getLogger().handlers:
        if isinstance(
            handler, logging.handlers.RotatingFileHandler
        ) and handler.baseFilename.endswith("stockbridge.log"):
            return Path(handler.baseFilename)
    # Same rule as the CLI: a data folder chosen by the merchant keeps its logs beside it.
    explicit = (
        bool(os.environ.get(config.DATA_DIR_ENV))
        or Path(data_dir).resolve() != config.data_dir().resolve()
    )
    return config.log_dir(Path(data_dir), explicit=explicit) / "stockbridge.log"


def when_stamp() -> str:
    """Today as a file-name-safe stamp, e.g. ``2026-11-22 0930``."""
    import time

    return time.strftime("%Y-%m-%d %H%M")


def open_folder(path: Path) -> bool:
    """Show a folder in the system's file manager."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def _card(title: str, subtitle: str = "") -> tuple[QFrame, QVBoxLayout, QHBoxLayout]:
    card = QFrame()
    card.setObjectName("card")
    layout = QVBoxLayout(card)
    layout.setContentsMargins(20, 16, 20, 18)
    layout.setSpacing(10)
    head = QHBoxLayout()
    heading = QLabel(title)
    heading.setObjectName("sectionTitle")
    heading.setStyleSheet("font-size: 15px; margin: 0px;")  # the shared margin shifts it right
    head.addWidget(heading)
    head.addStretch(1)
    layout.addLayout(head)
    if subtitle:
        layout.addWidget(muted_label(subtitle))
    return card, layout, head


class SettingsPage(QWidget):
    """General settings, saved as they change, and where Stockbridge keeps its files."""

    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        title = QLabel("Settings")
        title.setObjectName("pageTitle")

        general, general_layout, general_head = _card(
            "General", "Changes are saved as you make them."
        )
        self.saved_label = QLabel()
        self.saved_label.setStyleSheet(f"color: {OK}; font-weight: 600;")
        general_head.addWidget(self.saved_label)
        self._saved_timer = QTimer(self, singleShot=True, interval=2500)
        self._saved_timer.timeout.connect(self.saved_label.clear)
        self.form = SettingsForm(GLOBAL_SETTINGS)
        self.form.set_values(bridge.settings.all())
        self.form.changed.connect(self.save)
        general_layout.addWidget(self.form)

        files, files_layout, _ = _card(
            "Your data",
            "Everything Stockbridge knows stays on this computer. A checked copy is made "
            "every day and the last week of copies is kept in the backups folder; copy one "
            "to a USB stick or cloud folder now and then, or back up now.",
        )
        grid = QGridLayout()
        grid.setHorizontalSpacing(16)
        grid.setVerticalSpacing(10)
        grid.setColumnStretch(1, 1)
        self.data_path = self._path_label(bridge.data_dir)
        self.log_path = self._path_label(log_file(bridge.data_dir))
        self.open_data_button = QPushButton("Open folder")
        self.open_data_button.clicked.connect(lambda: open_folder(self.bridge.data_dir))
        self.open_log_button = QPushButton("Open folder")
        self.open_log_button.clicked.connect(
            lambda: open_folder(log_file(self.bridge.data_dir).parent)
        )
        self.backup_label = QLabel()
        self.backup_label.setWordWrap(True)
        self.backup_button = QPushButton("Back up now…")
        self.backup_button.clicked.connect(self.choose_backup_file)
        self.open_backups_button = QPushButton("Open folder")
        self.open_backups_button.clicked.connect(self._open_backups)
        backup_buttons = QHBoxLayout()
        backup_buttons.setSpacing(6)
        backup_buttons.addWidget(self.backup_button)
        self.restore_button = QPushButton("Restore…")
        self.restore_button.setToolTip(
            "Replace your data with a backup (your current data is kept)"
        )
        self.restore_button.clicked.connect(self.choose_restore_file)
        backup_buttons.addWidget(self.restore_button)
        backup_buttons.addStretch(1)
        self.keyring_label = QLabel("Checking…")
        self.keyring_label.setWordWrap(True)
        self.keyring_detail = muted_label(
            "Tokens and keys that let Stockbridge reach your channels are kept there, never in "
            "the data folder or the log."
        )
        rows = [
            ("Data folder", self.data_path, self.open_data_button),
            ("Log file", self.log_path, self.open_log_button),
        ]
        for row, (name, value, button) in enumerate(rows):
            grid.addWidget(self._name_label(name), row, 0, Qt.AlignmentFlag.AlignVCenter)
            grid.addWidget(value, row, 1, Qt.AlignmentFlag.AlignVCenter)
            grid.addWidget(button, row, 2, Qt.AlignmentFlag.AlignVCenter)
        backup_row = len(rows)
        grid.addWidget(self._name_label("Backups"), backup_row, 0, Qt.AlignmentFlag.AlignVCenter)
        grid.addWidget(self.backup_label, backup_row, 1, Qt.AlignmentFlag.AlignVCenter)
        grid.addWidget(self.open_backups_button, backup_row, 2, Qt.AlignmentFlag.AlignVCenter)
        grid.addLayout(backup_buttons, backup_row + 1, 1, 1, 2)
        rows += [("Backups", self.backup_label, self.open_backups_button), ("", None, None)]
        keyring_box = QVBoxLayout()
        keyring_box.setSpacing(2)
        keyring_box.addWidget(self.keyring_label)
        keyring_box.addWidget(self.keyring_detail)
        grid.addWidget(
            self._name_label("Tokens are kept in"), len(rows), 0, Qt.AlignmentFlag.AlignTop
        )
        grid.addLayout(keyring_box, len(rows), 1, 1, 2)
        files_layout.addLayout(grid)

        body = QWidget()
        column = QVBoxLayout(body)
        column.setContentsMargins(0, 0, 8, 0)
        column.setSpacing(16)
        column.addWidget(general)
        column.addWidget(files)
        column.addStretch(1)
        body.setMaximumWidth(820)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(scroll, 1)
        self.load_keyring()
        self.show_backups()

    @staticmethod
    def _name_label(text: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName("muted")
        label.setMinimumWidth(130)
        return label

    @staticmethod
    def _path_label(path: Path) -> QLabel:
        label = QLabel(str(path))
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    def refresh(self) -> None:
        """Show the stored values again (the tray or another window may have changed them)."""
        stored = self.bridge.settings.all()
        if stored != self.form.values():
            self.form.set_values(stored)
        self.show_backups()

    # -- backups ------------------------------------------------------------------------
    def show_backups(self, made: backup.Backup | None = None) -> None:
        """The newest automatic backup (or the one just made), in words."""
        if made is not None:
            self.backup_label.setText(
                f"Backed up to {made.path} ({made.size / 1_048_576:.1f} MB, checked)."
            )
            self.backup_label.setStyleSheet(f"color: {OK};")
            return
        found = backup.daily_backups(self.bridge.data_dir)
        self.backup_label.setStyleSheet("")
        if found:
            self.backup_label.setText(
                f"Last daily copy {when(found[0].taken_at)}"
                f" ({found[0].size / 1_048_576:.1f} MB); {len(found)} kept."
            )
        else:
            self.backup_label.setText("The first daily copy is made a few minutes after start.")

    def choose_backup_file(self) -> QFileDialog:
        """Ask where to put a backup (without blocking), then make it on the engine thread."""
        suggested = Path.home() / f"Stockbridge backup {when_stamp()}{backup.SUFFIX}"
        dialog = QFileDialog(self, "Back up Stockbridge's data", str(suggested))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter(f"Stockbridge backup (*{backup.SUFFIX})")
        dialog.setDefaultSuffix(backup.SUFFIX.lstrip("."))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fileSelected.connect(lambda name: self.back_up_to(Path(name)))
        dialog.open()
        return dialog

    def back_up_to(self, target: Path) -> None:
        self.backup_button.setEnabled(False)
        self.backup_label.setText("Backing up…")
        self.backup_label.setStyleSheet("")

        def done(made: backup.Backup) -> None:
            self.backup_button.setEnabled(True)
            self.show_backups(made)

        def failed(exc: BaseException) -> None:
            self.backup_button.setEnabled(True)
            self.backup_label.setText(f"Backup not made: {exc}")
            self.backup_label.setStyleSheet(f"color: {BAD};")

        self.bridge.run(lambda hub: backup.backup_to(hub.db.conn, target), done, failed)

    def choose_restore_file(self) -> QFileDialog:
        """Ask which backup to restore (without blocking); the backups folder first."""
        folder = backup.daily_dir(self.bridge.data_dir)
        dialog = QFileDialog(
            self,
            "Restore Stockbridge's data from a backup",
            str(folder if folder.is_dir() else Path.home()),
        )
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptOpen)
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setNameFilter(f"Stockbridge backup (*{backup.SUFFIX})")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fileSelected.connect(lambda name: self.check_restore(Path(name)))
        dialog.open()
        return dialog

    def check_restore(self, source: Path) -> None:
        """Check the file on the engine thread, then ask the merchant to confirm."""

        def checked(found: tuple[int, int]) -> None:
            _version, orders = found
            taken = when(source.stat().st_mtime)
            box = QMessageBox(
                QMessageBox.Icon.Warning,
                "Restore from this backup?",
                f"Replace everything Stockbridge knows with the backup <b>{escape(source.name)}"
                f"</b> (saved {taken}, {orders:,} orders)?<br><br>Orders and stock changes"
                " made since then are replaced; channels are asked again at the next sync."
                " Your current data is first saved in the backups folder, so this can be"
                " undone.",
                QMessageBox.StandardButton.Cancel,
                self,
            )
            box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.accepted.connect(lambda: self.restore(source))
            self.restore_question = box
            box.open()

        def refused(exc: BaseException) -> None:
            self.backup_label.setText(f"Not restored: {exc}")
            self.backup_label.setStyleSheet(f"color: {BAD};")

        self.bridge.run(lambda _hub: backup.inspect_backup(source), checked, refused)

    def restore(self, source: Path, wait_ms: int = 60_000) -> None:
        """Pause syncing, let a running sync finish, restore, then carry on as before."""
        was_paused = self.bridge.paused
        self.bridge.set_paused(True)
        self.backup_button.setEnabled(False)
        self.restore_button.setEnabled(False)
        self.backup_label.setStyleSheet("")
        waited = QElapsedTimer()
        waited.start()

        def finish(text: str, colour: str) -> None:
            self.backup_button.setEnabled(True)
            self.restore_button.setEnabled(True)
            self.backup_label.setText(text)
            self.backup_label.setStyleSheet(f"color: {colour};")
            if not was_paused:
                self.bridge.set_paused(False)

        def done(restored: backup.Restored) -> None:
            finish(
                f"Restored {restored.orders:,} orders from {restored.source.name}. Your data"
                f" before the restore is in {restored.safety_copy.path.name}.",
                OK,
            )
            self.bridge.data_changed.emit()

        def failed(exc: BaseException) -> None:
            finish(f"Not restored: {exc}", BAD)

        def go() -> None:
            if self.bridge.syncing() and waited.elapsed() < wait_ms:
                self.backup_label.setText("Waiting for the current sync to finish…")
                QTimer.singleShot(250, go)
                return
            if self.bridge.syncing():
                finish("Not restored: a sync did not finish; try again in a minute.", BAD)
                return
            self.backup_label.setText("Restoring…")
            self.bridge.run(
                lambda hub: backup.restore_from(hub.db.conn, source, hub.data_dir), done, failed
            )

        go()

    def _open_backups(self) -> None:
        folder = backup.daily_dir(self.bridge.data_dir)
        folder.mkdir(parents=True, exist_ok=True)
        open_folder(folder)

    def load_keyring(self) -> None:
        """Ask the engine which keyring holds the tokens (the engine's process view is the truth)."""

        def shown(backend: str) -> None:
            words = keyring_words(backend)
            self.keyring_label.setText(words[:1].upper() + words[1:])
            self.keyring_label.setToolTip(backend)
            self.keyring_label.setStyleSheet(f"color: {BAD};" if backend == NO_KEYRING else "")

        def failed(exc: BaseException) -> None:
            self.keyring_label.setText(f"Could not be checked: {secrets.redact(str(exc))}")
            self.keyring_label.setStyleSheet(f"color: {BAD};")

        self.bridge.run(lambda _hub: secrets.backend_name(), shown, failed)

    def save(self, key: str, value: Any) -> None:
        """Store one setting on the engine thread; confirm or show why it was refused."""

        def done(_stored: Any) -> None:
            self.saved_label.setStyleSheet(f"color: {OK}; font-weight: 600;")
            self.saved_label.setText("✓ Saved")
            self._saved_timer.start()

        def failed(exc: BaseException) -> None:
            self._saved_timer.stop()
            self.saved_label.setStyleSheet(f"color: {BAD}; font-weight: 600;")
            self.saved_label.setText(f"Not saved: {exc}")

        self.bridge.run(lambda hub: Settings(hub.db).set(key, value), done, failed)
