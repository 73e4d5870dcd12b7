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
