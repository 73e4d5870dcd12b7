"""The headless sync killed at random points, again and again, then restarted.

`python -m app sync --once` runs in a subprocess against a Selldone shop and a Sellar
supplier whose sandboxes answer every request 60 ms late, so a sync lasts long enough
for a kill to land in the middle of pulling, ingesting or pushing. Every few restarts
new work arrives (buyer and retailer orders, merchant actions, stock counts) so later
kills still hit real work. After at least 50 SIGKILLs and a final clean sync, the data
must equal a run that was never interrupted: same orders and ledger, same sandbox state,
every push applied once, a sound database file and a ledger whose totals match its
movements.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.channels.sellar.sandbox import SellarSandbox
from app.channels.selldone.sandbox import SelldoneSandbox
from app.hub import Hub
from tests.reliability.harness import (
    SELLAR,
    SELLDONE,
    Shop,
    applications,
    converge,
    fast_client_factory,
    integrity,
    local_state,
    once_violations,
    remote_state,
)
from tests.support.cli import cli_env, make_cli

ROOT = Path(__file__).resolve().parents[2]
KILLS = 52
REAL_LAUNCHES = 8  # restarts that pay a whole `python -m app` start-up
DELAY_MS = 60  # per API request, so a sync with pushes lasts seconds
SEED = 20261122
BATCH_EVERY = 5  # restarts between two batches of new work
BUDGET_SECONDS = 90

# A fork server: it imports the CLI once, then forks one child per restart that runs
# exactly `stockbridge sync --once` (the CLI's main) and is SIGKILLed by its parent on
# request. Each child is a separate process with its own database connection, like a
# fresh launch, minus the second of imports that would otherwise eat the time budget.
FORK_SERVER = """
import os, signal, sys
import app.cli
quiet = os.open(os.devnull, os.O_WRONLY)
for line in sys.stdin:
    command, _, argument = line.strip().partition(" ")
    if command == "start":
        pid = os.fork()
        if pid == 0:
            os.dup2(quiet, 1)
            os.dup2(quiet, 2)
            try:
                code = app.cli.main(["sync", "--once"])
            except BaseException:
                code = 3
            os._exit(code if isinstance(code, int) else 3)
        print(pid, flush=True)
    elif command == "kill":
        pid = int(argument)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            print("killed", flush=True)
        else:
            print("exited", os.WEXITSTATUS(status), flush=True)
    else:
        break
"""


class ForkServer:
    """Starts and kills `sync --once` children of a pre-imported interpreter."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", FORK_SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )

    def _ask(self, line: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        assert answer, "the fork server died"
        return answer

    def start(self) -> int:
        return int(self._ask("start"))

    def kill(self, pid: int) -> bool:
        """SIGKILL the child; True if it was still running (False: it had finished)."""
        return self._ask(f"kill {pid}") == "killed"

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(10)


@dataclass
class CrashFigures:
    kills: int = 0
    mid_sync_kills: int = 0  # killed after the sync had made at least one API request
    finished_before_kill: int = 0
    restarts: int = 0
    final_syncs: int = 0
    batches: int = 0
    seconds: float = 0.0
    stale_sync_log_rows: int = 0
    problems: list[str] = field(default_factory=list)


def start_shops() -> list[Shop]:
    selldone = SelldoneSandbox(seed=3, extra_orders=300, rate_limit_per_minute=0)
    sellar = SellarSandbox(seed=4, extra_orders=100)
    shops = [
        Shop(SELLDONE, "selldone", selldone, str(selldone.shop_id)),
        Shop(SELLAR, "sellar", sellar, ""),
    ]
    for shop in shops:
        shop.box.start()
    return shops


def plan_work(hub: Hub) -> list[list[tuple[str, Any]]]:
    """Batches of work decided once, from the state after the first sync and adoption.

    Only orders that exist locally at that moment are acted on, so every action is
    valid whenever its batch comes, however many syncs were killed before it. The
    Sellar supplier's confirmation comes last: importing it deducts stock, and a stock
    count after it would otherwise make the final on-hand depend on *when* a killed
    sync happened to import it (a count sets on-hand absolutely).
    """

    def ids(channel: str, status: str, *, mapped: bool = True) -> list[str]:
        found = hub.order_list(status=status, channel=channel)
        return sorted(
            (o["external_id"] for o in found if not (mapped and o["needs_mapping"])), key=int
        )

    new = ids(SELLDONE, "requested")
    sent = ids(SELLDONE, "dispatched", mapped=False)
    confirmed = ids(SELLAR, "confirmed")
    requested = ids(SELLAR, "requested")
    assert len(new) >= 4 and sent and len(requested) >= 2, "the seeds lack orders to act on"
    simple = sorted(
        int(r["listing"])
        for r in hub.listings(SELLDONE)
        if r["product_sku"] and ":" not in r["listing"]
    )
    kegs = sorted(r["product_sku"] for r in hub.listings(SELLAR) if r["product_sku"])
    skus = sorted(r["sku"] for r in hub.stock())
    track = {"tracking_code": "JJD7", "tracking_url": "https://track.example/JJD7"}
    actions: list[tuple[str, Any]] = [
        ("act", (f"{SELLDONE}:{new[0]}", "confirm", {})),
        ("act", (f"{SELLDONE}:{new[1]}", "dispatch", track)),
        ("act", (f"{SELLDONE}:{new[2]}", "deliver", {})),
        ("act", (f"{SELLDONE}:{new[3]}", "cancel", {"reason": "out of stock"})),
        ("act", (f"{SELLDONE}:{sent[0]}", "return", {"reason": "damaged"})),
        ("sellar", ("cancel", int(requested[1]))),
    ]
    if confirmed:
        actions.append(("act", (f"{SELLAR}:{confirmed[0]}", "dispatch", {})))
    batches: list[list[tuple[str, Any]]] = []
    rng = random.Random(SEED)
    for index in range(KILLS // BATCH_EVERY):
        batch: list[tuple[str, Any]] = []
        if index < len(actions):
            batch.append(actions[index])
        for sku in rng.sample(skus, 2):
            batch.append(("count", (sku, rng.randint(0, 60))))
        batch.append(("buyer", simple[index % len(simple)]))
        if index % 2 == 0:
            batch.append(("retailer", kegs[index % len(kegs)]))
        batches.append(batch)
    batches[-1].append(("sellar", ("confirm", int(requested[0]))))
    return batches


def apply_batch(data_dir: Path, batch: list[tuple[str, Any]], shops: list[Shop]) -> None:
    """One batch of work: merchant steps through the hub, buyers through the sandboxes."""
    selldone = next(s for s in shops if s.platform == "selldone").box
    sellar = next(s for s in shops if s.platform == "sellar").box
    assert isinstance(selldone, SelldoneSandbox) and isinstance(sellar, SellarSandbox)
    hub = Hub(data_dir)
    try:
        for kind, what in batch:
            if kind == "act":
                ref, action, options = what
                hub.order_action(ref, action, **options)
            elif kind == "count":
                hub.count_stock(*what)
            elif kind == "buyer":
                selldone.create_order([{"product_id": what, "variant_id": None, "count": 1}])
            elif kind == "retailer":
                product = sellar.product_by_sku(what)
                sellar.place_order(
                    min(sellar.retailers), [{"product_id": product["id"], "quantity": 1}]
                )
            elif kind == "sellar":
                action, order_id = what
                getattr(sellar, f"{action}_order")(order_id)
    finally:
        hub.close()


def kill_a_launch(env: dict[str, str], rng: random.Random) -> bool:
    """A real `python -m app sync --once`, SIGKILLed at a random moment of its run."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "sync", "--once"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=ROOT,
    )
    time.sleep(rng.uniform(0.3, 1.8))  # start-up, opening the database, the first pages
    proc.kill()  # SIGKILL: no handler, no cleanup, no flush
    return proc.wait(30) != 0


def kill_a_child(server: ForkServer, rng: random.Random, requesting: Callable[[], bool]) -> bool:
    """A forked `sync --once`, killed in its start-up (a quarter of the time) or at a
    random moment after its first API request."""
    pid = server.start()
    if rng.random() < 0.25:
        time.sleep(rng.uniform(0.0, 0.2))
    else:
        deadline = time.monotonic() + 5.0
        while not requesting() and time.monotonic() < deadline:
            time.sleep(0.005)
        # Up to ~10 requests of 60 ms in: most syncs are still pulling or pushing.
        time.sleep(rng.uniform(0.0, 0.6))
    return server.kill(pid)


def requests_made(shops: list[Shop]) -> int:
    return sum(len(shop.box.request_log) for shop in shops)


def crash_run(home: Path) -> tuple[CrashFigures, dict[str, Any]]:
    """Set up through the CLI, then kill `sync --once` KILLS times; returns the figures
    and the final snapshots."""
    started = time.monotonic()
    figures = CrashFigures()
    shops = start_shops()
    cli = make_cli(home)
    data_dir = home / "data"
    try:
        for shop in shops:
            args = ["channel", "add", shop.platform, "--name", shop.name]
            if shop.account:
                args += ["--shop-id", shop.account]
            cli(
                *args, "--base-url", shop.box.base_url, "--token-stdin", stdin=shop.box.token + "\n"
            )  # type: ignore[attr-defined]
        cli("sync", "--once")
        for shop in shops:
            cli("products", "adopt", "--channel", shop.name)
        hub = Hub(data_dir)
        try:
            batches = plan_work(hub)
        finally:
            hub.close()
        for shop in shops:
            shop.box.set_fault_plan(f"delay_ms={DELAY_MS}")

        rng = random.Random(SEED)
        env = cli_env(home)
        server = ForkServer(env) if hasattr(os, "fork") else None
        pending = list(batches)
        try:
            # Bounded: runs that finish before their kill do not count as kills.
            for restart in range(3 * KILLS):
                if figures.kills >= KILLS:
                    break
                if restart % BATCH_EVERY == 0 and pending:
                    apply_batch(data_dir, pending.pop(0), shops)
                    figures.batches += 1
                before = requests_made(shops)
                if server is None or restart < REAL_LAUNCHES:
                    killed = kill_a_launch(env, rng)
                else:
                    killed = kill_a_child(
                        server, rng, lambda mark=before: requests_made(shops) > mark
                    )
                figures.restarts += 1
                if killed:
                    figures.kills += 1
                    figures.mid_sync_kills += requests_made(shops) > before
                else:
                    figures.finished_before_kill += 1
        finally:
            if server is not None:
                server.close()
        while pending:  # batches left over if KILLS is not a multiple of BATCH_EVERY
            apply_batch(data_dir, pending.pop(0), shops)
            figures.batches += 1

        for shop in shops:
            shop.box.clear_fault_plan()
        last_state: dict[str, Any] | None = None
        for _ in range(6):
            cli("sync", "--once")
            figures.final_syncs += 1
            hub = Hub(data_dir)
            try:
                before_state = local_state(hub, invoice_values=False)
                queued = hub.db.scalar("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
            finally:
                hub.close()
            if queued == 0 and figures.final_syncs > 1 and before_state == last_state:
                break
            last_state = before_state
        hub = Hub(data_dir)
        try:
            snapshot = {
                "local": local_state(hub, invoice_values=False),
                "remote": {shop.name: remote_state(shop) for shop in shops},
                "applied": {shop.name: applications(shop) for shop in shops},
                "ledger": hub.ledger.verify(),
                "integrity": integrity(hub.db.path),
            }
            figures.stale_sync_log_rows = int(
                hub.db.scalar("SELECT COUNT(*) FROM sync_log WHERE finished_at IS NULL") or 0
            )
        finally:
            hub.close()
        snapshot["batches"] = batches
    finally:
        for shop in shops:
            shop.box.stop()
    figures.seconds = round(time.monotonic() - started, 1)
    return figures, snapshot


def reference_run(home: Path, batches: list[list[tuple[str, Any]]]) -> dict[str, Any]:
    """The same work, never interrupted (in process: the sync code is the same)."""
    shops = start_shops()
    data_dir = home / "data"
    hub = Hub(data_dir, client_factory=fast_client_factory())
    try:
        for shop in shops:
            shop.connect(hub)
        asyncio.run(hub.sync())
        for shop in shops:
            hub.adopt(shop.name)
        planned = plan_work(hub)
        assert planned == batches, "the two runs must do the same work"
        hub.close()
        for batch in planned:
            apply_batch(data_dir, batch, shops)
        hub = Hub(data_dir, client_factory=fast_client_factory())
        converge(hub, max_rounds=10)
        return {
            "local": local_state(hub, invoice_values=False),
            "remote": {shop.name: remote_state(shop) for shop in shops},
            "applied": {shop.name: applications(shop) for shop in shops},
        }
    finally:
        hub.close()
        for shop in shops:
            shop.box.stop()


def differences(crashed: dict[str, Any], clean: dict[str, Any]) -> list[str]:
    problems = []
    for part in ("orders", "stock", "outbox", "quarantine", "listings"):
        a, b = clean["local"][part], crashed["local"][part]
        if a != b:
            if isinstance(a, dict):
                keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
                problems.append(
                    f"local {part}: {len(keys)} differ, e.g. {[(k, a.get(k), b.get(k)) for k in keys[:3]]}"
                )
            else:
                problems.append(f"local {part}: {a} vs {b}")
    for name in clean["remote"]:
        for part in ("products", "orders"):
            a, b = clean["remote"][name][part], crashed["remote"][name][part]
            keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            if keys:
                problems.append(
                    f"{name} {part} at the sandbox: {[(k, a.get(k), b.get(k)) for k in keys[:3]]}"
                )
        for part, value in clean["applied"][name].items():
            if part != "harmless_repeats" and crashed["applied"][name][part] != value:
                problems.append(f"{name} applied {part} differently")
        problems += [f"{name}: {p}" for p in once_violations(crashed["applied"][name])]
    if crashed["integrity"] != "ok":
        problems.append(f"PRAGMA integrity_check: {crashed['integrity']}")
    problems += [f"Ledger.verify: {p}" for p in crashed["ledger"]]
    return problems


def test_sync_survives_fifty_kills(tmp_path: Path):
    started = time.monotonic()
    figures, crashed = crash_run(tmp_path / "crashed")
    clean = reference_run(tmp_path / "clean", crashed["batches"])
    figures.problems = differences(crashed, clean)
    total = time.monotonic() - started
    print(f"\ncrash figures: {figures}; whole test {total:.1f} s")
    assert figures.kills >= 50, figures
    assert figures.mid_sync_kills >= 25, f"too few kills landed inside a sync: {figures}"
    assert not figures.problems, "\n".join(figures.problems)
    assert total < BUDGET_SECONDS, f"{total:.1f} s: {figures}"
