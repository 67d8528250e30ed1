"""Similar-sequence search, kNN classification and its held-out evaluation.

The library functions behind ``/api/dna/search``, ``/api/dna/classify`` and
``/api/dna/evaluate`` (and the CLI): all block, run them in a worker thread.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import cast

import numpy as np

from findalike.apps.dna.encoders import DnaEncoder, candidate_encoders, length_problem
from findalike.apps.dna.models import (
    ClassScore,
    DnaClassification,
    DnaEvaluateRequest,
    DnaEvaluation,
    DnaNeighbour,
    DnaQuery,
    DnaResults,
    EncoderEvaluation,
)
from findalike.apps.dna.reader import dna_settings
from findalike.core.app import AppRuntime
from findalike.errors import InvalidInput, NotFound, Unprocessable
from findalike.schema import Hit, in_filter, quote

_FIELDS = ["label", "seq_id", "length", "preview"]
_SEARCH_BATCH = 256
_QUERY_BATCH = 1000
_MAX_EVALUATION_BYTES = 512 * 2**20
"""The in-memory vectors of one encoder's evaluation, at most."""


def _encode(rt: AppRuntime, sequence: str) -> np.ndarray:
    """The query's vector; 400 for a bad letter, 422 naming the encoder's length rule."""
    from findalike.apps.dna.reader import clean_sequence

    settings = dna_settings(rt)
    clean = clean_sequence(sequence, max_letters=settings.max_sequence_letters, k=settings.k)
    problem = length_problem(rt.encoder, clean)
    if problem is not None:
        raise Unprocessable(problem, field="sequence")
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


def weighted_vote(neighbours: Iterable[tuple[str, float]]) -> dict[str, float]:
    """Votes per class of (label, cosine) pairs, nearest first: weight = cosine, floored
    at a tiny positive value; the dict's order is the order classes first appear."""
    votes: dict[str, float] = {}
    for label, similarity in neighbours:
        votes[label] = votes.get(label, 0.0) + max(similarity, 1e-6)
    return votes


def vote(hits: Sequence[Hit]) -> tuple[str | None, float, dict[str, float]]:
    """The class of a similarity-weighted vote of ``hits`` (``weighted_vote``), its
    share of the vote (the confidence) and every class's votes. Ties go to the class
    of the nearer neighbour."""
    votes = weighted_vote((str(h.fields.get("label", "")), h.distance) for h in hits)
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


def evaluate(
    rt: AppRuntime,
    *,
    holdout_fraction: float = 0.2,
    neighbours: int | None = None,
    seed: int = 0,
    max_sequences: int = 5000,
) -> DnaEvaluation:
    """Compare the encoders on the stored labelled sequences: hold out
    ``holdout_fraction`` of them, classify each by a similarity-weighted vote of its
    ``neighbours`` nearest *training* sequences under every applicable encoder, and
    report accuracy, per-class precision/recall, the confusion matrix and the
    majority-class baseline. The sequences are read back from the collection and
    re-encoded in memory with numpy (the collection is not touched).

    The split, reproducible from ``seed``: stored items ordered by
    ``sha256(f"{seed}:{item_id}")``, the first ``max_sequences`` used, the first
    ``max(1, round(holdout_fraction * n))`` of those held out. Similarities are rounded
    to 6 decimals; ties go to the earlier training item in that order, and a tied
    vote to the class of the nearer neighbour. ``NotFound`` if too little is stored."""
    if not rt.has_data():
        raise NotFound("Nothing has been loaded into the DNA app yet.")
    k = neighbours or dna_settings(rt).neighbours
    items = _split_order(rt, seed=seed, max_sequences=max_sequences)
    n_test = max(1, round(holdout_fraction * len(items)))
    if len(items) - n_test < 1:
        raise NotFound("Too few stored sequences to hold some out; load more.")
    test, train = items[:n_test], items[n_test:]
    truth = [label for label, _ in test]
    train_labels = [label for label, _ in train]
    majority = Counter(train_labels).most_common(1)[0][0]
    lengths = sorted({len(s) for _, s in items})
    current = rt.encoder
    current_name = f"{current.name}@{current.version}"
    candidates = candidate_encoders(
        dna_settings(rt), train, lengths[0] if len(lengths) == 1 else None
    )
    if current_name not in {f"{c.name}@{c.version}" for c in candidates}:
        candidates.insert(0, cast(DnaEncoder, current))
    results = [
        _evaluate_encoder(enc, train, test, neighbours=k, current=current_name)
        for enc in candidates
    ]
    mine = next(r for r in results if r.current)
    best = max((r for r in results if r.applicable), key=lambda r: r.accuracy, default=mine)
    return DnaEvaluation(
        held_out=len(test),
        training=len(train),
        neighbours=k,
        seed=seed,
        sequences=len(items),
        lengths=[lengths[0], lengths[-1]],
        k=dna_settings(rt).k,
        encoder=current_name,
        best=best.encoder,
        accuracy=mine.accuracy,
        majority_baseline=round(sum(1 for t in truth if t == majority) / len(truth), 6),
        majority_label=majority,
        per_class=mine.per_class,
        labels=mine.labels,
        confusion=mine.confusion,
        encoders=results,
    )


def split_key(seed: int, item_id: str) -> bytes:
    """The order of the held-out split (see ``evaluate``)."""
    return hashlib.sha256(f"{seed}:{item_id}".encode()).digest()


def _split_order(rt: AppRuntime, *, seed: int, max_sequences: int) -> list[tuple[str, str]]:
    """(label, sequence) of up to ``max_sequences`` stored items in split order.
    Items stored without their sequence (longer than the field holds, or loaded
    before sequences were stored and longer than the preview) are left out."""
    ids = [str(row["item_id"]) for page in rt.rows(output_fields=["item_id"]) for row in page]
    chosen = sorted(dict.fromkeys(ids), key=lambda i: split_key(seed, i))[:max_sequences]
    field = "sequence" if "sequence" in rt.stored_fields() else "preview"
    rows: dict[str, tuple[str, str]] = {}
    for start in range(0, len(chosen), _QUERY_BATCH):
        batch = chosen[start : start + _QUERY_BATCH]
        for row in rt.query(
            f"part == 0 and {in_filter('item_id', batch)}",
            output_fields=["item_id", "label", "length", field],
            limit=len(batch),
        ):
            sequence = str(row[field])
            if sequence and len(sequence) == int(row["length"]):
                rows[str(row["item_id"])] = (str(row["label"]), sequence)
    if len(rows) < 2:
        raise NotFound("Too few stored sequences (with their letters) to hold some out.")
    return [rows[i] for i in chosen if i in rows]


def _evaluate_encoder(
    encoder: DnaEncoder,
    train: Sequence[tuple[str, str]],
    test: Sequence[tuple[str, str]],
    *,
    neighbours: int,
    current: str,
) -> EncoderEvaluation:
    name = f"{encoder.name}@{encoder.version}"
    head = {"encoder": name, "dim": encoder.dim, "current": name == current}
    problem = next(
        (p for _, s in (*train, *test) if (p := length_problem(encoder, s)) is not None), None
    )
    if problem is not None:
        return EncoderEvaluation(**head, applicable=False, reason=problem)
    need_bytes = (len(train) + len(test)) * encoder.dim * 4
    if need_bytes > _MAX_EVALUATION_BYTES:
        return EncoderEvaluation(
            **head,
            applicable=False,
            reason=f"its vectors of {len(train) + len(test)} sequences would take "
            f"{need_bytes // 2**20} MiB (at most {_MAX_EVALUATION_BYTES // 2**20}); "
            "lower max_sequences",
        )
    try:
        train_vectors = encoder.encode([s for _, s in train])
        test_vectors = encoder.encode([s for _, s in test])
    except InvalidInput as exc:
        return EncoderEvaluation(**head, applicable=False, reason=exc.detail)
    predicted = knn_predict(
        train_vectors, [label for label, _ in train], test_vectors, neighbours=neighbours
    )
    labels, confusion, per_class, accuracy = score([label for label, _ in test], predicted)
    return EncoderEvaluation(
        **head,
        position_weights=getattr(encoder, "weights", None),
        applicable=True,
        accuracy=accuracy,
        per_class=per_class,
        labels=labels,
        confusion=confusion,
    )


def knn_predict(
    train: np.ndarray, train_labels: Sequence[str], test: np.ndarray, *, neighbours: int
) -> list[str]:
    """The voted class of each ``test`` row among its ``neighbours`` most similar
    ``train`` rows (inner product of unit vectors = cosine, rounded to 6 decimals;
    ties to the earlier training row)."""
    k = min(neighbours, len(train))
    predicted: list[str] = []
    for start in range(0, len(test), _SEARCH_BATCH):
        sims = np.round(test[start : start + _SEARCH_BATCH] @ train.T, 6)
        nearest = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        for row, idx in zip(sims, nearest, strict=True):
            votes = weighted_vote((train_labels[j], float(row[j])) for j in idx)
            predicted.append(max(votes, key=lambda c: votes[c]) if votes else "")
    return predicted


def score(
    truth: Sequence[str], predicted: Sequence[str]
) -> tuple[list[str], list[list[int]], list[ClassScore], float]:
    """Labels (sorted), confusion[true][predicted], per-class precision/recall and the
    accuracy of predictions."""
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
    accuracy = round(float(np.trace(confusion)) / len(truth), 6)
    return labels, confusion.tolist(), per_class, accuracy


def evaluate_request(rt: AppRuntime, body: DnaEvaluateRequest) -> DnaEvaluation:
    """``POST /api/dna/evaluate``: ``evaluate`` with the request's options."""
    return evaluate(
        rt,
        holdout_fraction=body.holdout_fraction,
        neighbours=body.neighbours,
        seed=body.seed,
        max_sequences=body.max_sequences,
    )
