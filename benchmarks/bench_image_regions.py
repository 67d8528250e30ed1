"""What the image app's centre-region vectors (issue 29, ``FINDALIKE_IMAGE_REGIONS``)
cost and buy, measured in one run against the app as it was before them (``today``:
one vector per image, and the labels' classes from a model pass of their own), and
against one vector with the labels read from the encoder's pass (``one_vector``): a
whole load job of the 184 real photos of ``datasets/images`` (read, decode,
store originals and thumbnails, label, encode, upsert, flush) in images/s, rounds
alternating between the two so that both see the same machine; vectors stored per
image; search p50 (the app's upload search, grouping included); rank-1 of the original
for a 60% centre crop and a random 50-75% window of the held-out half of the photos.
Writes benchmarks/results/image_regions.json.

    .venv/bin/python benchmarks/bench_image_regions.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from findalike.apps.image import APP
from findalike.apps.image.search import search_bytes
from findalike.apps.image.settings import ImageSettings
from findalike.config import Settings
from findalike.core.app import AppRuntime
from findalike.core.ingest import load_files
from findalike.encoders.base import Encoder
from findalike.formats.imaging import decode_image, jpeg_bytes
from findalike.jobs import JobManager
from findalike.store import VectorStore
from findalike.store.media import MediaStore

REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO / "datasets" / "images" / "photos"
RESULTS = REPO / "benchmarks" / "results" / "image_regions.json"


def _crops(paths: list[Path]) -> dict[str, list[bytes]]:
    rng = np.random.default_rng(29)
    out: dict[str, list[bytes]] = {"centre_60": [], "random_window": []}
    for path in paths:
        im = decode_image(path.read_bytes())
        w, h = im.size
        out["centre_60"].append(jpeg_bytes(im.crop((w // 5, h // 5, w * 4 // 5, h * 4 // 5))))
        fw, fh = rng.uniform(0.5, 0.75, 2)
        x, y = rng.uniform(0, 1 - fw), rng.uniform(0, 1 - fh)
        box = (x * w, y * h, (x + fw) * w, (y + fh) * h)
        out["random_window"].append(jpeg_bytes(im.crop(tuple(round(v) for v in box))))
    return out


class _Today:
    """The image encoder as it was before issue 29: ``encode`` only (no region pass,
    no classes from the encoder's pass: the labels run the classifier again)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name, self.version, self.dim = inner.name, inner.version, inner.dim
        self.metric, self.vector_kind = inner.metric, inner.vector_kind

    def encode(self, items: Any) -> Any:
        return self.inner.encode(items)


def _load(regions: bool, cache: dict[str, Encoder]) -> tuple[float, AppRuntime, Any]:
    """A fresh store, one load job of the photos: (images/s, runtime, closer)."""
    tmp = Path(tempfile.mkdtemp(prefix="regions-"))
    settings = Settings(data_dir=tmp)
    store = VectorStore(str(tmp / "milvus.db"))
    rt = AppRuntime(
        APP,
        settings,
        store,
        media=MediaStore(tmp / "media"),
        encoder_cache=cache,
        app_settings=ImageSettings(image_regions=regions),
    )
    jobs = JobManager(tmp / "jobs.sqlite")
    started = time.perf_counter()
    job = jobs.wait(jobs.submit(APP.name, load_files(rt, [("photos", PHOTOS)])).id)
    seconds = time.perf_counter() - started
    assert job.state == "done" and job.failed == 0, job
    jobs.shutdown()
    return job.done / seconds, rt, store


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    cache: dict[str, Encoder] = {}
    _load(False, cache)  # the model loaded, the files in the page cache: not timed
    today: dict[str, Encoder] = {"image": _Today(cache["image"])}  # type: ignore[dict-item]
    configs = {"today": (False, today), "one_vector": (False, cache), "regions": (True, cache)}
    rates: dict[str, list[float]] = {name: [] for name in configs}
    runtimes: dict[str, tuple[AppRuntime, Any]] = {}
    for _ in range(args.rounds):
        for name, (regions, encoders) in configs.items():
            rate, rt, store = _load(regions, encoders)
            rates[name].append(rate)
            if name in runtimes:
                store.close()
            else:
                runtimes[name] = (rt, store)
    held_out = sorted(PHOTOS.glob("*.jpg"))[1::2]
    crops = _crops(held_out)
    report: dict[str, Any] = {}
    for name, (rt, store) in runtimes.items():
        items, vectors = rt.count()
        timings, rank1 = [], {}
        for edit, queries in crops.items():
            right = 0
            for path, query in zip(held_out, queries, strict=True):
                t = time.perf_counter()
                hit = search_bytes(rt, query, top_k=10).hits[0]
                timings.append(time.perf_counter() - t)
                right += hit.name.replace("-mirror", "") == f"photos/{path.name}".replace(
                    "-mirror", ""
                )
            rank1[edit] = round(right / len(held_out), 3)
        report[name] = {
            "images_per_s": [round(r, 1) for r in rates[name]],
            "images_per_s_median": round(statistics.median(rates[name]), 1),
            "vectors_per_image": round(vectors / items, 2),
            "search_p50_ms": round(1000 * statistics.median(timings), 1),
            "rank1_held_out": rank1,
        }
        store.close()
    for name in ("one_vector", "regions"):  # against the app before issue 29
        report[f"{name}_load_rate_vs_today"] = round(
            report[name]["images_per_s_median"] / report["today"]["images_per_s_median"], 3
        )
    report["regions_search_p50_vs_today"] = round(
        report["regions"]["search_p50_ms"] / report["today"]["search_p50_ms"], 3
    )
    report["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    report["photos"] = len(list(PHOTOS.glob("*.jpg")))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
