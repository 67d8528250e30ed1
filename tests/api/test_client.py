"""The Python client (``findalike.client``), sync and async, against the real server
with every app and real data (the contract tests' live server): every route a user
calls is covered, answers come back as the server's own models, errors as exceptions
carrying the server's problem details. The data the live server was given is left as
it was: what these tests write goes into their own named collections."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from findalike.api.main import create_app
from findalike.apps import ALL_APPS
from findalike.apps.qa.models import AnswerResponse
from findalike.apps.text.models import TextEvaluateResponse, TextSearchResponse
from findalike.client import (
    ApiError,
    AsyncClient,
    Client,
    JobFailed,
    Operation,
    Unreachable,
    covered_routes,
)
from findalike.config import Settings
from findalike.jobs import Job
from tests.api.conftest import some_photos
from tests.conftest import REPO, _free_port, serving

DOCS = [
    ("Rockets", "We will send astronauts to Mars and return them safely."),
    ("Taxes", "Families deserve lower taxes and a simpler tax code."),
    ("Health", "Health care must cost less for every family."),
]


def _jsonl(docs: list[tuple[str, str]]) -> bytes:
    return "\n".join(json.dumps({"title": t, "text": x}) for t, x in docs).encode()


def test_the_client_covers_every_route_of_the_openapi_document() -> None:
    spec = create_app(Settings(data_dir=Path("unused"), apps=list(ALL_APPS))).openapi()
    served = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    covered = covered_routes(ALL_APPS)
    assert served - covered == set(), "routes the client cannot call"
    assert covered - served == set(), "client operations the server does not serve"


def test_sync_and_async_clients_offer_the_same_operations() -> None:
    import findalike.client as module

    def operations(cls: type) -> set[str]:
        return {n for k in cls.__mro__ for n, v in vars(k).items() if isinstance(v, Operation)}

    for name in dir(module):
        cls = getattr(module, name)
        if isinstance(cls, type) and name.startswith("Async") and name.endswith("Client"):
            twin = getattr(module, name.removeprefix("Async"))
            assert operations(cls) == operations(twin) != set(), name
            public = {n for n in dir(twin) if not n.startswith("_")} - {"close"}
            assert public <= {n for n in dir(cls) if not n.startswith("_")}, name


def test_sync_client_loads_searches_browses_and_deletes(live: str, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "speeches.jsonl").write_bytes(_jsonl(DOCS))
    seen: list[Job] = []
    with Client(live) as fa:
        assert fa.health().status == "ok"
        assert {a.name for a in fa.apps().data} == set(ALL_APPS)
        created = fa.text.create_collection("client_sync", encoder="minilm")
        assert (created.name, created.items) == ("client_sync", 0)
        try:
            job = fa.text.load(docs, collection="client_sync", wait=True, on_progress=seen.append)
            assert (job.state, job.done, job.total) == ("done", 3, 3)
            assert seen and seen[-1].state == "done"  # progress reached the caller
            assert job.id in {j.id for j in fa.jobs(app="text").data}
            assert fa.job(job.id) == job
            assert [e.state for e in fa.events(job.id)] == ["done"]  # ended: the last event

            found = fa.text.search(
                query="lower taxes for families", top_k=2, collection="client_sync"
            )
            assert isinstance(found, TextSearchResponse)  # the server's own model
            assert found.hits[0].title == "Taxes" and len(found.hits) == 2
            assert fa.text.count(collection="client_sync").items == 3
            page = fa.text.items(limit=2, collection="client_sync")
            assert (page.count, len(page.data)) == (3, 2)
            first = page.data[0].item_id
            assert fa.text.item(first, collection="client_sync").item_id == first
            taxes = found.hits[0].item_id
            report = fa.text.evaluate(
                queries=[{"query": "a simpler tax code", "relevant": [taxes]}],
                collection="client_sync",
            )
            assert isinstance(report, TextEvaluateResponse)
            assert report.modes["semantic"].top1 == 1.0
            assert fa.text.delete(taxes, collection="client_sync").deleted_vectors > 0
            assert fa.text.count(collection="client_sync").items == 2
            assert fa.text.drop(collection="client_sync").dropped  # the whole collection
            assert "client_sync" not in {c.name for c in fa.text.collections().data}
            with pytest.raises(ApiError) as gone:
                fa.text.count(collection="client_sync")
            assert gone.value.status == 404
        finally:
            _forget(fa, "client_sync")


def _forget(fa: Client, name: str) -> None:
    """Drop the test's collection if a failure left it behind."""
    if name in {c.name for c in fa.text.collections().data}:
        fa.text.drop_collection(name)


def test_errors_carry_the_servers_problem_details(live: str) -> None:
    with Client(live) as fa:
        with pytest.raises(ApiError) as bad:
            fa.text.search(query="taxes", top_k=0)
        assert bad.value.status == 422 and bad.value.errors[0].field == "body.top_k"
        with pytest.raises(ApiError) as unknown:
            fa.molecule.search(smiles="CCO", colour="red")
        assert unknown.value.status == 422 and "colour" in unknown.value.detail
        with pytest.raises(ApiError) as missing:
            fa.people.remove_person("nobody-registered")
        assert missing.value.status == 404
        with pytest.raises(ApiError) as no_job:
            fa.job("0" * 32)
        assert no_job.value.status == 404
        with pytest.raises(FileNotFoundError):
            fa.text.load(REPO / "no-such-folder")
        with pytest.raises(ApiError) as no_such:  # app routes take a named collection
            fa.request("POST", "/api/recommend/train", params={"collection": "other"})
        assert no_such.value.status == 404
        assert "POST /api/recommend/collections" in str(no_such.value.detail)
        with pytest.raises(ApiError) as reads_none:  # one that reads no collection
            fa.request("GET", "/api/molecule/depict", params={"smiles": "CCO", "collection": "x"})
        assert reads_none.value.status == 422 and "reads no collection" in reads_none.value.detail
    with Client(f"http://127.0.0.1:{_free_port()}") as nowhere, pytest.raises(Unreachable):
        nowhere.health()


def test_every_app_answers_through_the_client(live: str) -> None:
    photo = some_photos(5)[0]
    with Client(live) as fa:
        answer = fa.qa.answer("How can I sort a hash?")
        assert isinstance(answer, AnswerResponse) and answer.answered
        assert answer.matched_question == "How do I sort a hash?"

        same = fa.image.search_file(photo, top_k=1).hits[0]
        assert fa.image.file(same.item_id) == photo.read_bytes()  # the stored original
        assert fa.image.thumbnail(same.item_id)[:2] == b"\xff\xd8"  # a JPEG
        by_bytes = fa.image.search_file(("query.jpg", photo.read_bytes()), top_k=1)
        assert by_bytes.hits[0].item_id == same.item_id
        assert fa.app("video").count().items == 3 and fa.audio.count().items == 3

        detected = fa.objects.detect(photo)  # a photo the objects app holds
        assert detected.detections >= 1 and detected.hits
        assert fa.people.people().people

        ethanol = fa.molecule.search(smiles="CCO", top_k=1).hits[0]
        assert ethanol.smiles == "CCO"
        assert b"<svg" in fa.molecule.depiction(ethanol.item_id)
        assert b"<svg" in fa.molecule.depict("c1ccccc1O", highlight="c1ccccc1", size=200)

        sequence = ("ACGT" * 12)[:40]
        assert fa.dna.classify(sequence).label == "B"  # class B repeats ACGT
        assert fa.dna.evaluate(holdout_fraction=0.5, max_sequences=12).encoders

        rec = fa.recommend
        assert rec.model().users > 0
        assert rec.for_user("1", top_k=3).hits
        assert rec.similar("1", top_k=3).hits
        assert rec.fold_in(items=["2", "3"], top_k=3).hits
        assert rec.for_users(["1", "2"], top_k=2).count == 2
        assert rec.evaluate().users_evaluated > 0
        trained = rec.train()
        assert fa.wait(trained, check=True).state == "done"
        labelled = fa.wait(fa.image.label(), timeout=300)
        assert labelled.state == "done"


def test_app_routes_take_a_named_collection(live: str) -> None:
    """People's registry and image labels work on a named collection too (issue 27),
    leaving the app's own collection as it was."""
    faces = sorted((REPO / "datasets" / "people" / "register" / "obama").glob("*.jpg"))[:2]
    with Client(live) as fa:
        registered = {p.name for p in fa.people.people().people}
        fa.people.create_collection("staff")
        fa.image.create_collection("logos")
        try:
            job = fa.people.load(*faces, collection="staff", wait=True)
            assert job.state == "done" and job.done == 2
            assert [p.name for p in fa.people.people(collection="staff").people] == ["obama"]
            gone = fa.people.remove_person("obama", collection="staff")
            assert gone.deleted_photos == 2
            assert fa.people.people(collection="staff").people == []
            assert {p.name for p in fa.people.people().people} == registered  # untouched
            fa.image.load(some_photos(2)[1], collection="logos", wait=True)
            labelled = fa.wait(fa.image.label(collection="logos"), check=True)
            assert labelled.message == "0 image(s) labelled"  # labelled as it was loaded
        finally:
            fa.people.drop_collection("staff")
            fa.image.drop_collection("logos")


def test_async_client_does_the_same_concurrently(live: str) -> None:
    async def scenario() -> None:
        async with AsyncClient(live) as fa:
            await fa.text.create_collection("client_async")
            try:
                job = await fa.text.load(
                    files=[("speeches.jsonl", _jsonl(DOCS))], collection="client_async"
                )
                events = [j async for j in fa.events(job.id)]
                assert events[-1].state == "done" and events[-1].done == 3
                queries = ["astronauts to Mars", "lower taxes", "cheaper health care"] * 3
                found = await asyncio.gather(
                    *(fa.text.search(query=q, top_k=1, collection="client_async") for q in queries)
                )
                assert [r.hits[0].title for r in found[:3]] == ["Rockets", "Taxes", "Health"]
                assert [r.hits[0].title for r in found] == [r.hits[0].title for r in found[:3]] * 3
                assert (await fa.qa.answer("What is a regex?")).answered
                with pytest.raises(ApiError) as bad:
                    await fa.text.search(query="x", top_k=0, collection="client_async")
                assert bad.value.status == 422
            finally:
                assert (await fa.text.drop_collection("client_async")).dropped

    asyncio.run(scenario())


def test_a_bad_file_is_reported_item_by_item_and_check_raises(live: str) -> None:
    bad = [
        ("broken.jsonl", b'{"title": "x", "text": "y"}\nnot json\n'),
        ("good.jsonl", _jsonl(DOCS[:1])),
    ]
    many = _jsonl([(f"Doc {i}", f"Sentence number {i} about taxes.") for i in range(3000)])
    with Client(live) as fa:
        fa.text.create_collection("client_bad")
        try:
            job = fa.text.load(files=bad, collection="client_bad", wait=True)
            assert (job.state, job.done, job.failed) == ("done", 2, 1)
            assert [e.item for e in job.errors] == ["broken.jsonl:2"]
            assert job.total == 3  # items, not files
            long = fa.text.load(files=[("many.jsonl", many)], collection="client_bad")
            fa.cancel(long.id)
            with pytest.raises(JobFailed) as stopped:
                fa.wait(long, check=True, timeout=120)
            assert stopped.value.job.state == "cancelled"
        finally:
            fa.text.drop_collection("client_bad")


def test_api_keys_are_sent_and_a_missing_key_is_an_api_error(tmp_path: Path) -> None:
    keys = "read:read-key-0123456789abcdef,write:write-key-0123456789abcdef"
    settings = Settings(data_dir=tmp_path, apps=["dna"], api_keys=keys)
    with serving(create_app(settings)) as url:
        with Client(url) as anonymous, pytest.raises(ApiError) as refused:
            anonymous.dna.count()
        assert refused.value.status == 401
        with Client(url, api_key="read-key-0123456789abcdef") as reader:
            assert reader.dna.count().items == 0
            with pytest.raises(ApiError) as read_only:
                reader.dna.load(files=[("s.fa", b">a class=A\nACGTACGTACGT\n")])
            assert read_only.value.status == 403


@pytest.mark.parametrize("env", [True, False])
def test_the_server_defaults_to_the_environment(
    env: bool, monkeypatch: pytest.MonkeyPatch, live: str
) -> None:
    if env:
        monkeypatch.setenv("FINDALIKE_SERVER", live)
        fa = Client()
    else:
        monkeypatch.delenv("FINDALIKE_SERVER", raising=False)
        fa = Client(live + "/")
    with fa:
        assert fa.server == live
        assert fa.health().status == "ok"
