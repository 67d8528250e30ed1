"""The molecule app on real data (4,999 NCI SMILES shipped with RDKit, datasets/molecules),
real RDKit, real Milvus Lite, through the real HTTP app. Results are compared with
RDKit's own answers over the same set: they must be EXACT, not approximate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rdkit")

from fastapi.testclient import TestClient  # noqa: E402
from rdkit import Chem, DataStructs, RDConfig, rdBase  # noqa: E402
from rdkit.Chem import rdFingerprintGenerator  # noqa: E402

from findalike.api.main import create_app  # noqa: E402
from findalike.config import Settings  # noqa: E402
from tests.conftest import wait_job  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "datasets" / "molecules" / "nci_first_5K.smi"
ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
RDKIT_INVALID = 8
"""Lines of first_5K.smi that RDKit refuses to sanitise (hypervalent N, Al, ...)."""
QUERIES = [
    "Oc1ccccc1",
    "CC(=O)Oc1ccccc1C(=O)O",
    "CN1C=NC2=C1C(=O)N(C(=O)N2C)C",
    "CCO",
    "c1ccc2ccccc2c1",
    "NC(=O)c1ccccc1",
    "CCCCCCCCCC(=O)O",
    "Clc1ccc(Cl)cc1",
    "O=C1NC(=O)C(N1)(c1ccccc1)c1ccccc1",
    "CC(C)Cc1ccc(C(C)C(=O)O)cc1",
]


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    """Canonical SMILES -> RDKit Morgan fingerprint (r=2, 2048 bits) and Mol, computed
    here with RDKit alone."""
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    out: dict[str, Any] = {}
    with rdBase.BlockLogs():
        for line in DATA.read_text().splitlines():
            mol = Chem.MolFromSmiles(line.split()[0])
            if mol is not None:
                out.setdefault(Chem.MolToSmiles(mol), (gen.GetFingerprint(mol), mol))
    return out


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("molecule"), apps=["molecule"], encode_batch_size=1000
    )
    with TestClient(create_app(settings)) as c:
        job = _load(c, DATA.name, DATA.read_bytes())
        assert job["state"] == "done", job
        assert job["failed"] == RDKIT_INVALID, job["errors"]
        yield c


def _load(client: TestClient, name: str, data: bytes) -> dict[str, Any]:
    r = client.post("/api/molecule/load", files=[("files", (name, data))])
    assert r.status_code == 202, r.text
    return wait_job(client, r.json()["id"])


def _search(client: TestClient, **body: Any) -> dict[str, Any]:
    r = client.post("/api/molecule/search", json=body)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_load_reports_invalid_lines_and_dedupes(client: TestClient, reference: dict) -> None:
    assert client.get("/api/molecule/count").json()["items"] == len(reference)
    # NCI 1 (CC1=CC(=O)C=CC1=O) and NCI 7 (C1=CC=CC=C1 ... kekulé) written other ways
    job = _load(client, "again.smi", b"O=C1C=CC(=O)C(C)=C1 rewritten\nCC1=CC(=O)C=CC1=O same\n")
    assert job["skipped"] == 2 and job["done"] == 0 and job["failed"] == 0
    assert client.get("/api/molecule/count").json()["items"] == len(reference)


def test_similarity_topk_equals_rdkit_bulk_tanimoto(client: TestClient, reference: dict) -> None:
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    smiles = list(reference)
    fps = [reference[s][0] for s in smiles]
    k = 10
    for query in QUERIES:
        qfp = gen.GetFingerprint(Chem.MolFromSmiles(query))
        sims = DataStructs.BulkTanimotoSimilarity(qfp, fps)
        expected = sorted(zip(sims, smiles, strict=True), reverse=True)
        got = _search(client, query=query, top_k=k)
        assert got["exact"] is True
        hits = [(h["score"], h["smiles"]) for h in got["hits"]]
        n = len(hits)
        assert n == k, query  # thousands stored: top_k of them, never fewer
        assert all(abs(t - e) < 1e-9 for (t, _), (e, _) in zip(hits, expected, strict=False))
        cutoff = expected[n - 1][0]
        strictly_above = {s for t, s in expected if t > cutoff + 1e-9}
        assert strictly_above <= {s for _, s in hits}, query  # ties at the cut aside
        for t, s in hits:
            assert abs(t - DataStructs.TanimotoSimilarity(qfp, reference[s][0])) < 1e-6


def test_similarity_min_score_is_exact(client: TestClient, reference: dict) -> None:
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    smiles = list(reference)
    for query, floor in [("CCO", 0.3), ("Oc1ccccc1", 0.35)]:
        qfp = gen.GetFingerprint(Chem.MolFromSmiles(query))
        sims = DataStructs.BulkTanimotoSimilarity(qfp, [reference[s][0] for s in smiles])
        expected = {s for s, t in zip(smiles, sims, strict=True) if t >= floor}
        got = _search(client, query=query, min_score=floor, top_k=1000)
        found = {h["smiles"] for h in got["hits"]}
        print(f"{query}: Tanimoto >= {floor}: {len(found)} hits, RDKit {len(expected)}")
        assert found == expected and got["matches"] == len(expected)


@pytest.mark.parametrize(
    ("query", "query_type"),
    [
        ("c1ccccc1O", "smiles"),
        ("[#6]C(=O)[OH]", "smarts"),
        ("[NX3][CX3](=O)", "smarts"),
        ("c1ccc2ccccc2c1", "smiles"),
        ("[Cl,Br,I]c", "smarts"),
        ("C1CCCCC1", "smiles"),
    ],
)
def test_substructure_equals_rdkit_has_substruct_match(
    client: TestClient, reference: dict, query: str, query_type: str
) -> None:
    pattern = Chem.MolFromSmarts(query) if query_type == "smarts" else Chem.MolFromSmiles(query)
    expected = {s for s, (_, mol) in reference.items() if mol.HasSubstructMatch(pattern)}
    got = _search(client, query=query, query_type=query_type, mode="substructure", top_k=1000)
    found = {h["smiles"] for h in got["hits"]}
    print(f"{query}: {len(expected)} matches (RDKit), screened to {got['candidates']} candidates")
    assert got["exact"] is True
    if len(expected) < 1000:
        assert found == expected
    else:
        assert found <= expected
    _check_structure_scores(got["hits"], reference, query if query_type == "smiles" else None)


def _check_structure_scores(hits: list[dict[str, Any]], reference: dict, query: str | None) -> None:
    """Structure hits stay smallest first, and each has a Tanimoto score: to the
    query molecule (as RDKit computes it) for a SMILES query, in (0, 1] for a SMARTS."""
    order = [(len(h["smiles"]), h["smiles"]) for h in hits]
    assert order == sorted(order)
    if query is None:
        assert all(0.0 < h["score"] <= 1.0 for h in hits)
        return
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    qfp = gen.GetFingerprint(Chem.MolFromSmiles(query))
    for h in hits:
        expected = DataStructs.TanimotoSimilarity(qfp, reference[h["smiles"]][0])
        assert abs(h["score"] - expected) < 1e-9 and h["tanimoto"] == h["score"]


def test_superstructure_equals_rdkit(client: TestClient, reference: dict) -> None:
    query = "CC(C)Cc1ccc(C(C)C(=O)O)cc1"
    qmol = Chem.MolFromSmiles(query)
    expected = {s for s, (_, mol) in reference.items() if qmol.HasSubstructMatch(mol)}
    got = _search(client, query=query, mode="superstructure", top_k=1000)
    assert {h["smiles"] for h in got["hits"]} == expected
    assert expected
    _check_structure_scores(got["hits"], reference, query)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"query": "CC(C"}, "position"),
        ({"query": "C1CC"}, "ring"),
        ({"query": "c1cccc1"}, "kekulize"),
        ({"query": "C" * 10_000}, "at most"),
        ({"query": "   "}, "empty"),
        ({"query": "[#6]~[#7]"}, "SMARTS"),
        ({"query": "[#6", "query_type": "smarts", "mode": "substructure"}, "SMARTS"),
        ({"query": "[#6]", "query_type": "smarts"}, "SMARTS"),
    ],
)
def test_invalid_queries_get_422_naming_the_problem(
    client: TestClient, body: dict, needle: str
) -> None:
    r = client.post("/api/molecule/search", json=body)
    assert r.status_code == 422, r.text
    assert needle.lower() in r.text.lower(), r.text


def test_depictions(client: TestClient) -> None:
    got = _search(client, query="CC(=O)Oc1ccccc1C(=O)O", top_k=2)
    r = client.get(got["hits"][0]["depiction_url"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in r.text
    r = client.get("/api/molecule/depict", params={"smiles": "c1ccccc1O", "highlight": "[OH]"})
    assert r.status_code == 200 and "<svg" in r.text
    item = got["hits"][0]["item_id"]
    assert "<svg" in client.get(f"/api/molecule/items/{item}/depiction").text
    assert client.get("/api/molecule/depict", params={"smiles": "C1CC"}).status_code == 422
    assert client.get(f"/api/molecule/items/{'0' * 32}/depiction").status_code == 404
    assert client.get("/api/molecule/items/0123456789abcdef/depiction").status_code == 422


def test_contract_top_k_and_min_score_in_every_mode(client: TestClient) -> None:
    for body in (
        {"query": "c1ccccc1O"},
        {"query": "c1ccccc1", "mode": "substructure"},
        {"query": "[#6]C(=O)[OH]", "query_type": "smarts", "mode": "substructure"},
        {"query": "CC(C)Cc1ccc(C(C)C(=O)O)cc1", "mode": "superstructure"},
    ):
        hits = _search(client, **body, top_k=3)["hits"]
        assert 1 <= len(hits) <= 3, body
        assert all(set(h) >= {"item_id", "score"} for h in hits)
    everything = _search(client, query="c1ccccc1O", mode="substructure", top_k=1000)
    assert everything["matches"] == len(everything["hits"]) > 10
    floor = sorted(h["score"] for h in everything["hits"])[len(everything["hits"]) // 2]
    kept = [h["item_id"] for h in everything["hits"] if h["score"] >= floor]
    got = _search(client, query="c1ccccc1O", mode="substructure", top_k=5, min_score=floor)
    assert [h["item_id"] for h in got["hits"]] == kept[:5]  # the floor applies before top_k
    assert got["matches"] == len(kept)


def test_misspelt_field_is_a_422_naming_it(client: TestClient) -> None:
    r = client.post("/api/molecule/search", json={"query": "CCO", "topk": 3})
    assert r.status_code == 422 and "topk" in r.text, r.text


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ({"smiles": ASPIRIN, "top_k": 5}, {"query": ASPIRIN, "top_k": 5}),
        ({"query": "CCO", "limit": 4}, {"query": "CCO", "top_k": 4}),
        (
            {"query": "CCO", "threshold": 0.3, "top_k": 1000},
            {"query": "CCO", "min_score": 0.3, "top_k": 1000},
        ),
    ],
)
def test_deprecated_aliases_give_the_same_answer(client: TestClient, old: dict, new: dict) -> None:
    """The README's tour sends `smiles`; `limit` and `threshold` are the old names too."""
    assert _search(client, **old) == _search(client, **new)


@pytest.mark.parametrize(
    "body",
    [
        {"smiles": "CCO", "query": "CCC"},
        {"query": "CCO", "limit": 4, "top_k": 5},
        {"query": "CCO", "threshold": 0.2, "min_score": 0.3},
    ],
)
def test_alias_and_new_name_disagreeing_is_a_422(client: TestClient, body: dict) -> None:
    r = client.post("/api/molecule/search", json=body)
    assert r.status_code == 422, r.text
    assert "deprecated" in r.text, r.text


def test_openapi_marks_the_old_names_deprecated(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["MoleculeSearch"]
    props = schema["properties"]
    assert all(props[name].get("deprecated") for name in ("smiles", "limit", "threshold"))
    assert schema["required"] == ["query"]
    hit = client.get("/openapi.json").json()["components"]["schemas"]["MoleculeHit"]
    assert hit["properties"]["tanimoto"].get("deprecated") is True


@pytest.mark.parametrize(
    "body",
    [
        {"query": ASPIRIN, "top_k": 10},
        {"query": "CCO", "top_k": 1000, "min_score": 0.3},
        {"query": "Clc1ccc(Cl)cc1", "top_k": 25},
        {"query": "c1ccccc1O", "mode": "substructure", "top_k": 50},
    ],
)
def test_in_memory_fingerprints_answer_as_milvus_does(
    client: TestClient, body: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Congruence: the packed-bit matrix and the Milvus path give the same hits, in
    the same order (ties by item id), with the same scores."""
    from findalike.apps.molecule import search

    in_memory = _search(client, **body)
    monkeypatch.setattr(search, "fingerprint_index", lambda rt: None)  # Milvus answers
    on_milvus = _search(client, **body)
    assert [(h["item_id"], h["score"]) for h in in_memory["hits"]] == [
        (h["item_id"], h["score"]) for h in on_milvus["hits"]
    ]
    assert in_memory["hits"] == on_milvus["hits"]
    assert in_memory["exact"] is on_milvus["exact"] is True


def test_the_milvus_path_is_exact_when_its_first_fetch_is_too_short(
    client: TestClient, reference: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store path ranks candidates by cosine, which orders molecules otherwise than
    Tanimoto; its bound must fetch more until the top-k is proven. With a first fetch
    of exactly top_k (instead of 4 x top_k, at least 64) nearly every query needs it:
    the answer must still be RDKit's."""
    from findalike.apps.molecule import search

    monkeypatch.setattr(search, "fingerprint_index", lambda rt: None)  # Milvus answers
    monkeypatch.setattr(search, "FETCH_PER_HIT", 1)
    monkeypatch.setattr(search, "MIN_FETCH", 1)
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    smiles = list(reference)
    fps = [reference[s][0] for s in smiles]
    k = 10
    for query in QUERIES:
        sims = DataStructs.BulkTanimotoSimilarity(
            gen.GetFingerprint(Chem.MolFromSmiles(query)), fps
        )
        expected = sorted(sims, reverse=True)[:k]
        got = _search(client, query=query, top_k=k)
        assert got["exact"] is True
        assert len(got["hits"]) == k, query
        assert [round(h["score"], 9) for h in got["hits"]] == [round(t, 9) for t in expected], query


def test_in_memory_fingerprints_follow_deletes_and_loads(client: TestClient) -> None:
    before = _search(client, query=ASPIRIN, top_k=3)["hits"]
    gone = before[0]
    assert client.delete(f"/api/molecule/items/{gone['item_id']}").status_code == 200
    after = _search(client, query=ASPIRIN, top_k=3)["hits"]
    assert gone["item_id"] not in {h["item_id"] for h in after}
    assert [h["item_id"] for h in after[:2]] == [h["item_id"] for h in before[1:]]
    job = _load(client, "back.smi", f"{gone['smiles']} back\n".encode())
    assert job["done"] == 1
    assert [h["item_id"] for h in _search(client, query=ASPIRIN, top_k=3)["hits"]] == [
        h["item_id"] for h in before
    ]


# runs last: it adds molecules that the exactness tests above do not expect
def test_csv_and_sdf_readers(client: TestClient) -> None:
    csv_text = b"name,smiles,mw\nethanol,CCO,46.07\nbroken,C1CC,0\nglycine,NCC(=O)O,75.07\n"
    job = _load(client, "drugs.csv", csv_text)
    assert job["failed"] == 1 and "drugs.csv:3" in job["errors"][0]["item"]
    hits = _search(client, query="OCC", top_k=1)["hits"]
    assert hits[0]["smiles"] == "CCO" and hits[0]["score"] == 1.0
    sdf = Path(RDConfig.RDDataDir) / "NCI" / "first_200.props.sdf"
    job = _load(client, sdf.name, sdf.read_bytes())
    assert job["state"] == "done" and job["done"] + job["skipped"] + job["failed"] == 200
