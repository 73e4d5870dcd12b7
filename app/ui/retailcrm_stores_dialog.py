"""Which RetailCRM store shows which of your warehouses (RetailCRM channels).

The account's stores are read live on the engine thread; each gets a choice of local
warehouse (or none). Saving checks the pairs against the account and queues fresh stock
for every linked offer, so each store shows its warehouse's numbers after the next sync.
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

from app.ui.bridge import Bridge

NOT_USED = "Not used"


async def load_stores(hub, name: str) -> tuple[list[Any], list[dict], int, bool]:
    """The account's stores with their warehouses, the local warehouses, the channel's
    own warehouse, and whether the channel still sends everything to one store."""
    from app.channels.retailcrm import service, stores

    channel = hub.channels.get(name)
    table = await service.store_table(hub, name)
    legacy = stores.STORE_MAP not in channel.settings
    return table, hub.catalog.warehouses(), channel.warehouse_id, legacy


def supports_store_map(platform: str) -> bool:
    return platform == "retailcrm"


class StoreMapDialog(QDialog):
    def __init__(self, bridge: Bridge, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.name = name
        self.setWindowTitle(f"Stores — {name}")
        self.combos: dict[str, QComboBox] = {}
        intro = QLabel(
            "Each store in RetailCRM can show the stock of one of your warehouses. A shipment"
            " is reported from the store of the warehouse the order ships from."
        )
        intro.setWordWrap(True)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setVisible(False)
        self.grid = QGridLayout()
        self.message = QLabel("Reading the stores from RetailCRM…")
        self.message.setObjectName("muted")
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setEnabled(False)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.note)
        layout.addLayout(self.grid)
        layout.addWidget(self.message)
        layout.addStretch(1)  # spare height goes below the table, not between the lines
        layout.addWidget(self.buttons)
        self.setMinimumWidth(520)
        bridge.run(
            lambda hub: load_stores(hub, name),
            self.show_stores,
            lambda exc: self.message.setText(f"Could not read the stores: {exc}"),
        )

    def show_stores(self, loaded) -> None:
        table, warehouses, own_warehouse, legacy = loaded
        self.message.setText("")
        self.message.setVisible(False)
        self.grid.addWidget(QLabel("<b>RetailCRM store</b>"), 0, 0)
        self.grid.addWidget(QLabel("<b>Shows the stock of</b>"), 0, 1)
        for row, pair in enumerate(table, start=1):
            label = f"{pair.store_name} ({pair.store})"
            if not pair.counts:
                label += " — in stock yes/no only"
            self.grid.addWidget(QLabel(label), row, 0)
            combo = QComboBox()
            combo.setAccessibleName(f"Warehouse for {pair.store_name}")
            combo.addItem(NOT_USED, None)
            for warehouse in warehouses:
                combo.addItem(warehouse["name"], int(warehouse["id"]))
            chosen = pair.warehouse_id
            if legacy and pair.warehouse_name:  # one store that showed every warehouse
                chosen = own_warehouse
            if chosen is not None:
                combo.setCurrentIndex(max(0, combo.findData(chosen)))
            self.grid.addWidget(combo, row, 1)
            self.combos[pair.store] = combo
        legacy_store = next((p for p in table if legacy and p.warehouse_name), None)
        if legacy_store is not None:
            self.note.setText(
                f"Today {legacy_store.store_name} shows all your warehouses together. Choose a"
                " warehouse for each store you want to fill; the others stay as they are in"
                " RetailCRM."
            )
            self.note.setVisible(True)
        self.save_button.setEnabled(bool(self.combos))

    def choices(self) -> dict[str, int | None]:
        return {store: combo.currentData() for store, combo in self.combos.items()}

    def save(self) -> None:
        from app.channels.retailcrm import service

        choices = self.choices()
        self.save_button.setEnabled(False)
        self.message.setText("Saving…")
        self.message.setVisible(True)

        def failed(exc: BaseException) -> None:
            self.message.setText(str(exc))
            self.save_button.setEnabled(True)

        self.bridge.run(
            lambda hub: service.save_store_map(hub, self.name, choices, replace=True),
            lambda _: (self.bridge.data_changed.emit(), self.accept()),
            failed,
        )
