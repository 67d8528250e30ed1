"""Recommender benchmark: load and training time, recommendations/s over HTTP at
1/4/16/64 concurrent connections (``--clients``; loaded by ``wrk``, Debian package
``wrk``, which does not compete with the server for the cores), and the same top-k
by brute force in numpy in the same run (throughput ratio and top-k overlap); and POST
/for-users with 100 users a request at 1 and 16 connections (many users per request).

Runs the real server (uvicorn, one process, loopback, a fresh data folder) on the
InstEval ratings in datasets/ratings. Writes benchmarks/results/recommend.json.

    .venv/bin/python benchmarks/bench_recommend.py [--seconds 10] [--trainings 3]
        [--clients 1,4,16,64]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import harness
import httpx
import numpy as np
from harness import free_port

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "datasets" / "ratings"
RESULTS = REPO / "benchmarks" / "results" / "recommend.json"
K = 10


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    return harness.start_server(
        data_dir, port, apps=["recommend"], ready_path="/api/recommend/model"
    )


def wait_job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    while True:
        job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.05)


def job_seconds(job: dict[str, Any]) -> float:
    from datetime import datetime

    start, end = (datetime.fromisoformat(job[k]) for k in ("started_at", "finished_at"))
    return (end - start).total_seconds()


def load_and_train(client: httpx.Client, trainings: int) -> dict[str, Any]:
    files = [("files", (n, (DATA / n).read_bytes())) for n in ("items.csv", "ratings.csv")]
    started = time.perf_counter()
    job = wait_job(client, client.post("/api/recommend/load", files=files).json()["id"])
    load_s = time.perf_counter() - started
    assert job["state"] == "done", job
    train_jobs, fit_s = [], []
    for _ in range(trainings):
        job = wait_job(client, client.post("/api/recommend/train").json()["id"])
        assert job["state"] == "done", job
        train_jobs.append(job_seconds(job))
        fit_s.append(client.get("/api/recommend/model").json()["train_s"])
    info = client.get("/api/recommend/model").json()
    return {
        "ratings": info["trained_on_ratings"],
        "users": info["users"],
        "items": info["items"],
        "factors": info["factors"],
        "load_job_s": round(load_s, 3),
        "train_job_s_median": round(statistics.median(train_jobs), 3),
        "train_job_s_all": [round(s, 3) for s in train_jobs],
        "als_fit_s_median": round(statistics.median(fit_s), 3),
    }


def http_rate(base: str, users: list[str], clients: int, seconds: float) -> dict[str, Any]:
    """Requests/s of GET /users/{u}?top_k=10 (one user a request, the users round robin)
    with ``clients`` connections, loaded by wrk (C, one thread: it does not take the
    server's cores the way a Python client would)."""
    requests = [("GET", f"/api/recommend/users/{u}?top_k={K}", None) for u in users]
    with tempfile.TemporaryDirectory() as tmp:
        script = harness.wrk_script(requests, Path(tmp) / "users.lua")
        harness.wrk(base, script, clients, 2)  # warm-up
        m = harness.wrk(base, script, clients, seconds)
    return {
        "clients": clients,
        "requests": m["requests"],
        "recommendations_per_s": m["rps"],
        "latency_ms_p50": m["p50_ms"],
        "latency_ms_p99": m["p99_ms"],
        "load_generator": "wrk -t1",
    }


def http_batch_rate(
    base: str, users: list[str], clients: int, seconds: float, per_request: int
) -> dict[str, Any]:
    """Recommendations/s of POST /for-users with ``per_request`` users a request (wrk)."""
    bodies = [
        json.dumps({"users": [users[(i + j) % len(users)] for j in range(per_request)], "top_k": K})
        for i in range(0, len(users), per_request)
    ]
    answered = httpx.post(
        f"{base}/api/recommend/for-users",
        content=bodies[0],
        headers={"content-type": "application/json"},
        timeout=60,
    ).json()
    assert answered["count"] == per_request, answered  # every user of a request is answered
    requests = [("POST", "/api/recommend/for-users", b) for b in bodies]
    with tempfile.TemporaryDirectory() as tmp:
        script = harness.wrk_script(requests, Path(tmp) / "for_users.lua")
        harness.wrk(base, script, clients, 2)
        m = harness.wrk(base, script, clients, seconds)
    return {
        "clients": clients,
        "users_per_request": per_request,
        "requests": m["requests"],
        "recommendations_per_s": round(m["rps"] * per_request, 1),
        "latency_ms_p50": m["p50_ms"],
        "latency_ms_p99": m["p99_ms"],
        "load_generator": "wrk -t1",
    }


def numpy_top_k(data_dir: Path, users: list[str]) -> tuple[dict[str, list[str]], float, float]:
    """The same recommendations by brute force (all items scored, rated ones
    excluded): results, per-user loop rate (1/s) and one-batch rate (1/s)."""
    import csv

    from findalike.encoders.factors import FactorModel

    model = FactorModel.load(next(data_dir.glob("recommend/*/model.npz")))
    rated: dict[str, set[int]] = {}
    with (DATA / "ratings.csv").open() as f:
        for row in csv.DictReader(f):
            rated.setdefault(row["user"], set()).add(model.item_index[row["item"]])
    rows = [model.user_index[u] for u in users]
    items = model.item_factors

    def top(scores: np.ndarray, exclude: set[int]) -> np.ndarray:
        scores[list(exclude)] = -np.inf
        best = np.argpartition(-scores, K)[:K]
        return best[np.argsort(-scores[best])]

    started = time.perf_counter()
    out = {
        u: [model.item_ids[j] for j in top(items @ model.user_factors[r], rated[u])]
        for u, r in zip(users, rows, strict=True)
    }
    loop_rate = len(users) / (time.perf_counter() - started)
    started = time.perf_counter()
    scores = model.user_factors[rows] @ items.T
    for n, u in enumerate(users):
        top(scores[n], rated[u])
    batch_rate = len(users) / (time.perf_counter() - started)
    return out, loop_rate, batch_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="per concurrency level")
    parser.add_argument("--trainings", type=int, default=3)
    parser.add_argument("--users", type=int, default=500, help="users sampled for overlap")
    parser.add_argument(
        "--clients", default="1,4,16,64", help="concurrency levels, comma-separated"
    )
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="findalike-bench-recommend-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(data_dir, port)
    try:
        with httpx.Client(base_url=base, timeout=300) as client:
            training = load_and_train(client, args.trainings)
            all_users = sorted(
                {
                    row.split(",", 1)[0]
                    for row in (DATA / "ratings.csv").read_text().splitlines()[1:]
                }
            )
            rng = np.random.default_rng(0)
            sample = [str(u) for u in rng.choice(all_users, args.users, replace=False)]
            served = {
                u: [
                    h["item_id"]
                    for h in client.get(f"/api/recommend/users/{u}", params={"top_k": K}).json()[
                        "hits"
                    ]
                ]
                for u in sample
            }
        levels = [int(n) for n in args.clients.split(",")]
        http = [http_rate(base, sample, n, args.seconds) for n in levels]
        many = [http_batch_rate(base, sample, n, args.seconds, 100) for n in (1, 16)]
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    brute, loop_rate, batch_rate = numpy_top_k(data_dir, sample)
    overlap = [len(set(served[u]) & set(brute[u])) / K for u in sample]
    exact = [served[u] == brute[u] for u in sample]
    best_http = max(h["recommendations_per_s"] for h in http)
    result = {
        "dataset": "InstEval (lme4): 73,421 ratings, 2,972 users x 1,128 items",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "store": "Milvus Lite (embedded), AUTOINDEX, inner product",
        "k": K,
        "training": training,
        "http": http,
        "http_many_users_per_request": many,
        "many_users_vs_one_per_request_at_16_clients": round(
            next(m for m in many if m["clients"] == 16)["recommendations_per_s"]
            / next((h for h in http if h["clients"] == 16), http[-1])["recommendations_per_s"],
            2,
        ),
        "numpy_brute_force": {
            "recommendations_per_s_one_by_one": round(loop_rate, 1),
            "recommendations_per_s_batched": round(batch_rate, 1),
            "users_compared": len(sample),
            "top_k_overlap_mean": round(float(np.mean(overlap)), 4),
            "top_k_identical_order_share": round(float(np.mean(exact)), 4),
            "ratio_best_http_to_numpy_one_by_one": round(best_http / loop_rate, 4),
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
