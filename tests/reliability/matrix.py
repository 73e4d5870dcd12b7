"""Print the fault matrix of docs/reliability.md: fault kind × platform → result.

Each cell is a real run of the reliability harness: the platform's sandbox injects only
that fault, at ``--rate`` of the API requests (half of the error faults on writes land
after the write was applied), while the hub imports, adopts, acts and syncs to a steady
state; then a fault-free round must change nothing, and everything is compared with a
clean run of the same seeds (orders, ledger, sandbox state, writes applied once).

    .venv/bin/python -m tests.reliability.matrix                 # every registered platform
    .venv/bin/python -m tests.reliability.matrix --platforms selldone sellar --rate 0.3
    .venv/bin/python -m tests.reliability.matrix --crash          # also the crash figures

The markdown goes to standard output; progress goes to standard error.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

from app import secrets
from app.channels import registry
from app.channels.base import CAP_ORDERS
from app.channels.faults import FAULT_KINDS, FaultPlan
from tests.reliability.harness import ScenarioResult, compare, run_platform

DEFAULT_PLATFORMS = ("selldone", "sellar", "sello", "tradegecko", "retailcrm")


def cell(clean: ScenarioResult, faulty: ScenarioResult | None, error: str = "") -> str:
    """One table cell: ✓ with the number of faults met, or ✗ with the first problem."""
    if faulty is None:
        return f"✗ {error[:110]}"
    met = sum(sum(kinds.values()) for kinds in faulty.faults.values())
    problems = compare(clean, faulty)
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        return f"✗ {problems[0][:150]}{more}".replace("|", "/")
    if met == 0:  # nothing was injected: no verdict either way
        return f"– none met ({faulty.rounds} rounds)"
    return f"✓ {met} met, {faulty.rounds} rounds"


def run_matrix(
    platforms: list[str], rate: float, seed: int, kinds: tuple[str, ...] = FAULT_KINDS
) -> str:
    rows: dict[str, dict[str, str]] = {kind: {} for kind in kinds}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for platform in platforms:
            clean = run_platform(root / f"{platform}-clean", platform, None)
            print(f"{platform}: clean run {clean.seconds}s", file=sys.stderr)
            for kind in kinds:
                # The client gives up after 0.5 s; the silent server would wait 1 s.
                plan = FaultPlan(
                    rates={kind: rate}, seed=seed, lost=0.5, latency_ms=50, timeout_s=1.0
                )
                try:
                    faulty: ScenarioResult | None = run_platform(
                        root / f"{platform}-{kind}", platform, plan, timeout=0.5
                    )
                    error = ""
                except AssertionError as exc:  # no steady state within the round limit
                    faulty, error = None, str(exc)
                rows[kind][platform] = cell(clean, faulty, error)
                took = faulty.seconds if faulty is not None else "-"
                print(f"{platform} × {kind}: {rows[kind][platform]} ({took}s)", file=sys.stderr)
    header = "| fault | " + " | ".join(platforms) + " |"
    rule = "|---|" + "---|" * len(platforms)
    lines = [header, rule]
    for kind in kinds:
        lines.append(f"| {kind} | " + " | ".join(rows[kind][p] for p in platforms) + " |")
    return "\n".join(lines)


def run_crash() -> str:
    from tests.reliability.test_crash import crash_run, differences, reference_run

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        figures, crashed = crash_run(Path(folder) / "crashed")
        clean = reference_run(Path(folder) / "clean", crashed["batches"])
    problems = differences(crashed, clean)
    total = round(time.monotonic() - started, 1)
    rows = [
        ("SIGKILLs", figures.kills),
        ("… of which after the sync's first API request", figures.mid_sync_kills),
        ("restarts (runs started)", figures.restarts),
        ("runs that finished before their kill", figures.finished_before_kill),
        ("batches of new work during the kills", figures.batches),
        ("final clean syncs to a steady state", figures.final_syncs),
        ("unfinished sync_log rows left by the kills", figures.stale_sync_log_rows),
        ("final state equal to the uninterrupted run", "yes" if not problems else "NO"),
        ("PRAGMA integrity_check", crashed["integrity"]),
        ("Ledger.verify() differences", len(crashed["ledger"])),
        ("time: kill phase / whole test", f"{figures.seconds} s / {total} s"),
    ]
    out = ["| crash test | |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows]
    out += [f"\nDifference: {p}" for p in problems]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--platforms", nargs="+", default=list(DEFAULT_PLATFORMS))
    parser.add_argument("--rate", type=float, default=0.2, help="share of requests faulted")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--kinds", nargs="+", default=list(FAULT_KINDS), choices=FAULT_KINDS)
    parser.add_argument("--crash", action="store_true", help="also run the crash test")
    args = parser.parse_args(argv)
    secrets.use_memory_store()  # tokens of throwaway sandboxes; never the real keyring
    logging.basicConfig(level=logging.CRITICAL)
    # The matrix scenario imports orders; a platform that sends none (TradeGecko, where
    # orders go *to*) is covered by its own fault tests (exactly-once export under lost
    # answers, timeouts and crashes in tests/channels/test_tradegecko_sync.py).
    platforms = [
        p
        for p in args.platforms
        if p in registry.PLATFORMS and CAP_ORDERS in registry.capabilities(p)
    ]
    skipped = [p for p in args.platforms if p not in platforms]
    print(
        f"Fault matrix: each kind alone at rate {args.rate}, seed {args.seed}, lost 0.5",
        flush=True,
    )
    print(time.strftime("Generated %Y-%m-%d %H:%M UTC", time.gmtime()))
    print()
    print(run_matrix(platforms, args.rate, args.seed, tuple(args.kinds)))
    if skipped:
        print(f"\nNo column (sends no orders to import): {', '.join(skipped)}.")
    if args.crash:
        print()
        print(run_crash())
    return 0


if __name__ == "__main__":
    sys.exit(main())
