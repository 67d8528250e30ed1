"""The store contract, run on Milvus Lite AND a real Milvus server (same code path).

Vectors here are random but seeded: the contract is about storage, filters and
exact agreement with brute-force search, not about a model."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from findalike.config import Settings
from findalike.errors import Conflict, Unavailable, Unprocessable
from findalike.store import CollectionSpec, FieldSpec, VectorStore, in_filter, quote
from findalike.store import milvus as store_module
from tests.conftest import count_connection_attempts

DIM = 32


def _spec(name: str, *, encoder: str = "test-encoder@1", dim: int = DIM) -> CollectionSpec:
    return CollectionSpec(
        name=name,
        dim=dim,
        vector_kind="float",
        metric="COSINE",
        encoder=encoder,
        fields=(FieldSpec("title", "str", 256), FieldSpec("meta", "json")),
    )


def _rows(n: int, seed: int = 0, prefix: str = "doc") -> tuple[list[dict], np.ndarray]:
    rng = np.random.default_rng(seed)
    vecs = rng.normal(size=(n, DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    rows = [
        {
            "id": f"{prefix}{i}:0",
            "item_id": f"{prefix}{i}",
            "part": 0,
            "vector": vecs[i],
            "title": f"title {i}",
            "meta": {"group": i % 3, "tag": "even" if i % 2 == 0 else "odd"},
        }
        for i in range(n)
    ]
    return rows, vecs


@pytest.fixture
def store(store_uri: str):
    s = VectorStore(store_uri)
    yield s
    s.close()


@pytest.fixture
def name() -> str:
    return f"contract_{uuid.uuid4().hex[:8]}"


def test_upsert_is_idempotent_and_counts(store: VectorStore, name: str) -> None:
    store.ensure(_spec(name))
    rows, _ = _rows(50)
    store.upsert(name, rows, batch_rows=16)  # several batches
    store.upsert(name, rows[:10])  # the same ids again: overwritten, not duplicated
    store.flush(name)
    assert store.count(name) == 50
    assert store.count(name, filter='meta["tag"] == "even"') == 25
    store.drop(name)


def test_rows_written_in_any_order_keep_each_ids_last_row(store: VectorStore, name: str) -> None:
    """``upsert`` writes rows sorted by id (Lite looks them up faster so): an id given
    twice in one call, its rows in different batches, keeps the later row."""
    store.ensure(_spec(name))
    rows, _ = _rows(30)
    rng = np.random.default_rng(5)
    shuffled = [rows[i] for i in rng.permutation(len(rows))]
    again = dict(shuffled[3], title="written last")  # the same id, later in the call
    store.upsert(name, [again | {"title": "written first"}, *shuffled, again], batch_rows=4)
    store.flush(name)
    found = store.query(name, filter="", output_fields=["id", "title"], limit=100)
    got = {r["id"]: r["title"] for r in found}
    assert len(got) == 30
    assert got[again["id"]] == "written last"
    assert all(got[r["id"]] == r["title"] for r in rows if r["id"] != again["id"])
    store.drop(name)


def test_rows_read_by_id_are_kept_until_the_collection_changes(
    store_uri: str, tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``rows_by_id`` (a text hit's first passage, an image's name) reads a row once and
    answers it from memory until a write by this process or another sharing the folder."""
    a = VectorStore(store_uri, shared_dir=tmp_path / "shared")
    b = VectorStore(store_uri, shared_dir=tmp_path / "shared")
    try:
        a.ensure(_spec(name))
        rows, _ = _rows(20)
        a.upsert(name, rows)
        a.flush(name)
        one, two = rows[1]["id"], rows[2]["id"]
        first = a.rows_by_id(name, [one, two, "absent:0"], ["title"])
        assert first == {one: {"title": "title 1"}, two: {"title": "title 2"}}
        first[one]["title"] = "changed by the caller"  # a copy: what is kept stays
        hits = a.kept_rows_hits
        assert a.rows_by_id(name, [one, two], ["title"]) == {
            one: {"title": "title 1"},
            two: {"title": "title 2"},
        }
        assert a.kept_rows_hits == hits + 2  # from memory
        a.upsert(name, [dict(rows[1], title="new 1")])  # this process writes
        a.flush(name)
        assert a.rows_by_id(name, [one], ["title"]) == {one: {"title": "new 1"}}
        b.upsert(name, [dict(rows[2], title="new 2")])  # another process writes
        b.flush(name)
        assert a.rows_by_id(name, [two], ["title"]) == {two: {"title": "new 2"}}
        b.delete(name, filter=f"id in [{quote(one)}, {quote(two)}]")
        assert a.rows_by_id(name, [one, two], ["title"]) == {}
        # bounded: the least recently used row goes first
        monkeypatch.setattr(store_module, "KEPT_ROWS", 2)
        three, four, five = (rows[i]["id"] for i in (3, 4, 5))
        a.rows_by_id(name, [three, four], ["title"])
        a.rows_by_id(name, [three], ["title"])  # four is now the least recently used
        a.rows_by_id(name, [five], ["title"])
        hits = a.kept_rows_hits
        assert a.rows_by_id(name, [three, five], ["title"]) == {
            three: {"title": "title 3"},
            five: {"title": "title 5"},
        }
        assert a.rows_by_id(name, [four], ["title"]) == {four: {"title": "title 4"}}
        assert a.kept_rows_hits == hits + 2  # four was read from Milvus again
    finally:
        a.drop(name)
        a.close()
        b.close()


def test_search_matches_brute_force_and_filters(store: VectorStore, name: str) -> None:
    store.ensure(_spec(name))
    rows, vecs = _rows(500, seed=1)
    store.upsert(name, rows)
    store.flush(name)
    queries = np.random.default_rng(2).normal(size=(20, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    hits = store.search(name, queries, limit=10, output_fields=["title"])
    recall = []
    for q, found in zip(queries, hits, strict=True):
        exact = set(np.argsort(-(vecs @ q))[:10])
        got = {int(h.item_id[3:]) for h in found}
        recall.append(len(exact & got) / 10)
        assert [h.distance for h in found] == sorted((h.distance for h in found), reverse=True)
    print(f"store recall@10 vs brute force: {np.mean(recall):.3f}")
    assert np.mean(recall) >= 0.99
    filtered = store.search(
        name, queries[:1], limit=20, filter='meta["group"] == 1', output_fields=["meta"]
    )[0]
    assert filtered and all(h.fields["meta"]["group"] == 1 for h in filtered)
    store.drop(name)


def test_bounded_searches_answer_what_strong_ones_do(store_uri: str, name: str) -> None:
    """``FINDALIKE_SEARCH_CONSISTENCY=Bounded`` (no wait for the server's time tick) is
    accepted by both engines and, once the writes are visible, finds the same rows."""
    strong, bounded = VectorStore(store_uri), VectorStore(store_uri, search_consistency="Bounded")
    strong.ensure(_spec(name))
    rows, vecs = _rows(100, seed=3)
    strong.upsert(name, rows)
    strong.flush(name)
    wanted = [[h.item_id for h in hits] for hits in strong.search(name, vecs[:5], limit=3)]
    deadline = time.monotonic() + 10  # Bounded may lag the writes by a few seconds
    while True:
        got = [[h.item_id for h in hits] for hits in bounded.search(name, vecs[:5], limit=3)]
        if got == wanted or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert got == wanted and [ids[0] for ids in got] == [r["item_id"] for r in rows[:5]]
    strong.drop(name)
    strong.close()
    bounded.close()


def test_session_searches_see_this_process_writes_at_once(store_uri: str, name: str) -> None:
    """``Session`` (the default with one worker) reads its own writes: rows upserted a
    moment ago, not yet flushed, are found by the very next search, with no retry."""
    store = VectorStore(store_uri, search_consistency="Session")
    store.ensure(_spec(name))
    for seed in (5, 6, 7):  # several write-then-read rounds, each searched at once
        rows, vecs = _rows(30, seed=seed, prefix=f"round{seed}-")
        store.upsert(name, rows)
        got = [hits[0].item_id for hits in store.search(name, vecs[:5], limit=1)]
        assert got == [r["item_id"] for r in rows[:5]]
    store.drop(name)
    store.close()


def test_cached_counts_follow_every_write(store_uri: str, name: str, tmp_path: Path) -> None:
    """A cached filtered count (the items of a several-rows-per-item app) is counted
    again after a write by this process or by another one sharing the data folder,
    even one that leaves the total of rows unchanged."""
    mine = VectorStore(store_uri, shared_dir=tmp_path)
    other = VectorStore(store_uri, shared_dir=tmp_path)
    mine.ensure(_spec(name))
    rows, _ = _rows(6, seed=8)
    for i, row in enumerate(rows):  # items doc0..doc2 of two rows each (parts 0 and 1)
        row["item_id"], row["part"] = f"doc{i // 2}", i % 2
        row["id"] = f"{row['item_id']}:{row['part']}"
    mine.upsert(name, rows)
    assert mine.count(name, filter="part == 0", cached=True) == 3
    assert mine.count(name, filter="part == 0", cached=True) == 3  # from the cache
    # this process: one item of two rows becomes two items of one row
    mine.delete(name, filter='item_id == "doc0"')
    singles, _ = _rows(2, seed=9, prefix="single")
    mine.upsert(name, singles)
    assert mine.count(name) == 6
    assert mine.count(name, filter="part == 0", cached=True) == 4
    # another process (same data folder) does the same: the total stays 6 again
    other.delete(name, filter='item_id == "doc1"')
    more, _ = _rows(2, seed=10, prefix="more")
    other.upsert(name, more)
    assert mine.count(name) == 6
    assert mine.count(name, filter="part == 0", cached=True) == 5
    mine.drop(name)
    mine.close()
    other.close()


def test_search_consistency_auto_follows_the_workers(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).resolved_search_consistency == "Session"
    assert Settings(data_dir=tmp_path, workers=2).resolved_search_consistency == "Strong"
    chosen = Settings(data_dir=tmp_path, workers=2, search_consistency="Bounded")
    assert chosen.resolved_search_consistency == "Bounded"


def test_a_collection_released_behind_its_back_is_loaded_again(
    store: VectorStore, store_uri: str, name: str
) -> None:
    """Another process (or Milvus Lite reopening its files) released the collection:
    the next read loads it again instead of failing."""
    from pymilvus import MilvusClient

    store.ensure(_spec(name))
    rows, vecs = _rows(20, seed=4)
    store.upsert(name, rows)
    store.flush(name)
    assert store.search(name, vecs[:1], limit=1)[0][0].item_id == rows[0]["item_id"]
    other = store._connect() if store.is_lite else MilvusClient(uri=store_uri)
    other.release_collection(name)
    assert store.search(name, vecs[:1], limit=1)[0][0].item_id == rows[0]["item_id"]
    assert store.count(name) == 20
    store.drop(name)


def test_concurrent_first_requests_on_a_lite_file_all_answer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """16 requests at once on a Milvus Lite file this process has not opened yet (a
    server just started): each reads the schema, then searches, and all must answer.
    (Milvus Lite 3.2, the engine before issue 25, built one copy of the collection per
    concurrent first request and kept the last, released: searches then found it "not
    loaded", and a load could wait on a released copy forever.)"""
    import shutil

    first = VectorStore(str(tmp_path / "a" / "milvus.db"))
    name = "findalike_reopened"
    first.ensure(_spec(name))
    rows, vecs = _rows(10_000, seed=11)
    first.upsert(name, rows)
    first.flush(name)
    first.close()
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # a folder no Lite here has open

    store = VectorStore(str(tmp_path / "b" / "milvus.db"))
    start = threading.Barrier(16)
    found: dict[int, str] = {}

    def request(i: int) -> None:
        start.wait()
        store.lexical_field(name)
        found[i] = store.search(name, vecs[i : i + 1], limit=1)[0][0].item_id

    with caplog.at_level("WARNING", logger="findalike.store"):
        threads = [threading.Thread(target=request, args=(i,), daemon=True) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert not any(t.is_alive() for t in threads), "a request never came back"
    assert found == {i: rows[i]["item_id"] for i in range(16)}
    assert "not loaded" not in caplog.text
    store.close()


def test_a_load_asked_again_while_others_release_it_returns(store: VectorStore, name: str) -> None:
    """Another client releases the collection over and over (for 2 s) while this store
    loads it: every load returns, asking again after a release, where pymilvus's own
    wait polled the released collection until its timeout (Milvus Lite) or failed (a
    Milvus server); searches work after."""
    from pymilvus import MilvusClient

    store.ensure(_spec(name))
    rows, vecs = _rows(200, seed=5)
    store.upsert(name, rows)
    store.flush(name)
    other = store._connect() if store.is_lite else MilvusClient(uri=store.uri)
    stop = threading.Event()

    def release() -> None:  # for 2 s: a server's loads take longer than 5 ms
        until = time.monotonic() + 2.0
        while not stop.is_set() and time.monotonic() < until:
            other.release_collection(name)
            time.sleep(0.005)

    releaser = threading.Thread(target=release, daemon=True)
    releaser.start()
    failed: list[Exception] = []

    def load() -> None:
        for _ in range(20):
            try:
                store._load(name)
            except Exception as exc:
                failed.append(exc)

    loads = threading.Thread(target=load, daemon=True)
    loads.start()
    loads.join(120)
    stop.set()
    releaser.join(10)
    assert not loads.is_alive(), "a load never returned"
    assert not failed
    store._load(name)
    assert store.search(name, vecs[:1], limit=1)[0][0].item_id == rows[0]["item_id"]
    store.drop(name)


def test_delete_get_and_drop(store: VectorStore, name: str) -> None:
    store.ensure(_spec(name))
    rows, _ = _rows(20)
    store.upsert(name, rows)
    store.flush(name)
    assert store.delete(name, filter=in_filter("item_id", ["doc3", "doc4"])) == 2
    assert store.delete(name, filter=in_filter("item_id", ["nope"])) == 0
    assert store.count(name) == 18
    got = store.query(name, filter='item_id == "doc5"', output_fields=["title"])
    assert got[0]["title"] == "title 5"
    assert store.drop(name) is True
    assert store.drop(name) is False
    assert not store.exists(name)


def test_encoder_or_dimension_mismatch_is_a_conflict(store: VectorStore, name: str) -> None:
    store.ensure(_spec(name))
    store.ensure(_spec(name))  # the same encoder: fine
    with pytest.raises(Conflict, match="encoder"):
        store.ensure(_spec(name, encoder="another-model@2"))
    with pytest.raises(Conflict, match="dim"):
        store.ensure(_spec(name, dim=64))
    store.drop(name)


def test_properties_survive_a_reconnect(store_uri: str, name: str) -> None:
    first = VectorStore(store_uri)
    first.ensure(_spec(name))
    rows, _ = _rows(5)
    first.upsert(name, rows)
    first.flush(name)
    first.close()
    second = VectorStore(store_uri)
    assert second.properties(name)["encoder"] == "test-encoder@1"
    assert second.count(name) == 5  # a re-opened collection is loaded before use
    second.drop(name)
    second.close()


def test_unreachable_server_is_unavailable() -> None:
    store = VectorStore("http://127.0.0.1:9", timeout_s=2)
    with pytest.raises(Unavailable, match="unreachable"):
        store.ping()


AWKWARD_VALUES = [
    'with "double" quotes',
    "single ' quote",
    "back\\slash",
    'slash-quote \\"',
    "tab\there",
    "new\nline",
    "cr\rhere",
    "é 中文 😀",
    '] or id != "',
    'x" or true or "',
]


def test_filter_values_round_trip_whatever_their_characters(store: VectorStore, name: str) -> None:
    """Values are escaped in Milvus' own grammar: each awkward value finds exactly its
    row, as a VARCHAR field and as a JSON key, on Lite and on the server alike."""
    store.ensure(_spec(name))
    rows, _ = _rows(len(AWKWARD_VALUES))
    for row, value in zip(rows, AWKWARD_VALUES, strict=True):
        row["title"], row["meta"] = value, {"tag": value}
    store.upsert(name, rows)
    store.flush(name)
    for row, value in zip(rows, AWKWARD_VALUES, strict=True):
        if "\n" in value or "\r" in value:
            with pytest.raises(Unprocessable, match="line break"):  # Lite 2.5: no escape
                quote(value)
            continue
        for expr in (f"title == {quote(value)}", f'meta["tag"] == {quote(value)}'):
            found = store.query(name, filter=expr, output_fields=["item_id"])
            assert [r["item_id"] for r in found] == [row["item_id"]], (value, expr)
    store.drop(name)


@pytest.mark.parametrize("value", ["bell\x07", "nul\x00", "esc\x1b[0m", "lone \ud800"])
def test_values_with_no_escape_both_engines_read_are_refused(value: str) -> None:
    with pytest.raises(Unprocessable, match="control character U\\+"):
        quote(value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_are_refused(value: float) -> None:
    with pytest.raises(Unprocessable, match="not a number"):
        quote(value)


def test_a_hung_milvus_costs_each_caller_one_timeout_not_a_queue(hung_milvus_uri: str) -> None:
    """Twelve callers at once against a Milvus that never answers: all get Unavailable
    after the one connection attempt (serialised attempts would take 12 timeouts);
    callers right after it fail at once (the breaker) instead of trying again."""
    timeout_s = 2.0
    store = VectorStore(hung_milvus_uri, timeout_s=timeout_s, retry_after_s=30.0)
    outcomes: list[str] = []
    attempts = count_connection_attempts(store)

    def call() -> None:
        try:
            store.ping()
            outcomes.append("answered")
        except Unavailable:
            outcomes.append("unavailable")

    threads = [threading.Thread(target=call) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=12 * timeout_s)
    assert outcomes == ["unavailable"] * 12
    assert attempts == [1], f"callers made {len(attempts)} connection attempts, not 1"
    with pytest.raises(Unavailable, match="next attempt in"):
        store.ping()
    assert attempts == [1]  # the breaker answers without trying


def test_iter_rows_reads_every_row_once(store: VectorStore, name: str) -> None:
    """More rows than a page, on Lite and on the server: each row exactly once (a
    limited query returns *some* rows, not the lowest ids, so paging by `id > last`
    read 1,302 of 5,300 rows on Lite)."""
    store.ensure(_spec(name))
    rows, _ = _rows(2500)
    store.upsert(name, rows)
    store.flush(name)
    seen = [
        r["id"]
        for page in store.iter_rows(name, output_fields=["title"], batch_rows=400)
        for r in page
    ]
    assert len(seen) == len(set(seen)) == 2500
    assert set(seen) == {r["id"] for r in rows}
    store.drop(name)


def test_asking_lite_what_it_is_logs_no_error(
    tmp_path: Path, lite_server_uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Milvus Lite 2.5 has no version call: ``ping`` says what it is, embedded and by
    URI, without the ERROR and traceback pymilvus logged at every ``make run``."""
    with caplog.at_level("ERROR"):
        for uri in (str(tmp_path / "milvus.db"), lite_server_uri):
            store = VectorStore(uri)
            try:
                assert store.ping().startswith("milvus_lite") and store.is_lite
            finally:
                store.close()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
