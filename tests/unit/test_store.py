"""Schema versioning, WAL, backups before migrating, ledger consistency."""

import sqlite3

import pytest

from app.store import db as dbmod
from app.store.catalog import Catalog
from app.store.db import Database, SchemaTooNew
from app.store.ledger import Ledger


def test_new_database_is_wal_with_foreign_keys_and_latest_schema(tmp_path):
    database = Database(tmp_path / "a.db")
    assert database.scalar("PRAGMA journal_mode") == "wal"
    assert database.scalar("PRAGMA foreign_keys") == 1
    assert database.schema_version == dbmod.latest_version()
    with pytest.raises(sqlite3.IntegrityError):
        database.execute(
            "INSERT INTO stock_movements (product_id, warehouse_id, reason, created_at)"
            " VALUES (999, 1, 'x', 0)"
        )
    database.close()


def test_migration_backs_up_the_file_first(tmp_path, monkeypatch):
    path = tmp_path / "stockbridge.db"
    database = Database(path)
    Catalog(database).add_product("A", "A")
    database.close()
    original = dbmod.migrations()
    extra = (
        len(original) + 1,
        f"{len(original) + 1:04d}_test.sql",
        "CREATE TABLE extra (x INTEGER);",
    )
    monkeypatch.setattr(dbmod, "migrations", lambda: [*original, extra])
    database = Database(path)
    assert database.schema_version == len(original) + 1
    backups = list(tmp_path.glob(f"stockbridge.db.v{len(original)}-*.bak"))
    assert len(backups) == 1
    old = sqlite3.connect(backups[0])
    assert old.execute("PRAGMA user_version").fetchone()[0] == len(original)
    assert old.execute("SELECT sku FROM products").fetchall() == [("A",)]
    old.close()
    database.close()


def test_failed_migration_leaves_previous_version(tmp_path, monkeypatch):
    path = tmp_path / "stockbridge.db"
    Database(path).close()
    original = dbmod.migrations()
    bad = (len(original) + 1, "0002_bad.sql", "CREATE TABLE ok (x INTEGER); THIS IS NOT SQL;")
    monkeypatch.setattr(dbmod, "migrations", lambda: [*original, bad])
    with pytest.raises(sqlite3.OperationalError):
        Database(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(original)
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'ok'").fetchone() is None
    conn.close()


def test_refuses_a_newer_schema(tmp_path):
    path = tmp_path / "stockbridge.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(SchemaTooNew, match="newer Stockbridge"):
        Database(path)


def test_running_totals_match_the_ledger(db):
    catalog = Catalog(db)
    p = catalog.add_product("A", "A")
    ledger = Ledger(db)
    ledger.record(p.id, 1, on_hand=5, reason="count")
    ledger.record(p.id, 1, committed=2, reason="order")
    ledger.set_on_hand(p.id, 1, 3, reason="count")
    assert ledger.verify() == []
    assert (ledger.level(p.id).on_hand, ledger.level(p.id).committed) == (3, 2)
    db.execute("UPDATE stock_levels SET on_hand = 100")
    assert ledger.verify()
    ledger.rebuild_totals()
    assert ledger.verify() == []


def test_a_version_1_file_is_upgraded_with_a_backup(tmp_path, monkeypatch):
    path = tmp_path / "stockbridge.db"
    every = dbmod.migrations()
    monkeypatch.setattr(dbmod, "migrations", lambda: every[:1])
    Database(path).close()
    monkeypatch.setattr(dbmod, "migrations", lambda: every)
    database = Database(path)
    assert database.schema_version == len(every) > 1
    assert len(list(tmp_path.glob("stockbridge.db.v1-*.bak"))) == 1
    names = {r[0] for r in database.all("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "orders_held_by_channel" in names
    database.close()
