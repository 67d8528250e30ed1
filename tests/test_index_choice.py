"""The right index for the size (issue 12): the vector index of a new collection is
chosen by the store (FLAT on the embedded Milvus Lite 2.5, Lite 3.2's own AUTOINDEX,
HNSW on a server), can be set (FLAT, HNSW, IVF_FLAT with their parameters), is recorded with the
collection and reported by GET /api/apps; ``ef`` and ``nprobe`` tune a search, within
bounds. Run on Milvus Lite and on the real Milvus 2.3 server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from findalike.api.main import create_app
from findalike.config import Settings
from tests.conftest import wait_job

RNG = np.random.default_rng(7)
SEQUENCES = ["".join(RNG.choice(list("ACGT"), 40)) for _ in range(60)]
FASTA = "".join(f">s{i} class={'AB'[i % 2]}\n{s}\n" for i, s in enumerate(SEQUENCES)).encode()


def _client(store_uri: str, tmp_path: Any, **settings: Any) -> TestClient:
    prefix = f"ix{uuid.uuid4().hex[:8]}_"  # one server, many tests
    s = Settings(
        data_dir=tmp_path, apps=["dna"], milvus_uri=store_uri, collection_prefix=prefix, **settings
    )
    return TestClient(create_app(s))


def _loaded(c: TestClient) -> dict[str, Any]:
    r = c.post("/api/dna/load", files=[("files", ("s.fa", FASTA))])
    assert wait_job(c, r.json()["id"])["state"] == "done"
    (info,) = [a for a in c.get("/api/apps").json()["data"] if a["name"] == "dna"]
    return dict(info["index"])


def _hits(c: TestClient, **extra: Any) -> list[tuple[str, float]]:
    r = c.post("/api/dna/search", json={"sequence": SEQUENCES[3], "top_k": 5, **extra})
    assert r.status_code == 200, r.text
    return [(h["item_id"], round(h["score"], 4)) for h in r.json()["hits"]]


@pytest.fixture
def default_client(store_uri: str, tmp_path: Any) -> Iterator[tuple[str, TestClient]]:
    with _client(store_uri, tmp_path) as c:
        yield store_uri, c


def test_the_default_index_fits_the_store(default_client: tuple[str, TestClient]) -> None:
    uri, c = default_client
    index = _loaded(c)
    if uri.startswith("http"):
        assert index == {"type": "HNSW", "params": {"M": 16, "efConstruction": 200}}
    else:  # Lite 2.5: exact (its IVF and AUTOINDEX go approximate from 100k rows)
        assert index == {"type": "FLAT", "params": {}}
    exact = _hits(c)
    assert exact[0][1] == 1.0  # the query itself
    assert _hits(c, ef=1) == exact  # raised to top_k: still a valid search
    assert _hits(c, ef=512) == exact
    for bad in ({"ef": 0}, {"ef": 4097}, {"nprobe": 0}, {"ef": "many"}):
        assert c.post("/api/dna/search", json={"sequence": "ACGT" * 5, **bad}).status_code == 422


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"index_type": "FLAT"}, {"type": "FLAT", "params": {}}),
        (
            {"index_type": "HNSW", "hnsw_m": 8},
            {"type": "HNSW", "params": {"M": 8, "efConstruction": 200}},
        ),
    ],
)
def test_a_chosen_index_is_built_recorded_and_searched(
    store_uri: str, tmp_path: Any, settings: dict[str, Any], expected: dict[str, Any]
) -> None:
    with _client(store_uri, tmp_path, **settings) as c:
        if expected["type"] == "HNSW" and not store_uri.startswith("http"):
            r = c.post("/api/dna/load", files=[("files", ("s.fa", FASTA))])
            job = wait_job(c, r.json()["id"])  # Lite 2.5 builds no HNSW: said so, at once
            assert job["state"] == "failed" and "needs a Milvus server" in job["message"], job
            return
        assert _loaded(c) == expected
        hits = _hits(c, nprobe=64, ef=16)  # nprobe above nlist is capped, not refused
        assert hits[0][1] == 1.0 and len(hits) == 5
        if expected["type"] == "FLAT":  # exact: the scores are the true top 5
            vectors = _profiles(c)
            query = vectors[3] / np.linalg.norm(vectors[3])
            scores = np.sort(vectors @ query / np.linalg.norm(vectors, axis=1))[::-1][:5]
            assert [s for _, s in hits] == pytest.approx(scores.tolist(), abs=1e-4)


def _profiles(c: TestClient) -> np.ndarray:
    """The stored sequences encoded by the app's own encoder (the exact answer's input)."""
    rt = c.app.state.runtimes["dna"]  # type: ignore[attr-defined]
    return np.asarray(rt.encoder.encode(SEQUENCES), dtype=np.float64)


@pytest.mark.server
def test_ivf_on_the_server_takes_nprobe(milvus_server_uri: str, tmp_path: Any) -> None:
    """IVF is for servers (on Milvus Lite, whose sets are small, FLAT or its HNSW fit)."""
    with _client(milvus_server_uri, tmp_path, index_type="IVF_FLAT", ivf_nlist=4) as c:
        assert _loaded(c) == {"type": "IVF_FLAT", "params": {"nlist": 4}}
        every_cluster = _hits(c, nprobe=64)  # capped at nlist: all 4 clusters, exact
        assert every_cluster[0][1] == 1.0 and len(every_cluster) == 5
        vectors = _profiles(c)
        query = vectors[3] / np.linalg.norm(vectors[3])
        scores = np.sort(vectors @ query / np.linalg.norm(vectors, axis=1))[::-1][:5]
        assert [s for _, s in every_cluster] == pytest.approx(scores.tolist(), abs=1e-4)
