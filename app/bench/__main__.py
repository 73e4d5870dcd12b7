"""``stockbridge-bench``: run the benchmark scenarios, print the table, write the results.

Every scenario runs in a child process of its own (``--child NAME``), so memory and
timing of one never leak into the next; the parent only collects the JSON each child
writes. Full runs rewrite docs/benchmarks.md; ``--quick`` (smaller sizes, for CI)
and ``--only`` runs leave it alone unless ``--docs`` names a file.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from app.bench import SCENARIOS
from app.bench.report import (
    ERROR,
    ScenarioResult,
    eprint,
    format_table,
    machine_info,
    results_document,
    write_json,
    write_markdown,
)

DEFAULT_OUT = Path("bench-results.json")
# Per-scenario ceilings: a hung scenario is stopped and reported, never waited on forever.
FULL_TIMEOUT = 1800.0
QUICK_TIMEOUT = 90.0


def default_docs() -> Path:
    """docs/benchmarks.md of the checkout this code runs from, else of the current folder."""
    checkout = Path(__file__).resolve().parents[2]
    root = checkout if (checkout / "pyproject.toml").exists() else Path.cwd()
    return root / "docs" / "benchmarks.md"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stockbridge-bench",
        description="Performance benchmarks of Stockbridge against the sandbox twins (loopback).",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(SCENARIOS),
        metavar="NAME",
        help=f"run only this scenario (repeatable): {', '.join(SCENARIOS)}",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a CI smoke run")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"results JSON (default {DEFAULT_OUT})"
    )
    docs = parser.add_mutually_exclusive_group()
    docs.add_argument(
        "--docs",
        type=Path,
        help="write the Markdown report here (default: docs/benchmarks.md on full runs of"
        " every scenario)",
    )
    docs.add_argument("--no-docs", action="store_true", help="do not write the Markdown report")
    parser.add_argument(
        "--timeout", type=float, help="seconds one scenario may take before it is stopped"
    )
    parser.add_argument("--child", metavar="NAME", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.child:
        return run_child(args.child, quick=args.quick, result_path=args.result)
    names = [n for n in SCENARIOS if not args.only or n in args.only]
    started = time.time()
    machine = machine_info()
    timeout = args.timeout or (QUICK_TIMEOUT if args.quick else FULL_TIMEOUT)
    results = []
    for name in names:
        eprint(f"▶ {SCENARIOS[name]} ({name})")
        result = run_in_child(name, quick=args.quick, timeout=timeout)
        eprint(f"  {result.status} in {result.seconds:.1f} s")
        results.append(result)
    document = results_document(results, quick=args.quick, started=started, machine=machine)
    print(format_table(results))
    write_json(args.out, document)
    eprint(f"results: {args.out}")
    docs = args.docs
    if docs is None and not args.no_docs and not args.quick and not args.only:
        docs = default_docs()
    if docs is not None:
        write_markdown(docs, results, document)
        eprint(f"report: {docs}")
    # Missed targets are findings, not failures of the tool: only errors fail the run.
    return 1 if any(r.status == ERROR for r in results) else 0


def run_in_child(name: str, *, quick: bool, timeout: float) -> ScenarioResult:
    """Run one scenario in a fresh interpreter and read back what it wrote."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        result_path = Path(tmp) / "result.json"
        command = [sys.executable, "-m", "app.bench", "--child", name, "--result", str(result_path)]
        if quick:
            command.append("--quick")
        env = dict(os.environ)
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        # Nothing here may reach the merchant's real keyring.
        env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
        # The scenario's scratch folders live in ours, so they go even if it is killed.
        env["TMPDIR"] = tmp
        try:
            done = subprocess.run(
                command, env=env, timeout=timeout, check=False, stdout=subprocess.PIPE, text=True
            )
            output = done.stdout
            failure = "" if done.returncode == 0 else f"exit status {done.returncode}"
        except subprocess.TimeoutExpired as exc:
            output = exc.stdout if isinstance(exc.stdout, str) else ""
            failure = f"stopped after {timeout:.0f} s"
        if result_path.exists():
            result = ScenarioResult.from_dict(json.loads(result_path.read_text(encoding="utf-8")))
        else:
            result = ScenarioResult(name, SCENARIOS[name])
            result.error = failure or "the scenario wrote no result"
            if output:
                result.error += f": {output.strip()[-600:]}"
    result.seconds = time.perf_counter() - started
    return result


def run_child(name: str, *, quick: bool, result_path: Path | None) -> int:
    """Inside the child: run the scenario and write its result (errors included)."""
    if name not in SCENARIOS:
        raise SystemExit(f"unknown scenario {name!r}")
    started = time.perf_counter()
    try:
        module = importlib.import_module(f"app.bench.scenarios.{name}")
        result: ScenarioResult = module.run(quick)
    except Exception as exc:  # reported in the table; the other scenarios still run
        result = ScenarioResult(name, SCENARIOS[name])
        result.error = f"{type(exc).__name__}: {exc}"
        result.notes.append(traceback.format_exc()[-2000:])
    result.seconds = time.perf_counter() - started
    payload = json.dumps(result.as_dict(), indent=2, ensure_ascii=False, default=str)
    if result_path is None:
        print(payload)
    else:
        result_path.write_text(payload, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
