"""Audio benchmark: seconds of audio embedded per second of wall time (in process:
decode + resample + windows + encode, and encode alone; over HTTP: a whole load job
into Milvus Lite), and search latency p50/p99 over HTTP for 3 s excerpt queries at
1 and 4 concurrent clients.

Runs the real server (uvicorn, one process, loopback, a fresh data folder) on the
clips in datasets/audio, loaded ``--copies`` times (each copy at another gain, so a
new content hash and new rows). Writes benchmarks/results/audio.json.

    .venv/bin/python benchmarks/bench_audio.py [--copies 4] [--queries 60]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import harness
import httpx
import numpy as np
import soundfile as sf
from harness import free_port

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "datasets" / "audio"
RESULTS = REPO / "benchmarks" / "results" / "audio.json"
CLIPS = sorted(p for p in DATA.rglob("*") if p.suffix in {".wav", ".flac", ".ogg", ".mp3"})
EXCERPT_S = 3.0


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    return harness.start_server(data_dir, port, apps=["audio"], ready_path="/api/audio/count")


def wav(samples: np.ndarray, rate: int) -> bytes:
    out = io.BytesIO()
    sf.write(out, samples, rate, format="WAV")
    return out.getvalue()


def embed_in_process() -> dict[str, Any]:
    """Audio seconds per wall second: decode..encode, and encode alone."""
    sys.path.insert(0, str(REPO / "src"))
    from findalike.apps.audio.decode import decode, windows
    from findalike.apps.audio.settings import AudioSettings
    from findalike.encoders.audio import LogMelStatsEncoder

    s = AudioSettings()
    enc = LogMelStatsEncoder(sample_rate_hz=s.sample_rate_hz)
    blobs = [p.read_bytes() for p in CLIPS]
    t0 = time.perf_counter()
    audio_s = 0.0
    all_windows = []
    for b in blobs:
        d = decode(b, s.sample_rate_hz)
        audio_s += d.duration_s
        ws = windows(d.samples, s.sample_rate_hz, s.window_s, s.hop_s)
        all_windows.append([w.samples for w in ws])
        enc.encode(all_windows[-1])
    total_wall_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for ws in all_windows:
        enc.encode(ws)
    encode_wall_s = time.perf_counter() - t0
    return {
        "clips": len(blobs),
        "audio_s": round(audio_s, 1),
        "windows": sum(len(w) for w in all_windows),
        "decode_resample_encode_audio_s_per_s": round(audio_s / total_wall_s, 1),
        "encode_only_audio_s_per_s": round(audio_s / encode_wall_s, 1),
        "encoder": f"{enc.name}@{enc.version}",
        "dim": enc.dim,
    }


def copies_of_dataset(folder: Path, copies: int) -> list[Path]:
    """The clips as WAV, ``copies`` times at different gains (distinct content)."""
    out = []
    for c in range(copies):
        for p in CLIPS:
            audio, rate = sf.read(p, dtype="float32")
            target = folder / f"c{c}_{p.stem}.wav"
            target.write_bytes(wav(audio * (1.0 - 0.1 * c), rate))
            out.append(target)
    return out


def load_over_http(client: httpx.Client, files: list[Path]) -> dict[str, Any]:
    audio_s = sum(sf.info(p).duration for p in files)
    t0 = time.perf_counter()
    r = client.post("/api/audio/load", files=[("files", (p.name, p.read_bytes())) for p in files])
    r.raise_for_status()
    job_id = r.json()["id"]
    while True:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] not in ("queued", "running"):
            break
        time.sleep(0.05)
    wall_s = time.perf_counter() - t0
    count = client.get("/api/audio/count").json()
    return {
        "files": len(files),
        "audio_s": round(audio_s, 1),
        "job_state": job["state"],
        "failed": job["failed"],
        "items": count["items"],
        "vectors": count["vectors"],
        "wall_s": round(wall_s, 2),
        "audio_s_per_s": round(audio_s / wall_s, 1),
    }


def excerpt_queries(n: int) -> list[bytes]:
    rng = np.random.default_rng(0)
    long_clips = [p for p in CLIPS if sf.info(p).duration >= EXCERPT_S + 0.5]
    out = []
    for i in range(n):
        p = long_clips[i % len(long_clips)]
        audio, rate = sf.read(p, dtype="float32")
        start = int(rng.uniform(0, len(audio) / rate - EXCERPT_S) * rate)
        out.append(wav(audio[start : start + int(EXCERPT_S * rate)], rate))
    return out


def search_latency(base: str, queries: list[bytes], clients: int) -> dict[str, Any]:
    def one(q: bytes) -> float:
        with httpx.Client(base_url=base, timeout=60) as c:
            t0 = time.perf_counter()
            c.post("/api/audio/search/upload", files={"file": ("q.wav", q)}).raise_for_status()
            return time.perf_counter() - t0

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        times_s = list(pool.map(one, queries))
    wall_s = time.perf_counter() - t0
    ms = sorted(t * 1000 for t in times_s)
    return {
        "clients": clients,
        "queries": len(ms),
        "p50_ms": round(statistics.median(ms), 1),
        "p99_ms": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 1),
        "queries_per_s": round(len(ms) / wall_s, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=4)
    ap.add_argument("--queries", type=int, default=60)
    args = ap.parse_args()
    result: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_1min": round(os.getloadavg()[0], 2),
        },
        "embed_in_process": embed_in_process(),
    }
    print(json.dumps(result["embed_in_process"]))
    with tempfile.TemporaryDirectory(prefix="findalike-bench-audio-") as tmp:
        files = copies_of_dataset(Path(tmp), args.copies)
        port = free_port()
        server = start_server(Path(tmp) / "data", port)
        base = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=base, timeout=600) as client:
                result["load_http"] = load_over_http(client, files)
                print(json.dumps(result["load_http"]))
            queries = excerpt_queries(args.queries)
            search_latency(base, queries[:5], 1)  # warm-up
            result["search_http_3s_excerpt"] = [search_latency(base, queries, c) for c in (1, 4)]
            print(json.dumps(result["search_http_3s_excerpt"]))
        finally:
            server.terminate()
            server.wait(timeout=30)
    result["machine"]["load_avg_1min_end"] = round(os.getloadavg()[0], 2)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
