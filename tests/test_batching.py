"""Batched queries (issue 11): concurrent queries are encoded in one model call and
searched in one Milvus request, and every caller still gets exactly its own answer.

The model and the store are real (MiniLM, the image model, Milvus Lite). To make a
batch form deterministically, the model thread is kept busy with a real load first
(queries queue behind it), and the store's first request is held at a gate."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from findalike.api.main import create_app
from findalike.config import Settings
from findalike.core.batching import BatchingEncoder, Coalescer
from findalike.store import CollectionSpec, FieldSpec, Hit, VectorStore
from tests.conftest import REPO, serving, wait_job

QUERIES = [
    "sending astronauts to Mars",
    "lower taxes for families",
    "health care costs",
    "a good teacher in every school",
    "roads and bridges",
    "the price of oil",
    "veterans coming home",
    "protecting the environment",
]
PARAGRAPHS = [
    f"Paragraph {i}: the nation must invest in science, schools, roads and the health "
    f"of its people, and keep its promises to veterans and to families in every state. " * 3
    for i in range(128)
]


def _busy(encoder: BatchingEncoder, items: list[Any]) -> threading.Thread:
    """Start a load of ``items`` (two chunks or more) and return once the model is busy
    on its first chunk, so that what is submitted next queues behind it."""
    load = threading.Thread(target=encoder.encode, args=(items,))
    load.start()
    step = encoder.text_chunk if isinstance(items[0], str) else encoder.load_chunk
    deadline = time.monotonic() + 60
    while encoder._queue.qsize() != len(items) // step - 1:
        assert time.monotonic() < deadline, "the load never reached the model"
        time.sleep(0.001)
    return load


def _in_threads(fn: Any, args: list[Any]) -> list[Any]:
    """``fn(a)`` for each of ``args`` at once, one thread each; results or exceptions."""
    out: list[Any] = [None] * len(args)

    def run(i: int) -> None:
        try:
            out[i] = fn(args[i])
        except Exception as exc:
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(args))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return out


def test_concurrent_queries_are_encoded_together_and_as_if_alone(minilm: Any) -> None:
    encoder = BatchingEncoder(minilm)
    try:
        load = _busy(encoder, PARAGRAPHS)
        done_order: list[str] = []
        vectors = _in_threads(lambda q: (encoder.encode([q]), done_order.append(q))[0], QUERIES)
        load.join(120)
        # the queries went past the rest of the load, as one model call
        assert encoder.stats.sizes.get(len(QUERIES)) == 1, encoder.stats
        assert len(done_order) == len(QUERIES)
        for query, vector in zip(QUERIES, vectors, strict=True):
            assert vector.shape == (1, 384)
            np.testing.assert_allclose(vector, minilm.encode([query]), atol=2e-5)
        # a load through the thread gets the rows a direct call gets, in order
        np.testing.assert_allclose(
            encoder.encode(PARAGRAPHS[:70]), minilm.encode(PARAGRAPHS[:70]), atol=2e-5
        )
    finally:
        encoder.close()


class _Recording:
    """The real model, with the inputs of each of its calls written down."""

    def __init__(self, model: Any) -> None:
        self.model, self.calls = model, []  # type: list[list[Any]]
        self.name, self.version, self.dim = model.name, model.version, model.dim
        self.vector_kind, self.metric = model.vector_kind, model.metric

    def encode(self, items: list[Any]) -> np.ndarray:
        self.calls.append(list(items))
        return self.model.encode(items)


def _padded(chunks: list[list[str]]) -> int:
    """Characters a model pads and reads when each chunk is padded to its longest."""
    return sum(len(chunk) * max(map(len, chunk)) for chunk in chunks)


def test_a_load_is_read_in_chunks_of_one_length_and_answered_in_order(minilm: Any) -> None:
    # short queries and long paragraphs mixed, as documents of a real file are
    queries = iter(QUERIES * 14)  # a long paragraph, then three short queries
    texts = [PARAGRAPHS[i // 4] if i % 4 == 0 else next(queries) for i in range(140)]
    model = _Recording(minilm)
    encoder = BatchingEncoder(model)
    try:
        got = encoder.encode(texts)
    finally:
        encoder.close()
    # every caller's row is the row of its own text, in the caller's order
    np.testing.assert_allclose(got, minilm.encode(texts), atol=2e-5)
    # the model read the texts longest first, in chunks of the text chunk size
    assert [len(c) for c in model.calls] == [16] * 8 + [12]
    read = [t for chunk in model.calls for t in chunk]
    assert sorted(read) == sorted(texts)
    assert [len(t) for t in read] == sorted(map(len, texts), reverse=True)
    in_order = [texts[i : i + 16] for i in range(0, len(texts), 16)]
    assert _padded(model.calls) < 0.6 * _padded(in_order)


def test_a_bad_query_in_a_batch_fails_only_its_caller() -> None:
    from PIL import Image

    from findalike.encoders.registry import IMAGE
    from findalike.errors import InvalidInput

    model = IMAGE.make(Settings())
    encoder = BatchingEncoder(model)
    photos = sorted((REPO / "datasets" / "images" / "photos").glob("*.jpg"))[:4]
    images = [Image.open(p).convert("RGB") for p in photos]
    try:
        load = _busy(encoder, [images[0]] * 192)
        bad = np.zeros((8, 8), dtype=np.uint8)  # not an RGB image
        results = _in_threads(lambda item: encoder.encode([item]), [*images, bad])
        load.join(120)
        for image, got in zip(images, results[:4], strict=True):
            assert isinstance(got, np.ndarray), got
            np.testing.assert_allclose(got, model.encode([image]), atol=1e-5)
        assert isinstance(results[4], InvalidInput)
        assert "RGB" in str(results[4])
        assert encoder.encode(images[:1]).shape == (1, model.dim)  # the thread lives on
    finally:
        encoder.close()


@pytest.fixture(scope="module")
def store_with_texts(
    tmp_path_factory: pytest.TempPathFactory, minilm: Any
) -> Iterator[tuple[VectorStore, str]]:
    store = VectorStore(str(tmp_path_factory.mktemp("coalesce") / "m.db"))
    spec = CollectionSpec(
        name="texts",
        dim=384,
        vector_kind="float",
        metric="COSINE",
        encoder="minilm@test",
        fields=(FieldSpec("text", "str", max_length=2000),),
        index_type="AUTOINDEX",
    )
    store.ensure(spec)
    texts = [
        p.replace("Paragraph", f"Speech {i}") + q
        for i, (p, q) in enumerate(zip(PARAGRAPHS[:64], QUERIES * 8, strict=True))
    ]
    vectors = minilm.encode(texts)
    rows = [
        {"id": f"t{i}:0", "item_id": f"t{i}", "part": 0, "vector": v, "text": t}
        for i, (t, v) in enumerate(zip(texts, vectors, strict=True))
    ]
    store.upsert("texts", rows)
    store.flush("texts")
    yield store, "texts"
    store.close()


def _pairs(hits: list[Hit]) -> list[tuple[str, float]]:
    return [(h.id, round(h.distance, 5)) for h in hits]


def test_concurrent_searches_go_as_one_request_and_split_per_caller(
    store_with_texts: tuple[VectorStore, str], minilm: Any
) -> None:
    store, name = store_with_texts
    gate = threading.Event()
    requests: list[int] = []

    def run(key: Any, rows: np.ndarray) -> list[list[Hit]]:
        requests.append(len(rows))
        gate.wait(60)  # the first request is held until the others have queued
        filter, limit = key
        return store.search(name, rows, limit=limit, filter=filter, output_fields=["text"])

    searches: Coalescer[list[Hit]] = Coalescer(run)
    queries = minilm.encode(QUERIES)
    key = ('item_id != "t3"', 7)
    first = threading.Thread(target=searches, args=(key, queries[:1]))
    first.start()
    while not requests:
        time.sleep(0.001)
    others: list[Any] = []
    waiting = threading.Thread(
        target=lambda: others.extend(_in_threads(lambda v: searches(key, v[None]), list(queries)))
    )
    waiting.start()
    while len(searches._waiting.get(key, [])) < len(QUERIES):
        time.sleep(0.001)
    gate.set()
    first.join(60)
    waiting.join(60)
    assert requests == [1, len(QUERIES)]  # eight callers, one Milvus request
    for vector, got in zip(queries, others, strict=True):
        alone = store.search(name, vector[None], limit=7, filter=key[0], output_fields=["text"])
        assert len(got) == 1 and _pairs(got[0]) == _pairs(alone[0])
        assert all(h.id != "t3:0" for h in got[0])


def test_a_refused_search_in_a_batch_fails_only_its_caller(
    store_with_texts: tuple[VectorStore, str], minilm: Any
) -> None:
    store, name = store_with_texts
    gate = threading.Event()

    def run(key: Any, rows: np.ndarray) -> list[list[Hit]]:
        gate.wait(60)
        return store.search(name, rows, limit=3)

    searches: Coalescer[list[Hit]] = Coalescer(run)
    good = minilm.encode(QUERIES[:3])
    holder = threading.Thread(target=searches, args=("k", good[:1]))
    holder.start()
    while "k" not in searches._busy:
        time.sleep(0.001)
    args = [good[1:2], np.ones((1, 100), dtype=np.float32), good[2:3]]  # 100-d: refused
    results: list[Any] = []
    t = threading.Thread(
        target=lambda: results.extend(_in_threads(lambda v: searches("k", v), args))
    )
    t.start()
    while len(searches._waiting.get("k", [])) < 3:
        time.sleep(0.001)
    gate.set()
    holder.join(60)
    t.join(60)
    assert _pairs(results[0][0]) == _pairs(store.search(name, good[1:2], limit=3)[0])
    assert _pairs(results[2][0]) == _pairs(store.search(name, good[2:3], limit=3)[0])
    assert isinstance(results[1], Exception) and not isinstance(results[1], list)


PHOTOS = sorted((REPO / "datasets" / "images" / "photos").glob("*.jpg"))


@pytest.fixture(scope="module")
def live_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """The real server with the image app (its queries go through the shared image
    model and the store, both batched) and 16 real photos."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("batched"), apps=["image"])
    app = create_app(settings)
    with serving(app) as url, httpx.Client(base_url=url, timeout=300) as c:
        files = [("files", (p.name, p.read_bytes())) for p in PHOTOS[:16]]
        r = c.post("/api/image/load", files=files)
        assert r.status_code == 202, r.text
        assert wait_job(c, r.json()["id"])["state"] == "done"
        yield url, app


def _image_query(i: int) -> dict[str, Any]:
    photo = PHOTOS[20 + i % 8]  # not among the stored ones
    return {"image_base64": base64.b64encode(photo.read_bytes()).decode(), "top_k": 1 + i % 4}


def test_http_answers_under_concurrency_equal_the_answers_alone(
    live_image: tuple[str, Any],
) -> None:
    url, app = live_image
    bodies = [_image_query(i) for i in range(24)]
    with httpx.Client(base_url=url, timeout=300) as c:
        alone = [c.post("/api/image/search", json=b).json() for b in bodies]
    rt = app.state.runtimes["image"]
    before = rt._searches.stats.batches, rt._searches.stats.calls
    with httpx.Client(base_url=url, timeout=300, limits=httpx.Limits(max_connections=32)) as c:
        together = _in_threads(lambda b: c.post("/api/image/search", json=b), bodies)
    for body, one, resp in zip(bodies, alone, together, strict=True):
        assert resp.status_code == 200, resp.text
        got = resp.json()["hits"]
        assert len(got) == len(one["hits"]) == body["top_k"]
        assert [h["item_id"] for h in got] == [h["item_id"] for h in one["hits"]]
        assert [h["score"] for h in got] == pytest.approx(
            [h["score"] for h in one["hits"]], abs=2e-4
        )
    batches = rt._searches.stats.batches - before[0]
    calls = rt._searches.stats.calls - before[1]
    assert calls == len(bodies) and batches < calls  # some searches shared a request


def test_a_client_that_hangs_up_does_not_break_the_batch(live_image: tuple[str, Any]) -> None:
    url, _ = live_image

    def impatient(i: int) -> str:
        try:
            with httpx.Client(base_url=url, timeout=0.001) as c:
                c.post("/api/image/search", json=_image_query(i))
            return "answered"
        except httpx.TimeoutException:
            return "gave up"

    def patient(i: int) -> Any:
        with httpx.Client(base_url=url, timeout=300) as c:
            return c.post("/api/image/search", json=_image_query(i) | {"top_k": 2})

    results = _in_threads(lambda i: impatient(i) if i % 2 == 0 else patient(i), list(range(12)))
    assert "gave up" in results[0::2]
    for resp in results[1::2]:
        assert resp.status_code == 200 and len(resp.json()["hits"]) == 2
    assert patient(1).status_code == 200


def test_a_few_texts_get_the_vectors_sentence_transformers_gives(torch_minilm: Any) -> None:
    """On PyTorch, queries (up to ``FEW`` texts) go through the model's forward pass
    directly, not ``SentenceTransformer.encode``: the same vectors, a long text cut at the
    same 256 word pieces, and the same rows as when they come in a batch of more."""
    from findalike.encoders.sentence import FEW

    minilm = torch_minilm
    texts = ["how to use the csv module", "a", " ".join(PARAGRAPHS) * 3]
    expected = minilm._model.encode(
        texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    np.testing.assert_allclose(minilm.encode(texts), expected, atol=1e-5)
    many = minilm.encode(texts + QUERIES[: FEW + 1 - len(texts)])  # past FEW: the other path
    np.testing.assert_allclose(many[: len(texts)], expected, atol=1e-5)
    assert np.allclose(np.linalg.norm(minilm.encode(texts), axis=1), 1.0, atol=1e-5)
