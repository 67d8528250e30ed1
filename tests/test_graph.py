"""The HNSW graph beside the embedded Milvus Lite 2.5 (``findalike.store.ann``, issue 25): a
collection past ``ann_min_rows`` is searched through it, with Milvus's answers for the
rows' fields and filters, and it never answers for a collection it does not hold as it
is now (another process's write, a drop), while this process's own writes keep it
current. Real Milvus Lite and real usearch; vectors random but seeded (clustered, so
that neighbours mean something), checked against brute force."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from findalike.store import GRAPHS_DIR, CollectionSpec, FieldSpec, VectorStore, ann

DIM = 32
ROWS = 1500
MIN_ROWS = 1000
K = 10


def _spec(name: str) -> CollectionSpec:
    return CollectionSpec(
        name=name,
        dim=DIM,
        vector_kind="float",
        metric="COSINE",
        encoder="test-encoder@1",
        fields=(
            FieldSpec("group", "int"),
            FieldSpec("text", "str", 256, lexical=True),
            FieldSpec("weight", "float"),
            FieldSpec("meta", "json"),
        ),
        index_type="FLAT",
    )


def _vectors(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, DIM))
    v = centres[rng.integers(0, 40, n)] + 0.5 * rng.normal(size=(n, DIM))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def _rows(vectors: np.ndarray, start: int = 0) -> list[dict]:
    return [
        {
            "id": f"d{start + i}:0",
            "item_id": f"d{start + i}",
            "part": 0,
            "vector": v,
            "group": (start + i) % 50,
            "text": f"word{start + i} common",
            "weight": (start + i) % 7,  # an int written to a float field: read as a float
            "meta": {"n": start + i, "tags": ["a", "é"]},
        }
        for i, v in enumerate(vectors)
    ]


def _store(folder: Path) -> VectorStore:
    store = VectorStore(str(folder / "milvus.db"), shared_dir=folder, ann_min_rows=MIN_ROWS)
    assert store._graphs is not None
    store._graphs.quiet_s = 0.0
    return store


def _graph_ready(store: VectorStore, name: str, query: np.ndarray, timeout_s: float = 60) -> None:
    """Search until the graph of ``name`` answers (the first search starts its build)."""
    deadline = time.monotonic() + timeout_s
    while not store._graph_fresh(name):
        assert time.monotonic() < deadline, "the graph was not built"
        store.search(name, query[None], limit=K)
        time.sleep(0.1)


def _another_worker_upserts(folder: Path, name: str, rows: list[dict]) -> None:
    """``rows`` written by a second store on the same data folder (another worker)."""
    other = VectorStore(str(folder / "milvus.db"), shared_dir=folder)
    try:
        other.upsert(name, rows)
    finally:
        other.close()


def _exact(vectors: np.ndarray, ids: list[str], query: np.ndarray, k: int = K) -> list[str]:
    order = np.argsort(-(vectors @ query), kind="stable")[:k]
    return [ids[i] for i in order]


@pytest.fixture
def big(tmp_path: Path):
    """A store and a collection of ROWS rows (past MIN_ROWS), its vectors and item ids."""
    store = _store(tmp_path)
    name = f"graph_{uuid.uuid4().hex[:8]}"
    store.ensure(_spec(name))
    vectors = _vectors(ROWS, seed=1)
    store.upsert(name, _rows(vectors))
    store.flush(name)
    yield store, name, vectors, [f"d{i}" for i in range(ROWS)]
    store.close()


def test_a_small_collection_gets_no_graph_and_a_big_one_is_searched_through_it(
    big, tmp_path: Path
) -> None:
    store, name, vectors, ids = big
    small = f"small_{uuid.uuid4().hex[:8]}"
    store.ensure(_spec(small))
    store.upsert(small, _rows(_vectors(MIN_ROWS - 1, seed=2)))
    queries = _vectors(40, seed=3)
    for q in queries[:5]:
        store.search(small, q[None], limit=K)
    time.sleep(0.5)
    assert not store._graph_fresh(small) and store._graphs.held(small) is None  # type: ignore[union-attr]

    # the first search of the big one answers from Milvus (exact) and starts the build
    first = store.search(name, queries[:1], limit=K)[0]
    assert [h.item_id for h in first] == _exact(vectors, ids, queries[0])
    _graph_ready(store, name, queries[0])
    graph = store._graphs.held(name)  # type: ignore[union-attr]
    assert graph is not None and graph.rows == ROWS and not graph.restored

    found = store.search(name, queries, limit=K, output_fields=["group", "text"])
    recall = np.mean(
        [
            len({h.item_id for h in hits} & set(_exact(vectors, ids, q))) / K
            for hits, q in zip(found, queries, strict=True)
        ]
    )
    assert recall >= 0.95
    for hits, q in zip(found, queries, strict=True):
        assert len(hits) == K
        scores = [h.distance for h in hits]
        assert scores == sorted(scores, reverse=True)
        for h in hits:  # Milvus's fields and the cosine as Milvus reports it
            i = int(h.item_id[1:])
            assert h.id == f"d{i}:0"
            assert h.fields["group"] == i % 50 and h.fields["text"] == f"word{i} common"
            # scored on the graph's float16 copy: within ~1e-4 of Milvus's float32
            assert h.distance == pytest.approx(float(vectors[i] @ q), abs=5e-4)
            assert "vector" not in h.fields
    assert "F16" in str(graph.index.dtype).upper()
    asked = store.search(name, queries[:1], limit=K, output_fields=["vector"])[0]
    for h in asked:  # the stored vector, as written: not the graph's float16 copy
        assert np.allclose(h.fields["vector"], vectors[int(h.item_id[1:])], atol=1e-7)
    # exact=True (the molecule app's bound) never goes through the graph
    exact = store.search(name, queries, limit=K, exact=True)
    assert [[h.item_id for h in hits] for hits in exact] == [
        _exact(vectors, ids, q) for q in queries
    ]


def test_filters_are_milvus_s_and_a_narrow_one_is_answered_by_milvus(big) -> None:
    store, name, vectors, ids = big
    queries = _vectors(20, seed=4)
    _graph_ready(store, name, queries[0])
    group = np.asarray([i % 50 for i in range(ROWS)])
    keep = group < 25  # half the rows
    found = store.search(name, queries, limit=K, filter="group < 25", output_fields=["group"])
    hits_ok = 0
    for hits, q in zip(found, queries, strict=True):
        assert len(hits) == K and all(h.fields["group"] < 25 for h in hits)
        truth = set(_exact(vectors[keep], [i for i, k in zip(ids, keep, strict=True) if k], q))
        hits_ok += len({h.item_id for h in hits} & truth)
    assert hits_ok / (K * len(queries)) >= 0.95
    # 3 rows pass: fewer than asked for among the graph's candidates, so Milvus answers,
    # over every row, and all three come back
    narrow = store.search(name, queries[:1], limit=K, filter='item_id in ["d7", "d900", "d1499"]')
    assert sorted(h.item_id for h in narrow[0]) == ["d1499", "d7", "d900"]


def test_this_process_s_writes_keep_the_graph_current(big) -> None:
    store, name, vectors, ids = big
    queries = _vectors(5, seed=5)
    _graph_ready(store, name, queries[0])
    graphs = store._graphs
    assert graphs is not None
    builds = graphs.builds
    # a new row equal to a query: found first, through the same (updated) graph
    store.upsert(name, _rows(queries[:1], start=ROWS))
    assert store._graph_fresh(name)
    assert store.search(name, queries[:1], limit=K)[0][0].item_id == f"d{ROWS}"
    # an existing row moved onto another query: found there, and no longer where it was
    moved = ids[0]
    old_vector = vectors[0]
    store.upsert(name, [{**_rows(queries[1:2])[0], "id": f"{moved}:0", "item_id": moved}])
    assert store.search(name, queries[1:2], limit=1)[0][0].item_id == moved
    assert moved not in {h.item_id for h in store.search(name, old_vector[None], limit=K)[0]}
    # a deleted row is never returned, with or without the graph's knowing
    store.delete(name, filter=f'item_id == "d{ROWS}"')
    assert store._graph_fresh(name)
    assert f"d{ROWS}" not in {h.item_id for h in store.search(name, queries[:1], limit=K)[0]}
    assert graphs.builds == builds  # kept up to date, not built again
    assert graphs.held(name).rows == ROWS  # type: ignore[union-attr]


def test_another_process_s_write_makes_milvus_answer_until_the_graph_is_rebuilt(
    big, tmp_path: Path
) -> None:
    store, name, vectors, ids = big
    queries = _vectors(3, seed=6)
    _graph_ready(store, name, queries[0])
    _another_worker_upserts(tmp_path, name, _rows(queries[:1], start=5000))
    assert not store._graph_fresh(name)
    # answered by Milvus at once, new row included
    assert store.search(name, queries[:1], limit=K)[0][0].item_id == "d5000"
    builds = store._graphs.builds  # type: ignore[union-attr]
    _graph_ready(store, name, queries[1])
    assert store._graphs.builds == builds + 1  # type: ignore[union-attr]
    assert store.search(name, queries[:1], limit=K)[0][0].item_id == "d5000"


def test_a_graph_is_saved_read_back_after_a_restart_and_dropped_with_its_collection(
    big, tmp_path: Path
) -> None:
    store, name, vectors, ids = big
    queries = _vectors(10, seed=7)
    _graph_ready(store, name, queries[0])
    store.upsert(name, _rows(queries[:1], start=ROWS))  # kept current, saved at close
    store.close()
    assert (tmp_path / GRAPHS_DIR / f"{name}.usearch").exists()

    again = _store(tmp_path)
    try:
        _graph_ready(again, name, queries[0])
        graph = again._graphs.held(name)  # type: ignore[union-attr]
        assert graph is not None and graph.restored and graph.rows == ROWS + 1
        assert again.search(name, queries[:1], limit=K)[0][0].item_id == f"d{ROWS}"
        # a write while it was down (another process) is not missed: built, not read back
        again.close()
        other = VectorStore(str(tmp_path / "milvus.db"), shared_dir=tmp_path)
        other.upsert(name, _rows(queries[1:2], start=6000))
        other.close()
        third = _store(tmp_path)
        _graph_ready(third, name, queries[1])
        graph = third._graphs.held(name)  # type: ignore[union-attr]
        assert graph is not None and not graph.restored and graph.rows == ROWS + 2
        assert third.search(name, queries[1:2], limit=1)[0][0].item_id == "d6000"
        assert third.drop(name)
        assert not (tmp_path / GRAPHS_DIR / f"{name}.usearch").exists()
        third.close()
    finally:
        again.close()


FIELDS = ["part", "group", "text", "weight", "meta"]


def _milvus_rows(store: VectorStore, name: str, ids: list[str]) -> dict[str, dict]:
    """The rows ``ids`` as Milvus answers them (``ids`` are item ids)."""
    rows = store.query(
        name,
        filter=f"item_id in {ids!r}".replace("'", '"'),
        output_fields=["item_id", *FIELDS],
    )
    return {r["item_id"]: {k: v for k, v in r.items() if k != "id"} for r in rows}


def _same_fields(store: VectorStore, name: str, hits: list) -> None:
    """Each hit's fields are exactly (types included) what Milvus holds for its row."""
    held = _milvus_rows(store, name, [h.item_id for h in hits])
    for h in hits:
        assert h.fields == held[h.item_id]
        assert [type(h.fields[f]) for f in FIELDS] == [type(held[h.item_id][f]) for f in FIELDS]
        assert isinstance(h.fields["weight"], float)


def test_an_unfiltered_search_takes_its_hits_fields_from_the_graph(
    big, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Milvus Lite 2.5 finds rows by id by reading every row, so the graph keeps its rows'
    fields: an unfiltered search asks Milvus nothing, with the same answer; a filtered one
    still looks its candidates up there."""
    store, name, vectors, ids = big
    queries = _vectors(8, seed=9)
    _graph_ready(store, name, queries[0])
    graphs = store._graphs
    assert graphs is not None
    kept = graphs.rows_kept
    found = store.search(name, queries, limit=K, output_fields=FIELDS)
    assert graphs.rows_kept == kept + len({h.id for hits in found for h in hits})
    for hits in found:
        _same_fields(store, name, hits)
    # rows asked for by id (a text hit's first passage, an image's name) too
    kept = graphs.rows_kept
    asked = ["d3:0", "d1200:0", "nothing:0"]
    by_id = store.rows_by_id(name, asked, ["text", "weight", "meta"])
    assert graphs.rows_kept == kept + 2
    held = _milvus_rows(store, name, ["d3", "d1200"])
    assert by_id == {
        f"{i}:0": {f: held[i][f] for f in ("text", "weight", "meta")} for i in ("d3", "d1200")
    }
    # a damaged row among the kept ones: that hit's fields come from Milvus
    graph = graphs.held(name)
    assert graph is not None and graph.stored is not None
    key = graph.keys[found[0][0].id]
    blob, graph.stored[key] = graph.stored[key], b"not zlib"
    kept = graphs.rows_kept
    again_found = store.search(name, queries[:1], limit=K, output_fields=FIELDS)[0]
    assert [h.id for h in again_found] == [h.id for h in found[0]]
    assert graphs.rows_kept == kept + K - 1
    _same_fields(store, name, again_found)
    graph.stored[key] = blob
    kept = graphs.rows_kept
    store.search(name, queries, limit=K, filter="group < 25", output_fields=FIELDS)
    store.search(name, queries, limit=K, output_fields=["vector"])
    assert graphs.rows_kept == kept  # a filter and a vector are Milvus's to answer

    # a row this process writes, moves or deletes: its fields as written, then gone
    store.upsert(name, _rows(queries[:1], start=ROWS))
    new = store.search(name, queries[:1], limit=K, output_fields=FIELDS)[0]
    assert new[0].item_id == f"d{ROWS}" and new[0].fields["weight"] == float(ROWS % 7)
    _same_fields(store, name, new)
    store.upsert(name, [{**_rows(queries[1:2], start=ROWS)[0], "text": "moved here"}])
    moved = store.search(name, queries[1:2], limit=1, output_fields=["text"])[0][0]
    assert (moved.item_id, moved.fields["text"]) == (f"d{ROWS}", "moved here")
    store.delete(name, filter=f'item_id == "d{ROWS}"')
    assert f"d{ROWS}" not in {h.item_id for h in store.search(name, queries[1:2], limit=K)[0]}
    assert store._graph_fresh(name)

    # saved with the graph and read back after a restart
    store.close()
    again = _store(tmp_path)
    try:
        _graph_ready(again, name, queries[0])
        graph = again._graphs.held(name)  # type: ignore[union-attr]
        assert graph is not None and graph.restored and graph.stored is not None
        before = again._graphs.rows_kept  # type: ignore[union-attr]
        read_back = again.search(name, queries, limit=K, output_fields=FIELDS)
        assert again._graphs.rows_kept == before + len(  # type: ignore[union-attr]
            {h.id for hits in read_back for h in hits}
        )
        assert [[h.item_id for h in hits] for hits in read_back] == [
            [h.item_id for h in hits] for hits in found
        ]
        for hits in read_back:
            _same_fields(again, name, hits)
    finally:
        again.close()

    # a fields file from another save is not used: the graph is, its rows asked of Milvus
    rows_file = tmp_path / GRAPHS_DIR / f"{name}.rows"
    rows_file.write_bytes(b"0123456789abcdef\n" + rows_file.read_bytes()[17:])
    third = _store(tmp_path)
    try:
        _graph_ready(third, name, queries[0])
        graph = third._graphs.held(name)  # type: ignore[union-attr]
        assert graph is not None and graph.restored and graph.stored is None
        for hits in third.search(name, queries, limit=K, output_fields=FIELDS):
            _same_fields(third, name, hits)
        assert third._graphs.rows_kept == 0  # type: ignore[union-attr]
    finally:
        third.close()

    # a graph saved by a version that kept no fields is built again, to keep them
    meta_file = tmp_path / GRAPHS_DIR / f"{name}.json"
    meta = json.loads(meta_file.read_text())
    del meta["rows_tag"]
    meta_file.write_text(json.dumps(meta))
    fifth = _store(tmp_path)
    try:
        _graph_ready(fifth, name, queries[0])
        graph = fifth._graphs.held(name)  # type: ignore[union-attr]
        assert graph is not None and not graph.restored and graph.stored is not None
    finally:
        fifth.close()

    # past the bound on what it keeps, a graph keeps no fields
    monkeypatch.setattr(ann, "STORED_MAX_BYTES", 1000)
    for suffix in (".json", ".usearch", ".rows"):
        (tmp_path / GRAPHS_DIR / f"{name}{suffix}").unlink()
    fourth = _store(tmp_path)
    try:
        _graph_ready(fourth, name, queries[0])
        graph = fourth._graphs.held(name)  # type: ignore[union-attr]
        assert graph is not None and not graph.restored and graph.stored is None
        for hits in fourth.search(name, queries, limit=K, output_fields=FIELDS):
            _same_fields(fourth, name, hits)
    finally:
        fourth.close()


def test_hybrid_search_through_the_graph_fuses_ranks_as_milvus_does(big) -> None:
    store, name, vectors, ids = big
    queries = _vectors(3, seed=8)
    _graph_ready(store, name, queries[0])
    # the dense leg points at the query's neighbours, the lexical one at d321 alone
    hits = store.hybrid_search(name, "word321", queries[0], limit=K, metric="COSINE")
    top_dense = _exact(vectors, ids, queries[0], 1)[0]
    assert {"d321", top_dense} <= {h.item_id for h in hits[:2]}
    fused = [h.rank_score for h in hits]
    assert fused == sorted(fused, reverse=True)
    assert fused[0] == pytest.approx(1 / 61) or fused[0] == pytest.approx(2 / 61)
    for h in hits:  # the dense similarity of every hit, as for Milvus's fusion
        assert h.distance == pytest.approx(
            float(vectors[int(h.item_id[1:])] @ queries[0]), abs=1e-4
        )


def _as_exact(got: list[str], exact: list[str]) -> None:
    """An HNSW answer held to the exact one: the same first hit, and at least 4 of the
    exact top 5 (the graph is built by two threads, so which near neighbour it misses,
    if any, changes from build to build: one full run in three missed one here)."""
    assert got[0] == exact[0] and len(set(got) & set(exact)) >= len(exact) - 1, (got, exact)


def test_the_server_searches_a_big_text_collection_through_its_graph(
    tmp_path: Path, shared_encoders: dict
) -> None:
    """The text app over HTTP with a low FINDALIKE_ANN_MIN_ROWS: once the graph is built
    the answers are those of an exact search (the first hit, and 4 of the top 5 at least),
    and a delete through the API keeps it."""
    import csv
    import gzip
    import io
    import json
    import re

    from fastapi.testclient import TestClient

    from findalike.api.main import create_app
    from findalike.config import Settings
    from findalike.encoders.base import encode_queries
    from tests.conftest import wait_job

    sentences = []
    with gzip.open(Path(__file__).parent.parent / "datasets/sotu/sotu.jsonl.gz", "rt") as fh:
        for line in fh:
            doc = json.loads(line)
            sentences += [(doc["year"], s) for s in re.split(r"(?<=[.!?])\s+", doc["text"])[:4]]
            if len(sentences) >= 120:
                break
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["title", "text", "year"])
    writer.writerows((f"sentence {i}", s, year) for i, (year, s) in enumerate(sentences))
    settings = Settings(data_dir=tmp_path, apps=["text"], ann_min_rows=50)
    with TestClient(create_app(settings, encoders=shared_encoders)) as client:
        r = client.post("/api/text/load", files=[("files", ("s.csv", out.getvalue().encode()))])
        assert wait_job(client, r.json()["id"])["state"] == "done"
        store = client.app.state.store  # type: ignore[attr-defined]
        rt = client.app.state.runtimes["text"]  # type: ignore[attr-defined]
        assert store._graphs is not None
        store._graphs.quiet_s = 0.0
        queries = ["taxes and revenue", "war with foreign nations", "the army and navy"]

        def search(query: str, **kw: object) -> list[str]:
            r = client.post("/api/text/search", json={"query": query, "mode": "semantic", **kw})
            assert r.status_code == 200, r.text
            return [h["item_id"] for h in r.json()["hits"]]

        deadline = time.monotonic() + 60
        while not store._graph_fresh(rt.collection):
            assert time.monotonic() < deadline
            search(queries[0])
            time.sleep(0.1)
        for q in queries:
            got = search(q, top_k=5)
            exact = rt.store.search(
                rt.collection,
                encode_queries(rt.encoder, [q]),
                limit=120,
                exact=True,
                output_fields=["meta"],
            )[0]
            _as_exact(got, list(dict.fromkeys(h.item_id for h in exact))[:5])
            late = [h.item_id for h in exact if h.fields["meta"]["year"] >= 1800]
            filtered = search(q, top_k=5, filters={"year": {"gte": 1800}})
            _as_exact(filtered, list(dict.fromkeys(late))[:5])
        metrics = client.get("/metrics").text
        (answered,) = (
            float(line.split()[1])
            for line in metrics.splitlines()
            if line.startswith("findalike_store_graph_searches_total ")
        )
        assert answered >= 2 * len(queries)  # the searches above, not Milvus's
        assert store._graphs.rows_kept > 0  # unfiltered: the hits' fields from the graph
        first = search(queries[1], top_k=1)[0]
        assert client.delete(f"/api/text/items/{first}").status_code == 200
        assert store._graph_fresh(rt.collection)  # kept current by the delete
        assert first not in search(queries[1], top_k=5)


def test_a_row_s_fields_are_kept_as_milvus_returns_them_or_not_at_all() -> None:
    import zlib

    fields, floats = ("item_id", "weight", "meta"), frozenset({"weight"})

    def back(row: dict) -> list | None:
        blob = ann.encode_row(fields, floats, row)
        return None if blob is None else json.loads(zlib.decompress(blob))

    row = {"item_id": "é", "weight": np.int64(3), "meta": {"n": np.float32(0.5), "v": [1]}}
    assert back(row) == ["é", 3.0, {"n": 0.5, "v": [1]}]
    assert isinstance(back(row)[1], float)  # type: ignore[index]
    assert back({"item_id": "a", "weight": 1}) is None  # a field missing: Milvus's
    assert back({**row, "meta": {"s": {1, 2}}}) is None  # not JSON: Milvus's
    assert back({**row, "weight": None}) is None


# -- a smaller collection: an exact copy in memory (``ann.FlatIndex``) --------------------


@pytest.mark.parametrize("metric", ["COSINE", "IP", "L2"])
def test_a_flat_index_answers_as_brute_force_over_its_live_rows(metric: str) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(300, DIM)).astype(np.float32)
    index = ann.FlatIndex(metric, DIM)  # type: ignore[arg-type]
    index.add(np.arange(0, 200, dtype=np.uint64), vectors[:200])
    index.add(np.arange(200, 300, dtype=np.uint64), vectors[200:])  # grows past its room
    index.add(np.arange(300, 300, dtype=np.uint64), vectors[:0])  # an empty page
    removed = np.arange(0, 300, 3)
    index.remove(removed)
    index.remove(removed[:5])  # removed twice: counted once
    live = np.setdiff1d(np.arange(300), removed)
    assert len(index) == len(live)
    queries = rng.normal(size=(4, DIM)).astype(np.float32)
    found = index.search(queries, K)
    for q, keys, distances in zip(queries, found.keys, found.distances, strict=True):
        if metric == "COSINE":
            unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
            truth = 1 - unit @ (q / np.linalg.norm(q))
        elif metric == "IP":
            truth = 1 - vectors @ q
        else:
            truth = ((vectors - q) ** 2).sum(axis=1)
        best = live[np.argsort(truth[live], kind="stable")[:K]]
        assert keys.tolist() == best.tolist()  # nearest first, no removed row
        np.testing.assert_allclose(distances, truth[best], rtol=1e-4, atol=1e-4)
    assert found.counts.tolist() == [K] * len(queries)
    with pytest.raises(ValueError):
        index.add(np.asarray([7], dtype=np.uint64), vectors[:1])  # not the next position


def test_a_flat_index_orders_tied_rows_by_position() -> None:
    rng = np.random.default_rng(8)
    vectors = rng.normal(size=(50, DIM)).astype(np.float32)
    vectors[[40, 3, 17, 29]] = vectors[5]  # five copies of one vector
    index = ann.FlatIndex("COSINE", DIM)
    index.add(np.arange(50, dtype=np.uint64), vectors)
    found = index.search(vectors[5][None], 5)
    assert found.keys[0].tolist() == [3, 5, 17, 29, 40]
    # cut inside the ties: the first written of them, not any three
    assert index.search(vectors[5][None], 3).keys[0].tolist() == [3, 5, 17]
    index.remove(np.asarray([3]))
    assert index.search(vectors[5][None], 3).keys[0].tolist() == [5, 17, 29]


FLAT_ROWS = 600
FLAT_MIN_ROWS = 500


@pytest.fixture
def mid(tmp_path: Path):
    """A store whose collections of FLAT_MIN_ROWS..MIN_ROWS rows get an exact copy, and a
    collection of FLAT_ROWS rows."""
    store = VectorStore(
        str(tmp_path / "milvus.db"),
        shared_dir=tmp_path,
        ann_min_rows=MIN_ROWS,
        flat_min_rows=FLAT_MIN_ROWS,
    )
    assert store._graphs is not None
    store._graphs.quiet_s = 0.0
    name = f"flat_{uuid.uuid4().hex[:8]}"
    store.ensure(_spec(name))
    vectors = _vectors(FLAT_ROWS, seed=11)
    store.upsert(name, _rows(vectors))
    store.flush(name)
    yield store, name, vectors
    store.close()


def test_a_mid_size_collection_is_searched_exactly_in_memory_with_milvus_s_answers(
    mid, tmp_path: Path
) -> None:
    store, name, vectors = mid
    tiny = f"tiny_{uuid.uuid4().hex[:8]}"
    store.ensure(_spec(tiny))
    store.upsert(tiny, _rows(_vectors(FLAT_MIN_ROWS - 1, seed=12)))
    queries = _vectors(30, seed=13)
    fields = ["group", "text", "weight", "meta", "part"]
    milvus = store.search(name, queries, limit=K, output_fields=fields, exact=True)
    _graph_ready(store, name, queries[0])
    for _ in range(3):
        store.search(tiny, queries[:1], limit=K)
        time.sleep(0.1)
    assert store._graphs.held(tiny) is None  # type: ignore[union-attr]  (under flat_min_rows)
    graph = store._graphs.held(name)  # type: ignore[union-attr]
    assert graph is not None and graph.exact and graph.rows == FLAT_ROWS
    assert not (tmp_path / GRAPHS_DIR / f"{name}.usearch").exists()  # a copy: not saved

    answered = store.graph_searches
    found = store.search(name, queries, limit=K, output_fields=fields)
    assert store.graph_searches == answered + len(queries)  # all from memory
    for ours, theirs in zip(found, milvus, strict=True):
        assert [h.id for h in ours] == [h.id for h in theirs]  # exact: Milvus's order
        for a, b in zip(ours, theirs, strict=True):
            assert a.distance == pytest.approx(b.distance, abs=1e-5)
            assert a.fields == b.fields and a.item_id == b.item_id
            assert {k: type(v) for k, v in a.fields.items()} == {
                k: type(v) for k, v in b.fields.items()
            }

    # a filter, or a vector asked back, is Milvus's (exact, in one call)
    filtered = store.search(name, queries[:3], limit=K, filter="group < 5", output_fields=["group"])
    with_vectors = store.search(name, queries[:1], limit=K, output_fields=["vector"])
    assert store.graph_searches == answered + len(queries)
    assert all(len(h) == K and all(x.fields["group"] < 5 for x in h) for h in filtered)
    assert len(with_vectors[0][0].fields["vector"]) == DIM


def test_the_copy_follows_this_process_s_writes_until_the_collection_is_big(mid) -> None:
    store, name, vectors = mid
    queries = _vectors(4, seed=14)
    _graph_ready(store, name, queries[0])
    graphs = store._graphs
    assert graphs is not None
    builds = graphs.builds
    store.upsert(name, _rows(queries[:1], start=FLAT_ROWS))  # a row equal to a query
    assert store._graph_fresh(name)
    top = store.search(name, queries[:1], limit=K, output_fields=["group"])[0][0]
    assert top.item_id == f"d{FLAT_ROWS}" and top.distance == pytest.approx(1.0, abs=1e-5)
    assert top.fields["group"] == FLAT_ROWS % 50
    store.delete(name, filter=f'item_id == "d{FLAT_ROWS}"')
    assert store._graph_fresh(name)
    assert f"d{FLAT_ROWS}" not in {h.item_id for h in store.search(name, queries[:1], limit=K)[0]}
    assert graphs.builds == builds  # kept current, not made again

    # a write taking it to MIN_ROWS rows leaves the copy stale: an HNSW graph takes over
    store.upsert(name, _rows(_vectors(MIN_ROWS - FLAT_ROWS, seed=15), start=10_000))
    assert not store._graph_fresh(name)
    assert store.search(name, queries[:1], limit=K)[0]  # Milvus answers meanwhile
    _graph_ready(store, name, queries[1])
    graph = graphs.held(name)
    assert graph is not None and not graph.exact and graph.rows == MIN_ROWS


def test_another_process_s_write_or_a_write_racing_a_delete_makes_milvus_answer(
    mid, tmp_path: Path
) -> None:
    store, name, vectors = mid
    queries = _vectors(3, seed=16)
    _graph_ready(store, name, queries[0])
    _another_worker_upserts(tmp_path, name, _rows(queries[:1], start=5000))
    assert not store._graph_fresh(name)
    assert store.search(name, queries[:1], limit=K)[0][0].item_id == "d5000"  # Milvus's
    _graph_ready(store, name, queries[1])
    assert store.search(name, queries[:1], limit=K)[0][0].item_id == "d5000"  # the copy's

    # this process upserts a row the filter matches while its delete is under way: the
    # delete removes it from Milvus, so the copy must not keep it
    racing = {**_rows(queries[1:2], start=6000)[0], "group": 3}
    call = store._call

    def upsert_first(method: str, *args, **kwargs):  # the other thread's write lands first
        if method == "delete":
            store._call = call  # type: ignore[method-assign]
            store.upsert(name, [racing])
        return call(method, *args, **kwargs)

    store._call = upsert_first  # type: ignore[method-assign]
    try:
        store.delete(name, filter="group == 3")
    finally:
        store._call = call  # type: ignore[method-assign]
    assert store.count(name, filter='item_id == "d6000"') == 0
    assert "d6000" not in {h.item_id for h in store.search(name, queries[1:2], limit=K)[0]}
