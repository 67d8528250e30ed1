"""Benchmark of the molecule and DNA apps; writes benchmarks/results/science.json.

Measures, in one run on this machine:
- molecules fingerprinted and stored per second (NCI 5K, Milvus Lite, load job);
- similarity search latency over HTTP (uvicorn on loopback, loaded by ``wrk``, Debian
  package ``wrk``, which does not compete for the cores) at 1/8/32 connections,
  beside RDKit's in-memory BulkTanimotoSimilarity over the same set (ratio = HTTP p50
  / RDKit per-query time);
- DNA sequences encoded per second (k-mer profiles) and loaded per second.

Run: .venv/bin/python benchmarks/bench_science.py [--clients 1,8,32] [--seconds 8]
     [--no-dna]
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import harness
import httpx
import uvicorn
from harness import free_port

from findalike.api.main import create_app
from findalike.config import Settings

REPO = Path(__file__).resolve().parents[1]
MOLECULES = REPO / "datasets" / "molecules" / "nci_first_5K.smi"
DNA = REPO / "datasets" / "dna" / "ten_16s.100.fa.gz"
QUERIES = [
    "Oc1ccccc1",
    "CC(=O)Oc1ccccc1C(=O)O",
    "CCO",
    "c1ccc2ccccc2c1",
    "NC(=O)c1ccccc1",
    "Clc1ccc(Cl)cc1",
    "CC(C)Cc1ccc(C(C)C(=O)O)cc1",
    "CCCCCCCCCC(=O)O",
]


def _serve(settings: Settings) -> tuple[uvicorn.Server, str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    while not server.started:
        time.sleep(0.05)
    return server, base


def _load(c: httpx.Client, app: str, path: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    job = c.post(f"/api/{app}/load", files=[("files", (path.name, path.read_bytes()))]).json()
    while job["state"] in ("queued", "running"):
        time.sleep(0.1)
        job = c.get(f"/api/jobs/{job['id']}").json()
    elapsed_s = time.perf_counter() - t0
    return {
        "items_stored": job["done"],
        "items_failed": job["failed"],
        "wall_s": elapsed_s,
        "items_per_s": round(job["done"] / elapsed_s, 1),
    }


def _latency(base: str, clients: int, seconds: float) -> dict[str, Any]:
    """p50/p99 and requests/s of top-10 molecule searches (the queries round robin) with
    ``clients`` connections, loaded by wrk, which does not compete for the cores."""
    requests = [
        ("POST", "/api/molecule/search", json.dumps({"query": q, "top_k": 10})) for q in QUERIES
    ]
    with tempfile.TemporaryDirectory() as tmp:
        script = harness.wrk_script(requests, Path(tmp) / "molecules.lua")
        harness.wrk(base, script, clients, 2)  # warm-up
        m = harness.wrk(base, script, clients, seconds)
    return {
        "p50_ms": m["p50_ms"],
        "p99_ms": m["p99_ms"],
        "throughput_qps": m["rps"],
        "requests": m["requests"],
        "load_generator": "wrk -t1",
    }


def _rdkit_bulk() -> dict[str, float]:
    from rdkit import Chem, DataStructs, rdBase
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    with rdBase.BlockLogs():
        mols = [Chem.MolFromSmiles(line.split()[0]) for line in MOLECULES.read_text().splitlines()]
    t0 = time.perf_counter()
    fps = [gen.GetFingerprint(m) for m in mols if m is not None]
    fp_per_s = len(fps) / (time.perf_counter() - t0)
    rounds = 50
    t0 = time.perf_counter()
    for i in range(rounds):
        q = gen.GetFingerprint(Chem.MolFromSmiles(QUERIES[i % len(QUERIES)]))
        sims = DataStructs.BulkTanimotoSimilarity(q, fps)
        sorted(range(len(sims)), key=sims.__getitem__, reverse=True)[:10]
    per_query_ms = 1000 * (time.perf_counter() - t0) / rounds
    return {
        "molecules": len(fps),
        "fingerprints_per_s": round(fp_per_s, 1),
        "top10_query_ms": round(per_query_ms, 3),
    }


def _dna_encode() -> dict[str, float]:
    from findalike.encoders.kmer import KmerEncoder

    text = gzip.decompress(DNA.read_bytes()).decode()
    seqs = ["".join(c.split("\n")[1:]).upper() for c in text.split(">")[1:]]
    enc = KmerEncoder(5)
    t0 = time.perf_counter()
    enc.encode(seqs)
    return {"sequences": len(seqs), "encode_per_s": round(len(seqs) / (time.perf_counter() - t0))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", default="1,8,32", help="concurrency levels, comma-separated")
    parser.add_argument("--seconds", type=float, default=8.0, help="wrk run per level")
    parser.add_argument("--no-dna", action="store_true", help="molecules only")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-science-"))
    settings = Settings(data_dir=data_dir, apps=["molecule", "dna"], encode_batch_size=500)
    server, base = _serve(settings)
    results: dict[str, Any] = {
        "machine_cpus": __import__("os").cpu_count(),
        "store": "Milvus Lite",
        "encode_batch_size": 500,
    }
    try:
        with httpx.Client(base_url=base, timeout=600) as c:
            results["molecule_load"] = _load(c, "molecule", MOLECULES)
            c.post("/api/molecule/search", json={"query": "CCO"}).raise_for_status()  # warm
            rdkit = _rdkit_bulk()
            results["rdkit_in_memory"] = rdkit
            levels = {}
            for clients in (int(n) for n in args.clients.split(",")):
                lat = _latency(base, clients, args.seconds)
                lat["ratio_p50_vs_rdkit"] = round(lat["p50_ms"] / rdkit["top10_query_ms"], 1)
                levels[str(clients)] = lat
            results["molecule_search_http"] = levels
            if args.no_dna:
                return _write(results)
            results["dna_encode"] = _dna_encode()
            results["dna_load"] = _load(c, "dna", DNA)
            t0 = time.perf_counter()
            ev = c.post("/api/dna/evaluate", json={"holdout_fraction": 0.2}).json()
            results["dna_evaluate"] = {
                "accuracy": ev["accuracy"],
                "majority_baseline": ev["majority_baseline"],
                "held_out": ev["held_out"],
                "wall_s": round(time.perf_counter() - t0, 2),
            }
    finally:
        server.should_exit = True
    _write(results)


def _write(results: dict[str, Any]) -> None:
    out = REPO / "benchmarks" / "results" / "science.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
