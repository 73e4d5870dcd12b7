"""Backups: consistent, checked copies; one a day, a week kept; failures said in words."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from app.store import backup
from app.store.db import Database


def _store(tmp_path: Path) -> Database:
    db = Database.in_dir(tmp_path / "data")
    db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    with db.transaction():
        db.conn.executemany("INSERT INTO notes (body) VALUES (?)", [(f"n{i}",) for i in range(500)])
    return db


def test_backup_is_a_checked_openable_copy(tmp_path):
    db = _store(tmp_path)
    made = backup.backup_to(db.conn, tmp_path / "out" / "copy")
    assert made.path == tmp_path / "out" / "copy.db" and made.size > 0
    copy = sqlite3.connect(made.path)
    assert copy.execute("SELECT COUNT(*) FROM notes").fetchone()[0] == 500
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    copy.close()
    assert not list((tmp_path / "out").glob(".*partial"))  # nothing half-written left


def test_backup_while_another_connection_writes_is_consistent(tmp_path):
    db = _store(tmp_path)
    writer = Database(db.path)
    stop = threading.Event()

    def write() -> None:
        n = 0
        while not stop.is_set() and n < 2_000:
            with writer.transaction():  # two rows per transaction: a copy holds both or neither
                writer.conn.execute("INSERT INTO notes (body) VALUES ('a')")
                writer.conn.execute("INSERT INTO notes (body) VALUES ('b')")
            n += 1

    thread = threading.Thread(target=write)
    thread.start()
    try:
        made = [backup.backup_to(db.conn, tmp_path / f"c{i}.db") for i in range(5)]
    finally:
        stop.set()
        thread.join(30)
        writer.close()
    for item in made:
        copy = sqlite3.connect(item.path)
        count = copy.execute("SELECT COUNT(*) FROM notes").fetchone()[0]
        copy.close()
        assert count >= 500 and (count - 500) % 2 == 0


def test_daily_backup_once_a_day_and_a_week_kept(tmp_path):
    db = _store(tmp_path)
    data_dir = tmp_path / "data"
    start = time.mktime((2026, 11, 1, 12, 0, 0, 0, 0, -1))
    for day in range(10):
        now = start + day * 86_400
        assert backup.daily_backup(db.conn, data_dir, now=now) is not None
        assert backup.daily_backup(db.conn, data_dir, now=now + 3_600) is None  # same day
    kept = backup.daily_backups(data_dir)
    assert [b.path.name for b in kept] == [
        f"stockbridge-2026-11-{d:02d}.db" for d in range(10, 3, -1)
    ]


def test_backups_the_merchant_asked_for_are_never_pruned(tmp_path):
    db = _store(tmp_path)
    data_dir = tmp_path / "data"
    asked = backup.backup_to(db.conn, backup.daily_dir(data_dir) / "stockbridge-asked-x.db")
    start = time.mktime((2026, 11, 1, 12, 0, 0, 0, 0, -1))
    for day in range(9):
        backup.daily_backup(db.conn, data_dir, now=start + day * 86_400)
    assert asked.path.exists()
    assert len(backup.daily_backups(data_dir)) == backup.KEEP_DAILY


def test_a_backup_that_cannot_be_written_says_where_and_leaves_nothing(tmp_path):
    db = _store(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(backup.BackupFailed, match="file"):
        backup.backup_to(db.conn, blocker / "copy.db")
    assert blocker.read_text() == "not a folder"


# -- restoring ------------------------------------------------------------------------
def _orders(db_or_conn) -> list[str]:
    conn = getattr(db_or_conn, "conn", db_or_conn)
    return [r[0] for r in conn.execute("SELECT external_id FROM orders ORDER BY external_id")]


def _add_order(db: Database, external_id: str) -> None:
    channel = db.conn.execute("SELECT id FROM channels LIMIT 1").fetchone()
    if channel is None:
        warehouse = db.conn.execute("SELECT id FROM warehouses LIMIT 1").fetchone()
        if warehouse is None:
            db.execute("INSERT INTO warehouses (name) VALUES ('Main')")
            warehouse = db.conn.execute("SELECT id FROM warehouses LIMIT 1").fetchone()
        db.execute(
            "INSERT INTO channels (name, platform, base_url, warehouse_id, created_at)"
            " VALUES ('Shop', 'selldone', 'http://127.0.0.1:1', ?, 0)",
            (warehouse[0],),
        )
        channel = db.conn.execute("SELECT id FROM channels LIMIT 1").fetchone()
    db.execute(
        "INSERT INTO orders (channel_id, external_id, number, status, payment_status,"
        " imported_at, updated_at) VALUES (?, ?, ?, 'new', 'unpaid', 0, 0)",
        (channel[0], external_id, external_id),
    )


def test_restore_brings_back_the_backup_and_keeps_a_safety_copy(tmp_path):
    db = Database.in_dir(tmp_path / "data")
    _add_order(db, "A1")
    saved = backup.backup_to(db.conn, tmp_path / "saved.db")
    _add_order(db, "B2")
    reader = Database(db.path)  # the window's connection stays open during a restore
    done = backup.restore_from(db.conn, saved.path, tmp_path / "data")
    assert _orders(db) == ["A1"] and _orders(reader) == ["A1"]
    assert done.orders == 1 and done.schema_after == done.schema_before
    safety = sqlite3.connect(done.safety_copy.path)
    assert _orders(safety) == ["A1", "B2"]  # the restore itself can be undone
    safety.close()
    assert db.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    reader.close()


def test_an_older_backup_is_migrated_on_restore(tmp_path):
    from app.store.db import latest_version, migrations

    old = sqlite3.connect(tmp_path / "old.db")
    for version, _name, sql in migrations()[:-1]:
        old.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;")
    old.close()
    db = Database.in_dir(tmp_path / "data")
    done = backup.restore_from(db.conn, tmp_path / "old.db", tmp_path / "data")
    assert done.schema_before == latest_version() - 1
    assert done.schema_after == latest_version()
    assert db.conn.execute("PRAGMA user_version").fetchone()[0] == latest_version()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "there is no file"),
        (b"hello, not a database at all" * 100, "not a Stockbridge backup"),
        ("other-sqlite", "not a Stockbridge backup"),
    ],
)
def test_restore_refuses_what_is_not_a_backup_and_changes_nothing(tmp_path, content, words):
    db = Database.in_dir(tmp_path / "data")
    _add_order(db, "KEEP")
    source = tmp_path / "candidate.db"
    if content == "other-sqlite":
        other = sqlite3.connect(source)
        other.execute("CREATE TABLE recipes (id INTEGER)")
        other.close()
    elif content is not None:
        source.write_bytes(content)
    with pytest.raises(backup.BackupFailed, match=words):
        backup.restore_from(db.conn, source, tmp_path / "data")
    assert _orders(db) == ["KEEP"]
    assert not backup.daily_dir(tmp_path / "data").exists()  # no safety copy needed


def test_restore_refuses_a_backup_from_a_newer_version(tmp_path):
    db = Database.in_dir(tmp_path / "data")
    newer = backup.backup_to(db.conn, tmp_path / "newer.db")
    conn = sqlite3.connect(newer.path)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    with pytest.raises(backup.BackupFailed, match="newer Stockbridge"):
        backup.restore_from(db.conn, newer.path, tmp_path / "data")
