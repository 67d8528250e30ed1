"""Ratings and item metadata: reading CSV files line by line, and keeping what was
read in a SQLite file (stdlib) until a model is trained on the whole set.

A ratings file is ``user,item,rating[,timestamp]`` (a header row naming those
columns is optional; ``,``, tab, ``;`` and ``|`` separate). An item metadata file
has a header with ``item`` and ``title`` columns; other columns are kept as extras.
Each bad line becomes a ``ReadFailure`` labelled ``file:line``; the good lines load
in records of up to ``LINES_PER_RECORD`` lines labelled ``file:first-last``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from findalike.core.app import ReadFailure, Record, content_id
from findalike.errors import InvalidInput

MAX_ABS_RATING = 1e6
"""Ratings (loaded or folded in) lie in -1e6..1e6: ALS turns a rating into a float32
confidence ``1 + alpha * rating``, and one rating near float32's limit (~3.4e38)
overflows it and poisons every factor with NaN."""

MAX_ID_CHARS = 128
"""Longest user or item id (Milvus row ids are ``{item}:0`` of at most 160 bytes)."""

LINES_PER_RECORD = 1000
"""Good lines kept together as one load record (the job counts these)."""

USER_COLUMNS = ("user", "user_id", "userid", "uid")
ITEM_COLUMNS = ("item", "item_id", "itemid", "movie", "movie_id", "movieid", "iid")
RATING_COLUMNS = ("rating", "score", "value", "y")
TIME_COLUMNS = ("timestamp", "ts", "time", "date")
TITLE_COLUMNS = ("title", "name")


@dataclass(frozen=True)
class Rating:
    user: str
    item: str
    rating: float
    timestamp: float | None


@dataclass(frozen=True)
class ItemInfo:
    item: str
    title: str
    extra: dict[str, str]


@dataclass
class RatingsTable:
    """Every rating as parallel arrays (``users``/``items`` of str, ``ratings`` and
    ``timestamps`` float64; a missing timestamp is NaN)."""

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray
    timestamps: np.ndarray

    def __len__(self) -> int:
        return len(self.ratings)

    @classmethod
    def from_ratings(cls, ratings: Sequence[Rating]) -> RatingsTable:
        return cls(
            users=np.array([r.user for r in ratings], dtype=object),
            items=np.array([r.item for r in ratings], dtype=object),
            ratings=np.array([r.rating for r in ratings], dtype=np.float64),
            timestamps=np.array(
                [math.nan if r.timestamp is None else r.timestamp for r in ratings],
                dtype=np.float64,
            ),
        )


# -- reading ------------------------------------------------------------------


def read_csv(name: str, data: bytes) -> Iterator[Record | ReadFailure]:
    """Records of one ratings or item-metadata file. Raises ``InvalidInput`` for a
    file that cannot be read at all (not UTF-8, unknown header)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{name} is not UTF-8 text ({exc.reason} at byte {exc.start}).") from exc
    lines = text.splitlines()
    if not lines:
        return
    rows = csv.reader(io.StringIO(text), delimiter=_delimiter(lines[0]))
    first = next(rows, None)
    if first is None:
        return
    header = [c.strip().lower() for c in first]
    if _pick(header, TITLE_COLUMNS) is not None:
        yield from _item_records(name, header, rows)
    elif _pick(header, USER_COLUMNS) is not None or _pick(header, RATING_COLUMNS) is not None:
        yield from _rating_records(name, _rating_columns(name, header), rows)
    else:  # no header: the first row is data
        yield from _rating_records(name, (0, 1, 2, 3), _chain([first], rows), first_line=1)


def _chain(head: list[list[str]], rest: Iterator[list[str]]) -> Iterator[list[str]]:
    yield from head
    yield from rest


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _pick(header: Sequence[str], names: Sequence[str]) -> int | None:
    for n in names:
        if n in header:
            return header.index(n)
    return None


def _rating_columns(name: str, header: list[str]) -> tuple[int, int, int, int | None]:
    user, item, rating = (
        _pick(header, USER_COLUMNS),
        _pick(header, ITEM_COLUMNS),
        _pick(header, RATING_COLUMNS),
    )
    if user is None or item is None or rating is None:
        raise InvalidInput(
            f"{name}: a ratings header needs user, item and rating columns; found "
            f"{', '.join(header)}. Item metadata needs item and title columns."
        )
    return user, item, rating, _pick(header, TIME_COLUMNS)


def _rating_records(
    name: str,
    columns: tuple[int, int, int, int | None],
    rows: Iterator[list[str]],
    first_line: int = 2,
) -> Iterator[Record | ReadFailure]:
    chunk = _Chunk(name)
    for line, row in enumerate(rows, start=first_line):
        if not row or all(not c.strip() for c in row):
            continue
        try:
            chunk.add(line, _parse_rating(row, columns))
        except ValueError as exc:
            yield ReadFailure(f"{name}:{line}", str(exc))
            continue
        if chunk.full:
            yield chunk.record()
            chunk = _Chunk(name)
    if chunk.entries:
        yield chunk.record()


class _Chunk:
    """Consecutive good lines of one file, stored together as one record (one
    record per line would cost a store round trip per 64 ratings)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.first_line = 0
        self.last_line = 0
        self.entries: list[Rating | ItemInfo] = []

    @property
    def full(self) -> bool:
        return len(self.entries) >= LINES_PER_RECORD

    def add(self, line: int, entry: Rating | ItemInfo) -> None:
        self.first_line = self.first_line or line
        self.last_line = line
        self.entries.append(entry)

    def record(self) -> Record:
        digest = json.dumps([e.__dict__ for e in self.entries], sort_keys=True)
        return Record(
            item_id=content_id("ratings-chunk", digest),
            payload=self.entries,
            fields={},
            label=f"{self.name}:{self.first_line}-{self.last_line}",
        )


def _parse_rating(row: list[str], columns: tuple[int, int, int, int | None]) -> Rating:
    user_col, item_col, rating_col, time_col = columns
    needed = max(user_col, item_col, rating_col) + 1
    if len(row) < needed:
        raise ValueError(f"expected at least {needed} columns (user,item,rating), got {len(row)}")
    user = _identifier(row[user_col], "user")
    item = _identifier(row[item_col], "item")
    rating = _number(row[rating_col], "rating")
    if abs(rating) > MAX_ABS_RATING:
        raise ValueError(
            f"rating {row[rating_col].strip()!r} is outside -{MAX_ABS_RATING:g}..{MAX_ABS_RATING:g}"
        )
    timestamp = None
    if time_col is not None and time_col < len(row) and row[time_col].strip():
        timestamp = _number(row[time_col], "timestamp")
    return Rating(user, item, rating, timestamp)


def _item_records(
    name: str, header: list[str], rows: Iterator[list[str]]
) -> Iterator[Record | ReadFailure]:
    item_col, title_col = _pick(header, ITEM_COLUMNS), _pick(header, TITLE_COLUMNS)
    if item_col is None or title_col is None:
        raise InvalidInput(f"{name}: item metadata needs item and title columns.")
    chunk = _Chunk(name)
    for line, row in enumerate(rows, start=2):
        label = f"{name}:{line}"
        if not row or all(not c.strip() for c in row):
            continue
        try:
            if len(row) <= max(item_col, title_col):
                raise ValueError(f"expected {len(header)} columns, got {len(row)}")
            item = _identifier(row[item_col], "item")
            title = row[title_col].strip()[:500] or item
        except ValueError as exc:
            yield ReadFailure(label, str(exc))
            continue
        extra = {
            h: v.strip()
            for n, (h, v) in enumerate(zip(header, row, strict=False))
            if n not in (item_col, title_col) and h
        }
        chunk.add(line, ItemInfo(item, title, extra))
        if chunk.full:
            yield chunk.record()
            chunk = _Chunk(name)
    if chunk.entries:
        yield chunk.record()


def _identifier(value: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError(f"empty {what} id")
    if len(value) > MAX_ID_CHARS:
        raise ValueError(f"{what} id longer than {MAX_ID_CHARS} characters")
    return value


def _number(value: str, what: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise ValueError(f"{what} {value.strip()!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} {value.strip()!r} is not a finite number")
    return number


# -- keeping ------------------------------------------------------------------


def create_schema(db: sqlite3.Connection) -> None:
    db.execute(
        "CREATE TABLE IF NOT EXISTS ratings (user TEXT NOT NULL, item TEXT NOT NULL, "
        "rating REAL NOT NULL, ts REAL, PRIMARY KEY (user, item))"
    )
    db.execute(
        "CREATE TABLE IF NOT EXISTS items (item TEXT PRIMARY KEY, title TEXT NOT NULL, "
        "extra TEXT NOT NULL)"
    )


class RatingsStore:
    """Ratings (one per user and item: a later load overwrites) and item metadata
    in one SQLite file. Thread-safe: one short-lived connection per call."""

    def __init__(self, path: Path) -> None:
        """``path``: a SQLite file with ``create_schema``'s tables, in WAL mode
        (``AppRuntime.state_database`` makes it so)."""
        self.path = path
        self._lock = threading.Lock()
        self._readers = threading.local()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(str(self.path), timeout=30.0)
        # no sync per commit (WAL mode, set at creation): a crash may lose the last
        # load, never corrupt the file
        db.execute("PRAGMA synchronous=NORMAL")
        try:
            with db:  # commits, or rolls back on error
                yield db
        finally:
            db.close()

    def add_ratings(self, ratings: Sequence[Rating]) -> None:
        with self._lock, self._connect() as db:
            db.executemany(
                "INSERT OR REPLACE INTO ratings VALUES (?, ?, ?, ?)",
                [(r.user, r.item, r.rating, r.timestamp) for r in ratings],
            )

    def add_items(self, items: Sequence[ItemInfo]) -> None:
        with self._lock, self._connect() as db:
            db.executemany(
                "INSERT OR REPLACE INTO items VALUES (?, ?, ?)",
                [(i.item, i.title, json.dumps(i.extra)) for i in items],
            )

    def table(self) -> RatingsTable:
        with self._connect() as db:
            rows = db.execute("SELECT user, item, rating, ts FROM ratings").fetchall()
        return RatingsTable.from_ratings([Rating(u, i, r, t) for u, i, r, t in rows])

    def _reader(self) -> sqlite3.Connection:
        """This thread's read connection, kept open (a connect costs ~3 ms; queries
        on the hot path cost ~0.1 ms). WAL lets readers run beside a writer."""
        db: sqlite3.Connection | None = getattr(self._readers, "db", None)
        if db is None:
            db = self._readers.db = sqlite3.connect(str(self.path), timeout=30.0)
        return db

    def rated_items(self, user: str) -> set[str]:
        # one row (a JSON array), not a row per item: reading each row gives up the GIL
        # and waits to get it back, and with 16 requests at once those waits made the
        # per-user recommendations slower with more connections (531/s at 16 against
        # 644/s at 1, wrk), most of a request's time spent here
        (items,) = (
            self._reader()
            .execute("SELECT json_group_array(item) FROM ratings WHERE user = ?", (user,))
            .fetchone()
        )
        return set(json.loads(items))

    def has_user(self, user: str) -> bool:
        row = (
            self._reader()
            .execute("SELECT 1 FROM ratings WHERE user = ? LIMIT 1", (user,))
            .fetchone()
        )
        return row is not None

    def titles(self) -> dict[str, str]:
        with self._connect() as db:
            return dict(db.execute("SELECT item, title FROM items").fetchall())

    def counts(self) -> dict[str, Any]:
        with self._connect() as db:
            n, users, items = db.execute(
                "SELECT COUNT(*), COUNT(DISTINCT user), COUNT(DISTINCT item) FROM ratings"
            ).fetchone()
            titled = db.execute("SELECT COUNT(*) FROM items").fetchone()[0]
        return {"ratings": n, "users": users, "items": items, "items_with_metadata": titled}

    def clear(self) -> None:
        with self._lock, self._connect() as db:
            db.execute("DELETE FROM ratings")
            db.execute("DELETE FROM items")
