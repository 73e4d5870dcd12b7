"""Scenario 6: cold start, from launching ``python -m app`` to the main window on screen.

The app has no start-up hook, so it is measured from outside: a driver process (this
module with ``--driver``) installs an application-wide event filter, then runs the
real entry point exactly as ``python -m app`` does (``app.cli.main([])``, which opens
the window through ``run_gui``). The filter notes the main window's first show and its
first paint, prints them and quits the app. The clock starts in the parent, just
before it launches the driver, so interpreter start-up and every import count.

One untimed launch first (it creates the data folder's database and Python's bytecode
cache), then timed launches on that folder, and on a folder holding a large store.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

# Only what the driver needs is imported here: it runs inside the measured launch.
if TYPE_CHECKING:
    from app.bench.report import ScenarioResult

NAME = "cold_start"
TARGET_SECONDS = 1.5
LAUNCH_TIMEOUT = 120.0


def run(quick: bool) -> ScenarioResult:
    import tempfile

    from app.bench import fixtures
    from app.bench.report import ScenarioResult, eprint, percentile

    result = ScenarioResult(NAME, "6. Cold start")
    runs = 2 if quick else 7
    store = 0 if quick else 100_000  # the large-store series only in full runs
    result.sizes = {"timed launches per folder": runs}
    series: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        empty = Path(tmp) / "new"
        eprint("  first launch (creates the database and the bytecode cache)…")
        first = launch(empty)
        result.info("first launch ever (new data folder)", first["painted"], "s")
        series["empty store"] = [launch(empty) for _ in range(runs)]
        imports = import_profile(empty)
        if store:
            result.sizes["large store orders/products"] = store
            big = Path(tmp) / "big"
            eprint(f"  building a store of {store:,} orders for the second series…")
            fixtures.build_store_in_process(big, orders=store, products=store)
            launch(big)  # the store's own first open: the OS caches its file afterwards
            series[f"{store // 1000}k-order store"] = [launch(big) for _ in range(runs)]
    for label, launches in series.items():
        painted = [r["painted"] for r in launches]
        shown = [r["shown"] for r in launches]
        result.check(
            f"{label}: to window shown, median", percentile(painted, 0.5), "<", TARGET_SECONDS, "s"
        )
        result.check(f"{label}: to window shown, slowest", max(painted), "<", TARGET_SECONDS, "s")
        result.info(f"{label}: to first show event, median", percentile(shown, 0.5), "s")
        cpu = [r["cpu"] for r in launches]
        result.info(
            f"{label}: CPU time per launch (start to exit), median", percentile(cpu, 0.5), "s"
        )
        result.metrics[label] = launches
        eprint(f"  {label}: median {percentile(painted, 0.5):.2f} s to the first paint")
    result.info("imports before the window (one profiled launch)", imports["total"], "s")
    result.metrics["imports"] = imports
    slowest = ", ".join(f"{name} {ms:.0f} ms" for name, ms in imports["slowest_self"][:8])
    result.notes.append(
        f"Imports took {imports['total']:.2f} s of one launch (python -X importtime); the"
        f" modules with the most time of their own: {slowest}."
    )
    return result


def import_profile(data_dir: Path) -> dict:
    """One launch with ``-X importtime``: total import time and the slowest modules."""
    import os
    import subprocess

    env = dict(os.environ)
    env.update(STOCKBRIDGE_DATA_DIR=str(data_dir), PYTHONPROFILEIMPORTTIME="1")
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    done = subprocess.run(
        [sys.executable, "-m", "app.bench.scenarios.cold_start", "--driver"],
        env=env,
        capture_output=True,
        text=True,
        timeout=LAUNCH_TIMEOUT,
        check=False,
    )
    own: list[tuple[str, float]] = []
    total = 0.0
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|")
        if not self_us.strip().isdigit():
            continue  # the header line
        own.append((name.strip(), int(self_us) / 1000))
        if not name.startswith("  "):  # top level (nested names are indented further)
            total += int(cumulative_us) / 1e6
    own.sort(key=lambda item: item[1], reverse=True)
    return {"total": total, "slowest_self": own[:15]}


def launch(data_dir: Path) -> dict[str, float]:
    """Start the app once on ``data_dir``; seconds from launch to its window's show/paint."""
    import os
    import resource
    import subprocess

    env = dict(os.environ)
    env["STOCKBRIDGE_DATA_DIR"] = str(data_dir)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.time()
    done = subprocess.run(
        [sys.executable, "-m", "app.bench.scenarios.cold_start", "--driver"],
        env=env,
        capture_output=True,
        text=True,
        timeout=LAUNCH_TIMEOUT,
        check=False,
    )
    exited = time.time()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    marks = None
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            marks = json.loads(line)
            break
    if not marks or "painted" not in marks:
        raise RuntimeError(f"the app did not show its window: {done.stderr[-1500:]}")
    return {
        "shown": marks["shown"] - started,
        "painted": marks["painted"] - started,
        "exited": exited - started,
        "cpu": cpu,  # the whole launch, quitting included: what the machine's load cannot inflate
    }


def driver() -> None:
    """In the launched process: watch for the main window, then run the real entry point."""
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication, QMainWindow, QWidget

    app = QApplication(sys.argv)  # run_gui takes the existing instance
    marks: dict[str, float] = {}

    class Watch(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt name
            kind = event.type()
            if kind == QEvent.Type.Show and isinstance(watched, QMainWindow):
                marks.setdefault("shown", time.time())
            elif (
                kind == QEvent.Type.Paint
                and "shown" in marks
                and "painted" not in marks
                and isinstance(watched, QWidget)
                and isinstance(watched.window(), QMainWindow)
            ):
                marks["painted"] = time.time()
                print(json.dumps(marks), flush=True)
                QTimer.singleShot(0, app.quit)
            return False

    watch = Watch()
    app.installEventFilter(watch)
    QTimer.singleShot(int(LAUNCH_TIMEOUT * 1000), app.quit)  # never hang the benchmark
    from app.cli import main

    main([])


if __name__ == "__main__" and "--driver" in sys.argv:
    driver()
