"""The DNA app on real labelled sequences (3,994 16S rRNA genes with their taxonomy,
from Debian r-bioc-dada2, datasets/dna), real Milvus Lite, through the real HTTP app."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from findalike.api.main import create_app
from findalike.config import Settings
from findalike.encoders.kmer import KmerEncoder
from tests.conftest import wait_job

DATA = Path(__file__).resolve().parents[2] / "datasets" / "dna" / "ten_16s.100.fa.gz"
AMBIGUOUS_RECORDS = 318
"""Records of the file with IUPAC ambiguity letters (R, Y, K, ...): rejected per record."""
ACCURACY_BAR = 0.90
MARGIN_OVER_BASELINE = 0.40
"""Phylum, 5 neighbours, k=5, 20% held out: measured ~0.99 vs a ~0.39 majority baseline."""


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("dna"), apps=["dna"], encode_batch_size=1000
    )
    with TestClient(create_app(settings)) as c:
        job = _load(c, DATA.name, DATA.read_bytes())
        assert job["state"] == "done", job
        assert job["failed"] == AMBIGUOUS_RECORDS
        yield c


def _load(client: TestClient, name: str, data: bytes) -> dict[str, Any]:
    r = client.post("/api/dna/load", files=[("files", (name, data))])
    assert r.status_code == 202, r.text
    return wait_job(client, r.json()["id"])


def _records() -> list[tuple[str, str]]:
    text = gzip.decompress(DATA.read_bytes()).decode()
    return [(c.split("\n", 1)[0], "".join(c.split("\n")[1:])) for c in text.split(">")[1:]]


def test_kmer_vocabulary_is_fixed() -> None:
    enc = KmerEncoder(3)
    v = enc.counts("AAACGTNNTTT")
    assert v.shape == (64,) and v[0] == 1 and v[63] == 1  # AAA, TTT; windows with N skipped
    assert v.sum() == 5  # AAA AAC ACG CGT TTT
    a = KmerEncoder(5).encode(["ACGTACGTTGCA"])
    b = KmerEncoder(5).encode(["ACGTACGTTGCA"])
    assert np.array_equal(a, b) and a.shape == (1, 1024)


def test_held_out_accuracy_beats_majority_baseline(client: TestClient) -> None:
    r = client.post("/api/dna/evaluate", json={"holdout_fraction": 0.2, "seed": 0})
    assert r.status_code == 200, r.text
    report = r.json()
    print(
        f"held-out accuracy {report['accuracy']:.4f} on {report['held_out']} sequences "
        f"({len(report['labels'])} phyla), majority baseline {report['majority_baseline']:.4f} "
        f"({report['majority_label']}); bar {ACCURACY_BAR}"
    )
    assert report["accuracy"] >= ACCURACY_BAR
    assert report["accuracy"] >= report["majority_baseline"] + MARGIN_OVER_BASELINE
    matrix = np.array(report["confusion"])
    assert matrix.sum() == report["held_out"] and np.trace(matrix) / matrix.sum() == pytest.approx(
        report["accuracy"], abs=1e-6
    )
    assert {c["label"] for c in report["per_class"]} == set(report["labels"])


def test_classify_returns_class_confidence_and_neighbours(client: TestClient) -> None:
    header, sequence = next((h, s) for h, s in _records() if "p:Firmicutes" in h)
    # a mutated fragment of a stored gene: still its phylum
    rng = np.random.default_rng(0)
    letters = np.array(list(sequence[100:900]))
    flip = rng.random(len(letters)) < 0.05
    letters[flip] = rng.choice(list("ACGT"), flip.sum())
    r = client.post("/api/dna/classify", json={"sequence": "".join(letters), "neighbours": 7})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["label"] == "Firmicutes"
    assert 0.5 < got["confidence"] <= 1.0
    sims = [n["score"] for n in got["neighbours"]]
    assert len(sims) == 7 and sims == sorted(sims, reverse=True)
    hits = client.post("/api/dna/search", json={"sequence": sequence, "top_k": 3}).json()["hits"]
    assert hits[0]["score"] == pytest.approx(1.0, abs=1e-5)


def _stored_sequence() -> str:
    return next(s for h, s in _records() if "p:Firmicutes" in h)


def test_search_holds_to_top_k_and_min_score(client: TestClient) -> None:
    r = client.post("/api/dna/search", json={"sequence": _stored_sequence(), "top_k": 3})
    assert r.status_code == 200, r.text
    hits = r.json()["hits"]
    assert len(hits) == 3 and all(set(h) >= {"item_id", "score"} for h in hits)
    floor = hits[1]["score"]
    r = client.post(
        "/api/dna/search", json={"sequence": _stored_sequence(), "top_k": 3, "min_score": floor}
    )
    assert [h["item_id"] for h in r.json()["hits"]] == [h["item_id"] for h in hits[:2]]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/dna/search", {"sequence": "ACGTACGTAC", "topk": 3}),
        ("/api/dna/classify", {"sequence": "ACGTACGTAC", "neighbors": 3}),
        ("/api/dna/evaluate", {"holdout": 0.2}),
    ],
)
def test_misspelt_field_is_a_422_naming_it(client: TestClient, path: str, body: dict) -> None:
    r = client.post(path, json=body)
    misspelt = next(k for k in body if k != "sequence")
    assert r.status_code == 422 and misspelt in r.text, r.text


def test_deprecated_limit_gives_the_same_answer_as_top_k(client: TestClient) -> None:
    old = client.post("/api/dna/search", json={"sequence": _stored_sequence(), "limit": 4})
    new = client.post("/api/dna/search", json={"sequence": _stored_sequence(), "top_k": 4})
    assert old.status_code == new.status_code == 200, old.text
    assert old.json() == new.json() and len(new.json()["hits"]) == 4
    both = client.post(
        "/api/dna/search", json={"sequence": _stored_sequence(), "limit": 4, "top_k": 5}
    )
    assert both.status_code == 422 and "deprecated" in both.text, both.text
    schema = client.get("/openapi.json").json()["components"]["schemas"]["DnaQuery"]
    assert schema["properties"]["limit"].get("deprecated") is True


def test_bad_fasta_is_rejected_record_by_record(client: TestClient) -> None:
    fasta = (
        b">ok1 class=TestA\nACGTACGTAC\nGTACGTACGT\n"
        b">bad_letters class=TestA\nACGTXXACGT\n"
        b">no_class here\nACGTACGTACGT\n"
        b">empty class=TestA\n\n"
        b">short class=TestB\nACG\n"
        b">ok2 class=TestB\nttttggggccccaaaannnnacgt\n"
    )
    job = _load(client, "mixed.fasta", fasta)
    assert job["state"] == "done"
    assert job["done"] == 2 and job["failed"] == 4
    errors = {e["item"].split(" ")[0]: e["error"] for e in job["errors"]}
    assert "invalid letter 'X' at position 5" in errors["mixed.fasta#2"]
    assert "no class" in errors["mixed.fasta#3"]
    r = client.post("/api/dna/classify", json={"sequence": "ACGTQ"})
    assert r.status_code == 400 and "position 5" in r.text
    job = _load(client, "bad.fasta", b"ACGT no header\n")
    assert job["failed"] == 1


def test_vectors_unchanged_after_another_load(client: TestClient) -> None:
    rt = client.app.state.runtimes["dna"]  # type: ignore[attr-defined]
    store = rt.store
    before = {
        r["item_id"]: np.asarray(r["vector"])
        for r in store.query(
            rt.collection, filter="part == 0", output_fields=["item_id", "vector"], limit=50
        )
    }
    tsv = "sequence\tclass\n" + "".join(
        f"{s[:600]}\tnew_{h.split('p:')[1].split(',')[0]}\n"
        for h, s in _records()[:40]
        if "p:" in h and set(s) <= set("ACGT")
    )
    job = _load(client, "more.tsv", tsv.encode())
    assert job["state"] == "done" and job["done"] > 30
    rows = store.query(
        rt.collection, filter=f"item_id in {list(before)}", output_fields=["item_id", "vector"]
    )
    assert len(rows) == len(before)
    for row in rows:
        assert np.array_equal(np.asarray(row["vector"]), before[row["item_id"]])


def test_a_gzip_bomb_fails_its_item_and_the_rest_of_the_load_is_stored(tmp_path: Path) -> None:
    """Issue 9: a .fa.gz of a few tens of KB that inflates far past
    FINDALIKE_MAX_ITEM_BYTES fails with the limit named; it is never inflated whole."""
    cap = 1024**2
    bomb = gzip.compress(b">bomb class=X\n" + b"ACGT" * (16 * cap), compresslevel=9)
    assert len(bomb) < 200_000  # ~64 MiB of letters
    good = gzip.compress(
        b">a class=Firmicutes\nACGTACGTTGCAACGT\n>b class=Proteobacteria\nTTGCAACGTACGGGCA\n"
    )
    settings = Settings(data_dir=tmp_path, apps=["dna"], max_item_bytes=cap)
    with TestClient(create_app(settings)) as c:
        job = _load_many(c, [("bomb.fa.gz", bomb), ("good.fa.gz", good)])
    assert job["state"] == "done" and job["done"] == 2 and job["failed"] == 1, job
    error = job["errors"][0]
    assert error["item"] == "bomb.fa.gz"
    assert "FINDALIKE_MAX_ITEM_BYTES" in error["error"] and str(cap) in error["error"]


def _load_many(client: TestClient, files: list[tuple[str, bytes]]) -> dict[str, Any]:
    r = client.post("/api/dna/load", files=[("files", f) for f in files])
    assert r.status_code == 202, r.text
    return wait_job(client, r.json()["id"])
