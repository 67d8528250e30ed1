"""Reading labelled DNA: FASTA (``.fa``/``.fasta``/``.fna``, optionally gzipped) with
the class in each header (``FINDALIKE_DNA_LABEL_PATTERN``), or TSV
``sequence<TAB>class`` (an optional header line). Every record is validated
(alphabet ACGTN, case-insensitive; length) and a bad one is reported by its record
number or line and skipped, never failing its neighbours."""

from __future__ import annotations

import re
from collections.abc import Iterator

from findalike.apps.dna.encoders import length_problem
from findalike.apps.dna.settings import DnaSettings
from findalike.core.app import AppRuntime, ReadFailure, Record, content_id
from findalike.core.sources import gunzip_capped
from findalike.errors import InvalidInput, UnsupportedMedia

_NOT_DNA = re.compile(r"[^ACGTN]")
_SPACE = re.compile(r"\s+")
PREVIEW_LETTERS = 120
SEQUENCE_FIELD_LETTERS = 65_535
"""The stored copy of each sequence (Milvus's longest string); a longer sequence is
stored without it and ``evaluate`` leaves it out."""
FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".ffn", ".fas")


def dna_settings(rt: AppRuntime) -> DnaSettings:
    """The app's settings; for a named collection, with the encoder chosen at its
    creation (``findalike.apps.dna.collections``). Read once per runtime."""
    if rt.collection_name is None:
        settings = rt.config(DnaSettings)
        return settings
    if "dna_settings" not in rt.state:
        from findalike.apps.dna.collections import recorded_settings

        rt.state["dna_settings"] = recorded_settings(rt)
    chosen: DnaSettings = rt.state["dna_settings"]
    return chosen


def clean_sequence(text: str, *, max_letters: int, k: int) -> str:
    """``text`` upper-cased without white space (and without a leading FASTA header
    line); ``InvalidInput`` naming the first bad letter and its 1-based position."""
    text = text.strip()
    if text.startswith(">"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
    sequence = _SPACE.sub("", text).upper()
    if not sequence:
        raise InvalidInput("the sequence is empty", field="sequence")
    bad = _NOT_DNA.search(sequence)
    if bad:
        letters = sorted(set(_NOT_DNA.findall(sequence)))
        raise InvalidInput(
            f"invalid letter {bad.group(0)!r} at position {bad.start() + 1} (only A, C, G, T "
            f"and N are accepted; found {''.join(letters[:20])!r})",
            field="sequence",
        )
    if len(sequence) > max_letters:
        raise InvalidInput(
            f"{len(sequence)} letters; at most {max_letters} are accepted", field="sequence"
        )
    if len(sequence) < k:
        raise InvalidInput(
            f"{len(sequence)} letters; at least k = {k} are needed", field="sequence"
        )
    return sequence


def read_dna(name: str, data: bytes, rt: AppRuntime) -> Iterator[Record | ReadFailure]:
    lower = name.lower()
    if lower.endswith(".gz"):  # capped by its output: a tiny .gz can inflate to gigabytes
        data = gunzip_capped(data, rt.settings.max_item_bytes)
        lower = lower[:-3]
    text = data.decode("utf-8", errors="replace")
    settings = dna_settings(rt)
    if lower.endswith(FASTA_SUFFIXES):
        records = _read_fasta(name, text, settings)
    elif lower.endswith((".tsv", ".txt")):
        records = _read_tsv(name, text, settings)
    else:
        raise UnsupportedMedia(
            f"{name}: the DNA app reads FASTA ({', '.join(FASTA_SUFFIXES)}, "
            "optionally .gz) and TSV sequence<TAB>class"
        )
    encoder = rt.encoder
    for record in records:
        problem = (
            None if isinstance(record, ReadFailure) else length_problem(encoder, record.payload)
        )
        yield record if problem is None else ReadFailure(record.label, problem)


def _record(sequence: str, label: str, seq_id: str, where: str) -> Record:
    return Record(
        item_id=content_id("dna", sequence, label),
        payload=sequence,
        fields={
            "label": label[:256],
            "seq_id": seq_id[:256],
            "length": len(sequence),
            "preview": sequence[:PREVIEW_LETTERS],
            "sequence": sequence if len(sequence) <= SEQUENCE_FIELD_LETTERS else "",
        },
        label=where,
    )


def _read_fasta(name: str, text: str, settings: DnaSettings) -> Iterator[Record | ReadFailure]:
    pattern = re.compile(settings.label_pattern)
    if not text.lstrip().startswith(">"):
        yield ReadFailure(name, "not FASTA: the first non-blank line must start with '>'")
        return
    for number, chunk in enumerate(text.lstrip()[1:].split("\n>"), start=1):
        header, _, body = chunk.partition("\n")
        seq_id = header.split()[0].split(";")[0] if header.split() else ""
        where = f"{name}#{number} ({seq_id or 'no id'})"
        match = pattern.search(header)
        if match is None:
            yield ReadFailure(
                where,
                f"no class in the header {header[:80]!r} (pattern {settings.label_pattern!r})",
            )
            continue
        try:
            sequence = clean_sequence(body, max_letters=settings.max_sequence_letters, k=settings.k)
        except InvalidInput as exc:
            yield ReadFailure(where, exc.detail)
            continue
        yield _record(sequence, match.group(1), seq_id, where)


def _read_tsv(name: str, text: str, settings: DnaSettings) -> Iterator[Record | ReadFailure]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        where = f"{name}:{number}"
        parts = line.rstrip("\r\n").split("\t")
        if number == 1 and parts[0].strip().lower() in ("sequence", "seq"):
            continue  # header
        if len(parts) < 2 or not parts[1].strip():
            yield ReadFailure(where, "expected sequence<TAB>class")
            continue
        try:
            sequence = clean_sequence(
                parts[0], max_letters=settings.max_sequence_letters, k=settings.k
            )
        except InvalidInput as exc:
            yield ReadFailure(where, exc.detail)
            continue
        seq_id = parts[2].strip() if len(parts) > 2 else ""
        yield _record(sequence, parts[1].strip(), seq_id, where)
