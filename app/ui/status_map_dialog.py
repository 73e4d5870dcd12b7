"""Editing how a channel's own order statuses translate into Stockbridge's (Sello).

The channel's status list is read live through the engine thread; every status shows
what it means by default (from its flags), and the merchant may choose otherwise. Only
the choices that differ from the default are stored.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from app.channels import registry
from app.core.lifecycle import LABELS
from app.core.models import OrderStatus
from app.ui.bridge import Bridge

CHOICES = [
    OrderStatus.REQUESTED,
    OrderStatus.CONFIRMED,
    OrderStatus.DISPATCHED,
    OrderStatus.DELIVERED,
    OrderStatus.CANCELLED,
]


def supports_status_map(platform: str) -> bool:
    spec = registry.PLATFORMS.get(platform)
    return spec is not None and hasattr(spec.client_class(), "fetch_statuses")


async def load_statuses(hub, name: str) -> tuple[list[Any], dict[str, OrderStatus], dict[str, str]]:
    """The channel's statuses, their default meaning, and the merchant's stored choices."""
    from app import secrets
    from app.channels.sello.mapping import effective_status_map

    channel = hub.channels.get(name)
    spec = registry.platform(channel.platform)
    client = spec.make_client(
        channel.base_url, channel.account, channel.settings, secrets.load(name)
    )
    try:
        statuses = await client.fetch_statuses()
    finally:
        await client.aclose()
    defaults = effective_status_map(statuses, {})
    return statuses, defaults, dict(channel.settings.get("status_map") or {})


class StatusMapDialog(QDialog):
    def __init__(self, bridge: Bridge, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.name = name
        self.setWindowTitle(f"Order statuses — {name}")
        self.combos: dict[str, QComboBox] = {}
        self.defaults: dict[str, OrderStatus] = {}
        intro = QLabel(
            "Each status your channel uses, and what it means here. Stockbridge also uses this "
            "list the other way round: marking an order dispatched sets the status chosen for "
            "Dispatched."
        )
        intro.setWordWrap(True)
        self.grid = QGridLayout()
        self.message = QLabel("Reading the statuses from the channel…")
        self.message.setObjectName("muted")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(False)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.message)
        layout.addLayout(self.grid)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(520)
        bridge.run(
            lambda hub: load_statuses(hub, name),
            self.show_statuses,
            lambda exc: self.message.setText(f"Could not read the statuses: {exc}"),
        )

    def show_statuses(self, loaded) -> None:
        statuses, self.defaults, chosen = loaded
        self.message.setText("")
        self.message.setVisible(False)
        for row, status in enumerate(statuses):
            sid = str(status.id)
            self.grid.addWidget(QLabel(status.title), row, 0)
            combo = QComboBox()
            default = self.defaults.get(sid, OrderStatus.REQUESTED)
            combo.addItem(f"{LABELS[default]} (default)", None)
            for choice in CHOICES:
                if choice != default:
                    combo.addItem(LABELS[choice], str(choice))
            if sid in chosen and chosen[sid] != str(default):
                combo.setCurrentIndex(max(0, combo.findData(chosen[sid])))
            self.grid.addWidget(combo, row, 1)
            self.combos[sid] = combo
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(True)

    def choices(self) -> dict[str, str]:
        """Only the statuses whose meaning differs from the default."""
        return {
            sid: combo.currentData() for sid, combo in self.combos.items() if combo.currentData()
        }

    def save(self) -> None:
        choices = self.choices()
        self.bridge.run(
            lambda hub: hub.channels.update(self.name, settings={"status_map": choices}),
            lambda _: (self.bridge.data_changed.emit(), self.accept()),
        )
