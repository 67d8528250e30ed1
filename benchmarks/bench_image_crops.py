"""Image benchmark for issue 29 (cropped, rotated and greyscale copies): does storing a
few region vectors per image, besides today's one global vector, find edited copies
better, and what does it cost in storage, search and encoding?

Quality is measured with numpy brute-force cosine search (no Milvus): every query is an
edited copy of one of the 184 real photos of datasets/images, searched among the vectors
of all 184 photos; an image's score is the max over its vectors (grouped per image as
the video app groups frames). The photos are split by sorted name: even indices are the
*tune* half (schemes are compared and one is chosen there), odd indices the *held-out*
half (reported as the verdict). Two photos whose global vectors are >= 0.95 alike
(a photo and its mirror image: the vectors are flip-invariant) count as the same photo;
``rank1_strict`` does not.

Edits (each applied to the full-size photo, then shrunk to ENCODE_SIDE_PX as an upload
is): ``crop60`` the central 60% (0.2..0.8 of each side, the issue's edit); ``crop_random``
a square-fraction crop of 0.5..0.75 of each side at a random place; ``crop_random_small``
0.4..0.55; ``rotate12`` 12 degrees, canvas grown, white corners; ``rotate12_cut`` -12
degrees, same canvas, white corners; ``grayscale``; ``neardup`` resize 0.6 + mirror +
JPEG 40; and bench_image's ``resize_half``, ``jpeg_q20``, ``crop_8pct``, ``hflip``,
``brightness_1.3``.

Schemes: ``A`` today (one flip-invariant global vector, the app's exact preprocessing);
``B`` + 2x2 grid; ``C`` + 3x3 grid; ``D_*`` + overlapping regions (centre 50/60/75%,
four corner-anchored 70% crops); ``E_gray`` + a greyscale copy's global vector. Region
vectors are one plain (not mirrored) pass each; ``*_flip`` schemes make them
flip-invariant with a second, mirrored pass (the two unit vectors summed). With
``--extras`` (lite3 only, 5 edits, ~3.5 more minutes): ``E_tta*`` the query is also
searched rotated by +-12 degrees, and ``E_r2r_*`` the query's 2x2 regions are matched
region-to-region (max, or mean over query regions of their best match).

Per scheme: rank-1 per edit, the share of true matches scoring >= the near-duplicate
threshold (0.85), the share of queries where a *different* photo scores >= 0.85 (false
near-duplicates), vectors per image, encode time per image (measured, relative to A),
an estimate of load throughput relative to today (decode + hash + thumbnail + ImageNet
labels + encode, measured; Milvus upsert not included), and brute-force search time per
query at 184 images and extrapolated to 1M images. EfficientNet-Lite0 is run on fewer
schemes and edits (it encodes ~3x slower). One thread throughout. Writes
benchmarks/results/image_crops.json; ~9 minutes on 2 cores
(12.5 with --extras, measured while other tests ran).

    .venv/bin/python benchmarks/bench_image_crops.py [--extras] [--no-lite0]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance, ImageOps
from threadpoolctl import threadpool_limits

from findalike.apps.image.labels import ImageNetClassifier
from findalike.apps.image.reader import ENCODE_SIDE_PX
from findalike.apps.image.settings import ImageSettings
from findalike.core.app import content_id
from findalike.encoders.image import make_image_encoder
from findalike.formats.imaging import decode_image, jpeg_bytes, thumbnail_jpeg

REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO / "datasets" / "images" / "photos"
RESULTS = REPO / "benchmarks" / "results" / "image_crops.json"
THRESHOLD = float(ImageSettings.model_fields["image_near_duplicate_score"].default)
TWIN_COSINE = 0.95
LOAD_RATIO_BAR = 0.7
SEED = 29

Box = tuple[float, float, float, float]  # left, top, right, bottom as fractions


def _corners(side: float) -> dict[str, Box]:
    o = 1 - side
    return {
        "tl": (0, 0, side, side),
        "tr": (o, 0, 1, side),
        "bl": (0, o, side, 1),
        "br": (o, o, 1, 1),
    }


REGIONS: dict[str, Box] = {
    **{f"g2_{k}": b for k, b in _corners(0.5).items()},
    **{f"g3_{i}{j}": (j / 3, i / 3, (j + 1) / 3, (i + 1) / 3) for i in range(3) for j in range(3)},
    "c50": (0.25, 0.25, 0.75, 0.75),
    "c60": (0.2, 0.2, 0.8, 0.8),
    "c75": (0.125, 0.125, 0.875, 0.875),
    **{f"k70_{k}": b for k, b in _corners(0.7).items()},
}
K70 = [f"k70_{k}" for k in ("tl", "tr", "bl", "br")]

SCHEMES: dict[str, dict[str, Any]] = {
    "A": {"regions": []},
    "B_2x2": {"regions": [f"g2_{k}" for k in ("tl", "tr", "bl", "br")]},
    "C_3x3": {"regions": [f"g3_{i}{j}" for i in range(3) for j in range(3)]},
    "D_c60": {"regions": ["c60"]},
    "D_c60_flip": {"regions": ["c60"], "flip": True},
    "D_c75": {"regions": ["c75"]},
    "D_c50_c75": {"regions": ["c50", "c75"]},
    "D_c60_c75": {"regions": ["c60", "c75"]},
    "D_k70": {"regions": K70},
    "D_c60_k70": {"regions": ["c60", *K70]},
    "D_c60_k70_flip": {"regions": ["c60", *K70], "flip": True},
    "D_multiscale": {"regions": ["c50", "c60", "c75", *K70]},
    "E_gray": {"regions": [], "gray": True},
    "E_c60_gray": {"regions": ["c60"], "gray": True},
}
LITE0_SCHEMES = ["A", "D_c60", "D_c60_flip", "D_c60_k70"]


def crop(img: Image.Image, box: Box) -> Image.Image:
    w, h = img.size
    x0, y0, x1, y1 = box
    return img.crop((round(w * x0), round(h * y0), round(w * x1), round(h * y1)))


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    return Image.open(io.BytesIO(jpeg_bytes(img, quality=quality))).convert("RGB")


def _rotate(img: Image.Image, degrees: float, *, expand: bool) -> Image.Image:
    white = (255, 255, 255)
    return img.rotate(degrees, Image.Resampling.BICUBIC, expand=expand, fillcolor=white)


def _random_crop(lo: float, hi: float) -> Callable[[Image.Image, np.random.Generator], Image.Image]:
    def edit(img: Image.Image, rng: np.random.Generator) -> Image.Image:
        side = rng.uniform(lo, hi)
        x0, y0 = rng.uniform(0, 1 - side), rng.uniform(0, 1 - side)
        return crop(img, (x0, y0, x0 + side, y0 + side))

    return edit


def _scale(img: Image.Image, f: float) -> Image.Image:
    size = (max(16, round(img.width * f)), max(16, round(img.height * f)))
    return img.resize(size, Image.Resampling.BICUBIC)


Edit = Callable[[Image.Image, np.random.Generator], Image.Image]
EDITS: dict[str, Edit] = {
    "crop60": lambda im, _: crop(im, (0.2, 0.2, 0.8, 0.8)),
    "crop_random": _random_crop(0.5, 0.75),
    "crop_random_small": _random_crop(0.4, 0.55),
    "rotate12": lambda im, _: _rotate(im, 12, expand=True),
    "rotate12_cut": lambda im, _: _rotate(im, -12, expand=False),
    "grayscale": lambda im, _: ImageOps.grayscale(im).convert("RGB"),
    "neardup": lambda im, _: _jpeg(ImageOps.mirror(_scale(im, 0.6)), 40),
    "resize_half": lambda im, _: im.resize((max(16, im.width // 2), max(16, im.height // 2))),
    "jpeg_q20": lambda im, _: _jpeg(im, 20),
    "crop_8pct": lambda im, _: crop(im, (0.08, 0.08, 0.92, 0.92)),
    "hflip": lambda im, _: ImageOps.mirror(im),
    "brightness_1.3": lambda im, _: ImageEnhance.Brightness(im).enhance(1.3),
}
HARD = ["crop60", "crop_random", "crop_random_small", "rotate12", "rotate12_cut", "grayscale"]
NEAR_DUPS = ["neardup", "resize_half", "jpeg_q20", "crop_8pct", "hflip", "brightness_1.3"]
KEY = ["crop60", "crop_random", "rotate12", "grayscale", "neardup"]
"""The edits Lite0 and the --extras schemes are measured on."""


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


class Encoders:
    """One model, two ways: the app's flip-invariant encoder (global vectors) and a
    plain one (one pass: region vectors). Times every call, per image."""

    def __init__(self, model: str) -> None:
        self.flip = make_image_encoder(model, threads=1)
        self.plain = make_image_encoder(model, threads=1, flip_invariant=False)
        self.name = f"{self.flip.name}@{self.flip.version}"
        self.seconds: dict[str, float] = {}
        self.flip.encode([Image.new("RGB", (64, 64))])  # warm-up
        self.plain.encode([Image.new("RGB", (64, 64))])

    def timed(
        self, key: str, flip: bool, images: Sequence[Image.Image], prep: Callable[..., Any]
    ) -> np.ndarray:
        t0 = time.perf_counter()
        vectors = (self.flip if flip else self.plain).encode([prep(im) for im in images])
        self.seconds[key] = (time.perf_counter() - t0) / len(images)
        return vectors


def encode_gallery(
    enc: Encoders, images: list[Image.Image], schemes: list[str]
) -> dict[str, np.ndarray]:
    """name -> (n, dim) unit vectors: global, gray (if a scheme uses it), each region
    (one plain pass) and ``name~m``, its mirrored pass (if a ``*_flip`` scheme uses it)."""
    regions = sorted({r for s in schemes for r in SCHEMES[s]["regions"]})
    mirrored = {r for s in schemes if SCHEMES[s].get("flip") for r in SCHEMES[s]["regions"]}
    out = {"global": enc.timed("global", True, images, lambda im: im)}
    if any(SCHEMES[s].get("gray") for s in schemes):
        out["gray"] = enc.timed(
            "gray", True, images, lambda im: ImageOps.grayscale(im).convert("RGB")
        )
    for r in regions:
        box = REGIONS[r]
        out[r] = enc.timed(r, False, images, lambda im, b=box: crop(im, b))
        if r in mirrored:
            out[f"{r}~m"] = enc.timed(
                f"{r}~m", False, images, lambda im, b=box: ImageOps.mirror(crop(im, b))
            )
    return out


def gallery_of(vectors: dict[str, np.ndarray], scheme: dict[str, Any]) -> np.ndarray:
    """(n, k, dim): the scheme's vectors per image, global first."""
    cols = [vectors["global"]]
    for r in scheme["regions"]:
        cols.append(unit(vectors[r] + vectors[f"{r}~m"]) if scheme.get("flip") else vectors[r])
    if scheme.get("gray"):
        cols.append(vectors["gray"])
    return np.stack(cols, axis=1)


def encode_seconds(enc: Encoders, scheme: dict[str, Any]) -> float:
    s = enc.seconds["global"] + (enc.seconds["gray"] if scheme.get("gray") else 0.0)
    for r in scheme["regions"]:
        s += enc.seconds[r] + (enc.seconds[f"{r}~m"] if scheme.get("flip") else 0.0)
    return s


def image_scores(queries: np.ndarray, gallery: np.ndarray, how: str = "max") -> np.ndarray:
    """(q, n) image scores: queries (q, v, dim) x gallery (n, k, dim); ``max`` over all
    pairs, or ``summax``: the mean over query vectors of their best match."""
    s = np.einsum("qvd,nkd->qnvk", queries, gallery, optimize=True).max(axis=3)
    return s.max(axis=2) if how == "max" else s.mean(axis=2)


def measure(scores: np.ndarray, idx: np.ndarray, twins: np.ndarray) -> dict[str, float]:
    same = twins[idx]  # (q, n): the query's photo (or its mirror-image twin)
    top = scores.argmax(axis=1)
    true = np.where(same, scores, -np.inf).max(axis=1)
    other = np.where(same, -np.inf, scores).max(axis=1)
    return {
        "rank1": round(float(same[np.arange(len(idx)), top].mean()), 4),
        "rank1_strict": round(float((top == idx).mean()), 4),
        "flagged": round(float((true >= THRESHOLD).mean()), 4),
        "false_near_dup": round(float((other >= THRESHOLD).mean()), 4),
        "mean_true_score": round(float(true.mean()), 4),
    }


def make_queries(originals: list[Image.Image], edits: list[str]) -> dict[str, list[Image.Image]]:
    out = {}
    for name in edits:
        rng = np.random.default_rng(SEED)
        qs = []
        for im in originals:
            q = EDITS[name](im, rng)
            q.thumbnail((ENCODE_SIDE_PX, ENCODE_SIDE_PX), Image.Resampling.BICUBIC)
            qs.append(q)
        out[name] = qs
    return out


def evaluate(
    query_vectors: dict[str, np.ndarray],
    gallery: np.ndarray,
    splits: dict[str, np.ndarray],
    twins: np.ndarray,
    how: str = "max",
) -> dict[str, dict[str, dict[str, float]]]:
    out: dict[str, dict[str, dict[str, float]]] = {}
    for split, idx in splits.items():
        out[split] = {}
        for edit, q in query_vectors.items():
            qv = q if q.ndim == 3 else q[:, None, :]
            out[split][edit] = measure(image_scores(qv[idx], gallery, how), idx, twins)
    return out


def summarise(per_edit: dict[str, dict[str, float]]) -> dict[str, Any]:
    hard = [per_edit[e]["rank1"] for e in HARD if e in per_edit]
    dups = [per_edit[e]["rank1"] for e in NEAR_DUPS if e in per_edit]
    return {
        "hard_rank1_mean": round(float(np.mean(hard)), 4) if hard else None,
        "near_dup_rank1_min": round(float(min(dups)), 4) if dups else None,
        "false_near_dup_mean": round(
            float(np.mean([v["false_near_dup"] for v in per_edit.values()])), 4
        ),
        "false_near_dup_key5": round(
            float(np.mean([per_edit[e]["false_near_dup"] for e in KEY if e in per_edit])), 4
        ),
    }


def load_other_seconds(files: list[Path], images: list[Image.Image]) -> dict[str, float]:
    """Per image, what a load does besides the encoder: decode, hash, thumbnail, and the
    ImageNet labels (one more Lite3 pass)."""
    data = [p.read_bytes() for p in files]
    t0 = time.perf_counter()
    for d in data:
        im = decode_image(d, max_side_px=ENCODE_SIDE_PX)
        content_id(d)
        thumbnail_jpeg(im)
    decode_s = (time.perf_counter() - t0) / len(files)
    classifier = ImageNetClassifier(threads=1)
    classifier.probabilities(images[:2])
    t0 = time.perf_counter()
    classifier.probabilities(images)
    labels_s = (time.perf_counter() - t0) / len(files)
    return {"decode_hash_thumbnail_s": round(decode_s, 5), "labels_s": round(labels_s, 5)}


def search_costs(vectors_per_image: list[int], n_images: int, dim: int) -> dict[str, Any]:
    """Brute-force (1 thread) time per query: at ``n_images`` x k rows, and the time per
    1M rows (measured on 100k random rows) to extrapolate."""
    rng = np.random.default_rng(0)
    big = unit(rng.standard_normal((100_000, dim), dtype=np.float32))
    q = unit(rng.standard_normal(dim, dtype=np.float32))
    reps = 20
    t0 = time.perf_counter()
    for _ in range(reps):
        int(np.argmax(big @ q))
    per_million_rows_s = (time.perf_counter() - t0) / reps * 10
    out: dict[str, Any] = {"brute_force_s_per_1m_rows": round(per_million_rows_s, 4)}
    for k in sorted(set(vectors_per_image)):
        g = big[: n_images * k].reshape(n_images, k, dim)
        t0 = time.perf_counter()
        for _ in range(500):
            int(np.argmax((g @ q).max(axis=1)))
        out[f"k{k}_ms_per_query_{n_images}_images"] = round((time.perf_counter() - t0) / 0.5, 4)
    return out


def run_model(
    model: str,
    images: list[Image.Image],
    originals: list[Image.Image],
    schemes: list[str],
    edits: list[str],
    splits: dict[str, np.ndarray],
    twins: np.ndarray | None,
    extras: bool,
) -> tuple[dict[str, Any], np.ndarray]:
    t_start = time.perf_counter()
    enc = Encoders(model)
    gvec = encode_gallery(enc, images, schemes)
    if twins is None:
        cos = gvec["global"] @ gvec["global"].T
        twins = cos >= TWIN_COSINE
    print(f"{model}: gallery encoded {time.perf_counter() - t_start:.0f}s", flush=True)
    queries = make_queries(originals, edits)
    qvec = {e: enc.flip.encode(qs) for e, qs in queries.items()}
    print(f"{model}: queries encoded {time.perf_counter() - t_start:.0f}s", flush=True)
    base_s = encode_seconds(enc, SCHEMES["A"])
    out: dict[str, Any] = {"encoder": enc.name, "schemes": {}}
    for name in schemes:
        scheme = SCHEMES[name]
        g = gallery_of(gvec, scheme)
        res = evaluate(qvec, g, splits, twins)
        seconds = encode_seconds(enc, scheme)
        out["schemes"][name] = {
            "regions": {r: REGIONS[r] for r in scheme["regions"]},
            "region_vectors": "flip-invariant (2 passes)" if scheme.get("flip") else "1 pass",
            "gray_vector": bool(scheme.get("gray")),
            "vectors_per_image": g.shape[1],
            "encoder_passes_per_image": 2
            + len(scheme["regions"]) * (2 if scheme.get("flip") else 1)
            + (2 if scheme.get("gray") else 0),
            "encode_s_per_image": round(seconds, 5),
            "encode_vs_A": round(seconds / base_s, 3),
            "summary": {s: summarise(r) for s, r in res.items()},
            **res,
        }
    if extras:
        out["schemes"].update(run_extras(enc, gvec, queries, qvec, splits, twins, base_s))
    out["encode_s"] = {k: round(v, 5) for k, v in enc.seconds.items()}
    out["wall_s"] = round(time.perf_counter() - t_start, 1)
    return out, twins


def run_extras(
    enc: Encoders,
    gvec: dict[str, np.ndarray],
    queries: dict[str, list[Image.Image]],
    glob: dict[str, np.ndarray],
    splits: dict[str, np.ndarray],
    twins: np.ndarray,
    base_s: float,
) -> dict[str, Any]:
    """Query-side schemes on the KEY edits: test-time rotation, region-to-region."""
    rot, quads = {}, {}
    t = {"rot": 0.0, "quads": 0.0}
    for e in KEY:
        qs = queries[e]
        t0 = time.perf_counter()
        rot[e] = np.stack(
            [enc.flip.encode([_rotate(q, d, expand=False) for q in qs]) for d in (12, -12)], 1
        )
        t["rot"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        quads[e] = np.stack(
            [enc.plain.encode([crop(q, REGIONS[f"g2_{k}"]) for q in qs]) for k in _corners(0.5)],
            1,
        )
        t["quads"] += time.perf_counter() - t0
    n_q = len(KEY) * len(queries[KEY[0]])
    with_rot = {e: np.concatenate([glob[e][:, None], rot[e]], 1) for e in KEY}
    with_quads = {e: np.concatenate([glob[e][:, None], quads[e]], 1) for e in KEY}
    variants = {
        "E_tta_A": ("A", with_rot, "max", "rot"),
        "E_tta_D_c60": ("D_c60", with_rot, "max", "rot"),
        "E_r2r_max_B": ("B_2x2", with_quads, "max", "quads"),
        "E_r2r_summax_B": ("B_2x2", with_quads, "summax", "quads"),
    }
    out = {}
    for name, (gallery, qv, how, cost) in variants.items():
        g = gallery_of(gvec, SCHEMES[gallery])
        res = evaluate(qv, g, splits, twins, how)
        out[name] = {
            "gallery_scheme": gallery,
            "vectors_per_image": g.shape[1],
            "query_vectors": next(iter(qv.values())).shape[1],
            "scoring": how,
            "encode_vs_A": round(encode_seconds(enc, SCHEMES[gallery]) / base_s, 3),
            "extra_query_encode_s": round(t[cost] / n_q, 5),
            "summary": {s: summarise(r) for s, r in res.items()},
            **res,
        }
    return out


def add_load_estimates(result: dict[str, Any], other_s: dict[str, float]) -> None:
    """Each scheme's load throughput relative to today's (A): the measured per-image
    costs of a load besides the encoder, plus the scheme's encode time. Also as if the
    ImageNet labels were read from the encoder's own plain pass (same model, same
    280-px input) instead of a separate classifier pass."""
    other = other_s["decode_hash_thumbnail_s"] + other_s["labels_s"]
    base = result["schemes"]["A"]["encode_s_per_image"]
    for s in result["schemes"].values():
        if "encode_s_per_image" in s:
            enc_s = s["encode_s_per_image"]
            s["load_throughput_vs_A_est"] = round((other + base) / (other + enc_s), 3)
            s["load_throughput_vs_A_est_labels_from_encoder_pass"] = round(
                (other + base) / (other - other_s["labels_s"] + enc_s), 3
            )


def choose(result: dict[str, Any]) -> dict[str, Any]:
    """On the tune half only: among the schemes whose estimated load throughput is >= 0.7x
    today's and whose near-duplicate edits all stay >= 0.95, the best mean rank-1 over
    the hard edits; ties go to the cheaper encoder."""
    schemes = result["schemes"]
    rows = []
    for name, s in schemes.items():
        if "load_throughput_vs_A_est" not in s:
            continue
        tune = s["summary"]["tune"]
        if s["load_throughput_vs_A_est"] >= LOAD_RATIO_BAR and tune["near_dup_rank1_min"] >= 0.95:
            rows.append((-tune["hard_rank1_mean"], s["encode_s_per_image"], name))
    best = sorted(rows)[0][2]
    return {
        "rule": choose.__doc__,
        "chosen": best,
        "tune": schemes[best]["summary"]["tune"],
        "held_out": schemes[best]["summary"]["held_out"],
        "held_out_per_edit": {e: v["rank1"] for e, v in schemes[best]["held_out"].items()},
        "A_held_out_per_edit": {e: v["rank1"] for e, v in schemes["A"]["held_out"].items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--extras", action="store_true", help="query-side schemes (~3.5 more min)")
    ap.add_argument("--no-lite0", action="store_true")
    args = ap.parse_args()
    t_start = time.perf_counter()
    files = sorted(PHOTOS.glob("*.jpg"))
    images = [decode_image(p.read_bytes(), max_side_px=ENCODE_SIDE_PX) for p in files]
    originals = [decode_image(p.read_bytes()) for p in files]
    n = len(files)
    splits = {"tune": np.arange(0, n, 2), "held_out": np.arange(1, n, 2)}
    result: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "threads": 1,
            "python": platform.python_version(),
            "load_avg_1min": round(os.getloadavg()[0], 2),
        },
        "photos": n,
        "queries_per_edit": {k: len(v) for k, v in splits.items()},
        "near_duplicate_threshold": THRESHOLD,
        "edits": list(EDITS),
    }
    with threadpool_limits(1):
        other_s = load_other_seconds(files, images)
        result["load_other_s_per_image"] = other_s
        lite3, twins = run_model(
            "efficientnet-lite3-int8",
            images,
            originals,
            list(SCHEMES),
            list(EDITS),
            splits,
            None,
            args.extras,
        )
        result["twins"] = [
            [files[i].name, files[j].name]
            for i, j in zip(*np.nonzero(np.triu(twins, 1)), strict=True)
        ]
        result["efficientnet-lite3-int8"] = lite3
        add_load_estimates(lite3, other_s)
        result["decision"] = choose(lite3)
        if not args.no_lite0:
            lite0, _ = run_model(
                "efficientnet-lite0", images, originals, LITE0_SCHEMES, KEY, splits, twins, False
            )
            add_load_estimates(lite0, other_s)  # labels are always a Lite3 pass
            result["efficientnet-lite0"] = lite0
        ks = [s["vectors_per_image"] for s in lite3["schemes"].values()]
        result["search"] = search_costs(ks, n, 1280)
        result["search"]["bytes_per_vector_float32"] = 1280 * 4
    result["wall_s"] = round(time.perf_counter() - t_start, 1)
    result["machine"]["load_avg_1min_end"] = round(os.getloadavg()[0], 2)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    table(result)
    print(f"wrote {RESULTS} in {result['wall_s']:.0f}s")


def table(result: dict[str, Any]) -> None:
    cols = ["crop60", "crop_random", "crop_random_small", "rotate12", "grayscale", "neardup"]
    print(
        f"{'model/scheme':28s} split  {' '.join(c[:9].rjust(9) for c in cols)}  nd_min  "
        "falseND  k  enc_x  load_x"
    )
    for model in ("efficientnet-lite3-int8", "efficientnet-lite0"):
        for name, s in result.get(model, {}).get("schemes", {}).items():
            for split in ("tune", "held_out"):
                r = s[split]
                cells = " ".join(f"{r[c]['rank1']:9.3f}" if c in r else " " * 9 for c in cols)
                sm = s["summary"][split]
                nd = sm["near_dup_rank1_min"]
                print(
                    f"{model[13:18] + ' ' + name:28s} {split[:5]:5s}  {cells}  "
                    f"{nd if nd is not None else '':>6}  {sm['false_near_dup_key5']:7.3f}  "
                    f"{s['vectors_per_image']:2d}  {s['encode_vs_A']:5.2f}  "
                    f"{s.get('load_throughput_vs_A_est', '')}"
                )


if __name__ == "__main__":
    main()
