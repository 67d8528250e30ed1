"""Derive ratings.csv and items.csv from lme4's InstEval.csv (see README.md).

Usage: python derive.py path/to/InstEval.csv   (writes beside this script)
"""

from __future__ import annotations

import collections
import csv
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main(source: Path) -> None:
    with source.open(newline="") as f:
        rows = list(csv.DictReader(f))
    with (HERE / "ratings.csv").open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["user", "item", "rating", "timestamp"])
        for r in rows:
            w.writerow([r["s"], r["d"], r["y"], 7 - int(r["lectage"])])
    dept: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    service: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    n = collections.Counter(r["d"] for r in rows)
    for r in rows:
        dept[r["d"]][r["dept"]] += 1
        service[r["d"]][r["service"]] += 1
    with (HERE / "items.csv").open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["item", "title", "dept", "service_share"])
        for d in sorted(n, key=int):
            main_dept = dept[d].most_common(1)[0][0]
            w.writerow([d, f"Lecturer {d} (dept {main_dept})", main_dept,
                        round(service[d]["1"] / n[d], 2)])


if __name__ == "__main__":
    main(Path(sys.argv[1]))
