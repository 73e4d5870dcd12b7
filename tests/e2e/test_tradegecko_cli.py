"""TradeGecko from the command line, in subprocesses, against its sandbox: connect with
a privileged token and the two modes, sync per-location stock, link a variant by id,
and serve the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.channels.tradegecko.sandbox import TradeGeckoSandbox

ROOT = Path(__file__).resolve().parents[2]
NAME = "Gecko"


@pytest.fixture
def tg():
    box = TradeGeckoSandbox(seed=5)
    box.start()
    yield box
    box.stop()


def add(cli, tg: TradeGeckoSandbox, *extra: str, ok: bool = True) -> subprocess.CompletedProcess:
    return cli(
        "channel",
        "add",
        "tradegecko",
        "--name",
        NAME,
        "--base-url",
        tg.base_url,
        "--token-stdin",
        *extra,
        "--json",
        stdin=tg.token + "\n",
        ok=ok,
    )


def test_add_with_both_modes_sync_stock_and_link_a_variant(cli, tg, tmp_path):
    first, second = sorted(tg.stock_locations())[:2]
    added = json.loads(
        add(
            cli,
            tg,
            "--stock-master",
            "--export-orders",
            "--location-warehouse",
            f"{first}=Auckland",
            "--location-warehouse",
            f"{second}=Wellington",
        ).stdout
    )
    assert added["platform"] == "tradegecko" and added["shop"]
    # The token is in the keyring file, nowhere in the data folder.
    assert tg.token in (tmp_path / "keyring.json").read_text()
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            assert tg.token.encode() not in path.read_bytes(), path
    listed = json.loads(cli("channel", "list", "--json").stdout)
    assert listed[0]["mapping"] == "id"  # variant ids, never SKUs
    cli("sync", "--once", "--channel", NAME)
    listings = json.loads(cli("mapping", "list", "--channel", NAME, "--json").stdout)
    honey = next(r for r in listings if r["sku"] == "HP-MH-250")
    assert honey["product_sku"] is None  # a SKU is only a suggestion: nothing auto-linked
    (tmp_path / "catalog.csv").write_text("sku,name,barcode,cost_price,on_hand\nHONEY-S,Honey,,,\n")
    cli("products", "import", str(tmp_path / "catalog.csv"))
    linked = cli(
        "mapping", "link", "--channel", NAME, "--listing", honey["listing"], "--sku", "HONEY-S"
    )
    assert "Linked" in linked.stdout
    cli("sync", "--once", "--channel", NAME)
    stock = json.loads(cli("stock", "--sku", "HONEY-S", "--json").stdout)
    variant = int(honey["listing"])
    expected = tg.stock(variant, first)[0] + tg.stock(variant, second)[0]
    assert stock[0]["on_hand"] == expected
    settings = json.loads(
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sqlite3,sys;print(sqlite3.connect(sys.argv[1]).execute("
                "'SELECT settings FROM channels').fetchone()[0])",
                str(next((tmp_path / "data").rglob("*.db"))),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert settings["stock_master"] is True and settings["export_orders"] is True
    assert settings["location_warehouses"] == {str(first): "Auckland", str(second): "Wellington"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--location-warehouse", "Auckland"), "is not LOCATION_ID=WAREHOUSE"),
        (("--location-warehouse", "12=Main"), "only matters with --stock-master"),
    ],
)
def test_bad_location_options_are_one_line(cli, tg, extra, message):
    proc = add(cli, tg, *extra, ok=False)
    assert proc.returncode == 2 and message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_mode_flags_are_refused_for_other_platforms(cli):
    proc = cli(
        "channel",
        "add",
        "sellar",
        "--name",
        "S",
        "--token-stdin",
        "--stock-master",
        stdin="SLR.x\n",
        ok=False,
    )
    assert proc.returncode == 2 and "only apply to TradeGecko" in proc.stderr


def test_sandbox_serve_tradegecko():
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "sandbox", "serve", "tradegecko", "--seed", "2"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("TradeGecko sandbox at http://127.0.0.1:") and "token " in line
        assert proc.stdout.readline().startswith("OAuth app: client id ")
    finally:
        proc.terminate()
        proc.wait(10)
