"""Image benchmark: the two offline image models compared on one near-duplicate test
(quality and images/s), images/s of the encoder alone vs a whole load job (decode,
hash, encode, store originals + thumbnails, upsert, flush) and its ratio, and search
latency p50/p99 over HTTP at 1/8/32 clients on ``--scale`` (10k) images.

Scale: the 184 real photos of datasets/images are loaded through a real load job;
the rest of the ``--scale`` rows are their vectors plus Gaussian noise (re-normalised,
cosine ~0.8 to their source), written straight into the same Milvus Lite file before
the server starts. Search latency depends on the number and dimension of vectors,
not on how they were made; encoding 10k images here would take longer than the
5 minutes a benchmark may take. Writes benchmarks/results/image.json.

    .venv/bin/python benchmarks/bench_image.py [--scale 10000] [--queries 64] [--no-compare]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import harness
import httpx
import numpy as np
from harness import free_port
from PIL import Image, ImageEnhance, ImageOps

from findalike.apps.image import APP
from findalike.apps.image.reader import ENCODE_SIDE_PX
from findalike.config import Settings
from findalike.core.app import AppRuntime
from findalike.core.ingest import load_files
from findalike.encoders.image import make_image_encoder
from findalike.formats.imaging import decode_image, jpeg_bytes
from findalike.jobs import JobManager
from findalike.store import VectorStore
from findalike.store.media import MediaStore

REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO / "datasets" / "images" / "photos"
RESULTS = REPO / "benchmarks" / "results" / "image.json"
MODELS = ("efficientnet-lite0", "efficientnet-lite3-int8")


def _crop(im: Image.Image, fraction: float = 0.08) -> Image.Image:
    w, h = im.size
    return im.crop(
        (int(w * fraction), int(h * fraction), int(w * (1 - fraction)), int(h * (1 - fraction)))
    )


TRANSFORMS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "resize_half": lambda im: im.resize((max(16, im.width // 2), max(16, im.height // 2))),
    "jpeg_q20": lambda im: Image.open(io.BytesIO(jpeg_bytes(im, quality=20))).convert("RGB"),
    "crop_8pct": _crop,
    "hflip": ImageOps.mirror,
    "brightness_1.3": lambda im: ImageEnhance.Brightness(im).enhance(1.3),
}


def photos() -> list[Path]:
    return sorted(PHOTOS.glob("*.jpg"))


def compare_models(images: list[Image.Image], query_every: int) -> list[dict[str, Any]]:
    """Each model (with and without the mirror-image sum) on the same near-duplicate
    test: every ``query_every``-th photo transformed 5 ways, searched among all."""
    queries = images[::query_every]
    truth = np.arange(0, len(images), query_every)
    out = []
    for model in MODELS:
        for flip in (True, False):
            enc = make_image_encoder(model, flip_invariant=flip)
            t0 = time.perf_counter()
            base = enc.encode(images)
            images_per_s = len(images) / (time.perf_counter() - t0)
            rank1: dict[str, float] = {}
            for name, transform in TRANSFORMS.items():
                q = enc.encode([transform(im) for im in queries])
                rank1[name] = round(float(np.mean((q @ base.T).argmax(1) == truth)), 4)
            out.append(
                {
                    "model": model,
                    "flip_invariant": flip,
                    "rank1_mean": round(float(np.mean(list(rank1.values()))), 4),
                    "rank1": rank1,
                    "queries": len(queries) * len(TRANSFORMS),
                    "images_per_s": round(images_per_s, 1),
                }
            )
            print(json.dumps(out[-1]), flush=True)
    return out


def encoder_alone(rt: AppRuntime, images: list[Image.Image]) -> dict[str, Any]:
    rt.encoder.encode(images[:4])  # warm-up
    t0 = time.perf_counter()
    rt.encoder.encode(images)
    wall_s = time.perf_counter() - t0
    return {
        "images": len(images),
        "wall_s": round(wall_s, 2),
        "images_per_s": round(len(images) / wall_s, 1),
    }


def load_job(rt: AppRuntime, jobs: JobManager) -> dict[str, Any]:
    t0 = time.perf_counter()
    job = jobs.wait(jobs.submit(APP.name, load_files(rt, [("photos", PHOTOS)])).id)
    wall_s = time.perf_counter() - t0
    return {
        "images": job.done,
        "failed": job.failed,
        "state": job.state,
        "wall_s": round(wall_s, 2),
        "images_per_s": round(job.done / wall_s, 1),
    }


def add_scale_rows(rt: AppRuntime, total: int, seed: int = 0) -> int:
    """Fill the collection up to ``total`` rows with noisy copies of the real vectors."""
    rows = rt.store.query(
        rt.collection,
        filter="part == 0",
        output_fields=["item_id", "vector", "name", "width", "height"],
    )
    base = np.asarray([r["vector"] for r in rows], dtype=np.float32)
    rng = np.random.default_rng(seed)
    n = total - len(rows)
    src = rng.integers(0, len(rows), n)
    noisy = base[src] + rng.normal(0, 0.02, (n, base.shape[1])).astype(np.float32)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    new = [
        {
            "id": f"{i:032x}:0",
            "item_id": f"{i:032x}",
            "part": 0,
            "vector": v,
            "name": f"synthetic/{rows[s]['name']}",
            "width": rows[s]["width"],
            "height": rows[s]["height"],
        }
        for i, (s, v) in enumerate(zip(src, noisy, strict=True), start=1)
    ]
    rt.store.upsert(rt.collection, new)
    rt.store.flush(rt.collection)
    return len(rows) + n


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    return harness.start_server(data_dir, port, apps=["image"], ready_path="/api/image/count")


async def _latency(base: str, requests: list[dict[str, Any]], clients: int) -> dict[str, Any]:
    """``clients`` concurrent clients send ``requests`` (httpx kwargs) to the search
    endpoints; latency per request in ms."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for r in requests:
        queue.put_nowait(r)
    times_ms: list[float] = []

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=120) as c:
            while not queue.empty():
                kwargs = queue.get_nowait()
                t0 = time.perf_counter()
                r = await c.post(**kwargs)
                r.raise_for_status()
                times_ms.append((time.perf_counter() - t0) * 1000)

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    wall_s = time.perf_counter() - t0
    ms = sorted(times_ms)
    return {
        "clients": clients,
        "queries": len(ms),
        "p50_ms": round(statistics.median(ms), 1),
        "p99_ms": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 1),
        "queries_per_s": round(len(ms) / wall_s, 1),
    }


def http_search(base: str, uploads: list[bytes], item_ids: list[str]) -> dict[str, Any]:
    by_upload = [
        {
            "url": "/api/image/search/upload",
            "files": {"file": ("q.jpg", q)},
            "data": {"top_k": "10"},
        }
        for q in uploads
    ]
    by_id = [{"url": "/api/image/search", "json": {"item_id": i, "top_k": 10}} for i in item_ids]
    asyncio.run(_latency(base, by_upload[:4], 1))  # warm-up
    out: dict[str, Any] = {"upload_jpeg": [], "stored_item_id": []}
    for clients in (1, 8, 32):
        out["upload_jpeg"].append(asyncio.run(_latency(base, by_upload, clients)))
        out["stored_item_id"].append(asyncio.run(_latency(base, by_id, clients)))
        print(json.dumps({k: v[-1] for k, v in out.items()}), flush=True)
    return out


def prepare(data_dir: Path, scale: int) -> dict[str, Any]:
    """Encoder alone, a load job, then the collection filled to ``scale`` rows."""
    images = [decode_image(p.read_bytes(), max_side_px=ENCODE_SIDE_PX) for p in photos()]
    settings = Settings(data_dir=data_dir)
    store = VectorStore(settings.resolved_milvus_uri)
    rt = AppRuntime(APP, settings, store, media=MediaStore(data_dir / "media"))
    jobs = JobManager(data_dir / "jobs.sqlite")
    out: dict[str, Any] = {"encoder": f"{rt.encoder.name}@{rt.encoder.version}"}
    out["encode_only"] = encoder_alone(rt, images)
    out["load_job"] = load_job(rt, jobs)
    out["load_over_encode_ratio"] = round(
        out["load_job"]["images_per_s"] / out["encode_only"]["images_per_s"], 3
    )
    print(json.dumps({k: out[k] for k in ("encode_only", "load_job")}), flush=True)
    out["item_ids"] = [
        str(r["item_id"])
        for r in rt.store.query(rt.collection, filter="part == 0", output_fields=["item_id"])
    ]
    out["search_rows"] = add_scale_rows(rt, scale)
    jobs.shutdown()
    store.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=64)
    ap.add_argument("--no-compare", action="store_true")
    args = ap.parse_args()
    files = photos()
    images = [decode_image(p.read_bytes(), max_side_px=ENCODE_SIDE_PX) for p in files]
    result: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_1min": round(os.getloadavg()[0], 2),
        },
        "photos": len(files),
    }
    if not args.no_compare:
        result["model_comparison"] = compare_models(images, query_every=3)
    with tempfile.TemporaryDirectory(prefix="findalike-bench-image-") as tmp:
        data_dir = Path(tmp) / "data"
        # in a child process: Milvus Lite keeps its file locked until the process ends,
        # and the server started next must open the same file
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(1) as pool:
            prepared = pool.apply(prepare, (data_dir, args.scale))
        item_ids = prepared.pop("item_ids")
        result.update(prepared)
        rng = np.random.default_rng(1)
        picks = rng.integers(0, len(images), args.queries)
        uploads = [
            jpeg_bytes(list(TRANSFORMS.values())[i % 5](images[p]), quality=80)
            for i, p in enumerate(picks)
        ]
        ids = [item_ids[p % len(item_ids)] for p in picks]
        port = free_port()
        server = start_server(data_dir, port)
        try:
            result["search_http"] = http_search(f"http://127.0.0.1:{port}", uploads, ids)
        finally:
            server.terminate()
            server.wait(timeout=30)
    result["machine"]["load_avg_1min_end"] = round(os.getloadavg()[0], 2)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
