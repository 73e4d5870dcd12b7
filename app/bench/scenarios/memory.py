"""Scenario 7: resident memory with a 100,000-order store loaded in the window.

The store is built in a child process (the builder's memory must not count), then the
real window opens on it and every screen is visited; the big tables are scrolled to
their end, sorted and searched, as a merchant looking around would. The resident set
(VmRSS) is read after that, with the peak (VmHWM) beside it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from app.bench import fixtures
from app.bench.report import ScenarioResult, eprint

NAME = "memory"
LIMIT_MB = 300.0


def status_mb(field: str) -> float | None:
    """A memory figure of this process from /proc/self/status (Linux), in MB."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def resident_mb() -> float:
    """VmRSS, or the peak from getrusage where /proc is missing (macOS)."""
    value = status_mb("VmRSS")
    if value is not None:
        return value
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def run(quick: bool) -> ScenarioResult:
    from PySide6.QtCore import Qt

    from app.bench.scenarios.gui_tables import SCREENS, Window
    from app.ui.main_window import SCREENS as ALL_SCREENS

    result = ScenarioResult(NAME, "7. Memory")
    size = 10_000 if quick else 100_000
    result.sizes = {"orders": size, "products": size}
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        data_dir = Path(tmp) / "data"
        eprint(f"  building a store of {size:,} orders and {size:,} products…")
        fixtures.build_store_in_process(data_dir, orders=size, products=size)
        before = resident_mb()
        gui = Window(data_dir)
        try:
            opened = resident_mb()
            for screen in ALL_SCREENS:
                gui.window.go(screen)
                gui.settle()
            for screen, (term, table_of) in SCREENS.items():
                gui.window.go(screen)
                table = table_of(gui.window)
                for column in (0, table.model.columnCount() - 1):
                    table.view.sortByColumn(column, Qt.SortOrder.DescendingOrder)
                    table.view.scrollToBottom()
                    gui.settle()
                    table.view.viewport().repaint()
                table.proxy.setFilterFixedString(term)
                table.proxy.setFilterFixedString("")
                gui.settle()
            gui.window.go("Dashboard")
            gui.settle()
            loaded = resident_mb()
            peak = status_mb("VmHWM")
        finally:
            gui.close()
    result.check("resident set with the store loaded in the window", loaded, "<", LIMIT_MB, "MB")
    result.info("  peak resident set (VmHWM)", peak, "MB")
    result.info("  after opening the window, before looking around", opened, "MB")
    result.info("  interpreter before the window (imports only)", before, "MB")
    result.metrics = {
        "before_mb": before,
        "opened_mb": opened,
        "loaded_mb": loaded,
        "peak_mb": peak,
    }
    eprint(f"  resident {loaded:.0f} MB (peak {peak or 0:.0f} MB)")
    return result
