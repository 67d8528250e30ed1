"""The default search mode (auto) on data no one here wrote: docstrings of Python's own
standard library, asked for identifiers each found in exactly one of them (issue 26).
Through the real app on Milvus Lite, with MiniLM."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from findalike.api.main import create_app
from findalike.config import Settings
from findalike.kit.hybrid import exact_terms
from tests.api.stdlib_docs import Doc, documents, identifier_queries
from tests.conftest import wait_job

DOCS = 400
QUERIES = 20
AUTO_TOP1_BAR = 0.9


@pytest.fixture(scope="module")
def docs() -> list[Doc]:
    return documents(DOCS)


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, shared_encoders: dict[str, Any], docs: list[Doc]
) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("stdlib"), apps=["text"])
    with TestClient(create_app(settings, encoders=shared_encoders)) as c:
        lines = "\n".join(
            json.dumps({"title": d.title, "text": d.text, "module": d.title.split(".")[0]})
            for d in docs
        )
        r = c.post("/api/text/load", files=[("files", ("stdlib.jsonl", lines.encode()))])
        job = wait_job(c, r.json()["id"], timeout_s=900)
        assert (job["state"], job["done"]) == ("done", len(docs)), job
        yield c


def _titles(client: TestClient, query: str, **body: Any) -> tuple[list[str], dict[str, Any]]:
    r = client.post("/api/text/search", json={"query": query, "top_k": 10, **body})
    assert r.status_code == 200, r.text
    res: dict[str, Any] = r.json()
    return [h["title"] for h in res["hits"]], res


def test_identifiers_come_first_by_default(client: TestClient, docs: list[Doc]) -> None:
    """An identifier typed as in the code (``add_help``, ``hasAttribute``): the default
    mode finds its one document first where meaning alone (semantic) often does not,
    because the sentence model reads ``add_help`` as "add help"."""
    queries = identifier_queries(docs, QUERIES, offset=1)
    assert len(queries) == QUERIES
    right = {"auto": 0, "semantic": 0}
    for query, i in queries:
        titles, res = _titles(client, query)
        assert res["mode"] == "auto" and res["exact_terms"] == [query.split()[-1]], res
        right["auto"] += titles[:1] == [docs[i].title]
        titles, _ = _titles(client, query, mode="semantic")
        right["semantic"] += titles[:1] == [docs[i].title]
    print(f"stdlib identifiers, top-1 of {QUERIES}: {right}")
    assert right["auto"] / QUERIES >= AUTO_TOP1_BAR
    assert right["semantic"] < right["auto"]


def test_a_quoted_phrase_counts_in_any_case(client: TestClient, docs: list[Doc]) -> None:
    folded = [d.text.casefold() for d in docs]
    for doc in docs[40:]:
        words = doc.text.split()[3:7]
        phrase = " ".join(words)
        if len(phrase) > 12 and sum(phrase.casefold() in t for t in folded) == 1:
            break
    titles, res = _titles(client, f'something about "{phrase.upper()}"')
    assert res["exact_terms"] == [phrase.upper()]
    assert titles[0] == doc.title


def test_filters_hold_for_the_exact_terms(client: TestClient, docs: list[Doc]) -> None:
    query, i = identifier_queries(docs, QUERIES, offset=1)[0]
    module = docs[i].title.split(".")[0]
    other = next(d.title.split(".")[0] for d in docs if d.title.split(".")[0] != module)
    titles, _ = _titles(client, query, filters={"module": other})
    assert titles and all(t.split(".")[0] == other for t in titles)
    titles, _ = _titles(client, query, filters={"module": module})
    assert titles[0] == docs[i].title


@pytest.mark.parametrize(
    ("query", "terms"),
    [
        ("how to use add_help", ["add_help"]),
        ("what does hasAttribute return?", ["hasAttribute"]),
        ("os.path.join or pathlib", ["os.path.join"]),
        ("__init__ and _private", ["__init__", "_private"]),
        ('a "quoted Phrase" and Foo::Bar', ["quoted Phrase", "Foo::Bar"]),
        ("how can I lock a file, e.g. with CPAN or IPv6?", []),
    ],
)
def test_exact_terms(query: str, terms: list[str]) -> None:
    assert exact_terms(query) == terms
