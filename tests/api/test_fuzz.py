"""Schemathesis over the live OpenAPI document of the real app: every app enabled, the
real text model, Milvus Lite in a temporary folder, small real data loaded into the
apps whose encoders are cheap (text, qa, molecule, dna, recommend) so that requests
reach Milvus filters and trained models, not only empty collections.

For every operation Schemathesis sends its documented examples, boundary values
(coverage, which includes undeclared methods) and random valid and invalid requests
(fuzzing). Every response must be no 5xx, have a documented status code and content
type, conform to the documented schema, and a wrong method must be a 405 whose
``Allow`` lists the documented methods.

Bounded and reproducible: a fixed seed, derandomized Hypothesis, ``MAX_EXAMPLES``
fuzzed requests per operation (at 15 it missed a negative ``seed``, a 500, that 50
finds). Invalid requests (by the schema) must be refused with a 4xx
(``negative_data_rejection``: it found ``"seed": false`` taken as seed 0). Measured on
2 cores: ~11,400 requests to all 138 operations in about a minute of requests, 2.5 minutes
with the data load; ``test_every_operation_was_fuzzed`` checks every operation got
requests and prints the count. The drops (``DELETE /api/{app}``) run last, so the
other operations see the loaded data. Nothing is skipped: an empty app's DELETE routes
are harmless, and loads answer 202 with a job.

Schemathesis's lazy ``from_fixture`` loader does not work on pytest 9 (it sets
``Node._nodeid``), so the document is read at collection from an app built for the
purpose (cheap: no model, no Milvus, no file) and the cases run against the fixture's
app in process (``call_and_validate(app=...)``); the fixture checks both documents
are the same.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.python import asgi

from findalike.api.main import create_app
from findalike.config import Settings
from tests.conftest import REPO, wait_job

MAX_EXAMPLES = 50
SEED = 20261125
DROPS = r"^/api/[a-z]+$"

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "suppress-health-check": ["all"],
        "generation": {
            "mode": "all",
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
        },
        "phases": {"stateful": {"enabled": False}},
        "checks": {
            "enabled": False,
            "not_a_server_error": {"enabled": True},
            # an invalid request (by the schema) must be refused with a 4xx
            "negative_data_rejection": {"enabled": True},
            "status_code_conformance": {"enabled": True},
            "content_type_conformance": {"enabled": True},
            "response_schema_conformance": {"enabled": True},
            "unsupported_method": {"enabled": True},
            "allow_header_conformance": {"enabled": True},
        },
    }
)


def _head(path: Path, lines: int) -> bytes:
    return b"".join(path.read_bytes().splitlines(True)[:lines])


def _fasta_head(path: Path, records: int) -> bytes:
    """The first records (each evaluate request classifies every held-out one)."""
    text = gzip.decompress(path.read_bytes()).decode()
    return ">".join(text.split(">")[: records + 1]).encode()


TEXT_CSV = b"""title,text,topic,year
Volcanoes,"A volcano erupts when molten rock, ash and gases escape from below.",geology,2001
Photosynthesis,"Plants turn sunlight, water and carbon dioxide into sugar and oxygen.",biology,2005
Interest rates,"The central bank raised interest rates to slow inflation.",economics,2010
"""
QA_CSV = b"""question,answer
How do I sort a hash by value?,"Use sort with a block that compares the values."
What is Perl?,"Perl is a high-level programming language."
How do I read a file line by line?,"Open it and loop over the file handle with while."
"""
DATA = {
    "text": [("docs.csv", TEXT_CSV)],
    "qa": [("faq.csv", QA_CSV)],
    "molecule": [("nci.smi", _head(REPO / "datasets/molecules/nci_first_5K.smi", 40))],
    "dna": [("16s.fa", _fasta_head(REPO / "datasets/dna/ten_16s.100.fa.gz", 20))],
    "recommend": [  # 1,500 of the ratings: each evaluate request trains a model
        ("items.csv", (REPO / "datasets/ratings/items.csv").read_bytes()),
        ("ratings.csv", _head(REPO / "datasets/ratings/ratings.csv", 1500)),
    ],
}
TALLY: dict[str, list[float]] = {}
"""Requests and seconds per operation, printed at the end (run with -s to see them)."""


def _openapi() -> dict[str, Any]:
    """The document the app serves at /openapi.json, read at collection (building the
    app is cheap: no model, no Milvus connection, no file written)."""
    return create_app(Settings(data_dir=Path("unused"))).openapi()


OPENAPI = _openapi()
schema = schemathesis.openapi.from_dict(OPENAPI, config=CONFIG)


@pytest.fixture(scope="module")
def fuzz_app(
    tmp_path_factory: pytest.TempPathFactory, shared_encoders: dict[str, Any]
) -> Iterator[FastAPI]:
    """The app the cases run against, in process, with small real data loaded. The
    lifespan is the one Schemathesis starts for its ASGI calls."""
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("fuzz")), encoders=shared_encoders)
    with asgi.get_client(app) as client:
        assert client.get("/openapi.json").json() == OPENAPI
        _load_data(client)
    yield app
    asgi.shutdown_lifespans()  # ends the lifespan (job workers, Milvus Lite)
    requests, seconds = (sum(t[i] for t in TALLY.values()) for i in (0, 1))
    slowest = sorted(TALLY.items(), key=lambda kv: -kv[1][1])[:5]
    print(
        f"\nfuzz: {int(requests)} requests to {len(TALLY)} operations in {seconds:.0f} s; "
        "slowest: " + ", ".join(f"{op} {n:.0f} in {s:.0f} s" for op, (n, s) in slowest)
    )


def _load_data(client: Any) -> None:
    for app, files in DATA.items():
        r = client.post(f"/api/{app}/load", files=[("files", f) for f in files])
        assert r.status_code == 202, r.text
        job = wait_job(client, r.json()["id"])
        assert job["state"] == "done" and job["done"] > 0, job
    r = client.post("/api/recommend/train")
    assert r.status_code == 202, r.text
    assert wait_job(client, r.json()["id"])["state"] == "done"


def _call_and_validate(case: schemathesis.Case, app: FastAPI) -> None:
    started = time.perf_counter()
    try:
        case.call_and_validate(app=app)
    finally:
        tally = TALLY.setdefault(case.operation.label, [0, 0.0])
        tally[0] += 1
        tally[1] += time.perf_counter() - started


@schema.exclude(method="DELETE", path_regex=DROPS).parametrize()
def test_every_operation(case: schemathesis.Case, fuzz_app: FastAPI) -> None:
    _call_and_validate(case, fuzz_app)


@schema.include(method="DELETE", path_regex=DROPS).parametrize()
def test_drops_last(case: schemathesis.Case, fuzz_app: FastAPI) -> None:
    _call_and_validate(case, fuzz_app)


def test_every_operation_was_fuzzed() -> None:
    """Runs after the cases above (file order): each operation of the document got
    requests, and how many is stated."""
    operations = {
        f"{method.upper()} {path}"
        for path, item in OPENAPI["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    requests = int(sum(t[0] for t in TALLY.values()))
    print(f"\nfuzz: {requests} requests to {len(TALLY)} of {len(operations)} operations")
    assert set(TALLY) == operations
    assert requests >= 10 * len(operations)
