"""The runtime is the only door to a collection (issue 27): apps import no store symbol
and reach no store past their runtime (checked on the source), and the text modes that
used to go around it (lexical, hybrid) now go through it, so concurrent searches alike
are sent to Milvus as one request and a request's ``ef``/``nprobe`` reach the dense leg.
Real model, Milvus Lite, the HTTP app."""

from __future__ import annotations

import ast
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import findalike
from findalike.api.main import create_app
from findalike.config import Settings
from findalike.core.app import AppRuntime
from findalike.store import VectorStore
from tests.conftest import wait_job

APPS = Path(findalike.__file__).parent / "apps"
DOCS = [
    {"title": "Volcanoes", "text": "Volcanoes erupt lava, ash and gas from deep in the earth."},
    {"title": "Glaciers", "text": "Glaciers are rivers of ice that carve valleys slowly."},
    {"title": "Deserts", "text": "Deserts receive very little rain and can be hot or cold."},
    {"title": "Reefs", "text": "Coral reefs grow in warm shallow seas full of fish."},
    {"title": "Caves", "text": "Caves form where water dissolves limestone underground."},
]
QUERIES = ["lava and ash", "ice valleys", "little rain", "warm seas fish", "limestone water"]


def _store_reaches(tree: ast.AST) -> list[tuple[int, str]]:
    """Where a module imports from ``findalike.store`` or reaches a runtime's store
    (``rt.store``, ``self.rt.store``)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and _is_store(node.module or ""):
            found.append((node.lineno, f"from {node.module} import ..."))
        elif isinstance(node, ast.Import) and any(_is_store(a.name) for a in node.names):
            found.append((node.lineno, "import findalike.store"))
        elif isinstance(node, ast.Attribute) and node.attr == "store":
            owner = node.value
            if (isinstance(owner, ast.Name) and owner.id == "rt") or (
                isinstance(owner, ast.Attribute) and owner.attr == "rt"
            ):
                found.append((node.lineno, ast.unparse(node)))
    return found


def _is_store(module: str) -> bool:
    return module == "findalike.store" or module.startswith("findalike.store.")


def test_no_app_reaches_the_store_past_its_runtime() -> None:
    offences = {
        str(path.relative_to(APPS)): reaches
        for path in sorted(APPS.rglob("*.py"))
        if (reaches := _store_reaches(ast.parse(path.read_text(), str(path))))
    }
    assert offences == {}


def test_the_rule_sees_what_it_forbids() -> None:
    """The check above fails on each way of going around the runtime."""
    source = (
        "from findalike.store import Hit\n"
        "import findalike.store\n"
        "from findalike.store.milvus import VectorStore\n"
        "def f(rt, self):\n"
        "    rt.store.query('c', filter='')\n"
        "    self.rt.store.count('c')\n"
        "    recommender(rt).store(1, 2)\n"  # a method named store: not the store
    )
    assert [line for line, _ in _store_reaches(ast.parse(source))] == [1, 2, 3, 5, 6]


@pytest.fixture(scope="module")
def text_app(tmp_path_factory: pytest.TempPathFactory, minilm: Any) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("door"), apps=["text"], load_demo=False)
    with TestClient(
        create_app(settings, encoders={"minilm": minilm}), base_url="http://127.0.0.1"
    ) as client:
        lines = "\n".join(json.dumps(d) for d in DOCS).encode()
        r = client.post("/api/text/load", files=[("files", ("docs.jsonl", lines))])
        assert wait_job(client, r.json()["id"])["state"] == "done"
        yield client


def _runtime(client: TestClient) -> AppRuntime:
    return client.app.state.runtimes["text"]  # type: ignore[attr-defined,no-any-return]


def _search(client: TestClient, query: str, **extra: Any) -> list[tuple[str, int]]:
    body = {"query": query, "top_k": 3, "group": False, **extra}  # one search a request
    r = client.post("/api/text/search", json=body)
    assert r.status_code == 200, r.text
    return [(h["item_id"], h["passage"]) for h in r.json()["hits"]]


@pytest.mark.parametrize("mode", ["hybrid", "lexical"])
def test_concurrent_text_searches_go_to_milvus_together(
    text_app: TestClient, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = _runtime(text_app)
    alone = {q: _search(text_app, q, mode=mode) for q in QUERIES}
    assert all(alone.values())
    name = "hybrid_searches" if mode == "hybrid" else "lexical_searches"
    real = getattr(VectorStore, name)
    gate = threading.Event()
    requests: list[int] = []

    def held(self: VectorStore, collection: str, texts: Any, *args: Any, **kwargs: Any) -> Any:
        requests.append(len(texts))
        gate.wait(60)  # the first request is held until the others have queued
        return real(self, collection, texts, *args, **kwargs)

    monkeypatch.setattr(VectorStore, name, held)
    results: dict[str, list[tuple[str, int]]] = {}

    def ask(query: str) -> None:
        results[query] = _search(text_app, query, mode=mode)

    first = threading.Thread(target=ask, args=(QUERIES[0],))
    first.start()
    while not requests:
        time.sleep(0.001)
    others = [threading.Thread(target=ask, args=(q,)) for q in QUERIES[1:]]
    for t in others:
        t.start()
    waiting = rt._text_searches._waiting
    while sum(len(v) for v in waiting.values()) < len(QUERIES) - 1:
        time.sleep(0.001)
    gate.set()
    for t in [first, *others]:
        t.join(60)
    assert requests == [1, len(QUERIES) - 1]  # four callers after the first: one request
    assert results == alone  # each caller got its own answer


def test_ef_and_nprobe_reach_the_dense_leg_of_a_hybrid_search(
    text_app: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = VectorStore.hybrid_searches
    seen: list[Any] = []

    def recorded(self: VectorStore, *args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("params"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(VectorStore, "hybrid_searches", recorded)
    plain = _search(text_app, "ice valleys", mode="hybrid")
    assert _search(text_app, "ice valleys", mode="hybrid", ef=64) == plain
    assert _search(text_app, "ice valleys", mode="hybrid", nprobe=8) == plain
    assert _search(text_app, "ice valleys", mode="hybrid", ef=1) == plain
    # as asked; ef raised to the hits asked of the leg (top_k), nprobe kept within nlist
    assert seen == [None, {"ef": 64}, {"nprobe": 8}, {"ef": 3}]


def test_models_are_built_once_for_all_the_apps_collections(tmp_path: Path) -> None:
    """``rt.cached``: a model (the image app's classifier, the objects app's detector) is
    built once, at first use, and shared by the default and the named collections, even
    when several ask for it at once."""
    from findalike.apps.text import APP as TEXT

    rt = AppRuntime(TEXT, Settings(data_dir=tmp_path), VectorStore(str(tmp_path / "m.db")))
    built: list[int] = []
    gate = threading.Event()

    def make() -> object:
        built.append(1)
        gate.wait(5)  # a slow build: the others ask meanwhile
        return object()

    got: list[object] = []
    askers = [
        threading.Thread(target=lambda r=r: got.append(r.cached("model", make)))
        for r in (rt, rt.named("a"), rt.named("b"), rt)
    ]
    for t in askers:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in askers:
        t.join(10)
    assert built == [1] and len(got) == 4 and all(g is got[0] for g in got)
    assert rt.named("a").cached("model", object) is got[0]
    assert rt.cached("other", lambda: 7) == 7 and built == [1]


def test_the_old_module_names_still_import_for_one_release() -> None:
    """The layers became folders (``core/``, ``store/``, ``formats/``, ``kit/``): each
    moved module's old name gives the moved module itself, and the top level holds no
    module of a layer below the apps but the shared base (config, errors, schema, jobs)."""
    import importlib

    from findalike import MOVED

    for old, new in MOVED.items():
        assert importlib.import_module(old) is importlib.import_module(new)
    top = {p.stem for p in Path(findalike.__file__).parent.glob("*.py")}
    assert top == {"__init__", "backup", "cli", "client", "config", "errors", "jobs", "schema"}


def test_a_search_answers_the_json_fastapi_would_write(
    text_app: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search's answer is written by pydantic-core in one pass (``json_response``):
    the same JSON as FastAPI's own validation and encoding of the response model."""
    from findalike.api.routes import app_routes

    bodies = [
        {"query": q, "top_k": 3, "mode": mode, "min_score": -1.0}
        for q in QUERIES[:3]
        for mode in ("auto", "semantic", "hybrid", "lexical")
    ]
    fast = [text_app.post("/api/text/search", json=b) for b in bodies]
    monkeypatch.setattr(app_routes, "json_response", lambda answer, declared: answer)
    slow = [text_app.post("/api/text/search", json=b) for b in bodies]
    for f, s in zip(fast, slow, strict=True):
        assert f.status_code == s.status_code == 200
        assert f.headers["content-type"] == s.headers["content-type"] == "application/json"
        assert f.json() == s.json() and f.json()["hits"]
