"""Browse what is stored, then "Find similar" from a stored item or a hit, on the audio,
molecule, text and QA pages, in a real browser on real data. Each test loads the same
files as that page's other test (a re-load stores nothing new), so the order the tests
run in does not matter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import soundfile as sf

from tests.e2e.conftest import load_through_ui, shot
from tests.e2e.test_science_pages import _need

DATASETS = Path(__file__).resolve().parents[2] / "datasets"

pytestmark = pytest.mark.browser


def _hit_ids(page: Any, selector: str) -> list[str]:
    ids: list[str] = page.locator(selector).evaluate_all("els => els.map(e => e.dataset.itemId)")
    return ids


def test_audio_browse_then_find_similar(page: Any, screenshots: Path, tmp_path: Path) -> None:
    """Eight real speech prompts and a lossy copy of one of them (Ogg Vorbis, made
    here): "Find similar" on the original's stored item finds the copy first, and the
    original itself is left out."""
    clips = sorted((DATASETS / "audio" / "asterisk").iterdir())[:8]
    original = clips[3]
    samples, rate = sf.read(original)
    copy = tmp_path / f"copy-of-{original.stem}.ogg"
    sf.write(copy, samples, rate, format="OGG", subtype="VORBIS")
    page.goto("/#/audio")
    _need("audio", page)
    load_through_ui(page, [*clips, copy])
    tile = page.locator(".browse-tile", has_text=original.name)
    tile.wait_for()
    assert "s" in tile.locator(".browse-detail").inner_text()  # its duration
    tile.get_by_role("button", name="Find similar").click()
    page.get_by_test_id("results-count").wait_for()
    titles = page.locator(".media-hit .hit-title").all_inner_texts()
    print("similar to", original.name, ":", titles)
    assert titles[0] == copy.name
    assert original.name not in titles
    assert f"Like {original.name}" in page.locator(".results").inner_text()
    # and from a hit: the copy's closest recording is the original
    page.locator(".media-hit").first.get_by_role("button", name="Find similar").click()
    page.get_by_text(f"Like {copy.name}").wait_for()
    assert page.locator(".media-hit .hit-title").first.inner_text() == original.name
    shot(page, screenshots, "audio-browse")


def test_molecule_browse_then_find_similar(page: Any, screenshots: Path, tmp_path: Path) -> None:
    """200 real NCI molecules: "Find similar" on a stored molecule searches by its
    SMILES, leaves the molecule itself out and lists what the API lists for that SMILES."""
    lines = (DATASETS / "molecules" / "nci_first_5K.smi").read_text().splitlines()[:200]
    smi = tmp_path / "nci200.smi"
    smi.write_text("\n".join(lines) + "\n")
    page.goto("/#/molecule")
    _need("molecule", page)
    load_through_ui(page, [smi])
    tiles = page.locator(".browse-tile")
    tiles.first.wait_for()
    assert tiles.count() == 12
    page.wait_for_function(
        "() => [...document.querySelectorAll('.browse-tile img')].every(i => i.complete "
        "&& i.naturalWidth > 0)"
    )  # the structure drawings
    picked = tiles.nth(4)
    item_id = picked.get_attribute("data-item-id")
    smiles = picked.locator(".browse-detail").inner_text()
    picked.get_by_role("button", name="Find similar").click()
    page.get_by_test_id("results-count").wait_for()
    assert page.get_by_label("Query molecule (SMILES)").input_value() == smiles
    shown = _hit_ids(page, ".hit-tile")
    api = page.request.post("/api/molecule/search", data={"query": smiles, "top_k": 13}).json()
    expected = [h["item_id"] for h in api["hits"] if h["item_id"] != item_id][:12]
    assert len(shown) == 12 and item_id not in shown
    assert shown == expected
    # from a hit: its SMILES becomes the query
    second = page.locator(".hit-tile").nth(1)
    hit_id, hit_smiles = (
        second.get_attribute("data-item-id"),
        second.locator(".smiles").inner_text(),
    )
    second.get_by_role("button", name="Find similar").click()
    page.wait_for_function(
        "s => document.querySelector('input[name=smiles]').value === s", arg=hit_smiles
    )  # the query is set, and the old results replaced, before the search is sent
    page.get_by_test_id("results-count").wait_for()
    again = _hit_ids(page, ".hit-tile")
    assert len(again) == 12 and hit_id not in again
    shot(page, screenshots, "molecule-browse")


def test_text_browse_then_find_similar(page: Any, screenshots: Path, sotu_small: Path) -> None:
    """12 real State of the Union addresses: "Find similar" on a stored address lists
    the other addresses, closest first, as the API ranks them for its text."""
    page.goto("/#/text")
    load_through_ui(page, [sotu_small])
    row = page.locator(".browse-tile", has_text="Jimmy Carter, 1981")
    row.wait_for()
    item_id = row.get_attribute("data-item-id")
    page.get_by_label("Results").fill("5")
    row.get_by_role("button", name="Find similar").click()
    page.get_by_text("Documents like “Jimmy Carter, 1981”").wait_for()
    shown = _hit_ids(page, ".results .hit")
    stored = page.request.get(f"/api/text/items/{item_id}").json()["fields"]["text"]
    api = page.request.post(
        "/api/text/search", data={"query": stored, "top_k": 6, "mode": "semantic"}
    ).json()
    expected = [h["item_id"] for h in api["hits"] if h["item_id"] != item_id][:5]
    assert len(shown) == 5 and item_id not in shown
    assert shown == expected
    first = page.locator(".results .hit").first
    title = first.locator(".hit-title").inner_text()
    first.get_by_role("button", name="Find similar").click()
    page.get_by_text(f"Documents like “{title}”").wait_for()
    assert shown[0] not in _hit_ids(page, ".results .hit")
    shot(page, screenshots, "text-browse")


def test_qa_browse_then_find_similar(page: Any, screenshots: Path, perlfaq_small: Path) -> None:
    """60 real perlfaq pairs: "Find similar" on a stored question lists other stored
    questions; "Ask this" on one asks it, and the chatbot answers with that pair."""
    page.goto("/#/qa")
    load_through_ui(page, [perlfaq_small])
    row = page.locator(".browse-tile").nth(3)
    row.wait_for()
    item_id = row.get_attribute("data-item-id")
    question = row.locator(".tile-name").inner_text()
    row.get_by_role("button", name="Find similar").click()
    page.get_by_text(f"Stored questions like “{question}”").wait_for()
    hits = page.locator(".results .hit")
    assert hits.count() == 8
    scores = [float(s) for s in hits.locator(".score").all_inner_texts()]
    assert scores == sorted(scores, reverse=True)  # by meaning, closest first
    assert item_id not in _hit_ids(page, ".results .hit")
    assert question not in hits.locator(".hit-title").all_inner_texts()
    picked = hits.first.locator(".hit-title").inner_text()
    hits.first.get_by_role("button", name="Ask this").click()
    bot = page.locator(".msg.bot[data-answered]").last
    bot.wait_for()
    assert bot.get_attribute("data-answered") == "true", bot.inner_text()
    assert picked in bot.locator(".matched").inner_text()
    shot(page, screenshots, "qa-browse")
