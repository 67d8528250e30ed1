"""Float16 vectors on the embedded Milvus Lite 2.5 (``half_vectors_min_dim``): wide float
collections are stored as FLOAT16_VECTOR, narrow ones and existing ones keep float32,
callers write and read float32 alike, and search ranks as brute force over the stored
(float16) values. Real Milvus Lite; seeded random vectors."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

from findalike.config import Settings
from findalike.store import CollectionSpec, FieldSpec, VectorStore

WIDE = 1280
NARROW = 384


def _spec(name: str, dim: int) -> CollectionSpec:
    return CollectionSpec(
        name=name,
        dim=dim,
        vector_kind="float",
        metric="COSINE",
        encoder=f"test-encoder-{dim}@1",
        fields=(FieldSpec("title", "str", 64),),
    )


def _rows(n: int, dim: int, seed: int = 0) -> tuple[list[dict], np.ndarray]:
    rng = np.random.default_rng(seed)
    vecs = rng.normal(size=(n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    rows = [
        {"id": f"d{i}:0", "item_id": f"d{i}", "part": 0, "vector": vecs[i], "title": f"t{i}"}
        for i in range(n)
    ]
    return rows, vecs


@pytest.fixture
def lite(tmp_path: Path):
    store = VectorStore(str(tmp_path / "milvus.db"), half_min_dim=1000)
    yield store
    store.close()


def test_the_default_threshold_takes_the_image_family_only() -> None:
    assert Settings(load_demo=False).half_vectors_min_dim == 1000  # image family: 1000, 1280


def test_wide_vectors_are_stored_as_float16_and_read_back_as_floats(lite: VectorStore) -> None:
    wide, narrow = f"wide_{uuid.uuid4().hex[:6]}", f"narrow_{uuid.uuid4().hex[:6]}"
    lite.ensure(_spec(wide, WIDE))
    lite.ensure(_spec(narrow, NARROW))
    assert lite.is_half(wide) and not lite.is_half(narrow)
    assert lite.index_of(wide) == {"type": "FLAT", "params": {}}  # Lite's only float16 index
    rows, vecs = _rows(200, WIDE, seed=1)
    lite.upsert(wide, rows)
    lite.flush(wide)
    halves = vecs.astype(np.float16).astype(np.float32)

    got = {
        r["id"]: r["vector"]
        for r in lite.query(wide, filter='id in ["d3:0", "d7:0"]', output_fields=["vector"])
    }
    assert isinstance(got["d3:0"], list) and len(got["d3:0"]) == WIDE
    np.testing.assert_array_equal(np.asarray(got["d7:0"], dtype=np.float32), halves[7])
    every = {
        r["id"]: r["vector"]
        for page in lite.iter_rows(wide, output_fields=["vector"])
        for r in page
    }
    assert len(every) == 200
    np.testing.assert_array_equal(np.asarray(every["d199:0"], dtype=np.float32), halves[199])

    # ranked as brute force over the stored values; scores within float16's rounding
    queries = np.random.default_rng(2).normal(size=(5, WIDE)).astype(np.float32)
    exact = (queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ (
        halves / np.linalg.norm(halves, axis=1, keepdims=True)
    ).T
    for q, hits, scores in zip(
        queries,
        lite.search(wide, queries, limit=10, output_fields=["title", "vector"]),
        exact,
        strict=True,
    ):
        want = np.argsort(-scores)[:10]
        assert [h.id for h in hits][:3] == [f"d{i}:0" for i in want[:3]], q[:2]
        assert {h.id for h in hits} >= {f"d{i}:0" for i in want[:7]}
        for h in hits:
            assert abs(h.distance - scores[int(h.id[1:-2])]) < 2e-3
        for h in hits:
            i = int(h.id[1:-2])
            assert h.fields["title"] == f"t{i}"
            np.testing.assert_array_equal(np.asarray(h.fields["vector"], np.float32), halves[i])


def test_a_float32_collection_stays_float32_when_half_is_turned_on(tmp_path: Path) -> None:
    """Collections keep what they were made with: one made float32 (setting 0) is still
    float32, written and searched as before, when a store with the setting on opens it."""
    uri, name = str(tmp_path / "milvus.db"), "kept"
    rows, vecs = _rows(50, WIDE, seed=3)
    before = VectorStore(uri, half_min_dim=0)
    before.ensure(_spec(name, WIDE))
    assert not before.is_half(name)
    before.upsert(name, rows[:25])
    before.close()
    after = VectorStore(uri, half_min_dim=1000)
    try:
        after.ensure(_spec(name, WIDE))
        assert not after.is_half(name)
        after.upsert(name, rows[25:])
        after.flush(name)
        assert after.count(name) == 50
        hits = after.search(name, vecs[40:41], limit=1)[0]
        assert hits[0].id == "d40:0" and hits[0].distance == pytest.approx(1.0, abs=1e-5)
    finally:
        after.close()
