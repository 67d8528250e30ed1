"""The README is the front door: its two commands, its configuration table and
CI must agree with the code."""

from __future__ import annotations

import re

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


def test_every_setting_is_documented() -> None:
    missing = [var for var, _, _ in variables() if f"`{var}`" not in README]
    assert not missing, f"README lacks {missing}"
