"""The recommender on real ratings (InstEval: 73,421 lecture ratings, datasets/ratings),
real ALS (implicit), real Milvus Lite, through the real HTTP app."""

from __future__ import annotations

import csv
import threading
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from findalike.api.main import create_app
from findalike.apps.recommend import APP
from findalike.apps.recommend.evaluation import _split, evaluate
from findalike.apps.recommend.models import EvaluateRequest
from findalike.apps.recommend.ratings import (
    Rating,
    RatingsTable,
    ReadFailure,
    Record,
    read_csv,
)
from findalike.apps.recommend.recommender import Recommender, recommender
from findalike.config import Settings
from findalike.core.app import AppRuntime
from findalike.errors import Conflict
from findalike.store import VectorStore
from tests.conftest import wait_job

DATA = Path(__file__).resolve().parents[2] / "datasets" / "ratings"
PRECISION_MARGIN = 2.0
"""The trained model's held-out precision@10 must be at least this many times the
most-popular baseline's (measured: ~0.36 vs ~0.04 on a random 20% hold-out)."""


@pytest.fixture(scope="module")
def rated() -> dict[str, set[str]]:
    """Each user's rated items, read straight from the CSV."""
    out: dict[str, set[str]] = defaultdict(set)
    with (DATA / "ratings.csv").open() as f:
        for row in csv.DictReader(f):
            out[row["user"]].add(row["item"])
    return out


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app with InstEval loaded and a model trained (v1)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("recommend"), apps=["recommend"])
    with TestClient(create_app(settings)) as c:
        job = _load(c, ["items.csv", "ratings.csv"])
        assert job["state"] == "done", job
        assert job["failed"] == 0
        job = _train(c)
        assert job["state"] == "done", job
        yield c


def _load(client: TestClient, names: list[str], blobs: dict[str, bytes] | None = None) -> dict:
    files = [("files", (n, (blobs or {}).get(n) or (DATA / n).read_bytes())) for n in names]
    r = client.post("/api/recommend/load", files=files)
    assert r.status_code == 202, r.text
    return wait_job(client, r.json()["id"])


def _train(client: TestClient) -> dict:
    r = client.post("/api/recommend/train")
    assert r.status_code == 202, r.text
    assert r.json()["kind"] == "train"
    return wait_job(client, r.json()["id"])


def test_training_is_a_job_with_progress(client: TestClient) -> None:
    info = client.get("/api/recommend/model").json()
    assert info["version"] >= 1
    assert (info["users"], info["items"], info["trained_on_ratings"]) == (2972, 1128, 73421)
    assert client.get("/api/recommend/count").json()["items"] == 1128


def test_user_recommendations_are_unrated_items_with_titles(
    client: TestClient, rated: dict[str, set[str]]
) -> None:
    r = client.get("/api/recommend/users/1", params={"top_k": 10})
    assert r.status_code == 200, r.text
    items = r.json()["hits"]
    assert len(items) == 10
    assert not {i["item_id"] for i in items} & rated["1"]
    assert all(i["title"].startswith(f"Lecturer {i['item_id']} ") for i in items)
    scores = [i["score"] for i in items]
    assert scores == sorted(scores, reverse=True)


def test_shared_search_route_serves_users_and_liked_items(client: TestClient) -> None:
    by_user = client.post("/api/recommend/search", json={"user": "1", "top_k": 5})
    assert by_user.status_code == 200, by_user.text
    assert len(by_user.json()["hits"]) == 5
    by_items = client.post("/api/recommend/search", json={"items": ["1002", "1050"], "top_k": 5})
    assert by_items.status_code == 200, by_items.text
    assert client.post("/api/recommend/search", json={"top_k": 5}).status_code == 422


def test_many_users_in_one_request_equal_one_request_each(client: TestClient) -> None:
    users = ["1", "2", "nobody", "3", "1"]
    r = client.post("/api/recommend/for-users", json={"users": users, "top_k": 4})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == 3 and body["unknown_users"] == ["nobody"]
    assert [entry["user"] for entry in body["data"]] == ["1", "2", "3"]  # repeats once
    for entry in body["data"]:
        alone = client.get(f"/api/recommend/users/{entry['user']}", params={"top_k": 4}).json()
        assert entry["hits"] == alone["hits"] and len(alone["hits"]) == 4
    too_many = {"users": [str(i) for i in range(1001)]}
    assert client.post("/api/recommend/for-users", json=too_many).status_code == 422
    assert client.post("/api/recommend/for-users", json={"users": []}).status_code == 422


def test_fold_in_of_a_users_ratings_approximates_their_stored_vector(
    client: TestClient, rated: dict[str, set[str]]
) -> None:
    """A new user who liked exactly what user 7 rated gets mostly user 7's list
    (bar: 6 of 10 in common; the fold-in is one exact ALS user step)."""
    stored = client.get("/api/recommend/users/7").json()["hits"]
    with (DATA / "ratings.csv").open() as f:
        mine = [(r["item"], float(r["rating"])) for r in csv.DictReader(f) if r["user"] == "7"]
    body = {"items": [i for i, _ in mine] + ["no-such-item"], "ratings": [r for _, r in mine] + [5]}
    r = client.post("/api/recommend/fold-in", json=body)
    assert r.status_code == 200, r.text
    folded = r.json()
    assert folded["unknown_items"] == ["no-such-item"]
    assert not {i["item_id"] for i in folded["hits"]} & rated["7"]
    overlap = len({i["item_id"] for i in stored} & {i["item_id"] for i in folded["hits"]})
    print(f"fold-in vs stored user top-10 overlap: {overlap}/10")
    assert overlap >= 6


def test_similar_items(client: TestClient) -> None:
    r = client.get("/api/recommend/items/1002/similar", params={"top_k": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["title"] == "Lecturer 1002 (dept 2)"
    assert len(body["hits"]) == 5
    assert "1002" not in {i["item_id"] for i in body["hits"]}
    assert all(-1.0 <= i["score"] <= 1.0 for i in body["hits"])


def test_search_holds_to_top_k_with_stored_item_ids(client: TestClient) -> None:
    r = client.post("/api/recommend/search", json={"user": "1", "top_k": 3})
    assert r.status_code == 200, r.text
    hits = r.json()["hits"]
    assert len(hits) == 3
    rt = client.app.state.runtimes["recommend"]  # type: ignore[attr-defined]
    for hit in hits:
        assert hit["item_id"] == hit["item"] and isinstance(hit["score"], float)
        assert rt.get_item(hit["item_id"]) is not None  # the id the store's rows use
    floor = hits[1]["score"]
    r = client.post("/api/recommend/search", json={"user": "1", "top_k": 3, "min_score": floor})
    assert [h["item_id"] for h in r.json()["hits"]] == [h["item_id"] for h in hits[:2]]


@pytest.mark.parametrize(
    ("path", "body", "misspelt"),
    [
        ("/api/recommend/search", {"user": "1", "topk": 3}, "topk"),
        ("/api/recommend/fold-in", {"items": ["1002"], "rating": [5]}, "rating"),
        ("/api/recommend/evaluate", {"k": 10, "seeds": 1}, "seeds"),
    ],
)
def test_misspelt_field_is_a_422_naming_it(
    client: TestClient, path: str, body: dict, misspelt: str
) -> None:
    r = client.post(path, json=body)
    assert r.status_code == 422 and misspelt in r.text, r.text


@pytest.mark.parametrize(
    ("method", "path", "old", "new"),
    [
        (
            "POST",
            "/api/recommend/search",
            {"json": {"user": "1", "k": 4}},
            {"json": {"user": "1", "top_k": 4}},
        ),
        (
            "POST",
            "/api/recommend/fold-in",
            {"json": {"items": ["1002", "1050"], "k": 4}},
            {"json": {"items": ["1002", "1050"], "top_k": 4}},
        ),
        ("GET", "/api/recommend/users/1", {"params": {"k": 4}}, {"params": {"top_k": 4}}),
        (
            "GET",
            "/api/recommend/items/1002/similar",
            {"params": {"k": 4}},
            {"params": {"top_k": 4}},
        ),
    ],
)
def test_deprecated_k_gives_the_same_answer_as_top_k(
    client: TestClient, method: str, path: str, old: dict, new: dict
) -> None:
    got_old, got_new = client.request(method, path, **old), client.request(method, path, **new)
    assert got_old.status_code == got_new.status_code == 200, got_old.text
    assert got_old.json() == got_new.json() and len(got_new.json()["hits"]) == 4
    both = {key: {**old[key], **new[key], "top_k": 5} for key in old}
    r = client.request(method, path, **both)
    assert r.status_code == 422 and "deprecated" in r.text, r.text


def test_openapi_marks_k_deprecated_and_keeps_the_evaluation_cut_off(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert schemas["RecommendRequest"]["properties"]["k"].get("deprecated") is True
    assert schemas["FoldInRequest"]["properties"]["k"].get("deprecated") is True
    assert not schemas["EvaluateRequest"]["properties"]["k"].get("deprecated")
    params = spec["paths"]["/api/recommend/users/{user}"]["get"]["parameters"]
    assert {p["name"]: p.get("deprecated", False) for p in params if p["in"] == "query"} == {
        "top_k": False,
        "k": True,
        "collection": False,
    }


def test_unknown_user_and_item_are_404(client: TestClient) -> None:
    for path in ("/api/recommend/users/nobody", "/api/recommend/items/nothing/similar"):
        r = client.get(path)
        assert r.status_code == 404, r.text
        assert "Unknown" in r.json()["detail"]
    r = client.post("/api/recommend/fold-in", json={"items": ["nothing"]})
    assert r.status_code == 404


def test_model_beats_popularity_on_held_out_precision(client: TestClient) -> None:
    r = client.post("/api/recommend/evaluate", json={"k": 10, "holdout": "random", "seed": 1})
    assert r.status_code == 200, r.text
    report = r.json()
    model, popular = report["model"], report["popularity"]
    print(
        f"held-out precision@10: ALS {model['precision']:.4f}, most-popular "
        f"{popular['precision']:.4f} (recall@10 {model['recall']:.4f} vs "
        f"{popular['recall']:.4f}, NDCG@10 {model['ndcg']:.4f} vs {popular['ndcg']:.4f}) "
        f"over {report['users_evaluated']} users"
    )
    assert model["precision"] >= PRECISION_MARGIN * popular["precision"]
    assert model["ndcg"] > popular["ndcg"]


def test_temporal_hold_out_holds_out_each_users_latest() -> None:
    users = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2])
    times = np.array([5, 1, 4, 2, 3, 10, 20, 30, 40, 50, 1], dtype=float)
    test = _split(users, times, EvaluateRequest(holdout="temporal", test_fraction=0.4))
    assert set(np.flatnonzero(test)) == {0, 2, 8, 9}  # user 2 has too few ratings
    table = RatingsTable(
        users.astype(str).astype(object),
        users.astype(str).astype(object),
        np.ones(11),
        np.full(11, np.nan),
    )
    with pytest.raises(Exception, match="timestamps"):
        evaluate(table, EvaluateRequest(holdout="temporal"))


def test_malformed_ratings_are_reported_line_by_line(client: TestClient) -> None:
    bad = (
        b"user,item,rating,timestamp\n"
        b"900001,1002,5,1\n"
        b"900001,1050,five,1\n"
        b"900001\n"
        b",1050,3,1\n"
        b"900001,1189,4,1\n"
    )
    job = _load(client, ["bad.csv"], {"bad.csv": bad})
    errors = {e["item"]: e["error"] for e in job["errors"]}
    assert set(errors) == {"bad.csv:3", "bad.csv:4", "bad.csv:5"}, errors
    assert "'five' is not a number" in errors["bad.csv:3"]
    assert "columns" in errors["bad.csv:4"]
    assert "empty user id" in errors["bad.csv:5"]
    assert job["done"] == 1  # the two good lines, stored as one record
    r = client.get("/api/recommend/users/900001")
    assert r.status_code == 404 and "train" in r.json()["detail"]  # not in the model yet


def test_in_memory_scoring_equals_a_milvus_search(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Congruence: numpy over the model's factors ranks as Milvus does over the
    stored vectors (same items, same scores to float32 rounding)."""
    rec = recommender(client.app.state.runtimes["recommend"])  # type: ignore[attr-defined]

    def answers() -> list[list[tuple[str, float]]]:
        found = [rec.for_user(u, 10).hits for u in ("1", "7", "100", "2000")]
        found.append(rec.for_liked(["1002", "1050"], 10).hits)
        pairs = [[(h.item_id, h.score) for h in hits] for hits in found]
        return pairs + [[(h.item_id, h.score) for h in rec.similar("1002", 10).hits]]

    in_memory = answers()
    monkeypatch.setattr(Recommender, "_stored_items", lambda self, model: None)
    on_milvus = answers()
    for mine, theirs in zip(in_memory, on_milvus, strict=True):
        assert len(mine) == len(theirs) == 10
        for (item, score), (other, other_score) in zip(mine, theirs, strict=True):
            assert abs(score - other_score) < 1e-5
            assert item == other or abs(score - other_score) < 1e-5  # float32 near-ties


def test_retraining_keeps_serving_then_swaps(client: TestClient) -> None:
    before = client.get("/api/recommend/model").json()["version"]
    # another worker process's recommender over the same folder: it holds the model it read
    elsewhere = Recommender(client.app.state.runtimes["recommend"])  # type: ignore[attr-defined]
    assert elsewhere.model is not None and elsewhere.model.version == before
    seen: list[tuple[int, int]] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            r = client.get("/api/recommend/users/1", params={"top_k": 10})
            seen.append((r.status_code, len(r.json().get("hits", []))))

    asker = threading.Thread(target=ask)
    asker.start()
    try:
        job = _train(client)
    finally:
        stop.set()
        asker.join()
    assert job["state"] == "done", job
    assert job["done"] == job["total"] > 0  # one step per ALS iteration
    assert seen and all(s == (200, 10) for s in seen), seen[:5]
    after = client.get("/api/recommend/model").json()
    assert after["version"] == before + 1
    assert elsewhere.model.version == before + 1  # the retrained file is picked up there
    assert after["users"] == 2973  # the user of the malformed file's good lines
    print(f"{len(seen)} recommendations served during retraining, none empty")


def test_reader_detects_headerless_tab_separated_ratings() -> None:
    out = list(read_csv("u.data", b"196\t242\t3\t881250949\n186\t302\t3\t891717742\n"))
    assert len(out) == 1 and isinstance(out[0], Record)
    assert [(r.user, r.item, r.rating, r.timestamp) for r in out[0].payload] == [
        ("196", "242", 3.0, 881250949.0),
        ("186", "302", 3.0, 891717742.0),
    ]
    assert out[0].label == "u.data:1-2"
    bad = list(read_csv("x.csv", b"user,item,rating\n1,2,nan\n"))
    assert isinstance(bad[0], ReadFailure) and bad[0].label == "x.csv:2"


def test_ratings_beyond_the_bound_are_refused_line_by_line() -> None:
    """1e308 is finite, yet ALS's float32 confidence ``1 + alpha * r`` overflows on it."""
    out = list(read_csv("x.csv", b"user,item,rating\n1,2,5\n1,3,1e308\n1,4,-2e6\n1,5,1e6\n"))
    failures = {o.label: o.error for o in out if isinstance(o, ReadFailure)}
    assert set(failures) == {"x.csv:3", "x.csv:4"}, failures
    assert "outside" in failures["x.csv:3"] and "1e308" in failures["x.csv:3"]
    kept = [r.rating for o in out if isinstance(o, Record) for r in o.payload]
    assert kept == [5.0, 1e6]


def test_an_overflowing_stored_rating_fails_training_cleanly_and_keeps_the_model(
    tmp_path: Path,
) -> None:
    """A ratings file written before the bound (or by hand) may hold 1e308: training
    then fails with a clear message, evaluation answers 400 (it was a 500), and the
    model in use still serves."""
    settings = Settings(data_dir=tmp_path, apps=["recommend"])
    with TestClient(create_app(settings)) as c:
        ratings = "user,item,rating\n" + "".join(
            f"u{u},{i},{1 + (u + i) % 5}\n" for u in range(40) for i in range(30) if (u + i) % 4
        )
        assert _load(c, ["r.csv"], {"r.csv": ratings.encode()})["state"] == "done"
        assert _train(c)["state"] == "done"
        rec = recommender(c.app.state.runtimes["recommend"])  # type: ignore[attr-defined]
        # several, so that the evaluation's random hold-out cannot hold them all out
        rec.ratings.add_ratings([Rating(f"u{u}", "1002", 1e308, 7.0) for u in range(10)])
        job = _train(c)
        assert job["state"] == "failed", job
        assert "not finite" in job["message"] and "-1e6..1e6" in job["message"], job
        assert c.get("/api/recommend/model").json()["version"] == 1
        r = c.get("/api/recommend/users/u1", params={"top_k": 3})
        assert r.status_code == 200 and len(r.json()["hits"]) == 3
        r = c.post("/api/recommend/evaluate", json={})
        assert r.status_code == 400, r.text
        assert "not finite" in r.json()["detail"]


def test_no_model_yet_is_a_clear_conflict(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    rt = AppRuntime(APP, settings, VectorStore(str(tmp_path / "milvus.db")))
    with pytest.raises(Conflict, match="train"):
        Recommender(rt).for_user("1", 10)


def test_deleting_an_item_by_its_name_removes_its_vector(tmp_path: Path) -> None:
    """Recommender items are named (``977``), not content hashes: deleting one must
    not trip over the media store, which only keeps hashed files."""
    settings = Settings(data_dir=tmp_path, apps=["recommend"])
    with TestClient(create_app(settings)) as c:
        ratings = "user,item,rating\n" + "".join(
            f"u{u},{i},{1 + (u + i) % 5}\n" for u in range(8) for i in (977, 978, 979)
        )
        assert _load(c, ["r.csv"], {"r.csv": ratings.encode()})["state"] == "done"
        assert _train(c)["state"] == "done"
        assert c.get("/api/recommend/items/977").status_code == 200
        r = c.delete("/api/recommend/items/977")
        assert r.status_code == 200, r.text
        assert r.json()["deleted_vectors"] == 1
        assert c.get("/api/recommend/items/977").status_code == 404
        assert c.get("/api/recommend/count").json()["items"] == 2


def test_a_named_collection_has_its_own_ratings_model_and_routes(
    client: TestClient, tmp_path: Path
) -> None:
    """Every recommender route takes ``?collection=``: a named collection is trained on
    its own ratings, recommends only its own items, leaves the app's model as it was,
    and its drop takes its ratings and model with it."""
    before = client.get("/api/recommend/model").json()
    assert client.post("/api/recommend/collections", json={"name": "small"}).status_code == 201
    ratings = "user,item,rating\n" + "".join(
        f"u{u},{i},{1 + (u * i) % 5}\n" for u in range(12) for i in range(900, 900 + 6 + u % 4)
    )
    r = client.post(
        "/api/recommend/load",
        params={"collection": "small"},
        files=[("files", ("r.csv", ratings.encode()))],
    )
    assert r.status_code == 202 and wait_job(client, r.json()["id"])["state"] == "done"
    named = {"collection": "small"}
    r = client.post("/api/recommend/train", params=named)
    assert r.status_code == 202 and wait_job(client, r.json()["id"])["state"] == "done"
    info = client.get("/api/recommend/model", params=named).json()
    assert (info["users"], info["items"]) == (12, 9)
    assert client.get("/api/recommend/model").json() == before  # the app's own: untouched
    mine = {str(i) for i in range(900, 909)}
    hits = client.get("/api/recommend/users/u0", params={**named, "top_k": 5}).json()["hits"]
    assert hits and {h["item_id"] for h in hits} <= mine - {str(i) for i in range(900, 906)}
    similar = client.get("/api/recommend/items/900/similar", params=named).json()["hits"]
    assert similar and {h["item_id"] for h in similar} <= mine
    many = client.post(
        "/api/recommend/for-users", params=named, json={"users": ["u0", "u5"], "top_k": 5}
    )
    assert many.status_code == 200, many.text
    assert [d["hits"] for d in many.json()["data"]][0] == hits
    folded = client.post("/api/recommend/fold-in", params=named, json={"items": ["900", "901"]})
    assert folded.status_code == 200, folded.text
    assert {h["item_id"] for h in folded.json()["hits"]} <= mine
    assert client.get("/api/recommend/users/u0").status_code == 404  # not a user of the app's
    r = client.post("/api/recommend/evaluate", params=named, json={"k": 3})
    assert r.status_code == 200, r.text
    rt = client.app.state.runtimes["recommend"].named("small")  # type: ignore[attr-defined]
    state = rt.state_dir
    assert (state / "ratings.sqlite").is_file() and (state / "model.npz").is_file()
    assert client.delete("/api/recommend/collections/small").status_code == 200
    assert not state.exists()
    assert client.get("/api/recommend/model", params=named).status_code == 404


def test_answers_are_the_json_fastapi_would_write(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recommender's answers are written by pydantic-core in one pass
    (``json_response``): the same JSON as FastAPI's own validation and encoding of the
    route's response model."""
    from findalike.apps.recommend import routes

    def ask() -> list[Any]:
        return [
            client.get("/api/recommend/users/1", params={"top_k": 7}),
            client.get("/api/recommend/items/1002/similar"),
            client.post("/api/recommend/fold-in", json={"items": ["1002", "1050"]}),
            client.post("/api/recommend/for-users", json={"users": ["1", "2"], "top_k": 3}),
            client.post("/api/recommend/search", json={"user": "3", "top_k": 4}),
        ]

    fast = ask()
    monkeypatch.setattr(routes, "json_response", lambda answer, declared: answer)
    from findalike.api.routes import app_routes

    monkeypatch.setattr(app_routes, "json_response", lambda answer, declared: answer)
    slow = ask()
    for f, s in zip(fast, slow, strict=True):
        assert f.status_code == s.status_code == 200, f.text
        assert f.headers["content-type"] == s.headers["content-type"] == "application/json"
        assert f.json() == s.json()
