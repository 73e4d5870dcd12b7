"""Stockbridge's performance benchmarks: ``stockbridge-bench`` / ``python -m app.bench``.

Each scenario lives in :mod:`app.bench.scenarios` and runs in its own process against
the sandbox twins over loopback; :mod:`app.bench.report` turns the results into the
table, the JSON results file and docs/benchmarks.md. Importing this package is cheap on
purpose: the cold-start scenario's driver runs from it.
"""

# Scenario name → title, in the order they run.
SCENARIOS: dict[str, str] = {
    "initial_import": "1. Initial import",
    "incremental_sync": "2. Incremental sync",
    "oversell_window": "3. Oversell window",
    "rate_limits": "4. Rate-limited platforms",
    "gui_tables": "5. GUI with 100k rows",
    "cold_start": "6. Cold start",
    "memory": "7. Memory",
    "side_by_side": "8. RetailCRM side by side",
}
