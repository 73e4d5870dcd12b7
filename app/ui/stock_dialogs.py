"""The merchant's stock corrections: adjust (with a reason), count, safety buffer.

Each dialog shows the product, a small form and a live preview of the result, and is
opened with ``open()`` so the window never blocks; the Stock page applies the values
on the engine thread.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from PySide6.QtCore import Qt, SignalInstance
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QWidget,
)

from app.ui.style import quantity


def signed(value: float) -> str:
    if not value:
        return ""
    return ("+" if value > 0 else "−") + quantity(abs(value))


class QuantityBox(QDoubleSpinBox):
    """A quantity field that shows 3 rather than 3.000, yet accepts fractions (kg, m)."""

    def __init__(
        self, minimum: float, maximum: float = 1_000_000, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setDecimals(3)
        self.setRange(minimum, maximum)
        self.setAlignment(Qt.AlignmentFlag.AlignRight)
        # The shared style sheet's padding squeezes the step arrows to nothing without this.
        self.setStyleSheet(
            "QDoubleSpinBox::up-button, QDoubleSpinBox::down-button { width: 18px; }"
        )
        self.setFixedWidth(140)

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt name
        locale = self.locale()
        text = locale.toString(float(value), "f", self.decimals()).replace(
            locale.groupSeparator(), ""
        )
        point = locale.decimalPoint()
        return text.rstrip("0").rstrip(point) if point in text else text


class CorrectionDialog(QDialog):
    """The frame the stock dialogs share: the product, a form, a live preview, buttons."""

    def __init__(
        self, title: str, name: str, intro: str, ok_text: str, parent: QWidget | None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        # Opened with open(), not exec(): nothing else would ever delete it.
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.form = QFormLayout(self)
        head = QLabel(f"<b>{escape(name)}</b><br>{intro}")
        head.setWordWrap(True)
        head.setMinimumWidth(380)
        self.form.addRow(head)
        self.preview = QLabel()
        self.preview.setObjectName("muted")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText(ok_text)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

    def warehouse_row(self, on_hand: dict[str, float], current: str) -> QComboBox:
        """A warehouse choice, shown only when there is more than one warehouse."""
        box = QComboBox()
        box.addItems(list(on_hand))
        box.setCurrentIndex(max(0, box.findText(current)))
        self.form.addRow("Warehouse", box)
        self.form.setRowVisible(box, len(on_hand) > 1)
        return box

    def finish(self, update: Callable[[], None], *signals: SignalInstance) -> None:
        """Put the preview and buttons last and keep the preview current."""
        self.form.addRow(self.preview)
        self.form.addRow(self.buttons)
        for signal in signals:
            signal.connect(update)
        update()


class AdjustStockDialog(CorrectionDialog):
    """Add goods that arrived or take off what broke or went missing, with the reason."""

    REASONS = (
        "Delivery from a supplier",
        "Broken or damaged",
        "Lost or stolen",
        "Used in the shop",
        "Sold outside your channels",
        "Found while tidying up",
    )

    def __init__(
        self, sku: str, name: str, on_hand: dict[str, float], warehouse: str, parent: QWidget
    ) -> None:
        intro = "The reason is kept with the change, so the history explains the number later."
        super().__init__(f"Adjust stock of {sku}", name, intro, "Adjust stock", parent)
        self.on_hand = on_hand
        self.add = QRadioButton("Add to stock")
        self.take = QRadioButton("Take off stock")
        self.add.setChecked(True)
        direction = QHBoxLayout()
        direction.addWidget(self.add)
        direction.addWidget(self.take)
        direction.addStretch(1)
        self.form.addRow("Change", direction)
        self.quantity = QuantityBox(0)
        self.quantity.setValue(1)
        self.form.addRow("Quantity", self.quantity)
        self.reason = QComboBox()
        self.reason.setEditable(True)
        self.reason.addItems(list(self.REASONS))
        self.reason.setCurrentIndex(-1)
        self.reason.lineEdit().setPlaceholderText("Why? e.g. broken in store")
        self.form.addRow("Reason", self.reason)
        self.warehouse = self.warehouse_row(on_hand, warehouse)
        self.finish(
            self._update,
            self.add.toggled,
            self.quantity.valueChanged,
            self.reason.currentTextChanged,
            self.warehouse.currentIndexChanged,
        )

    def values(self) -> tuple[float, str, str]:
        """(change in on hand, reason, warehouse)."""
        change = self.quantity.value() if self.add.isChecked() else -self.quantity.value()
        return change, self.reason.currentText().strip(), self.warehouse.currentText()

    def _update(self) -> None:
        change, reason, warehouse = self.values()
        before = self.on_hand.get(warehouse, 0.0)
        self.preview.setText(
            f"On hand in {warehouse}: {quantity(before)} → {quantity(before + change)}"
        )
        self.ok.setEnabled(bool(change) and bool(reason))


class CountStockDialog(CorrectionDialog):
    """Record what is really on the shelf; the difference becomes one movement."""

    def __init__(
        self, sku: str, name: str, on_hand: dict[str, float], warehouse: str, parent: QWidget
    ) -> None:
        intro = "Enter how many you counted on the shelf, including goods reserved for orders."
        super().__init__(f"Count stock of {sku}", name, intro, "Record count", parent)
        self.on_hand = on_hand
        self.warehouse = self.warehouse_row(on_hand, warehouse)
        self.counted = QuantityBox(0, 10_000_000)
        self.counted.setValue(on_hand.get(self.warehouse.currentText(), 0.0))
        self.form.addRow("Counted", self.counted)
        self.note = QLineEdit(placeholderText="Optional, e.g. monthly count")
        self.form.addRow("Note", self.note)
        self.warehouse.currentIndexChanged.connect(
            lambda: self.counted.setValue(self.on_hand.get(self.warehouse.currentText(), 0.0))
        )
        self.finish(self._update, self.counted.valueChanged, self.warehouse.currentIndexChanged)

    def values(self) -> tuple[float, str, str]:
        """(counted on hand, note, warehouse)."""
        return self.counted.value(), self.note.text().strip(), self.warehouse.currentText()

    def _update(self) -> None:
        before = self.on_hand.get(self.warehouse.currentText(), 0.0)
        diff = self.counted.value() - before
        result = f"the difference ({signed(diff)}) is recorded as a stock count."
        self.preview.setText(
            f"The records say {quantity(before)}; {result if diff else 'nothing changes.'}"
        )


class SafetyBufferDialog(CorrectionDialog):
    """How many to keep back from the channels, so a late or local sale cannot oversell."""

    def __init__(
        self, sku: str, name: str, buffer: float, on_hand: float, reserved: float, parent: QWidget
    ) -> None:
        intro = (
            "Keep this many back from every channel, so a sale in the shop or a miscount"
            " does not oversell online."
        )
        super().__init__(f"Safety buffer of {sku}", name, intro, "Save", parent)
        self.on_hand, self.reserved = on_hand, reserved
        self.buffer = QuantityBox(0)
        self.buffer.setValue(buffer)
        self.form.addRow("Keep back", self.buffer)
        self.finish(self._update, self.buffer.valueChanged)

    def value(self) -> float:
        return self.buffer.value()

    def _update(self) -> None:
        offered = max(0.0, self.on_hand - self.reserved - self.buffer.value())
        self.preview.setText(
            f"With {quantity(self.on_hand)} on hand and {quantity(self.reserved)}"
            f" reserved, the channels are offered {quantity(offered)}."
        )
