"""QA chatbot quality on the bundled demo set (the Perl FAQ), through the real app.

The paraphrases below were written for this test, in other words than the FAQ's
own questions; each names the FAQ question whose answer is right."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from findalike.api.main import create_app
from findalike.apps.qa import demo_files
from findalike.config import Settings
from findalike.kit.hybrid import exact_terms
from tests.api.relevance_sets import OFF_TOPIC as MORE_OFF_TOPIC
from tests.api.relevance_sets import PERLFAQ_HELD_OUT, PERLFAQ_PARAPHRASES
from tests.conftest import wait_job

PARAPHRASES = [
    (
        "how can i order a hash by its values",
        "How do I sort a hash (optionally by value instead of key)?",
    ),
    ("send an e-mail message from a perl script", "How do I send email?"),
    (
        "prompt for a password without echoing it to the screen",
        "How do I ask the user for a password?",
    ),
    ("prevent two processes from writing the same file at once", "How can I lock a file?"),
    ("combine two hashes into one", "How do I merge two hashes?"),
    (
        "is there something like a case statement in perl",
        "How do I create a switch or case statement?",
    ),
    (
        "disable a big chunk of code temporarily with comments",
        "How can I comment out a large block of Perl code?",
    ),
    (
        "run a program in the background so my script keeps going",
        "How do I start a process in the background?",
    ),
    (
        "get rid of repeated entries in an array",
        "How can I remove duplicate elements from a list or array?",
    ),
    ("randomly reorder the items of an array", "How do I shuffle an array randomly?"),
    ("pick a random integer in a range", "How do I get a random number between X and Y?"),
    (
        "remove leading and trailing whitespace from a string",
        "How do I strip blank space from the beginning/end of a string?",
    ),
    ("how many lines does a file have", "How do I count the number of lines in a file?"),
    ("what was the date one day ago", "How do I find yesterday's date?"),
    (
        "make the first letter of every word upper case",
        "How do I capitalize all the words on one line?",
    ),
    ("print a string backwards", "How do I reverse a string?"),
    (
        "which perl modules do i have on this machine",
        "How do I find which modules are installed on my system?",
    ),
    ("strip html tags out of some text", "How do I remove HTML from a string?"),
    ("download a web page in perl", "How do I fetch an HTML file?"),
    ("give up on an operation that takes too long", "How do I timeout a slow event?"),
    ("catch ctrl-c in my program", "How do I trap control characters/signals?"),
    ("turn my script into a background daemon", "How do I fork a daemon process?"),
    ("find bugs in my perl code", "How do I debug my Perl programs?"),
    ("find out which parts of my program are slow", "How do I profile my Perl programs?"),
    ("reduce the memory my perl program uses", "How can I make my Perl program take less memory?"),
    (
        "format a big number with thousands separators",
        "How can I output my numbers with commas added?",
    ),
    ("create a unique temporary file", "How do I make a temporary file name?"),
    (
        "walk through all files in a folder and its subfolders",
        "How do I traverse a directory tree?",
    ),
    (
        "check if an array contains a value",
        "How can I tell whether a certain element is contained in a list or array?",
    ),
    (
        "convert a date string to a unix timestamp",
        "How can I take a string and turn it into epoch seconds?",
    ),
    ("decode base64 data", "How do I decode a MIME/BASE64 string?"),
    ("is perl hard to pick up for a beginner", "Is Perl difficult to learn?"),
]

OFF_TOPIC = [
    "what is the capital of australia",
    "how long should i boil an egg",
    "who won the football world cup in 1998",
    "what is the best fertiliser for tomatoes",
    "how do i change a flat tyre on a bicycle",
    "what causes the northern lights",
]

TOP1_BAR = 0.75  # the closest stored question is the right one
ANSWERED_BAR = 0.70  # ... and it is also above the confidence threshold
REFUSE_BAR = 0.80


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, shared_encoders: dict) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("qa"), apps=["qa"])
    with TestClient(create_app(settings, encoders=shared_encoders)) as c:
        ((name, path),) = demo_files()
        r = c.post("/api/qa/load", files=[("files", (name, Path(path).read_bytes()))])
        job = wait_job(c, r.json()["id"])
        assert job["state"] == "done" and job["done"] >= 300, job
        yield c


def test_paraphrased_questions_find_the_right_answer(client: TestClient) -> None:
    top1, answered, misses = 0, 0, []
    for asked, expected in PARAPHRASES:
        r = client.post("/api/qa/answer", json={"question": asked}).json()
        closest = r["matched_question"] or r["related"][0]["question"]
        top1 += closest == expected
        answered += r["answered"] and closest == expected
        if closest != expected:
            misses.append((asked, closest))
    n = len(PARAPHRASES)
    print(
        f"QA paraphrases: top-1 {top1 / n:.3f} ({top1}/{n}), answered correctly "
        f"{answered / n:.3f} ({answered}/{n}); wrong: {misses}"
    )
    assert top1 / n >= TOP1_BAR
    assert answered / n >= ANSWERED_BAR


def test_expected_questions_exist_in_the_demo_set() -> None:
    import csv

    ((_, path),) = demo_files()
    with open(path, encoding="utf-8") as fh:
        questions = {row["question"] for row in csv.DictReader(fh)}
    missing = [e for _, e in PARAPHRASES if e not in questions]
    assert not missing


def test_off_topic_questions_get_i_dont_know_with_suggestions(client: TestClient) -> None:
    refused = 0
    for q in OFF_TOPIC:
        r = client.post("/api/qa/answer", json={"question": q}).json()
        if not r["answered"]:
            refused += 1
            assert r["answer"] is None and r["related"], r
            assert r["confidence"] < r["threshold"]
            assert "don't know" in r["message"]
    rate = refused / len(OFF_TOPIC)
    print(f"QA off-topic refused: {rate:.3f} ({refused}/{len(OFF_TOPIC)})")
    assert rate >= REFUSE_BAR


def test_threshold_is_per_request(client: TestClient) -> None:
    asked = "combine two hashes into one"
    strict = client.post("/api/qa/answer", json={"question": asked, "threshold": 0.99}).json()
    lax = client.post("/api/qa/answer", json={"question": asked, "threshold": 0.1}).json()
    assert not strict["answered"] and lax["answered"]
    assert strict["related"][0]["question"] == lax["matched_question"]
    bad = client.post("/api/qa/answer", json={"question": asked, "threshold": 3})
    assert bad.status_code == 422


def test_search_modes_on_paraphrases_and_a_calibrated_threshold(client: TestClient) -> None:
    """``/api/qa/evaluate`` over a second paraphrase set (acronyms, synonyms,
    misspellings) and off-topic questions: figures per mode, and the answer threshold
    that makes the most right decisions on the set."""
    queries = [{"question": q, "expected": e} for q, e in PERLFAQ_PARAPHRASES]
    queries += [{"question": q} for q in MORE_OFF_TOPIC]
    queries.append({"question": "how do i frobnicate", "expected": "No such question?"})
    res = client.post("/api/qa/evaluate", json={"queries": queries}).json()
    assert res["answerable"] == len(PERLFAQ_PARAPHRASES)
    assert res["unknown_expected"] == ["No such question?"]
    nothing = {"queries": [{"question": "q", "expected": "No such question?"}]}
    r = client.post("/api/qa/evaluate", json=nothing)
    assert r.status_code == 422 and "'No such question?'" in r.json()["detail"], r.text
    assert set(res["modes"]) == {"auto", "semantic", "lexical", "hybrid"}
    assert res["modes"]["auto"] == res["modes"]["semantic"]  # no identifier in these
    for mode, f in res["modes"].items():
        print(
            f"QA {mode}: top-1 {f['top1']:.3f} MRR {f['mrr']:.3f} recall@10 "
            f"{f['recall_at_k']:.3f} nDCG@10 {f['ndcg_at_10']:.3f}; threshold {f['threshold']} "
            f"right decisions {f['accuracy_at_threshold']:.3f} (today's "
            f"{res['current_threshold']}: {f['accuracy_at_current']:.3f})"
        )
        assert f["accuracy_at_threshold"] >= f["accuracy_at_current"]
    semantic = res["modes"]["semantic"]
    assert semantic["top1"] >= TOP1_BAR and semantic["recall_at_k"] >= 0.9
    assert 0.0 < semantic["threshold"] < 1.0
    # the calibrated threshold, given back per request, makes those decisions
    best = semantic["threshold"]
    right = 0
    for q in queries[:-1]:
        r = client.post("/api/qa/answer", json={"question": q["question"], "threshold": best})
        a = r.json()
        right += (
            (a["matched_question"] == q.get("expected"))
            if a["answered"]
            else (q.get("expected") is None or a["related"][0]["question"] != q.get("expected"))
        )
    assert right / (len(queries) - 1) == pytest.approx(semantic["accuracy_at_threshold"], abs=0.03)


def test_hybrid_answers_and_highlights(client: TestClient) -> None:
    r = client.post(
        "/api/qa/search", json={"question": "what does PSGI mean", "mode": "lexical", "top_k": 3}
    ).json()
    assert r["mode"] == "lexical" and r["hits"][0]["question"] == "What is Plack and PSGI?"
    q = r["hits"][0]["question"]
    assert [q[a:b] for a, b in r["hits"][0]["highlights"]] == ["PSGI"]
    a = client.post(
        "/api/qa/answer", json={"question": "combine two hashes into one", "mode": "hybrid"}
    ).json()
    assert a["mode"] == "hybrid" and a["matched_question"] == "How do I merge two hashes?"


HELD_OUT_TOP1_BAR = 0.72  # measured 0.761 (README): the figure, with a margin
HELD_OUT_RECALL_BAR = 0.93  # measured 0.978


def test_held_out_paraphrases(client: TestClient) -> None:
    """The held-out set (written after the settings in the README were chosen, never
    used to choose them): the figures the README reports, per mode, with MiniLM. Hybrid
    at lexical_weight 0.02 stays within a hair of semantic; at 0.05 (the default) it
    loses more."""
    queries = [{"question": q, "expected": e} for q, e in PERLFAQ_HELD_OUT]
    modes = {}
    for weight in (0.02, 0.05):
        body = {"queries": queries, "lexical_weight": weight}
        res = client.post("/api/qa/evaluate", json=body).json()
        assert res["answerable"] == len(PERLFAQ_HELD_OUT) and not res["unknown_expected"]
        for mode, f in res["modes"].items():
            print(
                f"QA held-out {mode} (lexical_weight {weight}): top-1 {f['top1']:.3f} "
                f"MRR {f['mrr']:.3f} recall@10 {f['recall_at_k']:.3f}"
            )
        modes[weight] = res["modes"]
    semantic = modes[0.05]["semantic"]
    assert semantic["top1"] >= HELD_OUT_TOP1_BAR
    assert semantic["recall_at_k"] >= HELD_OUT_RECALL_BAR
    assert modes[0.02]["semantic"] == semantic  # the weight is hybrid's only
    for weight in (0.02, 0.05):
        assert modes[weight]["hybrid"]["recall_at_k"] >= HELD_OUT_RECALL_BAR
    # the evaluator's figures, counted again here from plain searches
    for mode, weight in (("semantic", 0.05), ("hybrid", 0.05), ("lexical", 0.05)):
        recount = _recount(client, PERLFAQ_HELD_OUT, mode, weight)
        for metric, value in recount.items():
            assert modes[weight][mode][metric] == pytest.approx(value, abs=1e-3), (mode, metric)


def _recount(
    client: TestClient, pairs: list[tuple[str, str]], mode: str, weight: float
) -> dict[str, float]:
    """Top-1, MRR and recall@10 of ``mode``, from the rank of each expected question
    in a plain ``/api/qa/search`` (top 10)."""
    ranks = []
    for asked, expected in pairs:
        body = {"question": asked, "mode": mode, "top_k": 10, "lexical_weight": weight}
        r = client.post("/api/qa/search", json=body)
        assert r.status_code == 200, r.text
        found = [h["question"] for h in r.json()["hits"]]
        ranks.append(found.index(expected) + 1 if expected in found else None)
    n = len(ranks)
    return {
        "top1": sum(r == 1 for r in ranks) / n,
        "mrr": sum(1 / r for r in ranks if r) / n,
        "recall_at_k": sum(r is not None for r in ranks) / n,
    }


def test_module_names_and_identifiers_find_their_pair_by_default(client: TestClient) -> None:
    """Perl module names and identifiers (``File::ReadBackwards``, ``DB_BTREE``) found in
    exactly one pair of the FAQ: the default mode (auto) answers with that pair far more
    often than meaning alone, which reads ``File::ReadBackwards`` as a few words."""
    ((_, path),) = demo_files()
    with Path(path).open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    found: Counter[str] = Counter()
    owner: dict[str, str] = {}
    for row in rows:
        for term in set(exact_terms(f"{row['question']} {row['answer']}")):
            found[term] += 1
            owner[term] = row["question"].strip()
    unique = sorted(  # identifiers only (not the quoted strings of the answers' code)
        t for t, n in found.items() if n == 1 and len(t) >= 6 and exact_terms(t) == [t]
    )
    picked = unique[:: max(1, len(unique) // 20)][:20]
    right = {"auto": 0, "semantic": 0}
    for term in picked:
        for mode in right:
            body = {"question": f"how do I use {term}", "mode": mode}
            hits = client.post("/api/qa/search", json=body).json()["hits"]
            right[mode] += bool(hits) and hits[0]["question"] == owner[term]
    print(f"Perl FAQ identifiers, top-1 of {len(picked)}: {right}")
    assert len(picked) == 20
    assert right["auto"] >= 18 and right["semantic"] < right["auto"]
