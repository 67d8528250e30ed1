"""Full-text (BM25) and hybrid search in the store, on Milvus Lite (a file), on Milvus
Lite served over gRPC (a server by URI), and on a Milvus 2.3 server (which has no
BM25: the collection is made dense-only and says so)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from findalike.store import CollectionSpec, FieldSpec, StoreError, VectorStore

DOCS = [
    "The GIL, the global interpreter lock, lets only one thread run Python bytecode at a time.",
    "Last month we launched a spacecraft that will send American astronauts to Mars.",
    "We will cut taxes for working families and balance the federal budget.",
    "Sort a hash by its values with a custom comparison in the sort block.",
    "Threads in a program share memory, so access to shared data needs a lock.",
    "Our schools need more teachers and better pay for the ones we have.",
    "The telescope will look back to the first galaxies of the universe.",
    "Farmers need fair prices and open markets for what they grow.",
]
FIELDS = (FieldSpec("text", "str", 4096, lexical=True), FieldSpec("n", "int"))


def _spec(name: str, fields: tuple[FieldSpec, ...] = FIELDS) -> CollectionSpec:
    return CollectionSpec(name, 384, "float", "COSINE", "minilm@test", fields=fields)


def _load(store: VectorStore, spec: CollectionSpec, vectors: np.ndarray) -> None:
    store.drop(spec.name)
    store.ensure(spec)
    rows = [
        {"id": f"d{i}:0", "item_id": f"d{i}", "part": 0, "vector": v, "text": t, "n": i}
        for i, (t, v) in enumerate(zip(DOCS, vectors, strict=True))
    ]
    store.upsert(spec.name, rows)
    store.flush(spec.name)


@pytest.fixture(scope="module")
def doc_vectors(minilm: Any) -> np.ndarray:
    return np.asarray(minilm.encode(DOCS), dtype=np.float32)


@pytest.fixture(params=["lite", "lite-server", "lite-float16"])
def bm25_store(
    request: pytest.FixtureRequest, tmp_path: Path, doc_vectors: np.ndarray
) -> Iterator[tuple[VectorStore, str]]:
    uri = (
        request.getfixturevalue("lite_server_uri")
        if request.param == "lite-server"
        else str(tmp_path / "m.db")
    )
    # lite-float16: the same collection stored as float16 (``half_vectors_min_dim``)
    store = VectorStore(uri, half_min_dim=384 if request.param == "lite-float16" else 0)
    name = f"hy_{request.node.name.split('[')[0][-20:]}"
    _load(store, _spec(name), doc_vectors)
    assert store.is_half(name) == (request.param == "lite-float16")
    yield store, name
    store.drop(name)
    store.close()


def test_a_lexical_field_gets_a_bm25_index(bm25_store: tuple[VectorStore, str]) -> None:
    store, name = bm25_store
    assert store.lexical_field(name) == "text_bm25"
    described = store.describe(name)
    assert [f.name for f in described.fields] == ["text", "n"]  # the sparse field is hidden
    assert described.fields[0].lexical


def test_lexical_search_finds_the_acronym_by_its_word(
    bm25_store: tuple[VectorStore, str], minilm: Any
) -> None:
    store, name = bm25_store
    q = minilm.encode(["GIL"])[0]
    hits = store.lexical_search(name, "GIL", q, limit=5, metric="COSINE")
    assert [h.item_id for h in hits] == ["d0"]  # only the document with the word
    assert hits[0].rank_score is not None and hits[0].rank_score > 0
    # the score is the dense cosine, as a semantic search reports it
    dense = {h.item_id: h.distance for h in store.search(name, q[None, :], limit=8)[0]}
    assert hits[0].distance == pytest.approx(dense["d0"], abs=1e-4)


def test_hybrid_search_fuses_both_and_keeps_cosine_scores(
    bm25_store: tuple[VectorStore, str], minilm: Any
) -> None:
    store, name = bm25_store
    query = "sending astronauts to Mars"
    q = minilm.encode([query])[0]
    for weight in (None, 0.05, 0.5):
        hits = store.hybrid_search(name, query, q, limit=3, metric="COSINE", lexical_weight=weight)
        assert hits[0].item_id == "d1", (weight, hits)
        assert -1.0 <= hits[0].distance <= 1.0
        fused = [h.rank_score for h in hits]
        assert fused == sorted(fused, reverse=True)  # ranked by the fused score
    filtered = store.hybrid_search(name, query, q, limit=8, metric="COSINE", filter="n >= 2")
    assert filtered and {h.item_id for h in filtered} <= {f"d{i}" for i in range(2, 8)}
    with pytest.raises(ValueError):
        store.hybrid_search(name, query, q, limit=3, metric="COSINE", lexical_weight=1.5)


def test_an_empty_collection_answers_nothing_by_word(
    bm25_store: tuple[VectorStore, str], doc_vectors: np.ndarray
) -> None:
    """Every row deleted: lexical and hybrid searches answer no hits (Milvus Lite 2.5
    refused the BM25 search of an empty collection, and the fuzzer found it as a 500)."""
    store, name = bm25_store
    store.delete(name, filter='item_id != ""')
    assert store.count(name) == 0
    assert store.lexical_search(name, "CPU", doc_vectors[0], limit=3, metric="COSINE") == []
    for weight in (None, 0.5):
        hits = store.hybrid_search(
            name, "CPU", doc_vectors[0], limit=3, metric="COSINE", lexical_weight=weight
        )
        assert hits == []


def test_a_collection_without_the_field_reports_none_and_refuses_lexical(
    tmp_path: Path, doc_vectors: np.ndarray
) -> None:
    """A collection made before full-text search (no sparse field): same encoder record,
    so opening it with today's spec is no conflict; it simply has no lexical field."""
    store = VectorStore(str(tmp_path / "old.db"))
    plain = tuple(FieldSpec(f.name, f.kind, f.max_length) for f in FIELDS)
    _load(store, _spec("old", plain), doc_vectors)
    store.close()
    store = VectorStore(str(tmp_path / "old.db"))
    store.ensure(_spec("old"))  # today's spec asks for BM25: no 409, no change
    assert store.lexical_field("old") is None
    with pytest.raises(StoreError):
        store.lexical_search("old", "GIL", doc_vectors[0], limit=3, metric="COSINE")
    store.upsert(
        "old",
        [{"id": "x:0", "item_id": "x", "part": 0, "vector": doc_vectors[0], "text": "new", "n": 9}],
    )
    assert store.count("old") == len(DOCS) + 1


@pytest.mark.server
def test_a_milvus_2_3_server_gets_a_dense_only_collection(
    milvus_server_uri: str, doc_vectors: np.ndarray
) -> None:
    store = VectorStore(milvus_server_uri)
    try:
        _load(store, _spec("hy_dense_only"), doc_vectors)
        assert store.lexical_field("hy_dense_only") is None
        hits = store.search("hy_dense_only", doc_vectors[1][None, :], limit=1)[0]
        assert hits[0].item_id == "d1"
        assert [f.name for f in store.describe("hy_dense_only").fields] == ["text", "n"]
    finally:
        store.drop("hy_dense_only")
        store.close()
