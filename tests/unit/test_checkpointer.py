"""The WAL is copied back into the database file by its own thread, not inside commits."""

import threading
import time

from app.store.db import Checkpointer, Database


def _wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _write(db: Database, rows: int) -> None:
    with db.transaction() as conn:
        conn.executemany(
            "INSERT INTO order_events_scratch (body) VALUES (?)", [("x" * 3000,)] * rows
        )


def test_committed_pages_reach_the_file_without_a_checkpoint_in_any_commit(tmp_path):
    db = Database(tmp_path / "stockbridge.db")
    db.execute("CREATE TABLE order_events_scratch (id INTEGER PRIMARY KEY, body TEXT)")
    db.start_checkpointer()
    assert db.scalar("PRAGMA wal_autocheckpoint") == Checkpointer.FALLBACK_PAGES
    db.checkpointer.interval = 0.05
    for _ in range(5):
        _write(db, 200)
    assert _wait_for(lambda: db.checkpointer.checkpoints > 0)
    # Everything committed so far is in the file: a passive checkpoint finds nothing left.
    assert _wait_for(lambda: (lambda r: r[1] == r[2])(db.one("PRAGMA wal_checkpoint(PASSIVE)")))
    thread = db.checkpointer._thread
    db.close()
    assert not thread.is_alive()
    reopened = Database(tmp_path / "stockbridge.db")
    assert reopened.scalar("SELECT COUNT(*) FROM order_events_scratch") == 1000
    reopened.close()


def test_without_the_thread_sqlite_checkpoints_as_usual(tmp_path):
    db = Database(tmp_path / "stockbridge.db")
    assert db.scalar("PRAGMA wal_autocheckpoint") == 4000
    assert db.checkpointer is None
    db.close()


def test_every_hub_copies_its_wal_on_its_own_thread(tmp_path):
    from app.hub import Hub

    hub = Hub(tmp_path)
    try:
        names = {t.name for t in threading.enumerate()}
        assert "sqlite-checkpoint" in names
    finally:
        hub.close()
    assert hub.db.checkpointer is None
