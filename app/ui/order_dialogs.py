"""Dialogs for order actions: confirm (with per-line choice), dispatch (tracking), cancel."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.ui.style import quantity


class ConfirmDialog(QDialog):
    """Confirm an order; where the channel allows it, choose which lines to fulfil."""

    def __init__(
        self, number: str, lines: list[dict], *, partial: bool, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Confirm order {number}")
        layout = QVBoxLayout(self)
        intro = (
            "Tick the lines you can send. Lines you untick are not sent and their stock is freed; "
            "the channel tells the buyer what will be refunded."
            if partial
            else "Confirming takes the goods off your stock."
        )
        text = QLabel(intro)
        text.setWordWrap(True)
        layout.addWidget(text)
        self.boxes: list[tuple[QCheckBox, str]] = []
        for line in lines:
            box = QCheckBox(f"{quantity(line['quantity'])} × {line['sku'] or '—'}  {line['name']}")
            box.setChecked(True)
            box.setEnabled(partial)
            box.toggled.connect(self._validate)
            layout.addWidget(box)
            self.boxes.append((box, line["external_id"]))
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Confirm order")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    def _validate(self) -> None:
        any_ticked = any(box.isChecked() for box, _ in self.boxes)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(any_ticked)

    def chosen(self) -> list[str] | None:
        """The line ids to fulfil, or None when all lines are kept."""
        ticked = [ext for box, ext in self.boxes if box.isChecked()]
        return None if len(ticked) == len(self.boxes) else ticked


class DispatchDialog(QDialog):
    def __init__(self, number: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Dispatch order {number}")
        form = QFormLayout(self)
        self.code = QLineEdit(placeholderText="e.g. 00340434161094042557")
        self.url = QLineEdit(placeholderText="https://…")
        form.addRow(QLabel("The buyer gets the tracking details from the channel."))
        form.addRow("Tracking number", self.code)
        form.addRow("Tracking link", self.url)
        self.error = QLabel()
        self.error.setStyleSheet("color: #b91c1c")
        form.addRow(self.error)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Mark dispatched")
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)

    def _accept(self) -> None:
        url = self.url.text().strip()
        if url and not url.lower().startswith(("http://", "https://")):
            self.error.setText("The tracking link must start with https:// (or http://).")
            return
        self.accept()

    def values(self) -> tuple[str, str]:
        return self.code.text().strip(), self.url.text().strip()


CANCEL_REASONS = [
    ("Out of stock", "LackOfInventory"),
    ("Buyer asked to cancel", "UserNotResponding"),
    ("Payment problem", "PaymentReturned"),
    ("We cannot deliver there", "LocationOutOfService"),
    ("Price mistake", "PricingFault"),
    ("Other", "ShopOwnerFault"),
]


class CancelDialog(QDialog):
    def __init__(self, number: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Cancel order {number}")
        form = QFormLayout(self)
        note = QLabel(
            "Cancelling frees the reserved stock (or puts confirmed goods back) and tells the channel."
        )
        note.setWordWrap(True)
        form.addRow(note)
        self.reason = QComboBox()
        for text, code in CANCEL_REASONS:
            self.reason.addItem(text, code)
        form.addRow("Reason", self.reason)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Cancel order")
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("Keep order")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.setMinimumWidth(380)
        self.setWindowModality(Qt.WindowModality.WindowModal)

    def code(self) -> str:
        return self.reason.currentData()
