"""Rebuild qa_zh.csv from the Chinese files of the PyPI package chatterbot-corpus.

    pip install chatterbot-corpus==1.3.3 pyyaml
    python datasets/chatterbot_zh/derive.py > datasets/chatterbot_zh/qa_zh.csv

Each conversation's first line is the question and its second the answer (later
lines, a follow-up exchange, are left out); a question asked again keeps its first
answer, so every question has one right pair.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import chatterbot_corpus
import yaml

DATA = Path(chatterbot_corpus.__file__).resolve().parent / "data" / "chinese"


def main() -> None:
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["question", "answer", "category"])
    seen: set[str] = set()
    for path in sorted(DATA.glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        category = path.stem
        for conv in doc.get("conversations") or []:
            if not isinstance(conv, list) or len(conv) < 2:
                continue
            question, answer = (" ".join(str(x).split()) for x in conv[:2])
            if not question or not answer or question in seen:
                continue
            seen.add(question)
            out.writerow([question, answer, category])


if __name__ == "__main__":
    main()
