"""A form built from ``Setting`` declarations: one editor per kind, help under each.

Settings are declared once in :mod:`app.settings`; the general settings page and every
channel card build their editors from those declarations through ``SettingsForm`` so a
new setting shows up everywhere without new widget code.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, QPointF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPolygonF
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.settings import Setting
from app.ui.style import BAD

# Qt spin boxes need bounds; settings without a declared limit get a generous one.
_INT_LIMIT = 2_000_000_000
_FLOAT_LIMIT = 1e12


@functools.cache
def spin_style() -> str:
    """Style for number boxes whose step buttons survive the shared style sheet.

    The shared sheet pads spin boxes, which squashes Qt's own step arrows; style sheets
    can only show arrows from image files, so two small triangles are drawn once per run
    into a private temporary folder.
    """
    folder = Path(tempfile.mkdtemp(prefix="stockbridge-ui-"))
    atexit.register(shutil.rmtree, folder, True)
    for name, points in (("up", ((1, 6), (5, 2), (9, 6))), ("down", ((1, 2), (5, 6), (9, 2)))):
        image = QImage(20, 16, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#4b5563"))
        painter.scale(2, 2)  # drawn at twice the size so it stays sharp on high-DPI screens
        painter.drawPolygon(QPolygonF([QPointF(x, y) for x, y in points]))
        painter.end()
        image.save(str(folder / f"{name}.png"))
    boxes = ("QSpinBox", "QDoubleSpinBox")

    def rule(sub: str, body: str) -> str:
        return ", ".join(f"{b}::{sub}" for b in boxes) + f" {{ {body} }}\n"

    return (
        "QSpinBox, QDoubleSpinBox { padding-right: 24px; }\n"
        + rule(
            "up-button",
            "subcontrol-origin: padding; subcontrol-position: top right;"
            " width: 20px; border: none; border-left: 1px solid #e5e7eb; background: #f9fafb;"
            " border-top-right-radius: 6px;",
        )
        + rule(
            "down-button",
            "subcontrol-origin: padding; subcontrol-position: bottom right;"
            " width: 20px; border: none; border-left: 1px solid #e5e7eb; background: #f9fafb;"
            " border-bottom-right-radius: 6px;",
        )
        + rule("up-button:hover", "background: #e5e7eb;")
        + rule("down-button:hover", "background: #e5e7eb;")
        + rule(
            "up-arrow", f"image: url({(folder / 'up.png').as_posix()}); width: 10px; height: 8px;"
        )
        + rule(
            "down-arrow",
            f"image: url({(folder / 'down.png').as_posix()}); width: 10px; height: 8px;",
        )
    )


class CollapsibleSection(QWidget):
    """A titled section whose body folds away behind a small arrow button."""

    toggled = Signal(bool)

    def __init__(
        self, title: str, parent: QWidget | None = None, *, expanded: bool = False
    ) -> None:
        super().__init__(parent)
        self.button = QToolButton(text=title, checkable=True, checked=expanded)
        self.button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.button.setAutoRaise(True)
        self.button.setStyleSheet(
            "QToolButton { border: none; font-weight: 600; color: #374151; padding: 4px 0; }"
        )
        self.button.toggled.connect(self.set_expanded)
        self.body = QWidget()
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(18, 2, 0, 4)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.body)
        self.set_expanded(expanded)

    def is_expanded(self) -> bool:
        return self.button.isChecked()

    def set_expanded(self, expanded: bool) -> None:
        """Show or hide the body; the arrow follows."""
        if self.button.isChecked() != expanded:
            self.button.setChecked(expanded)  # re-enters through toggled
            return
        self.button.setArrowType(Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow)
        self.body.setVisible(expanded)
        self.toggled.emit(expanded)

    def add_widget(self, widget: QWidget) -> None:
        self.body_layout.addWidget(widget)


def muted_label(text: str) -> QLabel:
    """Small grey explanatory text that wraps."""
    label = QLabel(text)
    label.setObjectName("muted")
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


@dataclass(slots=True)
class _Field:
    """One setting's editor with its help and error lines."""

    setting: Setting
    editor: QWidget
    container: QWidget
    error: QLabel


class SettingsForm(QWidget):
    """Editors for a tuple of settings.

    ``changed(key, value)`` fires with the coerced value whenever the merchant finishes
    changing one setting to a valid value; invalid input shows the declaration's own
    message under the editor instead.
    """

    changed = Signal(str, object)

    def __init__(self, settings: Iterable[Setting], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = tuple(settings)
        self.fields: dict[str, _Field] = {}
        self._errors: dict[str, str] = {}
        self._shown: dict[str, Any] = {}  # last value loaded or announced, per key
        self.main_form = self._new_form()
        self.advanced_form = self._new_form()
        advanced_body = QWidget()
        advanced_body.setLayout(self.advanced_form)
        self.advanced = CollapsibleSection("Advanced")
        self.advanced.add_widget(advanced_body)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addLayout(self.main_form)
        layout.addWidget(self.advanced)
        for setting in self.settings:
            self._add(setting)
        self.advanced.setVisible(self.advanced_form.rowCount() > 0)

    # -- building ---------------------------------------------------------------------
    @staticmethod
    def _new_form() -> QFormLayout:
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.setHorizontalSpacing(16)
        form.setVerticalSpacing(10)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        return form

    def _add(self, setting: Setting) -> None:
        editor = self._editor(setting)
        editor.setObjectName(f"setting_{setting.key}")
        editor.setAccessibleName(setting.label)
        container = QWidget()
        box = QVBoxLayout(container)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        if setting.kind == "str":
            box.addWidget(editor)
        else:
            box.addWidget(editor, 0, Qt.AlignmentFlag.AlignLeft)
        if setting.help:
            help_label = muted_label(setting.help)
            # Checkbox help lines up with the checkbox text, not with the box itself.
            if setting.kind == "bool":
                help_label.setContentsMargins(24, 0, 0, 0)
            box.addWidget(help_label)
        error = QLabel()
        error.setWordWrap(True)
        error.setStyleSheet(f"color: {BAD};")
        error.setVisible(False)
        box.addWidget(error)
        form = self.advanced_form if setting.advanced else self.main_form
        if setting.kind == "bool":
            form.addRow(container)  # the checkbox carries its own label
        else:
            label = QLabel(setting.label)
            label.setWordWrap(True)
            label.setMinimumWidth(180)
            label.setMaximumWidth(260)
            label.setBuddy(editor)
            form.addRow(label, container)
        self.fields[setting.key] = _Field(setting, editor, container, error)
        self._write(self.fields[setting.key], setting.default)
        self._shown[setting.key] = setting.default

    def _editor(self, setting: Setting) -> QWidget:
        key = setting.key
        if setting.kind == "bool":
            box = QCheckBox(setting.label)
            box.toggled.connect(lambda _on: self._edited(key))
            return box
        if setting.kind == "int":
            spin = QSpinBox()
            spin.setRange(
                int(setting.minimum if setting.minimum is not None else -_INT_LIMIT),
                int(setting.maximum if setting.maximum is not None else _INT_LIMIT),
            )
            spin.setGroupSeparatorShown(True)
            return self._tune_spin(spin, key)
        if setting.kind == "float":
            dspin = QDoubleSpinBox()
            dspin.setDecimals(2)
            dspin.setRange(
                setting.minimum if setting.minimum is not None else -_FLOAT_LIMIT,
                setting.maximum if setting.maximum is not None else _FLOAT_LIMIT,
            )
            dspin.setGroupSeparatorShown(True)
            return self._tune_spin(dspin, key)
        if setting.kind == "choices":
            lst = QListWidget()
            for choice in setting.choices:
                item = QListWidgetItem(choice)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Unchecked)
                lst.addItem(item)
            # Up to eight choices show without the list scrolling inside the page.
            rows = max(1, len(setting.choices))
            lst.setFixedHeight(min(rows, 8) * (lst.sizeHintForRow(0) + 2) + 8)
            lst.setMinimumWidth(240)
            lst.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
            lst.itemChanged.connect(lambda _item: self._edited(key))
            return lst
        edit = QLineEdit()
        edit.setMinimumWidth(280)
        edit.textEdited.connect(lambda _text: self._validate(key))
        edit.editingFinished.connect(lambda: self._edited(key))
        return edit

    def _tune_spin(self, spin: QAbstractSpinBox, key: str) -> QAbstractSpinBox:
        # Without keyboard tracking, typing "120" saves once, not as 1, 12 and 120.
        spin.setKeyboardTracking(False)
        spin.setStyleSheet(spin_style())
        spin.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        spin.installEventFilter(self)
        spin.setFixedWidth(130)  # one width for every number box, so they line up
        spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        spin.valueChanged.connect(lambda _v: self._edited(key))  # type: ignore[attr-defined]
        return spin

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt name
        # Scrolling the page over a number box must not change (and save) the number:
        # the wheel only steps a box the merchant clicked into; otherwise the page scrolls.
        if (
            event.type() == QEvent.Type.Wheel
            and isinstance(watched, QAbstractSpinBox)
            and not watched.hasFocus()
        ):
            event.ignore()
            return True
        return super().eventFilter(watched, event)

    def add_advanced_row(self, label: str, widget: QWidget, help_text: str = "") -> None:
        """Put an editor that is not a declared setting (e.g. an address) under Advanced."""
        container = QWidget()
        box = QVBoxLayout(container)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addWidget(widget)
        if help_text:
            box.addWidget(muted_label(help_text))
        title = QLabel(label)
        title.setMinimumWidth(180)
        title.setBuddy(widget)
        self.advanced_form.addRow(title, container)
        self.advanced.setVisible(True)

    # -- reading and writing ----------------------------------------------------------
    @staticmethod
    def _read(field: _Field) -> Any:
        editor, kind = field.editor, field.setting.kind
        if kind == "bool":
            return editor.isChecked()  # type: ignore[attr-defined]
        if kind in ("int", "float"):
            return editor.value()  # type: ignore[attr-defined]
        if kind == "choices":
            lst: QListWidget = editor  # type: ignore[assignment]
            return [
                lst.item(i).text()
                for i in range(lst.count())
                if lst.item(i).checkState() == Qt.CheckState.Checked
            ]
        return editor.text()  # type: ignore[attr-defined]

    @staticmethod
    def _write(field: _Field, value: Any) -> None:
        editor, kind = field.editor, field.setting.kind
        editor.blockSignals(True)
        try:
            if kind == "bool":
                editor.setChecked(bool(value))  # type: ignore[attr-defined]
            elif kind == "int":
                editor.setValue(int(value))  # type: ignore[attr-defined]
            elif kind == "float":
                editor.setValue(float(value))  # type: ignore[attr-defined]
            elif kind == "choices":
                chosen = set(value or ())
                lst: QListWidget = editor  # type: ignore[assignment]
                for i in range(lst.count()):
                    item = lst.item(i)
                    item.setCheckState(
                        Qt.CheckState.Checked if item.text() in chosen else Qt.CheckState.Unchecked
                    )
            else:
                editor.setText("" if value is None else str(value))  # type: ignore[attr-defined]
        finally:
            editor.blockSignals(False)

    def values(self) -> dict[str, Any]:
        """Every setting whose editor holds a valid value, coerced to its declared type."""
        out: dict[str, Any] = {}
        for key, field in self.fields.items():
            try:
                out[key] = field.setting.coerce(self._read(field))
            except (ValueError, TypeError):
                continue
        return out

    def set_values(self, values: dict[str, Any]) -> None:
        """Show these values (unknown keys ignored, unreadable ones fall back to the default).

        Does not emit ``changed``: this is loading, not the merchant editing.
        """
        for key, value in values.items():
            field = self.fields.get(key)
            if field is None:
                continue
            try:
                value = field.setting.coerce(value)
            except (ValueError, TypeError):
                value = field.setting.default
            self._write(field, value)
            self._shown[key] = value
            self._show_error(key, "")

    def errors(self) -> dict[str, str]:
        """Settings whose editors currently hold something their declaration refuses."""
        return dict(self._errors)

    def editor(self, key: str) -> QWidget:
        return self.fields[key].editor

    # -- validation -------------------------------------------------------------------
    def _validate(self, key: str) -> tuple[bool, Any]:
        field = self.fields[key]
        try:
            value = field.setting.coerce(self._read(field))
        except (ValueError, TypeError) as exc:
            self._show_error(key, str(exc) or f"{field.setting.label}: not a valid value.")
            return False, None
        self._show_error(key, "")
        return True, value

    def _show_error(self, key: str, message: str) -> None:
        field = self.fields[key]
        field.error.setText(message)
        field.error.setVisible(bool(message))
        if message:
            self._errors[key] = message
        else:
            self._errors.pop(key, None)

    def _edited(self, key: str) -> None:
        ok, value = self._validate(key)
        # A line edit reports "finished" on every focus change; only real changes count.
        if ok and value != self._shown.get(key):
            self._shown[key] = value
            self.changed.emit(key, value)
