"""Snippets and highlights of text hits (``make_snippet``): the window of words holding
most query terms, and the spans of those terms in it, for text with and without Chinese
(cut by the regex engine, or by jieba)."""

from __future__ import annotations

from findalike.apps.text.search import SNIPPET_WORDS, make_snippet, query_terms


def _highlighted(snippet: str, spans: list[tuple[int, int]]) -> list[str]:
    return [snippet[start:end] for start, end in spans]


def test_the_window_moves_to_the_query_s_words_and_highlights_them_whole() -> None:
    filler = " ".join(f"word{i}" for i in range(120))
    text = f"{filler}. Health care costs: we PAY for Healthcare, and the payments go up. {filler}"
    snippet, spans = make_snippet(text, query_terms("how do we pay for health care"))
    assert snippet.startswith("…") and snippet.endswith("…")  # cut on both sides
    assert len(snippet.strip("…").split()) == SNIPPET_WORDS
    # stems of 5 letters, any case; short words whole; "we"/"for" are stop words
    assert _highlighted(snippet, spans) == ["Health", "care", "PAY", "Healthcare"]
    assert "payments" not in _highlighted(snippet, spans)  # "payme" is not "pay"


def test_a_text_without_the_query_s_words_shows_its_start() -> None:
    text = " ".join(f"w{i}" for i in range(100))
    snippet, spans = make_snippet(text, query_terms("nothing here matches"))
    assert spans == [] and snippet.startswith("w0 w1 ") and snippet.endswith("…")
    assert make_snippet("", ["x"]) == ("", [])
    assert make_snippet("...", ["x"]) == ("...", [])


def test_chinese_text_is_cut_by_jieba_and_its_shared_words_highlighted() -> None:
    text = "苹果公司发布了新的手机，它的价格很高。用户可以在网上商店购买。"
    snippet, spans = make_snippet(text, query_terms("手机 价格"))
    assert snippet == text[:-1] + "…"  # every word of it (the window ends at a word)
    assert _highlighted(snippet, spans) == ["手机", "价格"]
