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
RDKIT_INVALID = 8
"""Lines of first_5K.smi that RDKit refuses to sanitise (hypervalent N, Al, ...)."""
QUERIES = [
    "Oc1ccccc1", "CC(=O)Oc1ccccc1C(=O)O", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "CCO",
    "c1ccc2ccccc2c1", "NC(=O)c1ccccc1", "CCCCCCCCCC(=O)O", "Clc1ccc(Cl)cc1",
    "O=C1NC(=O)C(N1)(c1ccccc1)c1ccccc1", "CC(C)Cc1ccc(C(C)C(=O)O)cc1",
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
    settings = Settings(data_dir=tmp_path_factory.mktemp("molecule"), apps=["molecule"],
                        encode_batch_size=1000)
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
        got = _search(client, query=query, limit=k)
        assert got["exact"] is True
        hits = [(h["tanimoto"], h["smiles"]) for h in got["hits"]]
        n = len(hits)
        assert all(abs(t - e) < 1e-9 for (t, _), (e, _) in zip(hits, expected, strict=False))
        cutoff = expected[n - 1][0]
        strictly_above = {s for t, s in expected if t > cutoff + 1e-9}
        assert strictly_above <= {s for _, s in hits}, query  # ties at the cut aside
        for t, s in hits:
            assert abs(t - DataStructs.TanimotoSimilarity(qfp, reference[s][0])) < 1e-6


def test_similarity_threshold_is_exact(client: TestClient, reference: dict) -> None:
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    smiles = list(reference)
    for query, threshold in [("CCO", 0.3), ("Oc1ccccc1", 0.35)]:
        qfp = gen.GetFingerprint(Chem.MolFromSmiles(query))
        sims = DataStructs.BulkTanimotoSimilarity(qfp, [reference[s][0] for s in smiles])
        expected = {s for s, t in zip(smiles, sims, strict=True) if t >= threshold}
        got = _search(client, query=query, threshold=threshold, limit=1000)
        found = {h["smiles"] for h in got["hits"]}
        print(f"{query}: Tanimoto >= {threshold}: {len(found)} hits, RDKit {len(expected)}")
        assert found == expected


@pytest.mark.parametrize(("query", "query_type"), [
    ("c1ccccc1O", "smiles"), ("[#6]C(=O)[OH]", "smarts"), ("[NX3][CX3](=O)", "smarts"),
    ("c1ccc2ccccc2c1", "smiles"), ("[Cl,Br,I]c", "smarts"), ("C1CCCCC1", "smiles"),
])
def test_substructure_equals_rdkit_has_substruct_match(
    client: TestClient, reference: dict, query: str, query_type: str
) -> None:
    pattern = Chem.MolFromSmarts(query) if query_type == "smarts" else Chem.MolFromSmiles(query)
    expected = {s for s, (_, mol) in reference.items() if mol.HasSubstructMatch(pattern)}
    got = _search(client, query=query, query_type=query_type, mode="substructure", limit=1000)
    found = {h["smiles"] for h in got["hits"]}
    print(f"{query}: {len(expected)} matches (RDKit), screened to {got['candidates']} candidates")
    assert got["exact"] is True
    if len(expected) < 1000:
        assert found == expected
    else:
        assert found <= expected


def test_superstructure_equals_rdkit(client: TestClient, reference: dict) -> None:
    query = "CC(C)Cc1ccc(C(C)C(=O)O)cc1"
    qmol = Chem.MolFromSmiles(query)
    expected = {s for s, (_, mol) in reference.items() if qmol.HasSubstructMatch(mol)}
    got = _search(client, query=query, mode="superstructure", limit=1000)
    assert {h["smiles"] for h in got["hits"]} == expected
    assert expected


@pytest.mark.parametrize(("body", "needle"), [
    ({"query": "CC(C"}, "position"),
    ({"query": "C1CC"}, "ring"),
    ({"query": "c1cccc1"}, "kekulize"),
    ({"query": "C" * 10_000}, "at most"),
    ({"query": "   "}, "empty"),
    ({"query": "[#6]~[#7]"}, "SMARTS"),
    ({"query": "[#6", "query_type": "smarts", "mode": "substructure"}, "SMARTS"),
    ({"query": "[#6]", "query_type": "smarts"}, "SMARTS"),
])
def test_invalid_queries_get_422_naming_the_problem(
    client: TestClient, body: dict, needle: str
) -> None:
    r = client.post("/api/molecule/search", json=body)
    assert r.status_code == 422, r.text
    assert needle.lower() in r.text.lower(), r.text


def test_depictions(client: TestClient) -> None:
    got = _search(client, query="CC(=O)Oc1ccccc1C(=O)O", limit=2)
    r = client.get(got["hits"][0]["depiction_url"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in r.text
    r = client.get("/api/molecule/depict", params={"smiles": "c1ccccc1O", "highlight": "[OH]"})
    assert r.status_code == 200 and "<svg" in r.text
    item = got["hits"][0]["item_id"]
    assert "<svg" in client.get(f"/api/molecule/items/{item}/depiction").text
    assert client.get("/api/molecule/depict", params={"smiles": "C1CC"}).status_code == 422
    assert client.get("/api/molecule/items/0123456789abcdef/depiction").status_code == 404


# runs last: it adds molecules that the exactness tests above do not expect
def test_csv_and_sdf_readers(client: TestClient) -> None:
    csv_text = b"name,smiles,mw\nethanol,CCO,46.07\nbroken,C1CC,0\nglycine,NCC(=O)O,75.07\n"
    job = _load(client, "drugs.csv", csv_text)
    assert job["failed"] == 1 and "drugs.csv:3" in job["errors"][0]["item"]
    hits = _search(client, query="OCC", limit=1)["hits"]
    assert hits[0]["smiles"] == "CCO" and hits[0]["tanimoto"] == 1.0
    sdf = Path(RDConfig.RDDataDir) / "NCI" / "first_200.props.sdf"
    job = _load(client, sdf.name, sdf.read_bytes())
    assert job["state"] == "done" and job["done"] + job["skipped"] + job["failed"] == 200
