"""`stockbridge mapping …` and `stockbridge customers …` end to end, in subprocesses,
against the Selldone sandbox: export a template, fill it, preview, import, undo, ignore,
customers linked and created, and one-line errors."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest

from tests.e2e.test_cli import as_json, box  # noqa: F401 - the sandbox fixture

CHANNEL = "Web shop"


def rows_of(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def write_rows(path: Path, rows: list[dict[str, str]], extra_lines: str = "") -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue() + extra_lines, encoding="utf-8")


def held(cli) -> list[str]:
    return [o["number"] for o in as_json(cli("orders", "--status", "needs_mapping", "--json"))]


@pytest.fixture
def shop(cli, box, tmp_path):  # noqa: F811 - the sandbox fixture
    """A Selldone channel mapped by listing id, synced once: every order waits for products."""
    cli(
        "channel",
        "add",
        "selldone",
        "--name",
        CHANNEL,
        "--shop-id",
        str(box.shop_id),
        "--base-url",
        box.base_url,
        "--mapping",
        "id",
        "--token-stdin",
        stdin=box.token + "\n",
    )
    assert as_json(cli("sync", "--once", "--json"))[0]["ok"]
    return cli


def test_template_preview_import_and_undo(shop, tmp_path):
    cli = shop  # the fixture, by the name the steps read well with
    waiting = held(cli)
    assert waiting
    # Listings read by the first sync are the catalogue, not news.
    assert cli("mapping", "new", "--channel", CHANNEL).stdout.strip() == (
        "No new listings wait for a product."
    )
    template = tmp_path / "to fill.csv"
    wrote = as_json(
        cli(
            "mapping",
            "export",
            "--channel",
            CHANNEL,
            str(template),
            "--unmapped-template",
            "--json",
        )
    )
    listings = as_json(cli("mapping", "list", "--channel", CHANNEL, "--json"))
    rows = rows_of(template)
    assert wrote["rows"] == len(rows) == len(listings) > 3
    assert all(r["state"] == "not linked" and r["product_sku"] == "" for r in rows)

    # Local products for the listings with a SKU, then the template filled in.
    with_sku = [r for r in rows if r["listing_sku"]]
    catalog = tmp_path / "catalog.csv"
    catalog.write_text(
        "sku,name,barcode,cost_price,on_hand\n"
        + "".join(
            f"{sku},{name.replace(',', ' ')},,1,50\n"
            for sku, name in {r["listing_sku"]: r["listing_name"] for r in with_sku}.items()
        ),
        encoding="utf-8",
    )
    cli("products", "import", str(catalog))
    for r in with_sku:
        r["product_sku"] = r["listing_sku"]
    rows[-1]["product_sku"] = "NOPE-404"  # no such product
    write_rows(
        template,
        rows,
        # the first listing twice, and a row with too many fields
        f"{CHANNEL},{rows[0]['listing']},,,,,{rows[0]['listing_sku']},,,\n{CHANNEL},x,,,,,,,,,,extra\n",
    )
    first_extra = len(rows) + 2  # header is line 1

    preview = cli("mapping", "import", "--channel", CHANNEL, str(template), "--preview", ok=False)
    assert preview.returncode == 3
    assert "Would change" in preview.stdout
    assert f"refused line {len(rows) + 1}: no product has SKU NOPE-404" in preview.stdout
    refused = {
        p["line"]: p["reason"]
        for p in as_json(
            cli(
                "mapping",
                "import",
                "--channel",
                CHANNEL,
                str(template),
                "--preview",
                "--json",
                ok=False,
            )
        )["refused"]
    }
    assert set(refused) >= {len(rows) + 1, first_extra, first_extra + 1}
    assert refused[first_extra] == f"listing {rows[0]['listing']} already appears on line 2"
    assert "fields" in refused[first_extra + 1]
    assert all(
        r["product_sku"] is None
        for r in as_json(cli("mapping", "list", "--channel", CHANNEL, "--json"))
    )

    applied = cli("mapping", "import", "--channel", CHANNEL, str(template), "--json", ok=False)
    assert applied.returncode == 3
    result = as_json(applied)
    assert result["batch"] and len(result["changes"]) >= len(with_sku) - 1
    linked = [
        r
        for r in as_json(cli("mapping", "list", "--channel", CHANNEL, "--json"))
        if r["product_sku"]
    ]
    assert len(linked) == len(result["changes"])
    assert len(held(cli)) == len(waiting) - result["released"]

    history = as_json(cli("mapping", "history", "--json"))
    assert [(h["batch"], h["source"]) for h in history] == [(result["batch"], "csv")]
    assert history[0]["created_at"].endswith("Z") and history[0]["undone_at"] is None
    assert history[0]["summary"] in cli("mapping", "history", "--channel", CHANNEL).stdout
    undone = as_json(cli("mapping", "undo", "--json"))
    assert undone["unlinked"] == len(linked) and "Unlinked" in undone["text"]
    assert held(cli) == waiting
    assert all(
        r["product_sku"] is None
        for r in as_json(cli("mapping", "list", "--channel", CHANNEL, "--json"))
    )
    again = cli("mapping", "undo", "--batch", str(result["batch"]), ok=False)
    assert (
        again.returncode == 2
        and again.stderr.strip() == "stockbridge: That change was undone already."
    )


def test_ignore_unlink_and_mode(shop, box):  # noqa: F811 - the sandbox fixture
    cli = shop  # the fixture, by the name the steps read well with
    waiting = held(cli)
    listings = as_json(cli("mapping", "list", "--channel", CHANNEL, "--json"))
    every = [arg for r in listings for arg in ("--listing", r["listing"])]
    # Ignoring every listing: no order waits for anything any more.
    ignored = as_json(cli("mapping", "ignore", "--channel", CHANNEL, *every, "--json"))
    assert ignored["ignored"] == len(listings) and ignored["released"] == len(waiting)
    assert held(cli) == []
    stopped = as_json(cli("mapping", "ignore", "--channel", CHANNEL, *every, "--stop", "--json"))
    assert stopped["unignored"] == len(listings) and stopped["reheld"] == len(waiting)
    assert sorted(held(cli)) == sorted(waiting)

    one = next(r for r in listings if r["sku"])
    cli("products", "import", _catalog(shop, one["sku"]))
    cli("mapping", "link", "--channel", CHANNEL, "--listing", one["listing"], "--sku", one["sku"])
    text = cli("mapping", "unlink", "--channel", CHANNEL, "--listing", one["listing"]).stdout
    assert text.startswith("Unlinked 1 listing.")

    assert "links listings by SKU" in cli("mapping", "mode", "--channel", CHANNEL, "sku").stdout
    assert as_json(cli("channel", "list", "--json"))[0]["mapping"] == "sku"

    # A product the shop adds after set-up is a new listing waiting for a product.
    first = next(iter(box.products.values()))
    box.products[99001] = dict(first, id=99001, sku="NEW-GAITER", title="Neck gaiter v2")
    # The catalogue is read again every few hours; make this sync read it now.
    db = sqlite3.connect(Path(cli.home) / "data" / "stockbridge.db")
    with db:
        db.execute("DELETE FROM sync_cursors WHERE resource = 'listings'")
    db.close()
    cli("sync", "--once")
    new = as_json(cli("mapping", "new", "--channel", CHANNEL, "--json"))
    assert [(n["listing"], n["sku"]) for n in new] == [("99001", "NEW-GAITER")]
    assert new[0]["first_seen"].endswith("Z")
    cli("mapping", "ignore", "--channel", CHANNEL, "--listing", "99001")
    assert as_json(cli("mapping", "new", "--json")) == []


def _catalog(cli, sku: str) -> str:
    path = Path(cli.home) / "one.csv"
    path.write_text(f"sku,name,barcode,cost_price,on_hand\n{sku},One,,1,5\n", encoding="utf-8")
    return str(path)


def test_customers_list_link_create_and_csv(shop, tmp_path):
    cli = shop  # the fixture, by the name the steps read well with
    buyers = as_json(cli("customers", "list", "--unmapped", "--json"))
    assert len(buyers) > 2 and all(b["customer_id"] is None for b in buyers)
    order = as_json(cli("orders", "--json"))[0]
    created = as_json(cli("customers", "create", "--from-order", order["number"], "--json"))
    assert created["created"] == 1 and created["linked"] == 1
    customer = created["customer_ids"][0]
    left = as_json(cli("customers", "list", "--unmapped", "--json"))
    assert len(left) == len(buyers) - 1
    other = left[0]["ref"]
    text = cli(
        "customers", "link", "--channel", CHANNEL, "--ref", other, "--customer", str(customer)
    ).stdout
    assert "Linked 1 buyer" in text

    exported = tmp_path / "buyers.csv"
    wrote = as_json(cli("customers", "export", str(exported), "--json"))
    rows = rows_of(exported)
    assert wrote["rows"] == len(rows) == len(buyers)
    same = as_json(cli("customers", "import", str(exported), "--preview", "--json"))
    assert same["changes"] == [] and same["unchanged"] == len(rows) and same["refused"] == []
    linked_rows = [r for r in rows if r["customer_id"]]
    assert len(linked_rows) == 2
    linked_rows[0].update(action="unlink", customer_id="", customer_name="", customer_email="")
    rows.append(dict(rows[0], customer_ref="email:nobody@example.invalid", action=""))
    write_rows(exported, rows)
    applied = cli("customers", "import", str(exported), "--channel", CHANNEL, ok=False)
    assert applied.returncode == 3
    assert f"refused line {len(rows) + 1}: no orders from customer" in applied.stdout
    assert "Unlinked 1 buyer." in applied.stdout
    assert len(as_json(cli("customers", "list", "--unmapped", "--json"))) == len(buyers) - 1


@pytest.mark.parametrize(
    "args, message",
    [
        (("mapping", "import", "--channel", CHANNEL, "missing.csv"), "No file at missing.csv"),
        (("mapping", "undo", "--batch", "999"), "There is no mapping change 999."),
        (("mapping", "undo"), "There is no mapping change to undo."),
        (
            ("mapping", "ignore", "--channel", CHANNEL, "--listing", "NOPE"),
            f"{CHANNEL} has no listing 'NOPE'",
        ),
        (("mapping", "mode", "--channel", "Nope", "id"), "No channel named 'Nope'"),
        (
            ("customers", "link", "--channel", CHANNEL, "--ref", "user:nobody", "--customer", "1"),
            "has sent no orders from customer user:nobody",
        ),
        (("customers", "create", "--from-order", "NOPE-1"), "No order 'NOPE-1'"),
    ],
)
def test_mapping_errors_are_one_line(shop, args, message):
    proc = shop(*args, ok=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_file_that_is_not_a_mapping_file_is_named(shop, tmp_path):
    bad = tmp_path / "photo.csv"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not text")
    proc = shop("mapping", "import", "--channel", CHANNEL, str(bad), ok=False)
    assert proc.returncode == 2 and "not UTF-8 text" in proc.stderr
    other = tmp_path / "other.csv"
    other.write_text("sku,name\nA,B\n", encoding="utf-8")
    proc = shop("customers", "import", str(other), ok=False)
    assert proc.returncode == 2 and "This is not a" in proc.stderr
    assert json.loads(shop("mapping", "history", "--json").stdout) == []
