"""Backups of the merchant's database: on request, and one a day kept for a week.

A copy is taken through SQLite's backup API, so it is consistent even while the engine
writes (WAL), and it is checked (``PRAGMA integrity_check``) before it counts: a copy
that fails the check is deleted and the failure reported, never left looking like a
good backup. Copies are written under a temporary name and renamed when complete, so a
crash mid-copy leaves no half file with a backup's name. The database holds no tokens
(they live in the OS keyring), so a backup can be kept anywhere the merchant likes.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

BACKUP_DIR = "backups"
DAILY_PREFIX = "stockbridge-"
SUFFIX = ".db"
KEEP_DAILY = 7


class BackupFailed(RuntimeError):
    """The copy could not be written or did not pass SQLite's integrity check."""


@dataclass(frozen=True, slots=True)
class Backup:
    path: Path
    size: int
    taken_at: float

    def as_dict(self) -> dict[str, object]:
        return {"path": str(self.path), "size": self.size, "taken_at": self.taken_at}


def backup_to(conn: sqlite3.Connection, target: Path) -> Backup:
    """Copy the live database to ``target`` (replaced if it exists) and check the copy."""
    target = Path(target)
    if target.suffix == "":
        target = target.with_suffix(SUFFIX)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupFailed(f"cannot create the folder {target.parent}: {exc.strerror}") from None
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        dest = sqlite3.connect(str(partial))
        try:
            conn.backup(dest)
            verdict = dest.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            dest.close()
        if verdict != "ok":
            raise BackupFailed(f"the copy failed SQLite's integrity check ({verdict})")
        os.replace(partial, target)
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupFailed(f"the database could not be copied to {target}: {exc}") from None
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise BackupFailed(f"could not write {target}: {exc.strerror or exc}") from None
    except BackupFailed:
        partial.unlink(missing_ok=True)
        raise
    stat = target.stat()
    return Backup(target, stat.st_size, stat.st_mtime)


def daily_dir(data_dir: Path) -> Path:
    return Path(data_dir) / BACKUP_DIR


def daily_backups(data_dir: Path) -> list[Backup]:
    """The automatic backups, newest first."""
    folder = daily_dir(data_dir)
    if not folder.is_dir():
        return []
    found = []
    # Only the daily names: backups the merchant asked for are never pruned.
    for path in folder.glob(f"{DAILY_PREFIX}????-??-??{SUFFIX}"):
        stat = path.stat()
        found.append(Backup(path, stat.st_size, stat.st_mtime))
    return sorted(found, key=lambda b: b.path.name, reverse=True)


def daily_backup(
    conn: sqlite3.Connection, data_dir: Path, *, now: float | None = None, keep: int = KEEP_DAILY
) -> Backup | None:
    """Today's automatic backup if there is none yet (None when there is); keeps ``keep``."""
    day = time.strftime("%Y-%m-%d", time.localtime(time.time() if now is None else now))
    target = daily_dir(data_dir) / f"{DAILY_PREFIX}{day}{SUFFIX}"
    if target.exists():
        return None
    made = backup_to(conn, target)
    for old in daily_backups(data_dir)[max(1, keep) :]:
        old.path.unlink(missing_ok=True)
    return made


@dataclass(frozen=True, slots=True)
class Restored:
    source: Path
    safety_copy: Backup
    orders: int
    schema_before: int
    schema_after: int

    def as_dict(self) -> dict[str, object]:
        return {
            "source": str(self.source),
            "safety_copy": str(self.safety_copy.path),
            "orders": self.orders,
            "schema_before": self.schema_before,
            "schema_after": self.schema_after,
        }


def inspect_backup(source: Path) -> tuple[int, int]:
    """(schema version, order count) of a backup file; BackupFailed if it is not one."""
    from app.store.db import latest_version

    source = Path(source)
    if not source.is_file():
        raise BackupFailed(f"there is no file {source}")
    try:
        conn = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupFailed(f"{source.name} cannot be opened: {exc}") from None
    try:
        verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if verdict != "ok":
            raise BackupFailed(f"{source.name} is damaged ({verdict}); choose another backup")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"orders", "stock_movements", "channels"} <= tables:
            raise BackupFailed(f"{source.name} is not a Stockbridge backup")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        orders = conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise BackupFailed(f"{source.name} is not a Stockbridge backup ({exc})") from None
    finally:
        conn.close()
    if version > latest_version():
        raise BackupFailed(
            f"{source.name} was made by a newer Stockbridge; update Stockbridge to restore it"
        )
    return version, orders


def restore_from(conn: sqlite3.Connection, source: Path, data_dir: Path) -> Restored:
    """Replace the live database's content with a backup's, after a safety copy.

    The backup is checked first (readable, intact, a Stockbridge database, not from a
    newer version). The current data is then copied to the backups folder, so a restore
    can itself be undone, and the backup is copied in through SQLite's backup API, which
    locks and rewrites the live file (WAL included) safely. An older backup is brought up
    to the current schema by the usual migrations.
    """
    from app.store.db import migrate

    source = Path(source)
    schema_before, orders = inspect_backup(source)
    stamp = time.strftime("%Y-%m-%d-%H%M%S")
    safety = backup_to(conn, daily_dir(data_dir) / f"stockbridge-before-restore-{stamp}{SUFFIX}")
    try:
        src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
        try:
            src.backup(conn)
        finally:
            src.close()
        schema_after = migrate(conn, None)
    except sqlite3.Error as exc:
        raise BackupFailed(
            f"the backup could not be restored ({exc}); your data before the attempt is in"
            f" {safety.path}"
        ) from None
    return Restored(source, safety, orders, schema_before, schema_after)
