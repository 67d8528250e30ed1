"""SQLite files that several worker processes open at once (``serve --workers N``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

SETUP_LOCK_TIMEOUT_S = 60.0


def set_up_wal(path: Path, create: Callable[[sqlite3.Connection], None]) -> None:
    """Puts the database at ``path`` in WAL mode and runs ``create`` (``CREATE TABLE IF
    NOT EXISTS``, adding missing columns) in one transaction, one process at a time.

    The workers start together on the same files. Switching to WAL takes a lock that
    SQLite does not wait for (a second worker got "database is locked" at once), and
    two workers that both found a column missing both added it: the second failed its
    start-up. A lock file beside the database (hidden, so backups skip it) orders them.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path.parent / f".{path.name}.lock"), timeout=SETUP_LOCK_TIMEOUT_S):
        # isolation_level None: Python opens no transaction of its own (it would not
        # around CREATE/ALTER), so the BEGIN below holds every statement of ``create``
        db = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")  # outside a transaction, as SQLite asks
            db.execute("BEGIN IMMEDIATE")
            try:
                create(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()
