"""Turning window-level hits into clip-level matches.

Each window of the query clip is searched on its own; the hits are grouped per stored
clip. A clip's score is the mean, over the query's windows, of the best similarity
any of its windows reached for that query window (a window that found nothing in the
clip counts 0), so a clip that matches the whole query beats one that matches a
single window by chance. The matching offsets are reported per query window, and the
clip's ``offset_s`` estimates where the query starts inside it: the time shift voted
by the most (similarity-weighted) window pairs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class WindowHit:
    """One stored window found for one query window."""

    item_id: str
    offset_s: float
    similarity: float


@dataclass
class ClipScore:
    """A stored clip matched by the query."""

    item_id: str
    score: float
    offset_s: float
    matches: list[tuple[float, float, float]] = field(default_factory=list)
    """(query offset s, stored offset s, similarity) of each query window's best window
    in this clip, best first."""


def group_by_clip(
    query_offsets_s: Sequence[float],
    hits: Sequence[Sequence[WindowHit]],
    *,
    shift_bin_s: float,
) -> list[ClipScore]:
    """Clips ranked best first. ``hits[i]`` are the hits of the query window starting at
    ``query_offsets_s[i]``; ``shift_bin_s`` (the hop between stored windows) is the
    resolution of the offset vote."""
    n_query = max(1, len(query_offsets_s))
    best: dict[str, dict[int, WindowHit]] = defaultdict(dict)
    for q, window_hits in enumerate(hits):
        for h in window_hits:
            kept = best[h.item_id].get(q)
            if kept is None or h.similarity > kept.similarity:
                best[h.item_id][q] = h
    clips = [
        _score(item_id, per_query, query_offsets_s, n_query, shift_bin_s)
        for item_id, per_query in best.items()
    ]
    clips.sort(key=lambda c: (-c.score, c.item_id))
    return clips


def _score(
    item_id: str,
    per_query: dict[int, WindowHit],
    query_offsets_s: Sequence[float],
    n_query: int,
    shift_bin_s: float,
) -> ClipScore:
    votes: dict[int, float] = defaultdict(float)
    for q, h in per_query.items():
        shift_s = h.offset_s - query_offsets_s[q]
        votes[round(shift_s / shift_bin_s)] += max(h.similarity, 0.0)
    top_bin = max(votes, key=lambda b: (votes[b], -abs(b)))
    offset_s = max(0.0, top_bin * shift_bin_s)
    matches = sorted(
        ((query_offsets_s[q], h.offset_s, h.similarity) for q, h in per_query.items()),
        key=lambda m: -m[2],
    )
    score = sum(h.similarity for h in per_query.values()) / n_query
    return ClipScore(item_id=item_id, score=score, offset_s=offset_s, matches=matches)
