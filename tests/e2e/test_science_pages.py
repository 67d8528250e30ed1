"""Molecule, DNA and recommend pages in a real browser, on real data sets."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import load_through_ui, shot

DATASETS = Path(__file__).resolve().parents[2] / "datasets"

pytestmark = pytest.mark.browser


def _need(app: str, page: Any) -> None:
    apps = page.request.get("/api/apps").json()["data"]
    if not any(a["name"] == app and a["enabled"] for a in apps):
        pytest.skip(f"the {app} app is not enabled here")


def test_molecule_similarity_and_substructure(page: Any, screenshots: Path, tmp_path: Path) -> None:
    """200 real NCI molecules (RDKit's first_5K.smi); the query is one of them."""
    lines = (DATASETS / "molecules" / "nci_first_5K.smi").read_text().splitlines()[:200]
    smi = tmp_path / "nci200.smi"
    smi.write_text("\n".join(lines) + "\n")
    query = lines[2].split()[0]
    page.goto("/#/molecule")
    _need("molecule", page)
    load_through_ui(page, [smi])
    page.get_by_label("Query molecule (SMILES)").fill(query)
    page.locator(".depiction img").wait_for()  # the live drawing of the query
    assert page.locator(".depiction img").evaluate("i => i.complete && i.naturalWidth > 0")
    page.get_by_label("Results").fill("8")
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_test_id("results-count").wait_for()
    assert page.locator(".hit-tile").count() == 8
    first = page.locator(".hit-tile").first
    assert "Tanimoto 1.000" in first.inner_text()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.hit-tile img')].every(i => i.complete "
        "&& i.naturalWidth > 0)"
    )
    shot(page, screenshots, "molecule")

    page.get_by_label("Mode").select_option("substructure")
    page.get_by_label("Query molecule (SMILES)").fill("c1ccccc1[N+](=O)[O-]")
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_text("stored molecule(s) qualify").wait_for()
    assert page.locator(".hit-tile").count() >= 1
    scores = page.locator(".hit-tile .score").all_inner_texts()  # every hit has a score now
    assert len(scores) == page.locator(".hit-tile").count()
    assert all(s.startswith("Tanimoto ") for s in scores)
    shot(page, screenshots, "molecule-substructure")

    page.get_by_label("Mode").select_option("similarity")
    page.get_by_label("Query molecule (SMILES)").fill("not a smiles((")
    page.get_by_role("button", name="Search", exact=True).click()
    alert = page.locator(".results [role=alert]")
    alert.wait_for()
    assert "SMILES" in alert.inner_text() or "smiles" in alert.inner_text()


def _fasta_records(n: int) -> list[tuple[str, str]]:
    records: list[tuple[str, str]] = []
    header, seq = "", []
    with gzip.open(DATASETS / "dna" / "ten_16s.100.fa.gz", "rt") as fh:
        for line in fh:
            if line.startswith(">"):
                if header:
                    records.append((header, "".join(seq)))
                    if len(records) == n:
                        break
                header, seq = line.strip(), []
            else:
                seq.append(line.strip())
    return records


def test_dna_classify_and_evaluate(page: Any, screenshots: Path, tmp_path: Path) -> None:
    """400 real 16S rRNA genes (dada2's ten_16s), labelled by their taxonomy."""
    records = _fasta_records(400)
    fa = tmp_path / "16s_400.fa"
    fa.write_text("".join(f"{h}\n{s}\n" for h, s in records))
    page.goto("/#/dna")
    _need("dna", page)
    load_through_ui(page, [fa])
    header, sequence = records[7]
    page.get_by_label("DNA sequence or FASTA").fill(f"{header}\n{sequence}")
    page.get_by_role("button", name="Classify").click()
    prediction = page.get_by_test_id("prediction")
    prediction.wait_for()
    assert "confidence" in prediction.inner_text()
    assert page.locator("table.neighbours tbody tr").count() >= 1
    assert (
        page.locator("table.neighbours tbody tr").first.locator("td").nth(4).inner_text() == "1.000"
    )  # the sequence itself is stored
    page.get_by_role("button", name="Evaluate accuracy (held-out)").click()
    page.get_by_test_id("accuracy").wait_for()
    assert page.locator("table.heat tbody tr").count() >= 2
    encoders = page.get_by_test_id("encoders").locator("tbody tr")  # 16S: k-mer profiles only
    assert encoders.count() == 2
    assert encoders.first.get_attribute("data-encoder") == "kmer-profile@k5-acgt-v1"
    shot(page, screenshots, "dna")
    # browse the stored sequences; "Find similar" classifies one: itself first, at 1.000
    rows = page.locator(".browse-tile")
    rows.first.wait_for()
    picked = rows.nth(3)
    name = picked.locator(".tile-name").inner_text().split(" (")[0]
    picked.get_by_role("button", name="Find similar").click()
    page.wait_for_function(
        "name => [...document.querySelectorAll('table.neighbours tbody td:nth-child(3)')]"
        ".some(td => td.textContent === name)",
        arg=name,
    )
    first = page.locator("table.neighbours tbody tr").first.locator("td")
    assert first.nth(4).inner_text() == "1.000"


def test_recommend_train_and_recommend(page: Any, screenshots: Path, tmp_path: Path) -> None:
    """Real InstEval lecture ratings (the first 8,000) with the lecturer titles."""
    src = DATASETS / "ratings"
    with (src / "ratings.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))[:8001]
    ratings = tmp_path / "ratings.csv"
    with ratings.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    page.goto("/#/recommend")
    _need("recommend", page)
    load_through_ui(page, [src / "items.csv", ratings])
    page.get_by_role("button", name="Train model").click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=model]').dataset.version", timeout=120_000
    )
    user = rows[1][0]
    page.get_by_label("Recommend for a stored user").fill(user)
    page.get_by_role("button", name="Recommend", exact=True).click()
    page.get_by_test_id("results-count").wait_for()
    assert page.get_by_test_id("results-count").get_attribute("data-count") == "10"
    assert page.locator(".rec .hit-title").first.inner_text().startswith("Lecturer ")
    page.locator(".rec").first.get_by_role("button", name="♥ Like").click()
    page.locator(".rec").nth(1).get_by_role("button", name="♥ Like").click()
    page.get_by_role("button", name="Recommend from my likes").click()
    page.get_by_role("heading", name="For your likes").wait_for()
    assert page.locator(".rec").count() == 10
    page.get_by_role("button", name="Evaluate vs popularity").click()
    page.get_by_test_id("evaluation").wait_for()
    shot(page, screenshots, "recommend")
    # browse the items; "Find similar" lists items like the one clicked
    tile = page.locator(".browse-tile").first
    tile.wait_for()
    item = tile.get_attribute("data-item-id")
    tile.get_by_role("button", name="Find similar").click()
    page.get_by_role("heading", name=f"Similar to item {item}").wait_for()
    assert page.locator(".rec").count() == 10
