"""Which DNA encoder a setting names, and the candidates ``evaluate`` compares."""

from __future__ import annotations

from collections.abc import Sequence

from findalike.apps.dna.settings import DnaSettings, EncoderName
from findalike.encoders.dna import (
    FixedLengthEncoder,
    OneHotEncoder,
    PositionalKmerEncoder,
    position_weights,
)
from findalike.encoders.kmer import KmerEncoder

DnaEncoder = KmerEncoder | FixedLengthEncoder
POSITIONAL_EVALUATION_MAX_LETTERS = 1000
"""Longer fixed-length sequences (whole genes) are compared by k-mer profiles only."""


def build_encoder(
    name: EncoderName,
    *,
    k: int,
    length: int | None,
    canonical: bool = False,
    weights: list[float] | None = None,
) -> DnaEncoder:
    """The encoder ``name`` with its parameters; ``ValueError`` if a position-aware one
    has no length (or ``weighted-onehot`` no weights)."""
    if name == "kmer-profile":
        return KmerEncoder(k, canonical=canonical)
    if length is None:
        raise ValueError(f"the {name} encoder needs a sequence length")
    if name == "onehot":
        return OneHotEncoder(length)
    if name == "weighted-onehot":
        if weights is None:
            raise ValueError("the weighted-onehot encoder needs position weights")
        return OneHotEncoder(length, weights)
    return PositionalKmerEncoder(length)


def configured_encoder(settings: DnaSettings) -> DnaEncoder:
    """The encoder FINDALIKE_DNA_ENCODER (and its options) names."""
    return build_encoder(
        settings.encoder,
        k=settings.k,
        length=settings.sequence_length,
        canonical=settings.canonical,
        weights=settings.position_weights,
    )


def candidate_encoders(
    settings: DnaSettings, training: Sequence[tuple[str, str]], length: int | None
) -> list[DnaEncoder]:
    """Every encoder worth comparing on stored sequences of one ``length`` (None: of
    several lengths, where only the k-mer profiles apply): the k-mer profile, stranded
    and canonical, and (up to ``POSITIONAL_EVALUATION_MAX_LETTERS``) the position-aware
    encoders, ``weighted-onehot`` with weights learned from the ``training`` (label,
    sequence) pairs only."""
    out: list[DnaEncoder] = [
        KmerEncoder(settings.k),
        KmerEncoder(settings.k, canonical=True),
    ]
    if length is not None and 3 <= length <= POSITIONAL_EVALUATION_MAX_LETTERS:
        weights = position_weights([s for _, s in training], [c for c, _ in training])
        out += [
            OneHotEncoder(length),
            OneHotEncoder(length, weights),
            PositionalKmerEncoder(length),
        ]
    return out


def length_problem(encoder: object, sequence: str) -> str | None:
    """Why ``encoder`` cannot take ``sequence`` (its length rule), or None."""
    return encoder.check(sequence) if isinstance(encoder, FixedLengthEncoder) else None
