"""`stockbridge backup`: a checked copy on request, the daily ones listed, errors in words."""

import sqlite3

from tests.e2e.test_cli import as_json


def test_backup_to_a_file_and_the_default_folder(cli, tmp_path):
    cli("stock", "--json")  # creates the data folder and database
    target = tmp_path / "usb" / "shop.db"
    made = as_json(cli("backup", str(target), "--json"))
    assert made["path"] == str(target) and made["size"] > 0
    conn = sqlite3.connect(target)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT COUNT(*) FROM warehouses").fetchone()[0] >= 1
    conn.close()
    text = cli("backup").stdout
    assert text.startswith("Backed up to ") and "backups" in text and "checked" in text
    # A backup the merchant asked for is not one of the pruned daily copies.
    assert "No automatic backups yet" in cli("backup", "--list").stdout
    assert as_json(cli("backup", "--list", "--json")) == []


def test_backup_that_cannot_be_written_fails_in_one_line(cli, tmp_path):
    blocker = tmp_path / "plain-file"
    blocker.write_text("x")
    proc = cli("backup", str(blocker / "copy.db"), ok=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("stockbridge: backup not made:") and "plain-file" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_restore_asks_first_then_brings_the_backup_back(cli, tmp_path):
    catalogue = tmp_path / "catalogue.csv"
    catalogue.write_text("sku,name,barcode,cost_price,on_hand\nMUG-1,Mug,,2.5,10\n")
    cli("products", "import", str(catalogue))
    saved = tmp_path / "before.db"
    cli("backup", str(saved))
    cli("stock", "adjust", "--sku", "MUG-1", "--by", "-4", "--reason", "Broken or damaged")
    assert as_json(cli("stock", "--sku", "MUG-1", "--json"))[0]["on_hand"] == 6

    asked = cli("restore", str(saved), ok=False)
    assert asked.returncode == 2 and "--yes" in asked.stderr
    assert as_json(cli("stock", "--sku", "MUG-1", "--json"))[0]["on_hand"] == 6  # untouched

    done = as_json(cli("restore", str(saved), "--yes", "--json"))
    assert done["source"] == str(saved) and "before-restore" in done["safety_copy"]
    assert as_json(cli("stock", "--sku", "MUG-1", "--json"))[0]["on_hand"] == 10

    junk = tmp_path / "junk.db"
    junk.write_text("nothing here")
    refused = cli("restore", str(junk), "--yes", ok=False)
    assert refused.returncode == 1 and "not a Stockbridge backup" in refused.stderr
