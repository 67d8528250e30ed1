"""Text search: passages by meaning, grouped per document, with metadata filters
and a highlighted snippet."""

from __future__ import annotations

import json
from collections.abc import Callable

from findalike.apps.text.models import (
    FilterValue,
    Range,
    TextEvaluateRequest,
    TextEvaluateResponse,
    TextHit,
    TextSearchRequest,
    TextSearchResponse,
)
from findalike.apps.text.reader import is_title_row
from findalike.core.app import AppRuntime
from findalike.encoders.base import encode_queries
from findalike.errors import Unprocessable
from findalike.kit.hybrid import (
    MODES,
    ZH_STOP_WORDS,
    auto_search,
    choose_mode,
    figures,
    is_han,
    mode_fields,
    plain_words,
    ranked_search,
    spans_of_words,
    words,
)
from findalike.schema import MAX_RESULT_ROWS, Hit, both, quote

OUTPUT_FIELDS = ["title", "text", "source", "meta"]
_STOP = frozenset(
    "a an and are as at be by can do does for from has have how i in is it of on or our "
    "that the their there this to was we what when where which who why will with you your".split()
)
SNIPPET_WORDS = 48


def filter_expression(filters: dict[str, FilterValue]) -> str:
    """Milvus boolean expression for metadata filters. Keys were validated against a
    strict pattern and values are quoted, so user input cannot alter the expression."""
    parts = []
    ops = {"gte": ">=", "gt": ">", "lte": "<=", "lt": "<"}
    for key, value in filters.items():
        field = f"meta[{json.dumps(key)}]"
        if isinstance(value, Range):
            for name, bound in value.model_dump(exclude_none=True).items():
                parts.append(f"{field} {ops[name]} {quote(bound)}")
        else:
            parts.append(f"{field} == {quote(value)}")
    return " and ".join(parts)


def search_text(rt: AppRuntime, req: TextSearchRequest) -> TextSearchResponse:
    vector = encode_queries(rt.encoder, [req.query])
    loaded = rt.has_data()
    choice = choose_mode(rt, req.mode, loaded=loaded)

    def dense(limit: int, extra: str = "") -> list[Hit]:
        return rt.search_vectors(
            vector,
            limit=limit,
            filter=both(filter_expression(req.filters), extra),
            output_fields=OUTPUT_FIELDS,
        )[0]

    def fetch(limit: int) -> list[Hit]:
        if choice.mode == "semantic":
            return dense(limit)
        if choice.mode == "auto":
            return auto_search(
                rt,
                req.query,
                vector[0],
                dense,
                limit=limit,
                fields=("title", "text"),
                filter=filter_expression(req.filters),
                output_fields=["part", *OUTPUT_FIELDS],
            )[0]
        return ranked_search(
            rt,
            choice.mode,
            req.query,
            vector[0],
            limit=limit,
            fusion=req,
            filter=filter_expression(req.filters),
            output_fields=["part", *OUTPUT_FIELDS],
        )

    hits = fetch_grouped(fetch, req.top_k) if req.group else fetch(req.top_k)
    shown: list[tuple[Hit, bool]] = []  # each hit shown, and whether by its title row
    seen: set[str] = set()
    seen_passages: set[tuple[str, int]] = set()
    for hit in hits:
        if req.group and hit.item_id in seen:
            continue
        titled = is_title_row(hit.fields)  # it shows its document's first passage
        passage = (hit.item_id, 0 if titled else int(hit.fields.get("part", 0)))
        if passage in seen_passages:
            continue
        seen.add(hit.item_id)
        seen_passages.add(passage)
        shown.append((hit, titled))
        if len(shown) == req.top_k:
            break
    firsts = first_passages(rt, [h for h, titled in shown if titled], hits)
    terms = query_terms(req.query)
    results: list[TextHit] = []
    for hit, titled in shown:
        part = 0 if titled else int(hit.fields.get("part", 0))
        text = str(hit.fields.get("text", ""))
        if titled:
            text = str(firsts.get(hit.item_id, {}).get("text", ""))
        snippet, spans = make_snippet(text, terms)
        results.append(
            TextHit(
                item_id=hit.item_id,
                score=round(hit.distance, 4),
                rank_score=None if hit.rank_score is None else round(hit.rank_score, 6),
                title=str(hit.fields.get("title", "")),
                snippet=snippet,
                highlights=spans,
                passage=part,
                source=str(hit.fields.get("source", "")),
                meta=dict(hit.fields.get("meta") or {}),
            )
        )
    return TextSearchResponse(query=req.query, hits=results, **mode_fields(choice, req.query))


def first_passages(
    rt: AppRuntime, titled: list[Hit], hits: list[Hit]
) -> dict[str, dict[str, object]]:
    """The first passage of each document in ``titled`` (hits shown for their title
    row, which show that passage instead): taken from ``hits`` (all the search
    fetched) when the passage is among them, the others looked up at once, by primary
    key. Only the hits shown are looked up: on 1,219 titled stdlib docstrings, looking
    up every title row of the 30 passages a grouped search fetches cost a second store
    call on most searches (1.4 of 8 ms at one client)."""
    wanted = {h.item_id for h in titled}
    firsts: dict[str, dict[str, object]] = {
        h.item_id: h.fields
        for h in hits
        if h.item_id in wanted and int(h.fields.get("part", 0)) == 0
    }
    missing = [i for i in wanted if i not in firsts]
    return firsts | rt.part_rows(missing, 0, ["text"]) if missing else firsts


MAX_FETCH = MAX_RESULT_ROWS
"""The most passages one search asks for."""
FETCH_FACTOR = 3
"""Passages fetched per wanted document by a grouped search, at first. On the demo
speeches (41 documents, 1,615 passages) the first 10 documents of 20 queries lay within
the first 10-25 passages in semantic mode and 10-29 in hybrid: 3 per document answers
them all in one fetch."""


def fetch_grouped(fetch: Callable[[int], list[Hit]], top_k: int) -> list[Hit]:
    """Passages enough for ``top_k`` distinct documents, or all the collection has.

    Grouping needs more passages than documents: ``FETCH_FACTOR`` per document at
    first, and four times as many again while the answer holds fewer than ``top_k``
    documents and more passages may lie further down (one long document's passages
    can fill the first fetch). The first fetch's size is fixed, not learned from
    earlier searches, so the same query on the same collection gets the same answer
    (a fused ranking's order depends on how many candidates it fuses). Measured on
    Milvus Lite over 10k rows: ~18 ms for 10 or 20 passages, ~23 ms for 50."""
    limit = min(MAX_FETCH, top_k * FETCH_FACTOR)
    hits = fetch(limit)
    while _passages_until(hits, top_k) is None and len(hits) == limit < MAX_FETCH:
        limit = min(MAX_FETCH, limit * 4)
        hits = fetch(limit)
    return hits


def _passages_until(hits: list[Hit], top_k: int) -> int | None:
    """How many of ``hits`` hold the first ``top_k`` distinct documents; None if fewer."""
    seen: set[str] = set()
    for i, hit in enumerate(hits):
        seen.add(hit.item_id)
        if len(seen) == top_k:
            return i + 1
    return None


def evaluate_text(rt: AppRuntime, req: TextEvaluateRequest) -> TextEvaluateResponse:
    """Recall@k, MRR and nDCG@10 of each mode the collection can serve, over labelled
    queries (each query's documents ranked as ``search`` ranks them, one hit per
    document)."""
    depth = max(req.k, 10)
    relevant = [set(j.relevant) for j in req.queries]
    ids = sorted(set().union(*relevant))
    if not any(rt.existing_items(ids[i : i + 1000]) for i in range(0, len(ids), 1000)):
        raise Unprocessable(
            "None of the relevant items is in the collection, so there is nothing to "
            "measure: "
            + ", ".join(repr(j.query) for j in req.queries[:10])
            + (f" and {len(req.queries) - 10} more" if len(req.queries) > 10 else "")
            + ". Give the item ids the collection holds (`item_id` of a search hit)."
        )
    modes, notice = {}, None
    for mode in MODES:
        ranked = []
        for judgement in req.queries:
            res = search_text(
                rt,
                TextSearchRequest(
                    query=judgement.query,
                    top_k=depth,
                    mode=mode,
                    lexical_weight=req.lexical_weight,
                    fusion=req.fusion,
                ),
            )
            if res.mode != mode:
                notice = res.notice
                break
            ranked.append([h.item_id for h in res.hits])
        else:
            modes[mode] = figures(ranked, relevant, req.k)
    return TextEvaluateResponse(queries=len(req.queries), k=req.k, modes=modes, notice=notice)


def query_terms(query: str) -> list[str]:
    """Content words of the query, as lower-case stems (first 5 letters; Chinese words,
    cut by jieba, whole)."""
    return sorted({w.lower()[:5] for _, _, w in words(query) if _content(w)})


def make_snippet(text: str, terms: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """The window of ``SNIPPET_WORDS`` words holding most query terms, and the
    character spans of those terms in it."""
    # A text with no Chinese is cut by the regex engine into strings, and only the
    # window's words get spans: a grouped search makes 10 snippets of ~180-word
    # passages, and building a (start, end, word) tuple for every word took ~8% of the
    # time the server held the GIL at 16 connections (py-spy)
    found = plain_words(text)
    cut = None
    if found is None:  # Chinese: jieba's words, with their spans
        cut = words(text)
        found = [w for _, _, w in cut]
    if not found:
        return text[:300], []
    wanted = frozenset(terms)
    matches = [i for i, w in enumerate(found) if w.lower()[:5] in wanted and _content(w)]
    best_start = 0
    if matches:
        best = -1
        for i in matches:
            start = max(0, i - 8)
            n = sum(1 for j in matches if start <= j < start + SNIPPET_WORDS)
            if n > best:
                best, best_start = n, start
    end_word = min(len(found), best_start + SNIPPET_WORDS) - 1
    window = (
        spans_of_words(text, best_start, end_word)
        if cut is None
        else [(start, end) for start, end, _ in cut[best_start : end_word + 1]]
    )
    lo, hi = window[0][0], window[-1][1]
    snippet = text[lo:hi]
    prefix = "…" if lo > 0 else ""
    suffix = "…" if hi < len(text) else ""
    matched = set(matches)
    spans = [
        (start - lo + len(prefix), end - lo + len(prefix))
        for i, (start, end) in enumerate(window, best_start)
        if i in matched
    ]
    return f"{prefix}{snippet}{suffix}", spans


def _content(word: str) -> bool:
    """A word worth highlighting: not a stop word, and longer than two letters (two
    characters for a Chinese word)."""
    w = word.lower()
    if is_han(w):
        return len(w) >= 2 and w not in ZH_STOP_WORDS
    return len(w) > 2 and w not in _STOP
