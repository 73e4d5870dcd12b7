"""The benchmark command runs end to end and writes results other tools can read.

Runs ``python -m app.bench --quick`` on the two cheapest scenarios in a subprocess and
checks the shape of the JSON and the Markdown it writes. Timings are never asserted:
they depend on the machine; the benchmark itself reports them against the targets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.bench import SCENARIOS
from app.bench.report import STATUSES, Check, ScenarioResult, overall_status, percentile

ROOT = Path(__file__).resolve().parents[2]
CHEAP = ["incremental_sync", "initial_import"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, Path]:
    folder = tmp_path_factory.mktemp("bench")
    out, docs = folder / "results.json", folder / "benchmarks.md"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    command = [sys.executable, "-m", "app.bench", "--quick", "--out", str(out), "--docs", str(docs)]
    for name in CHEAP:
        command += ["--only", name]
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text(encoding="utf-8")), done.stdout, docs


def test_results_file_has_the_documented_shape(quick_run: tuple[dict, str, Path]) -> None:
    document, _, _ = quick_run
    assert document["schema"] == 1
    assert document["quick"] is True
    assert document["overall"] in STATUSES
    machine = document["machine"]
    for key in ("cpu", "cores", "ram_gb", "python", "pyside6", "sqlite"):
        assert key in machine
    assert [s["name"] for s in document["scenarios"]] == [n for n in SCENARIOS if n in CHEAP]
    for scenario in document["scenarios"]:
        assert scenario["status"] in STATUSES
        assert scenario["status"] != "error", scenario["error"] + "".join(scenario["notes"])
        assert scenario["title"] == SCENARIOS[scenario["name"]]
        assert isinstance(scenario["metrics"], dict) and scenario["metrics"]
        assert scenario["seconds"] > 0
        targets = [c for c in scenario["checks"] if c["op"] != "info"]
        assert targets, "every scenario measures at least one target"
        for check in scenario["checks"]:
            assert set(check) == {"label", "value", "unit", "op", "target", "met"}
            if check["op"] == "info":
                assert check["met"] is None
            else:
                assert isinstance(check["value"], int | float)
                assert isinstance(check["met"], bool)


def test_request_counts_are_reported(quick_run: tuple[dict, str, Path]) -> None:
    document, _, _ = quick_run
    by_name = {s["name"]: s for s in document["scenarios"]}
    network = by_name["initial_import"]["metrics"]["network"]
    assert network["order_requests"] >= 1
    assert network["expected_order_requests"] >= 1
    fresh = by_name["incremental_sync"]["metrics"]["listings_fresh"]
    assert set(fresh) == {"Web shop", "Wholesale"}


def test_table_and_markdown_name_every_check(quick_run: tuple[dict, str, Path]) -> None:
    document, stdout, docs = quick_run
    text = docs.read_text(encoding="utf-8")
    assert "## Machine" in text and "| Scenario | Measure | Result | Target | Met |" in text
    for scenario in document["scenarios"]:
        for check in scenario["checks"]:
            label = check["label"].strip()
            assert label in stdout
            assert label.replace("|", "\\|") in text


def test_a_check_meets_its_target_only_when_the_comparison_holds() -> None:
    result = ScenarioResult("x", "X")
    assert result.check("fast enough", 90.0, "<", 100.0, "ms").met is True
    assert result.check("too slow", 100.0, "<", 100.0, "ms").met is False
    assert result.check("not measured", None, ">=", 1).met is False
    assert result.check("not a number", float("nan"), "<", 1).met is False
    assert Check("context", 5).met is None
    assert result.status == "missed"
    result.error = "boom"
    assert result.status == "error"
    assert overall_status([ScenarioResult("a", "A"), result]) == "error"
    with pytest.raises(ValueError):
        result.check("bad", 1, "~", 1)


def test_percentile_interpolates() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([5.0], 0.95) == 5.0
    assert percentile([3.0, 1.0, 2.0], 1.0) == 3.0
