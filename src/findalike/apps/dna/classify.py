"""Similar-sequence search, kNN classification and its held-out evaluation.

The library functions behind ``/api/dna/search``, ``/api/dna/classify`` and
``/api/dna/evaluate`` (and the CLI): all block, run them in a worker thread.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence

import numpy as np

from findalike.app import AppRuntime
from findalike.apps.dna.models import (
    ClassScore,
    DnaClassification,
    DnaEvaluation,
    DnaNeighbour,
    DnaQuery,
    DnaResults,
)
from findalike.apps.dna.reader import dna_settings
from findalike.errors import NotFound
from findalike.store import Hit, quote

_FIELDS = ["label", "seq_id", "length", "preview"]
_SEARCH_BATCH = 64


def _encode(rt: AppRuntime, sequence: str) -> np.ndarray:
    from findalike.apps.dna.reader import clean_sequence

    settings = dna_settings(rt)
    clean = clean_sequence(sequence, max_letters=settings.max_sequence_letters, k=settings.k)
    return rt.encoder.encode([clean])


def _neighbour(hit: Hit) -> DnaNeighbour:
    f = hit.fields
    return DnaNeighbour(
        item_id=hit.item_id,
        label=str(f.get("label", "")),
        seq_id=str(f.get("seq_id", "")),
        length=int(f.get("length", 0)),
        score=round(hit.distance, 6),
        preview=str(f.get("preview", "")),
    )


def search_sequences(rt: AppRuntime, request: DnaQuery) -> DnaResults:
    """The stored sequences with the most similar k-mer profiles (cosine)."""
    flt = f"label == {quote(request.label)}" if request.label else ""
    hits = rt.search_vectors(
        _encode(rt, request.sequence), limit=request.top_k, filter=flt, output_fields=_FIELDS
    )[0]
    return DnaResults(hits=[_neighbour(h) for h in hits])


def vote(hits: Sequence[Hit]) -> tuple[str | None, float, dict[str, float]]:
    """The class of a similarity-weighted vote of ``hits`` (weight = cosine, floored at
    a tiny positive value), its share of the vote (the confidence) and every class's
    votes. Ties go to the class of the nearer neighbour."""
    votes: dict[str, float] = {}
    for hit in hits:
        label = str(hit.fields.get("label", ""))
        votes[label] = votes.get(label, 0.0) + max(hit.distance, 1e-6)
    if not votes:
        return None, 0.0, {}
    winner = max(votes, key=lambda c: votes[c])  # dict order = nearest first on ties
    return winner, votes[winner] / sum(votes.values()), votes


def classify_sequence(
    rt: AppRuntime, sequence: str, *, neighbours: int | None = None
) -> DnaClassification:
    """The class of ``sequence`` by a similarity-weighted vote of its nearest stored
    labelled sequences, with the confidence and the neighbours."""
    k = neighbours or dna_settings(rt).neighbours
    hits = rt.search_vectors(_encode(rt, sequence), limit=k, output_fields=_FIELDS)[0]
    label, confidence, votes = vote(hits)
    return DnaClassification(
        label=label,
        confidence=round(confidence, 6),
        votes={c: round(v, 6) for c, v in votes.items()},
        neighbours=[_neighbour(h) for h in hits],
    )


def _held_out_prefixes(fraction: float, seed: int) -> list[str]:
    """Two-hex-digit item-id prefixes whose items are held out: item ids are content
    hashes, so this is a uniform random split that a Milvus filter can express."""
    ranked = sorted(f"{p:02x}" for p in range(256))
    ranked.sort(key=lambda p: hashlib.sha256(f"{seed}:{p}".encode()).digest())
    return sorted(ranked[: max(1, round(fraction * 256))])


def evaluate(
    rt: AppRuntime, *, holdout_fraction: float = 0.2, neighbours: int | None = None, seed: int = 0
) -> DnaEvaluation:
    """Hold out ``holdout_fraction`` of the stored labelled sequences (by item id,
    reproducible with ``seed``), classify each by its ``neighbours`` nearest
    *training* sequences, and report accuracy, per-class precision/recall, the
    confusion matrix and the majority-class baseline. ``NotFound`` if nothing is
    stored; stored vectors are used as they are (nothing is re-encoded)."""
    if not rt.has_data():
        raise NotFound("Nothing has been loaded into the DNA app yet.")
    k = neighbours or dna_settings(rt).neighbours
    prefixes = _held_out_prefixes(holdout_fraction, seed)
    held = " or ".join(f'item_id like "{p}%"' for p in prefixes)
    test = rt.store.query(
        rt.collection,
        filter=f"part == 0 and ({held})",
        output_fields=["item_id", "label", "vector"],
        limit=16_384,
    )
    train_filter = f"not ({held})"
    train_labels = Counter(
        str(r["label"])
        for r in rt.store.query(
            rt.collection,
            filter=f"part == 0 and {train_filter}",
            output_fields=["label"],
            limit=16_384,
        )
    )
    if not test or not train_labels:
        raise NotFound("Too few stored sequences to hold some out; load more.")
    truth = [str(r["label"]) for r in test]
    vectors = np.asarray([r["vector"] for r in test], dtype=np.float32)
    predicted: list[str] = []
    for start in range(0, len(test), _SEARCH_BATCH):
        for hits in rt.search_vectors(
            vectors[start : start + _SEARCH_BATCH],
            limit=k,
            filter=train_filter,
            output_fields=["label"],
        ):
            predicted.append(vote(hits)[0] or "")
    majority, _ = train_labels.most_common(1)[0]
    return score(
        truth,
        predicted,
        majority=majority,
        training=sum(train_labels.values()),
        neighbours=k,
        k=getattr(rt.encoder, "k", 0),
    )


def score(
    truth: Sequence[str],
    predicted: Sequence[str],
    *,
    majority: str,
    training: int,
    neighbours: int,
    k: int,
) -> DnaEvaluation:
    """Accuracy, per-class precision/recall and the confusion matrix of predictions."""
    labels = sorted(set(truth) | set(predicted))
    index = {c: i for i, c in enumerate(labels)}
    confusion = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(truth, predicted, strict=True):
        confusion[index[t], index[p]] += 1
    per_class = []
    for c, i in index.items():
        tp = int(confusion[i, i])
        col, row = int(confusion[:, i].sum()), int(confusion[i, :].sum())
        per_class.append(
            ClassScore(
                label=c,
                precision=round(tp / col, 6) if col else 0.0,
                recall=round(tp / row, 6) if row else 0.0,
                support=row,
            )
        )
    n = len(truth)
    return DnaEvaluation(
        held_out=n,
        training=training,
        neighbours=neighbours,
        k=k,
        accuracy=round(float(np.trace(confusion)) / n, 6),
        majority_baseline=round(sum(1 for t in truth if t == majority) / n, 6),
        majority_label=majority,
        per_class=per_class,
        labels=labels,
        confusion=confusion.tolist(),
    )
