"""Rebuild this folder's position-dependent sets from the Debian packages they come from.

    apt-get download r-cran-kernlab r-cran-mlbench r-cran-seqinr
    for f in *.deb; do dpkg -x "$f" x; done
    pip install pyreadr==0.5.8 rdata==1.1.0  # for this conversion only; not findalike's
    python datasets/dna/build.py x

- ``promoters.fa``: kernlab's ``promotergene`` (106 E. coli sequences of 57 nt, class
  ``+`` promoter / ``-`` not), one letter per column ``V2..V58``.
- ``splice.fa.gz``: mlbench's ``DNA`` (3,186 primate splice-junction windows of 60 nt,
  classes ``ei`` / ``ie`` / ``n``, written upper-case ``EI`` / ``IE`` / ``N``). Each
  base is three indicator columns (StatLog coding): A = 100, C = 010, G = 001,
  T = 000. Checked below: no position has two ones, the class counts are the
  published 767 / 765 / 1,654, and the decoded windows carry the splice consensus
  (``GT`` opening the intron right after position 30 in EI, ``AG`` closing it at
  29-30 in IE), which a wrong letter order would scramble.
"""

from __future__ import annotations

import gzip
import random
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pyreadr

HERE = Path(__file__).parent
SITE = "usr/lib/R/site-library"
SPLICE_COUNTS = {"EI": 767, "IE": 765, "N": 1654}
PHASE_WINDOW = 60
STOPS = {"TAA", "TAG", "TGA"}


def promoters(root: Path) -> list[tuple[str, str, str]]:
    frame = pyreadr.read_r(root / SITE / "kernlab/data/promotergene.rda")["promotergene"]
    out = []
    for number, (_, row) in enumerate(frame.iterrows(), start=1):
        sequence = "".join(str(v) for v in row.iloc[1:]).upper()
        assert len(sequence) == 57 and set(sequence) <= set("ACGT"), sequence
        out.append((f"promoter{number:03d}", str(row["Class"]), sequence))
    assert Counter(c for _, c, _ in out) == {"+": 53, "-": 53}
    return out


def splice(root: Path) -> list[tuple[str, str, str]]:
    frame = pyreadr.read_r(root / SITE / "mlbench/data/DNA.rda")["DNA"]
    bits = frame.iloc[:, :180].astype(int).to_numpy().reshape(-1, 60, 3)
    assert bits.sum(axis=2).max() == 1, "a position with two indicator bits set"
    letters = np.array(list("TACG"))[(bits * [1, 2, 3]).sum(axis=2)]
    labels = [str(c).upper() for c in frame["Class"]]
    out = [
        (f"splice{n:04d}", label, "".join(row))
        for n, (label, row) in enumerate(zip(labels, letters, strict=True), start=1)
    ]
    assert Counter(labels) == SPLICE_COUNTS, Counter(labels)
    donors = Counter(s[30:32] for _, c, s in out if c == "EI")
    acceptors = Counter(s[28:30] for _, c, s in out if c == "IE")
    assert donors["GT"] > 0.95 * SPLICE_COUNTS["EI"], donors
    assert acceptors["AG"] > 0.95 * SPLICE_COUNTS["IE"], acceptors
    return out


def coding_sequences(root: Path) -> dict[str, str]:
    """seqinr's ec999: gene name -> its coding sequence (upper-case), the genes whose
    reading frame is certain (see the module docstring)."""
    import rdata  # reads R lists, which pyreadr does not

    parsed = rdata.parser.parse_file(root / SITE / "seqinr/data/ec999.RData")
    genes = rdata.conversion.convert(parsed)["ec999"]
    assert len(genes) == 999, len(genes)
    out = {}
    for name, letters in genes.items():
        s = "".join(str(x) for x in letters).upper()
        codons = [s[i : i + 3] for i in range(0, len(s), 3)]
        if (
            len(s) % 3 == 0
            and set(s) <= set("ACGT")
            and codons[0] in {"ATG", "GTG", "TTG"}
            and codons[-1] in STOPS
            and not STOPS & set(codons[:-1])
        ):
            out[str(name)] = s
    assert len(out) > 950, len(out)
    return out


def codon_phase(root: Path) -> list[tuple[str, str, str]]:
    rng = random.Random(0)
    out = []
    for name, s in coding_sequences(root).items():
        room = (len(s) - 3 - 63) // (PHASE_WINDOW + 3)  # whole windows before the stop
        for j in range(min(room, 3)):
            start = 63 + j * (PHASE_WINDOW + 3) + rng.randrange(3)
            window = s[start : start + PHASE_WINDOW]
            assert len(window) == PHASE_WINDOW and start + PHASE_WINDOW <= len(s) - 3
            label = f"c{start % 3 + 1}"
            out.append((f"{name.replace(' ', '_')}:{start + 1}", label, window))
    counts = Counter(c for _, c, _ in out)
    assert len(out) > 2500 and min(counts.values()) > 0.3 * len(out), counts
    # The labels are the gene's frame: in phase c1, no window has a stop codon in frame.
    for _, label, window in out:
        shift = (1 - int(label[1:])) % 3  # letters until the next codon starts
        assert not any(window[i : i + 3] in STOPS for i in range(shift, PHASE_WINDOW - 2, 3))
    return out


def fasta(records: list[tuple[str, str, str]]) -> bytes:
    return "".join(f">{i} class={c}\n{s}\n" for i, c, s in records).encode()


def main(root: Path) -> None:
    (HERE / "promoters.fa").write_bytes(fasta(promoters(root)))
    data = gzip.compress(fasta(splice(root)), compresslevel=9, mtime=0)
    (HERE / "splice.fa.gz").write_bytes(data)
    data = gzip.compress(fasta(codon_phase(root)), compresslevel=9, mtime=0)
    (HERE / "codon_phase.fa.gz").write_bytes(data)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
