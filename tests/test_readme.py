"""The README is the front door: its two commands, its links and CI must agree with
the code; the docs' generated parts (every setting, every route) must be up to date."""

from __future__ import annotations

import re

import pytest

from scripts.docs_tables import GENERATED, refreshed
from scripts.settings_table import variables
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_run_and_test_commands_that_ci_uses() -> None:
    first_block = re.search(r"```bash\n(.*?)```", README, re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands[:2] == ["make run", "make test"]
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in ci.splitlines()[-1]
    assert "make docs" in ci  # mkdocs build --strict


def test_the_readme_is_short_and_its_links_lead_somewhere() -> None:
    assert len(README.splitlines()) < 200
    links = re.findall(r"\]\(((?:docs|benchmarks|datasets)/[^)#]+)", README)
    assert len(links) >= 15
    missing = [link for link in links if not (REPO / link).exists()]
    assert not missing, missing


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_the_generated_docs_are_up_to_date(name: str) -> None:
    path, now, fresh = refreshed(name)
    assert now == fresh, f"{path} is out of date: run scripts/docs_tables.py --write"


def test_every_setting_is_documented() -> None:
    page = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = [var for var, _, _ in variables() if f"`{var}`" not in page]
    assert not missing, f"docs/configuration.md lacks {missing}"
