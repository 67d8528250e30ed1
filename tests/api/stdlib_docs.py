"""A text corpus no one here wrote: docstrings of Python's standard library (the running
interpreter's own), with queries that name an identifier found in exactly one of them.

``documents(n)`` walks a fixed list of modules in a fixed order, so the same interpreter
gives the same corpus; ``identifier_queries(docs, k)`` picks identifiers (a word with an
inner underscore or an inner capital letter) that occur in exactly one document's text
and asks "how to use <identifier>". Used by tests/api/test_text_modes.py and
benchmarks/bench_text_modes.py."""

from __future__ import annotations

import importlib
import inspect
import re
import warnings
from collections import Counter
from dataclasses import dataclass

MODULES = (
    "abc argparse array ast asyncio.locks asyncio.queues base64 bisect bz2 calendar cmd "
    "codecs collections colorsys concurrent.futures configparser contextlib copy csv "
    "dataclasses datetime decimal difflib dis doctest email.message email.utils enum "
    "filecmp fileinput fnmatch fractions ftplib functools getopt gettext glob graphlib "
    "gzip hashlib heapq hmac html html.parser http.client http.cookies imaplib inspect io "
    "ipaddress itertools json linecache locale logging logging.handlers lzma mailbox "
    "mimetypes netrc numbers operator optparse os pathlib pdb pickle pkgutil platform "
    "plistlib poplib pprint profile pstats queue quopri random re reprlib sched secrets "
    "selectors shelve shlex shutil signal smtplib socket socketserver sqlite3 ssl "
    "statistics string struct subprocess sysconfig tarfile tempfile textwrap threading "
    "timeit tokenize trace traceback tracemalloc types typing unittest.case "
    "unittest.mock urllib.parse urllib.request uuid warnings wave weakref xml.dom.minidom "
    "xml.etree.ElementTree zipfile zoneinfo"
).split()
_IDENTIFIER = re.compile(r"\b(?:[A-Za-z]+_[A-Za-z0-9_]*[A-Za-z0-9]|[a-z]+[A-Z][A-Za-z0-9]*)\b")


@dataclass(frozen=True)
class Doc:
    title: str
    text: str


def documents(n: int, min_chars: int = 120) -> list[Doc]:
    """The first ``n`` docstrings of at least ``min_chars`` characters (duplicates out):
    each module's own, then its public functions', classes' and methods'."""
    docs: list[Doc] = []
    seen: set[str] = set()
    for module_name in MODULES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                continue
        for title, obj in _members(module_name, module):
            doc = inspect.getdoc(obj) or ""
            text = " ".join(doc.split())
            if len(text) < min_chars or text in seen:
                continue
            seen.add(text)
            docs.append(Doc(title, text))
            if len(docs) == n:
                return docs
    return docs


def _members(module_name: str, module: object) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = [(module_name, module)]
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:  # type: ignore[attr-defined]
            continue
        if inspect.isfunction(obj) or inspect.isclass(obj):
            out.append((f"{module_name}.{name}", obj))
        if inspect.isclass(obj):
            for attr, member in sorted(vars(obj).items()):
                if not attr.startswith("_") and inspect.isfunction(member):
                    out.append((f"{module_name}.{name}.{attr}", member))
    return out


def identifier_queries(docs: list[Doc], k: int, offset: int = 0) -> list[tuple[str, int]]:
    """``k`` queries "how to use <identifier>" with the index of the one document whose
    title or text holds the identifier (each occurs in exactly one document); those that
    are the document's own title's last part are left out (the query would then be the
    title). Every ``len/k``-th one is taken from ``offset`` on: another offset gives
    another set from the same documents (offset 0 was looked at while auto mode was
    built; offset 1 was not)."""
    found: Counter[str] = Counter()
    where: dict[str, int] = {}
    for i, doc in enumerate(docs):
        for word in set(_IDENTIFIER.findall(f"{doc.title.replace('.', ' ')} {doc.text}")):
            found[word] += 1
            where[word] = i
    picked: list[tuple[str, int]] = []
    used_docs: set[int] = set()
    for word in sorted(w for w, c in found.items() if c == 1 and len(w) >= 6):
        i = where[word]
        if i in used_docs or docs[i].title.rsplit(".", 1)[-1] == word:
            continue
        used_docs.add(i)
        picked.append((f"how to use {word}", i))
    step = max(1, len(picked) // k)
    return picked[offset::step][:k]
