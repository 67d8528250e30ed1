"""Search under concurrency (issue 11): QPS and p50/p99 over HTTP at 1, 4, 16 and 64
clients with query batching on and off (FINDALIKE_BATCH_QUERIES), against the floors
measured in the same run: the encoder alone, batched, on the same queries, and the
store alone (one query vector per request, and 16 per request).

Apps: text (10k real State of the Union sentences, written straight into the store
with vectors cached by bench_text.py's cache) and image (the 184 real photos of
datasets/images, loaded through a load job; queries are other photos' bytes). The
load generator runs on the same machine as the server: say so with the figures.
Writes benchmarks/results/concurrency.json.

    .venv/bin/python benchmarks/bench_concurrency.py [--apps text,image] [--requests 256]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from bench_text import QUERIES, cached_vectors, documents, fill_collection, in_child_process
from harness import free_port, start_server, wait_job

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
PHOTOS = sorted((REPO / "datasets" / "images" / "photos").glob("*.jpg"))
CLIENTS = (1, 4, 16, 64)


def pct(values: list[float], p: float) -> float:
    return round(float(np.percentile(np.asarray(values), p)) * 1000, 2)


async def http_load(url: str, path: str, bodies: list[dict[str, Any]], clients: int) -> dict:
    latencies: list[float] = []
    counter = iter(range(len(bodies)))

    async def client(c: httpx.AsyncClient) -> None:
        for i in counter:
            t = time.perf_counter()
            r = await c.post(path, json=bodies[i])
            latencies.append(time.perf_counter() - t)
            r.raise_for_status()

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as c:
        await asyncio.gather(*(client(c) for _ in range(min(clients, 8))))  # warm-up
        latencies.clear()
        counter = iter(range(len(bodies)))
        t = time.perf_counter()
        await asyncio.gather(*(client(c) for _ in range(clients)))
        wall = time.perf_counter() - t
    return {
        "clients": clients,
        "requests": len(bodies),
        "qps": round(len(bodies) / wall, 1),
        "p50_ms": pct(latencies, 50),
        "p99_ms": pct(latencies, 99),
    }


def serve_and_measure(
    data_dir: Path,
    app: str,
    bodies: list[dict[str, Any]],
    batching: bool,
    workers: int = 1,
    clients: tuple[int, ...] = CLIENTS,
) -> list[dict[str, Any]]:
    port = free_port()
    proc = start_server(
        data_dir,
        port,
        apps=[app],
        timeout_s=180,
        env={"FINDALIKE_BATCH_QUERIES": "true" if batching else "false"},
        workers=workers,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # model, index, caches: warm (every worker: the warm-up runs with 16 clients)
        asyncio.run(http_load(url, f"/api/{app}/search", bodies[:64] * workers, 16))
        return [asyncio.run(http_load(url, f"/api/{app}/search", bodies, c)) for c in clients]
    finally:
        proc.terminate()
        proc.wait(60)


def timed(fn: Any, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def store_floor(data_dir: Path, collection: str, vectors: np.ndarray, fields: list[str]) -> dict:
    """The store alone: one query vector per request, then 16 per request."""
    from findalike.store import VectorStore

    store = VectorStore(str(data_dir / "milvus.db"))
    store.search(collection, vectors[:1], limit=10, output_fields=fields)
    one = timed(lambda: store.search(collection, vectors[:1], limit=10, output_fields=fields), 40)
    sixteen = timed(
        lambda: store.search(collection, vectors[:16], limit=10, output_fields=fields), 10
    )
    store.close()
    return {
        "one_vector_p50_ms": pct(one, 50),
        "one_vector_qps": round(1 / float(np.median(one)), 1),
        "sixteen_vectors_p50_ms": pct(sixteen, 50),
        "sixteen_vectors_qps": round(16 / float(np.median(sixteen)), 1),
    }


def encoder_floor(encode: Any, items: list[Any]) -> dict[str, float]:
    """The model alone on the same queries: batched (64 a call) and one at a time."""
    encode(items[:8])
    t = time.perf_counter()
    for i in range(0, len(items), 64):
        encode(items[i : i + 64])
    batched = len(items) / (time.perf_counter() - t)
    single = timed(lambda: encode(items[:1]), 20)
    return {
        "batched_per_s": round(batched, 1),
        "one_query_p50_ms": pct(single, 50),
    }


def text_floors(data_dir: Path, queries: list[str]) -> dict[str, Any]:
    from findalike.encoders.sentence import MiniLMEncoder

    encoder = MiniLMEncoder()
    return {
        "encoder": encoder_floor(encoder.encode, queries),
        "store": store_floor(
            data_dir, "findalike_text", encoder.encode(queries[:16]), ["title", "text"]
        ),
    }


def bench_text(requests: int) -> dict[str, Any]:
    from findalike.encoders.sentence import MiniLMEncoder

    docs = documents(10_000)
    vectors = cached_vectors(MiniLMEncoder(), docs)
    work = Path(tempfile.mkdtemp(prefix="bench-conc-text-"))
    try:
        in_child_process(fill_collection, work, docs, vectors)
        queries = [f"{q} ({i})" if i >= len(QUERIES) else q for i, q in enumerate(QUERIES * 13)]
        floors = in_child_process(text_floors, work, queries[:256])
        bodies = [{"query": queries[i % len(queries)], "top_k": 10} for i in range(requests)]
        if "mode" in _search_fields("text"):
            for b in bodies:
                b["mode"] = "semantic"  # the dense path (what batching covers)
        return _both(work, "text", bodies, floors)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def image_floors(data_dir: Path, photos: list[str]) -> dict[str, Any]:
    from findalike.apps.image.reader import ENCODE_SIDE_PX
    from findalike.config import Settings
    from findalike.encoders.image import make_image_encoder
    from findalike.formats.imaging import decode_image

    encoder = make_image_encoder(Settings().image_model)
    images = [decode_image(Path(p).read_bytes(), max_side_px=ENCODE_SIDE_PX) for p in photos]
    return {
        "encoder": encoder_floor(encoder.encode, images),
        "store": store_floor(data_dir, "findalike_image", encoder.encode(images[:16]), ["name"]),
    }


def bench_image(requests: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-conc-image-"))
    stored, queries = PHOTOS[::2], PHOTOS[1::2]
    try:
        port = free_port()
        proc = start_server(work, port, apps=["image"], timeout_s=180)
        try:
            url = f"http://127.0.0.1:{port}"
            files = [("files", (p.name, p.read_bytes())) for p in stored]
            job = httpx.post(f"{url}/api/image/load", files=files, timeout=300).json()
            job = wait_job(url, job["id"])
            assert job["state"] == "done", job
        finally:
            proc.terminate()
            proc.wait(60)
        floors = in_child_process(image_floors, work, [str(p) for p in queries[:64]])
        encoded = [base64.b64encode(p.read_bytes()).decode() for p in queries]
        bodies = [{"image_base64": encoded[i % len(encoded)], "top_k": 10} for i in range(requests)]
        return {"stored_images": len(stored), **_both(work, "image", bodies, floors)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _search_fields(app: str) -> set[str]:
    from findalike.apps import discover

    spec = next(s for s in discover([app])[0] if s.name == app)
    return set(spec.search_request.model_fields)


WORKERS = (1, 2)
"""Worker processes compared (``serve --workers N``), batching on, at ``WORKER_CLIENTS``."""
WORKER_CLIENTS = (1, 16, 64)


def _both(work: Path, app: str, bodies: list[dict[str, Any]], floors: dict) -> dict[str, Any]:
    on = serve_and_measure(work, app, bodies, batching=True)
    off = serve_and_measure(work, app, bodies, batching=False)
    by_workers = {
        n: serve_and_measure(work, app, bodies, batching=True, workers=n, clients=WORKER_CLIENTS)
        for n in WORKERS
    }
    floor = floors["encoder"]["batched_per_s"]
    for row_on, row_off in zip(on, off, strict=True):
        row_on["vs_unbatched_qps"] = round(row_on["qps"] / row_off["qps"], 2)
        row_on["vs_encoder_batched"] = round(row_on["qps"] / floor, 2)
        row_off["vs_encoder_batched"] = round(row_off["qps"] / floor, 2)
    one = floors["encoder"]["one_query_p50_ms"] + floors["store"]["one_vector_p50_ms"]
    base = by_workers[WORKERS[0]]
    workers = {
        f"{n}_workers": [
            {**row, "vs_1_worker_qps": round(row["qps"] / first["qps"], 2)}
            for row, first in zip(rows, base, strict=True)
        ]
        for n, rows in by_workers.items()
    }
    return {
        "floors": floors,
        "batched": on,
        "unbatched": off,
        "workers": {
            "note": "1 worker: Milvus Lite embedded in the worker; 2: serve --workers 2, "
            "which runs milvus-lite server as a third process",
            **workers,
        },
        "one_client_p50_vs_encoder_plus_store": round(on[0]["p50_ms"] / one, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--apps", default="text,image")
    ap.add_argument("--requests", type=int, default=256)
    args = ap.parse_args()
    result: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count()},
        "note": "the load generator shares the server's cores",
    }
    runs = {"text": bench_text, "image": bench_image}
    for app in args.apps.split(","):
        result[app] = runs[app](args.requests)
        print(app, json.dumps(result[app], indent=1), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "concurrency.json").write_text(json.dumps(result, indent=2))
    print(f"wrote {RESULTS / 'concurrency.json'}")


if __name__ == "__main__":
    main()
