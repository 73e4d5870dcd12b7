"""Opening the database: WAL, foreign keys, numbered migrations with a backup first."""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import sqlite_utils

log = logging.getLogger(__name__)

DB_FILENAME = "stockbridge.db"
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class SchemaTooNew(RuntimeError):
    """The file was written by a newer Stockbridge; refusing to touch it."""


def migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) for every bundled migration, in order."""
    found = []
    for entry in resources.files("app.store.migrations").iterdir():
        m = _MIGRATION_NAME.match(entry.name)
        if m:
            found.append((int(m.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    for expected, (version, name, _) in enumerate(found, start=1):
        if version != expected:
            raise RuntimeError(f"migration {name} is out of sequence (expected {expected:04d})")
    return found


def latest_version() -> int:
    return len(migrations())


def _connect(path: Path | str) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=NORMAL")
    # Checkpoint every 4,000 pages (16 MB of WAL) instead of 1,000: a bulk import
    # rewrites the same index pages commit after commit, and each checkpoint copies them
    # into the file and syncs it. Durability is the same (every commit is in the WAL).
    conn.execute("PRAGMA wal_autocheckpoint=4000")
    # Up to 16 MB of page cache (SQLite's default is 2 MB): an import writes up to a
    # thousand orders per transaction, and with the default the pages it changes spill
    # out of the cache before the commit and are written twice. Taken only as used.
    conn.execute("PRAGMA cache_size=-16384")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def backup_file(conn: sqlite3.Connection, path: Path, version: int) -> Path:
    """Copy the live database (WAL-safe, through SQLite's backup API) beside itself."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.v{version}-{stamp}.bak")
    dest = sqlite3.connect(str(target))
    try:
        conn.backup(dest)
    finally:
        dest.close()
    return target


def migrate(conn: sqlite3.Connection, path: Path | None) -> int:
    """Bring the schema up to date. Returns the version now in force."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    steps = migrations()
    if current > len(steps):
        raise SchemaTooNew(
            f"This data was written by a newer Stockbridge (schema {current}); "
            f"this version knows schema {len(steps)}. Please update Stockbridge."
        )
    pending = [s for s in steps if s[0] > current]
    if not pending:
        return current
    if current > 0 and path is not None:
        copy = backup_file(conn, path, current)
        log.info("backed up schema v%s to %s before migrating", current, copy.name)
    for version, name, sql in pending:
        # executescript commits any open transaction first; wrap each step ourselves so a
        # failed migration leaves the previous version intact.
        conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;")
        log.info("applied migration %s", name)
    return pending[-1][0]


class Checkpointer:
    """Copies committed WAL pages back into the database file, on its own thread.

    SQLite's automatic checkpoint runs inside a commit: every few thousand pages one
    commit also writes them all into the file and syncs it, a pause of a quarter of a
    second in the middle of an import. Here a thread with its own connection does it
    instead, every ``interval`` seconds while there is something to copy. PASSIVE: it
    never waits for the writer or a reader, and neither waits for it. The writer keeps
    the automatic checkpoint at a higher mark, in case this thread falls behind.
    """

    FALLBACK_PAGES = 16_000  # the writer's own checkpoint mark while this runs (64 MB)

    def __init__(self, path: Path, interval: float = 0.5) -> None:
        self.path = path
        self.interval = interval
        self.checkpoints = 0  # checkpoints that copied something
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        except sqlite3.Error:
            log.exception("the checkpoint thread could not open the database")
            return
        try:
            while not self._stop.wait(self.interval):
                try:
                    _busy, frames, copied = conn.execute(
                        "PRAGMA wal_checkpoint(PASSIVE)"
                    ).fetchone()
                except sqlite3.Error as exc:  # e.g. the file is being restored: next turn
                    log.debug("checkpoint skipped: %s", exc)
                    continue
                if copied > 0:
                    self.checkpoints += 1
        finally:
            conn.close()


class Database:
    """One SQLite file with one writer. Repositories borrow its connection."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path) if str(path) != ":memory:" else None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = _connect(path)
        self.conn.row_factory = sqlite3.Row
        self.schema_version = migrate(self.conn, self.path)
        self.utils = sqlite_utils.Database(self.conn)
        self._depth = 0
        self.checkpointer: Checkpointer | None = None

    @classmethod
    def in_dir(cls, data_dir: Path) -> Database:
        return cls(Path(data_dir) / DB_FILENAME)

    def start_checkpointer(self) -> None:
        """Move WAL checkpoints out of this connection's commits (see Checkpointer)."""
        if self.path is None or self.checkpointer is not None:
            return
        self.checkpointer = Checkpointer(self.path)
        self.checkpointer.start()
        self.conn.execute(f"PRAGMA wal_autocheckpoint={Checkpointer.FALLBACK_PAGES}")

    def close(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
            self.checkpointer = None
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, nestable (inner blocks join the outer one)."""
        if self._depth:
            self._depth += 1
            try:
                yield self.conn
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self.conn
        except BaseException:
            self._depth = 0
            self.conn.execute("ROLLBACK")
            raise
        self._depth = 0
        self.conn.execute("COMMIT")

    def execute(self, sql: str, params: tuple | dict = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def one(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        return self.conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: tuple | dict = ()):
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]
