"""`stockbridge backup`: a checked copy on request, the daily ones listed, errors in words."""

import sqlite3

from tests.e2e.test_cli import as_json, cli  # noqa: F401 - the fixture


def test_backup_to_a_file_and_the_default_folder(cli, tmp_path):  # noqa: F811
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


def test_backup_that_cannot_be_written_fails_in_one_line(cli, tmp_path):  # noqa: F811
    blocker = tmp_path / "plain-file"
    blocker.write_text("x")
    proc = cli("backup", str(blocker / "copy.db"), ok=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("stockbridge: backup not made:") and "plain-file" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
