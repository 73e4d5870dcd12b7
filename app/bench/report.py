"""Benchmark results: what a scenario measured, the table, the JSON file, docs/benchmarks.md.

A scenario fills a :class:`ScenarioResult` with *checks* (a measured value against a
target: ``<``, ``<=``, ``>=``, ``==``) and *info* rows (figures shown for context, with
no target). The runner turns every result into one table, printed and written to the
JSON results file and to docs/benchmarks.md together with the machine it ran on.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sqlite3
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
# Scenario outcomes, worst first (the run's overall outcome is the worst of its scenarios).
ERROR, MISSED, NOT_AVAILABLE, MET = "error", "missed", "not_available", "met"
STATUSES = (ERROR, MISSED, NOT_AVAILABLE, MET)
_OPS = {
    "<": lambda v, t: v < t,
    "<=": lambda v, t: v <= t,
    ">=": lambda v, t: v >= t,
    ">": lambda v, t: v > t,
    "==": lambda v, t: v == t,
}


@dataclass(slots=True)
class Check:
    """One row of the table: a value, and (unless ``op`` is "info") the target it meets."""

    label: str
    value: float | int | str | None
    unit: str = ""
    op: str = "info"
    target: float | int | None = None

    @property
    def met(self) -> bool | None:
        if self.op == "info":
            return None
        if not isinstance(self.value, int | float) or self.target is None:
            return False
        if isinstance(self.value, float) and math.isnan(self.value):
            return False
        return _OPS[self.op](self.value, self.target)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"met": self.met}


@dataclass(slots=True)
class ScenarioResult:
    """What one scenario run found. ``metrics`` holds every raw figure, for the JSON."""

    name: str
    title: str
    checks: list[Check] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sizes: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    unavailable: str = ""  # why the scenario could not run (a connector not written yet)
    error: str = ""

    def check(
        self, label: str, value: float | int | None, op: str, target: float | int, unit: str = ""
    ) -> Check:
        if op not in _OPS:
            raise ValueError(f"unknown comparison {op!r}")
        item = Check(label, _round(value), unit, op, target)
        self.checks.append(item)
        return item

    def info(self, label: str, value: float | int | str | None, unit: str = "") -> Check:
        item = Check(label, _round(value), unit)
        self.checks.append(item)
        return item

    @property
    def status(self) -> str:
        if self.error:
            return ERROR
        if self.unavailable:
            return NOT_AVAILABLE
        verdicts = [c.met for c in self.checks if c.met is not None]
        return MET if all(verdicts) else MISSED

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "status": self.status,
            "seconds": round(self.seconds, 2),
            "sizes": self.sizes,
            "checks": [c.as_dict() for c in self.checks],
            "metrics": self.metrics,
            "notes": self.notes,
            "unavailable": self.unavailable,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScenarioResult:
        result = cls(
            name=data["name"],
            title=data.get("title", data["name"]),
            metrics=dict(data.get("metrics") or {}),
            notes=list(data.get("notes") or []),
            sizes=dict(data.get("sizes") or {}),
            seconds=float(data.get("seconds") or 0.0),
            unavailable=data.get("unavailable") or "",
            error=data.get("error") or "",
        )
        for c in data.get("checks") or []:
            result.checks.append(
                Check(
                    c["label"],
                    c.get("value"),
                    c.get("unit", ""),
                    c.get("op", "info"),
                    c.get("target"),
                )
            )
        return result


def _round(value: Any) -> Any:
    """Three significant decimals are plenty for a table; keep ints as they are."""
    if isinstance(value, float) and not math.isnan(value) and not math.isinf(value):
        return round(value, 3) if abs(value) < 100 else round(value, 1)
    return value


# ----------------------------------------------------------------------------- machine
def machine_info() -> dict[str, Any]:
    """Where the figures come from: CPU, cores, RAM, load, Python, PySide6, SQLite."""
    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gb": _ram_gb(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "pyside6": _pyside_version(),
    }
    try:
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:  # not on Windows
        info["load_average"] = None
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _ram_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _pyside_version() -> str | None:
    try:
        import PySide6

        return PySide6.__version__
    except ImportError:
        return None


# ------------------------------------------------------------------------------- table
HEADERS = ("Scenario", "Measure", "Result", "Target", "Met")


def table_rows(results: list[ScenarioResult]) -> list[tuple[str, str, str, str, str]]:
    """One row per check; a scenario that did not run gets one row saying why."""
    rows: list[tuple[str, str, str, str, str]] = []
    for result in results:
        scenario = result.title
        if result.error:
            rows.append((scenario, "error", _short(result.error), "", "ERROR"))
            continue
        if result.unavailable:
            rows.append((scenario, result.unavailable, "not available yet", "", "—"))
            continue
        for check in result.checks:
            rows.append(
                (
                    scenario,
                    check.label,
                    _value_text(check.value, check.unit),
                    ""
                    if check.op == "info"
                    else f"{check.op} {_value_text(check.target, check.unit)}",
                    {True: "yes", False: "NO", None: ""}[check.met],
                )
            )
            scenario = ""  # the scenario's name once, on its first row
    return rows


def _short(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _value_text(value: Any, unit: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        # About three significant digits: enough to compare runs, no false precision.
        size = abs(value)
        text = f"{value:.2f}" if size < 10 else f"{value:.1f}" if size < 100 else f"{value:,.0f}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def format_table(results: list[ScenarioResult]) -> str:
    """The table as plain text, for the terminal."""
    rows = [HEADERS, *table_rows(results)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADERS))]
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(results: list[ScenarioResult]) -> str:
    rows = table_rows(results)
    out = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for row in rows:
        out.append("| " + " | ".join(_markdown_cell(cell) for cell in row) + " |")
    return "\n".join(out)


def _markdown_cell(cell: str) -> str:
    """Escape pipes; keep a sub-row's indent (Markdown drops leading spaces)."""
    text = cell.replace("|", "\\|")
    return "&emsp;" + text.strip() if text.startswith("  ") else text


# --------------------------------------------------------------------------- writing
def results_document(
    results: list[ScenarioResult], *, quick: bool, started: float, machine: dict[str, Any]
) -> dict[str, Any]:
    machine = dict(machine)
    try:
        machine["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        machine["load_average_end"] = None
    return {
        "schema": SCHEMA_VERSION,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "seconds": round(time.time() - started, 1),
        "quick": quick,
        "machine": machine,
        "overall": overall_status(results),
        "scenarios": [r.as_dict() for r in results],
    }


def overall_status(results: list[ScenarioResult]) -> str:
    statuses = {r.status for r in results}
    for status in STATUSES:
        if status in statuses:
            return status
    return MET


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def write_markdown(path: Path, results: list[ScenarioResult], document: dict[str, Any]) -> None:
    """docs/benchmarks.md: how to run, the machine, the latest table and the notes."""
    machine = document["machine"]
    load = machine.get("load_average")
    lines = [
        "# Benchmarks",
        "",
        "Generated by `stockbridge-bench` (`python -m app.bench`); do not edit by hand."
        " Every scenario runs in its own process against the sandbox twins over loopback;"
        " the sandboxes run in processes of their own, as a remote platform would.",
        "",
        "```sh",
        "stockbridge-bench                      # everything, full sizes; rewrites this file",
        "stockbridge-bench --quick              # smaller sizes, for CI (under 2 minutes)",
        "stockbridge-bench --only initial_import --out results.json",
        "```",
        "",
        f"Latest run: {document['started_at']} ({'quick' if document['quick'] else 'full'} sizes,"
        f" {document['seconds']:.0f} s), overall: **{document['overall']}**.",
        "",
        "## Machine",
        "",
        f"- CPU: {machine.get('cpu')}, {machine.get('cores')} cores",
        f"- RAM: {machine.get('ram_gb')} GB",
        f"- OS: {machine.get('os')}",
        f"- Python {machine.get('python')}, PySide6 {machine.get('pyside6')},"
        f" SQLite {machine.get('sqlite')}",
    ]
    if load:
        end = machine.get("load_average_end") or []
        lines.append(
            f"- Load average (1, 5, 15 min) at the start: {', '.join(str(x) for x in load)};"
            f" at the end: {', '.join(str(x) for x in end) or 'n/a'}. Other work on the"
            " machine slows wall-clock figures; CPU-time figures are given beside them."
        )
    lines += ["", "## Results", "", markdown_table(results), ""]
    noted = [r for r in results if r.notes or r.sizes]
    if noted:
        lines += ["## Notes", ""]
        for result in noted:
            lines += [f"### {result.title}", ""]
            if result.sizes:
                sizes = ", ".join(f"{k} {_value_text(v, '')}" for k, v in result.sizes.items())
                lines += [f"Sizes: {sizes}.", ""]
            if result.notes:
                lines += [*(f"- {note}" for note in result.notes), ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0–1) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def eprint(*parts: Any) -> None:
    """Progress for the person watching; results go to stdout and files only."""
    print(*parts, file=sys.stderr, flush=True)
