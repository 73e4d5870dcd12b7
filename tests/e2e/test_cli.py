"""The headless CLI end to end, in subprocesses, against the Selldone sandbox."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.channels.selldone.sandbox import SelldoneSandbox

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def box():
    sandbox = SelldoneSandbox(seed=3)
    sandbox.start()
    yield sandbox
    sandbox.stop()


def as_json(proc):
    return json.loads(proc.stdout)


def test_whole_flow(cli, box, tmp_path):
    add = cli(
        "channel",
        "add",
        "selldone",
        "--name",
        "Web shop",
        "--shop-id",
        str(box.shop_id),
        "--base-url",
        box.base_url,
        "--token-stdin",
        "--json",
        stdin=box.token + "\n",
    )
    assert as_json(add)["name"] == "Web shop"
    # the token is in the keyring, and nowhere in the data folder or the log
    assert box.token in (tmp_path / "keyring.json").read_text()
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            assert box.token.encode() not in path.read_bytes(), path

    catalog = tmp_path / "catalog.csv"
    catalog.write_text(
        "sku;name;barcode;cost_price;on_hand\nSPARE-1;Spare part;;2,50;4\n;bad;;;\n",
        encoding="utf-8-sig",
    )
    dry = cli("products", "import", str(catalog), "--dry-run", "--json", ok=False)
    assert dry.returncode == 3 and as_json(dry)["refused"][0]["line"] == 3
    assert as_json(cli("stock", "--json")) == []

    first = as_json(cli("sync", "--once", "--json"))
    assert first[0]["ok"] and first[0]["orders_created"] > 0
    adopt = as_json(cli("products", "adopt", "--channel", "Web shop", "--json"))
    assert adopt["created"] > 0 and adopt["released"] > 0
    cli("sync", "--once")

    orders = as_json(cli("orders", "--json"))
    assert {
        "channel",
        "external_id",
        "status",
        "payment_status",
        "total",
        "currency",
        "lines",
    } <= set(orders[0])
    assert {"sku", "quantity", "mapped"} <= set(orders[0]["lines"][0])
    stock = as_json(cli("stock", "--json"))
    assert {"sku", "on_hand", "committed", "available"} <= set(stock[0])
    status = as_json(cli("status", "--json"))
    assert (
        status[0]["channel"] == "Web shop"
        and "queued_pushes" in status[0]
        and "last_sync" in status[0]
    )

    new = next(
        o
        for o in as_json(cli("orders", "--status", "requested", "--json"))
        if not o["needs_mapping"]
    )
    sku = new["lines"][0]["sku"]
    before = as_json(cli("stock", "--sku", sku, "--json"))[0]
    done = as_json(
        cli(
            "order",
            "dispatch",
            new["number"],
            "--tracking-code",
            "JJD000390007",
            "--tracking-url",
            "https://track.example/JJD000390007",
            "--json",
        )
    )
    assert done["status"] == "dispatched"
    after = as_json(cli("stock", "--sku", sku, "--json"))[0]
    assert after["on_hand"] == before["on_hand"] - new["lines"][0]["quantity"]
    assert as_json(cli("status", "--json"))[0]["queued_pushes"] >= 1
    cli("sync", "--once")
    assert box.orders[int(new["external_id"])]["delivery_state"] == "SentOrder"
    assert as_json(cli("status", "--json"))[0]["queued_pushes"] == 0

    adjusted = as_json(
        cli("stock", "adjust", "--sku", sku, "--by", "-1", "--reason", "broken in store", "--json")
    )
    assert adjusted[0]["on_hand"] == after["on_hand"] - 1
    counted = as_json(cli("stock", "count", "--sku", sku, "--on-hand", "40", "--json"))
    assert counted[0]["on_hand"] == 40

    log_text = "".join(p.read_text() for p in (tmp_path / "data" / "logs").glob("*.log*"))
    assert box.token not in log_text


@pytest.mark.parametrize(
    "args, message",
    [
        (("sync", "--once", "--channel", "Nope"), "No channel named 'Nope'"),
        (("order", "confirm", "SM-1"), "No order 'SM-1'"),
        (
            ("stock", "adjust", "--sku", "X", "--by", "1", "--reason", "r"),
            "No product with SKU 'X'",
        ),
        (("products", "import", "missing.csv"), "No file at missing.csv"),
    ],
)
def test_user_errors_are_one_line(cli, args, message):
    proc = cli(*args, ok=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_token_and_unreachable_url(cli, box):
    bad = cli(
        "channel",
        "add",
        "selldone",
        "--name",
        "Shop",
        "--shop-id",
        str(box.shop_id),
        "--base-url",
        box.base_url,
        "--token-stdin",
        stdin="not-a-token\n",
        ok=False,
    )
    assert bad.returncode == 2 and "token" in bad.stderr.lower() and "Traceback" not in bad.stderr
    gone = cli(
        "channel",
        "add",
        "selldone",
        "--name",
        "Shop",
        "--shop-id",
        "1",
        "--base-url",
        "http://127.0.0.1:9",
        "--token-stdin",
        stdin="abcdefgh\n",
        ok=False,
    )
    assert gone.returncode == 2 and "reach" in gone.stderr.lower()
    assert as_json(cli("channel", "list", "--json")) == []


def test_missing_keyring_backend_is_named(cli, box):
    env_backup = dict(cli.env)
    cli.env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    try:
        proc = cli(
            "channel",
            "add",
            "selldone",
            "--name",
            "Shop",
            "--shop-id",
            str(box.shop_id),
            "--base-url",
            box.base_url,
            "--token-stdin",
            stdin=box.token + "\n",
            ok=False,
        )
    finally:
        cli.env.clear()
        cli.env.update(env_backup)
    assert proc.returncode == 2
    assert "keyring" in proc.stderr.lower() and box.token not in proc.stderr


def test_headless_demo(cli, tmp_path):
    proc = cli("demo", "--headless", "--json", "--data-dir", str(tmp_path / "demo"))
    result = as_json(proc)
    assert result["first_sync"]["orders_created"] > 0
    buyer = result["buyer_order"]
    assert buyer["available_after"] == buyer["available_before"] - 2
    assert buyer["shop_quantity_after_push"] == max(buyer["available_after"], 0)


def test_sellar_headless(cli):
    from app.channels.sellar.sandbox import SellarSandbox

    with SellarSandbox(seed=2) as box:
        add = cli(
            "channel",
            "add",
            "sellar",
            "--name",
            "Brewery",
            "--base-url",
            box.base_url,
            "--token-stdin",
            "--json",
            stdin=box.token + "\n",
        )
        assert as_json(add)["platform"] == "sellar"
        first = as_json(cli("sync", "--once", "--json"))
        assert first[0]["ok"] and first[0]["orders_created"] > 0
        cli("products", "adopt", "--channel", "Brewery")
        cli("sync", "--once")
        new = [o for o in as_json(cli("orders", "--status", "requested", "--json"))]
        assert new and all(o["invoice_number"] for o in new if not o["needs_mapping"])
        refused = cli("order", "confirm", new[0]["number"], ok=False)
        assert refused.returncode == 2 and "confirmed in Sellar itself" in refused.stderr


def test_sandbox_serve_prints_where_it_listens(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "sandbox", "serve", "sellar", "--seed", "3"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("Sellar sandbox at http://127.0.0.1:") and "token SLR." in line
    finally:
        proc.terminate()
        proc.wait(10)
