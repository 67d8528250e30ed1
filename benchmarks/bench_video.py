"""Video benchmark: frames/s decoded and sampled, embedded, and end to end through a
load job; plus frames/s checked by the objects app (detect + embed crops + match).

The clip is made from real photos (scikit-image samples) with a slow zoom, 640x480 at
25 fps, so decoding is real H.264 work. Writes ``benchmarks/results/video.json``.
Run: ``.venv/bin/python benchmarks/bench_video.py [--seconds 30]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as photos

from findalike.apps.objects import APP as OBJECTS
from findalike.apps.objects.models import DetectOptions
from findalike.apps.objects.search import detect_known_objects
from findalike.apps.objects.settings import ObjectsSettings
from findalike.apps.video import APP as VIDEO
from findalike.config import Settings
from findalike.core.app import AppRuntime
from findalike.core.ingest import load_files
from findalike.encoders.base import Encoder
from findalike.formats.video import sample_frames, write_clip
from findalike.jobs import JobManager
from findalike.store import VectorStore
from findalike.store.media import MediaStore

FPS = 25
SIZE = (640, 480)
RESULTS = Path(__file__).parent / "results" / "video.json"


def make_clip(path: Path, seconds: int) -> None:
    pictures = [
        photos.astronaut(),
        photos.chelsea(),
        photos.coffee(),
        photos.rocket(),
        photos.stereo_motorcycle()[0],
    ]
    frames = []
    per_photo = seconds * FPS // len(pictures)
    for arr in pictures:
        img = Image.fromarray(arr).convert("RGB")
        w, h = img.size
        for i in range(per_photo):
            z = 1.0 - 0.2 * i / per_photo
            box = (w * (1 - z) / 2, h * (1 - z) / 2, w * (1 + z) / 2, h * (1 + z) / 2)
            frames.append(np.asarray(img.resize(SIZE, box=box)))
    write_clip(frames, path, fps=FPS)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=30, help="length of the test clip")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-video-"))
    clip = tmp / "clip.mp4"
    make_clip(clip, args.seconds)
    data = clip.read_bytes()
    settings = Settings(data_dir=tmp)
    store = VectorStore(str(tmp / "milvus.db"))
    cache: dict[str, Encoder] = {}
    video = AppRuntime(VIDEO, settings, store, media=MediaStore(tmp / "media"), encoder_cache=cache)
    sampling = video.config(ObjectsSettings).sampling()

    t0 = time.perf_counter()
    frames = sample_frames(data, sampling)
    decode_s = time.perf_counter() - t0
    decoded = args.seconds * FPS

    encoder = video.encoder
    encoder.encode([frames[0].image])  # warm-up
    t0 = time.perf_counter()
    encoder.encode([f.image for f in frames])
    encode_s = time.perf_counter() - t0

    jobs = JobManager(tmp / "jobs.sqlite")
    t0 = time.perf_counter()
    job = jobs.wait(jobs.submit(VIDEO.name, load_files(video, [("clip.mp4", clip)])).id)
    load_s = time.perf_counter() - t0
    assert job.state == "done", job

    objects = AppRuntime(
        OBJECTS, settings, store, media=MediaStore(tmp / "media"), encoder_cache=cache
    )
    Image.fromarray(photos.chelsea()).save(tmp / "chelsea.jpg")
    jobs.wait(
        jobs.submit(OBJECTS.name, load_files(objects, [("chelsea.jpg", tmp / "chelsea.jpg")])).id
    )
    t0 = time.perf_counter()
    found = detect_known_objects(objects, "clip.mp4", data, DetectOptions())
    detect_s = time.perf_counter() - t0
    store.close()

    result = {
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
        "clip": {"seconds": args.seconds, "fps": FPS, "size": SIZE, "bytes": len(data)},
        "encoder": f"{encoder.name}@{encoder.version}",
        "sampling": {
            "interval_s": sampling.interval_s,
            "scene_threshold": sampling.scene_threshold,
        },
        "frames_sampled": len(frames),
        "decode_and_sample": {
            "seconds": round(decode_s, 3),
            "decoded_frames_per_s": round(decoded / decode_s, 1),
            "sampled_frames_per_s": round(len(frames) / decode_s, 1),
        },
        "embed_only": {
            "seconds": round(encode_s, 3),
            "frames_per_s": round(len(frames) / encode_s, 2),
        },
        "load_job_end_to_end": {
            "seconds": round(load_s, 3),
            "frames_per_s": round(len(frames) / load_s, 2),
            "video_seconds_per_s": round(args.seconds / load_s, 2),
        },
        "ratio_end_to_end_vs_embed_only": round(
            (len(frames) / load_s) / (len(frames) / encode_s), 3
        ),
        "objects_detect": {
            "seconds": round(detect_s, 3),
            "frames_checked": found.frames_checked,
            "frames_per_s": round(found.frames_checked / detect_s, 2),
            "detections": found.detections,
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
