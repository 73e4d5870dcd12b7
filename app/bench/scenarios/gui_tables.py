"""Scenario 5: the window over 100,000 orders and 100,000 products.

The store is built with direct SQL in a child process, then the real MainWindow opens
on it (offscreen). For each screen with a big table (Orders, Stock, Products, Customers,
Activity) it times:

* first paint: opening the screen (its model reset) + processing events + repainting
  the table's viewport;
* a filter keystroke: what the search box's debounce runs for each character typed
  (the filter applied, the table reset and repainted);
* sorting: a header click on each column, both directions.

Then a full import runs on the engine thread (a Selldone twin in its own process) while
a 10 ms timer on the GUI thread records the gaps between its ticks: the longest gap is
the longest the window froze.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from app.bench import fixtures
from app.bench.report import ScenarioResult, eprint, percentile
from app.bench.sandboxes import SandboxProcess

NAME = "gui_tables"
FIRST_PAINT_MS = 300.0
KEYSTROKE_MS = 100.0
SORT_MS = 500.0
STALL_MS = 100.0
TICK_MS = 10
STUCK_SECONDS = 120.0  # one screen action longer than this is a hang, not a slow query

# Screen → (what is typed into its search box, how to find its TablePage).
SCREENS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "Orders": ("Becker", lambda w: w.orders.table),
    "Stock": ("Merino", lambda w: w.stock.table),
    "Products": ("Listing 4", lambda w: w.products.table),
    "Customers": ("Anna", lambda w: w.customers.table),
    "Activity": ("new orders", lambda w: w.activity.log),
}


class Stuck(RuntimeError):
    """One action of the window ran past the watchdog's limit; its query was interrupted."""


class Window:
    """The real MainWindow on a data folder, with helpers to drive and time it.

    Every read the window makes goes through its reader's helpers (``all``, ``one``,
    ``scalar``, ``execute``); wrapping them tells how much of a measured action was
    SQLite, and which statement was the slowest. A watchdog interrupts a query that
    runs past ``limit`` seconds, so a screen that hangs is reported, not waited on.
    """

    def __init__(self, data_dir: Path, *, limit: float = STUCK_SECONDS) -> None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PySide6.QtWidgets import QApplication

        from app.hub import Hub
        from app.ui.bridge import Bridge
        from app.ui.main_window import MainWindow

        fixtures.memory_secrets()
        self.app = QApplication.instance() or QApplication([])
        self.limit = limit
        self.statements: list[tuple[float, str]] = []
        self.running_sql = ""
        started = time.perf_counter()
        self.bridge = Bridge(
            data_dir, hub_factory=lambda d: Hub(d, client_factory=fixtures.unpaced_client_factory)
        )
        reader = self.bridge.reader
        for method in ("all", "one", "scalar", "execute"):
            setattr(reader, method, self._timing(getattr(reader, method)))
        with self.watchdog("opening the window"):
            self.window = MainWindow(self.bridge)
            self.window.show()
            self.settle()
        self.open_seconds = time.perf_counter() - started
        self.open_sql = self.sql_share()

    def _timing(self, call: Callable[..., Any]) -> Callable[..., Any]:
        def timed_call(sql: str, *args: Any) -> Any:
            self.running_sql = sql
            started = time.perf_counter()
            try:
                return call(sql, *args)
            finally:
                self.statements.append(((time.perf_counter() - started) * 1000.0, sql))

        return timed_call

    @contextmanager
    def watchdog(self, what: str) -> Iterator[None]:
        """Interrupt the reader's query if ``what`` takes longer than the limit."""
        fired = threading.Event()

        def interrupt() -> None:
            fired.set()
            self.bridge.reader.conn.interrupt()

        timer = threading.Timer(self.limit, interrupt)
        timer.daemon = True
        timer.start()
        try:
            yield
        except sqlite3.OperationalError as exc:
            if not fired.is_set():
                raise
            raise Stuck(self._stuck_text(what)) from exc
        finally:
            timer.cancel()
        if fired.is_set():  # interrupted inside a Qt slot, which swallowed the error
            raise Stuck(self._stuck_text(what))

    def _stuck_text(self, what: str) -> str:
        sql = " ".join(self.running_sql.split())[:400]
        return f"{what} took over {self.limit:.0f} s; the query stopped was: {sql}"

    def sql_share(self) -> dict[str, Any]:
        """SQL time of the last timed action, and its slowest statement."""
        if not self.statements:
            return {"sql_ms": 0.0, "statements": 0, "slowest_ms": 0.0, "slowest": ""}
        slowest = max(self.statements)
        return {
            "sql_ms": round(sum(ms for ms, _ in self.statements), 1),
            "statements": len(self.statements),
            "slowest_ms": round(slowest[0], 1),
            "slowest": " ".join(slowest[1].split())[:300],
        }

    def settle(self) -> None:
        """Deliver what is pending, zero-interval timers (deferred refreshes) included."""
        for _ in range(3):
            self.app.processEvents()

    def timed(self, action: Callable[[], object], view: Any, what: str = "an action") -> float:
        """Milliseconds for ``action`` until its table is repainted."""
        self.statements.clear()
        with self.watchdog(what):
            started = time.perf_counter()
            action()
            self.settle()
            view.viewport().repaint()
            return (time.perf_counter() - started) * 1000.0

    def close(self) -> None:
        self.window.hide()
        self.bridge.stop()
        self.window.deleteLater()
        self.settle()


def run(quick: bool) -> ScenarioResult:
    result = ScenarioResult(NAME, "5. GUI with 100k rows")
    size = 10_000 if quick else 100_000
    import_orders = 1_000 if quick else 25_000
    result.sizes = {"orders": size, "products": size, "background import": import_orders}
    with tempfile.TemporaryDirectory(prefix="bench-gui-") as tmp:
        data_dir = Path(tmp) / "data"
        eprint(f"  building a store of {size:,} orders and {size:,} products…")
        built = fixtures.build_store_in_process(data_dir, orders=size, products=size)
        result.metrics["store"] = built
        gui = Window(data_dir)
        try:
            result.info("window built and shown (Dashboard first)", gui.open_seconds * 1000, "ms")
            sql = gui.open_sql
            result.info("  of which SQLite", sql["sql_ms"], "ms")
            result.metrics["open_sql"] = sql
            result.notes.append(
                f"Opening the window: {gui.open_seconds * 1000:.0f} ms, SQLite {sql['sql_ms']:.0f} ms"
                f" in {sql['statements']} statements; slowest {sql['slowest_ms']:.0f} ms:"
                f" `{sql['slowest'][:160]}`"
            )
            measure_tables(gui, result)
            measure_stall(gui, result, import_orders)
        finally:
            gui.close()
    return result


def measure_tables(gui: Window, result: ScenarioResult) -> None:
    from PySide6.QtCore import Qt

    per_screen: dict[str, dict[str, Any]] = {}
    for screen, (term, table_of) in SCREENS.items():
        table = table_of(gui.window)
        view = table.view
        first = gui.timed(partial(gui.window.go, screen), view, f"opening {screen}")
        first_sql = gui.sql_share()
        keys = []
        worst_key: tuple[float, dict[str, Any]] = (0.0, {})
        for end in range(1, len(term) + 1):
            text = term[:end]
            table.search.blockSignals(True)  # what the debounce would run, without its wait
            table.search.setText(text)
            table.search.blockSignals(False)
            keys.append(gui.timed(partial(table.proxy.setFilterFixedString, text), view))
            worst_key = max(worst_key, (keys[-1], gui.sql_share()), key=lambda k: k[0])
        matches = table.model.rowCount()
        table.search.blockSignals(True)
        table.search.clear()
        table.search.blockSignals(False)
        keys.append(gui.timed(partial(table.proxy.setFilterFixedString, ""), view))
        sorts: dict[str, float] = {}
        sort_sql: dict[str, dict[str, Any]] = {}
        model = table.model
        for column in range(model.columnCount()):
            title = model.columns[column].title
            for order, word in (
                (Qt.SortOrder.AscendingOrder, "asc"),
                (Qt.SortOrder.DescendingOrder, "desc"),
            ):
                sorts[f"{title} {word}"] = gui.timed(
                    partial(view.sortByColumn, column, order), view
                )
                sort_sql[f"{title} {word}"] = gui.sql_share()
        slowest_sort = max(sorts, key=sorts.__getitem__)
        per_screen[screen] = {
            "rows": model.rowCount(),
            "first_paint_ms": round(first, 1),
            "keystroke_ms": [round(k, 1) for k in keys],
            "search_term": term,
            "search_matches": matches,
            "sort_ms": {k: round(v, 1) for k, v in sorts.items()},
            "first_paint_sql": first_sql,
            "slowest_keystroke_sql": worst_key[1],
            "slowest_sort_sql": sort_sql[slowest_sort],
        }
        for what, ms, limit, sql in (
            ("first paint", first, FIRST_PAINT_MS, first_sql),
            ("filter keystroke", max(keys), KEYSTROKE_MS, worst_key[1]),
            (f"sort by {slowest_sort}", sorts[slowest_sort], SORT_MS, sort_sql[slowest_sort]),
        ):
            if ms >= limit and sql:
                result.notes.append(
                    f"{screen}, {what}: {ms:.0f} ms, of which SQLite {sql['sql_ms']:.0f} ms in"
                    f" {sql['statements']} statements; slowest {sql['slowest_ms']:.0f} ms:"
                    f" `{sql['slowest'][:160]}`"
                )
        result.check(f"{screen}: first paint", first, "<", FIRST_PAINT_MS, "ms")
        result.check(f"{screen}: slowest filter keystroke", max(keys), "<", KEYSTROKE_MS, "ms")
        result.check(
            f"{screen}: slowest sort ({slowest_sort})", sorts[slowest_sort], "<", SORT_MS, "ms"
        )
        eprint(
            f"  {screen}: first paint {first:.0f} ms, keystroke ≤ {max(keys):.0f} ms,"
            f" sort ≤ {sorts[slowest_sort]:.0f} ms ({slowest_sort})"
        )
    result.metrics["screens"] = per_screen


def measure_stall(gui: Window, result: ScenarioResult, import_orders: int) -> None:
    """Longest gap between 10 ms ticks on the GUI thread while an import runs."""
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    channel = "Import shop"
    with SandboxProcess(
        "selldone", {"extra_orders": import_orders, "rate_limit_per_minute": 0, "seed": 2}
    ) as box:
        gui.bridge.engine.submit(
            lambda hub: fixtures.connect(hub, "selldone", channel, box)
        ).result(120)
        gui.window.go("Orders")
        gui.settle()
        gaps: list[float] = []
        ends: list[float] = []  # when each gap ended
        last = [time.perf_counter()]
        finished: dict[str, Any] = {}

        def tick() -> None:
            now = time.perf_counter()
            gaps.append((now - last[0]) * 1000.0)
            ends.append(now)
            last[0] = now

        loop = QEventLoop()
        ticker = QTimer(interval=TICK_MS)
        ticker.setTimerType(Qt.TimerType.PreciseTimer)
        ticker.timeout.connect(tick)

        def done(name: str, report: dict) -> None:
            if name == channel and not finished:
                finished.update(report)
                finished["at"] = time.perf_counter()
                # Keep measuring while the window refreshes what the import changed.
                QTimer.singleShot(1500, loop.quit)

        gui.bridge.sync_finished.connect(done)
        limit_s = 900
        QTimer.singleShot(limit_s * 1000, loop.quit)  # bounded, whatever happens
        started = time.perf_counter()
        last[0] = started
        gui.statements.clear()
        ticker.start()
        gui.bridge.sync_channel(channel)
        loop.exec()
        ticker.stop()
        gui.bridge.sync_finished.disconnect(done)
    if not finished:
        result.error = f"the background import did not finish within {limit_s} s"
        return
    import_seconds = finished["at"] - started
    # Gaps while the engine imported, and after: the window refreshing what changed.
    during = [g for g, end in zip(gaps, ends, strict=True) if end <= finished["at"]] or [0.0]
    after = [g for g, end in zip(gaps, ends, strict=True) if end > finished["at"]] or [0.0]
    result.metrics["stall"] = {
        "max_gap_during_import_ms": round(max(during), 1),
        "max_gap_after_import_ms": round(max(after), 1),
        "ticks": len(gaps),
        "max_gap_ms": round(max(gaps), 1),
        "p99_gap_ms": round(percentile(gaps, 0.99), 1),
        "gaps_over_100ms": sum(1 for g in gaps if g > STALL_MS),
        "import_seconds": round(import_seconds, 2),
        "import_report": {k: v for k, v in finished.items() if k != "at"},
    }
    result.info("background import", import_seconds, "s")
    result.check("longest GUI stall during the import", max(gaps), "<", STALL_MS, "ms")
    sql = gui.sql_share()
    result.metrics["stall"]["sql"] = sql
    if max(gaps) >= STALL_MS:
        result.notes.append(
            f"GUI stall: {max(after):.0f} ms once the import finished (the window refreshing),"
            f" {max(during):.0f} ms while it ran; SQLite on the GUI thread over the whole"
            f" import {sql['sql_ms']:.0f} ms in {sql['statements']} statements, slowest"
            f" {sql['slowest_ms']:.0f} ms: `{sql['slowest'][:160]}`"
        )
    result.info("  longest gap while the engine imported", max(during), "ms")
    result.info("  longest gap as the window refreshed afterwards", max(after), "ms")
    result.info("GUI tick gap p99 during the import", percentile(gaps, 0.99), "ms")
    eprint(
        f"  stall: max gap {max(gaps):.0f} ms, p99 {percentile(gaps, 0.99):.0f} ms over"
        f" {import_seconds:.1f} s of import ({finished.get('orders_created')} orders)"
    )
