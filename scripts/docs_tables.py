"""The generated parts of the docs: every setting (docs/configuration.md) and every
route of the API (docs/api-reference.md), each between ``<!-- NAME:start -->`` and
``<!-- NAME:end -->``. ``--write`` rewrites them; ``--check`` fails when one is out of
date (the tests run it), so the docs never drift from the code.

    .venv/bin/python scripts/docs_tables.py --write
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from scripts.settings_table import variables

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"


def settings_table() -> str:
    rows = ["| variable | default | what it does |", "|---|---|---|"]
    rows += [f"| `{var}` | `{default}` | {desc} |" for var, default, desc in variables()]
    return "\n".join(rows)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def api_table() -> str:
    """Every operation of the OpenAPI document of a server with every app, grouped
    by tag (the app), with what it takes and its Python client method."""
    from findalike.api.main import create_app
    from findalike.apps import ALL_APPS
    from findalike.config import Settings

    spec: dict[str, Any] = create_app(
        Settings(data_dir=Path("unused"), apps=list(ALL_APPS))
    ).openapi()
    methods = _client_methods()
    out: list[str] = []
    current = None
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            group = path.split("/")[2] if path.count("/") >= 2 else "server"
            group = group if group in ALL_APPS else "server"
            if group != current:
                current = group
                out += [
                    "",
                    f"### {group}",
                    "",
                    "| route | what | takes | client |",
                    "|---|---|---|---|",
                ]
            params = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
            body = op.get("requestBody", {}).get("content", {})
            takes = ", ".join(
                [f"`?{p}`" for p in params]
                + [
                    {"application/json": "JSON", "multipart/form-data": "multipart"}.get(k, k)
                    for k in body
                ]
            )
            client = methods.get((method.upper(), path), "")
            out.append(
                f"| `{method.upper()} {path}` | {_cell(op.get('summary', ''))} | {takes or '-'} "
                f"| {f'`{client}`' if client else '-'} |"
            )
    return "\n".join(out).strip()


def _client_methods() -> dict[tuple[str, str], str]:
    """(method, path) -> how the Python client calls it (``fa.text.search``)."""
    from findalike.apps import ALL_APPS
    from findalike.client import _OPERATIONS, EVENTS_TEMPLATE, Operation, _Root

    found = {("GET", EVENTS_TEMPLATE): "fa.events"}
    for name in ALL_APPS:
        for klass in _OPERATIONS[name].__mro__:
            for attr, value in vars(klass).items():
                if isinstance(value, Operation):
                    method = "load" if attr == "_load" else attr
                    path = value.template.replace("{app}", name)
                    found.setdefault((value.method, path), f"fa.{name}.{method}")
    for attr, value in vars(_Root).items():
        if isinstance(value, Operation):
            found[(value.method, value.template)] = f"fa.{attr}"
    return found


GENERATED = {
    "settings": (DOCS / "configuration.md", settings_table),
    "api": (DOCS / "api-reference.md", api_table),
}


def refreshed(name: str) -> tuple[Path, str, str]:
    """The page, its text now and its text with the generated part rewritten."""
    path, make = GENERATED[name]
    text = path.read_text(encoding="utf-8")
    pattern = re.compile(rf"(<!-- {name}:start -->\n).*?\n?(<!-- {name}:end -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"{path}: no <!-- {name}:start --> ... <!-- {name}:end --> markers")
    return path, text, pattern.sub(lambda m: m.group(1) + make() + "\n" + m.group(2), text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the generated parts")
    args = parser.parse_args()
    stale = []
    for name in GENERATED:
        path, now, fresh = refreshed(name)
        if now != fresh:
            if args.write:
                path.write_text(fresh, encoding="utf-8")
            else:
                stale.append(str(path.relative_to(REPO)))
    if stale:
        sys.exit(f"out of date: {', '.join(stale)} (run scripts/docs_tables.py --write)")


if __name__ == "__main__":
    main()
