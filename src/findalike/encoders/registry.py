"""Encoders by name, built from the core settings: the one place an app gets a model
that another app also uses (the text model for text and QA, the image model for
image, video and objects), so no app imports another and a shared model is loaded
once per process (apps that name the same ``key`` share one instance).

Each factory imports its model library only when called (nothing at import time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from findalike.config import Settings
    from findalike.encoders.base import Encoder


@dataclass(frozen=True)
class SharedEncoder:
    """A model several apps use: ``key`` names the shared instance, ``make`` builds it."""

    key: str
    make: Callable[[Settings], Encoder]


def _minilm(settings: Settings) -> Encoder:
    from findalike.encoders.sentence import MiniLMEncoder

    return MiniLMEncoder(threads=settings.torch_threads)


def _image(settings: Settings) -> Encoder:
    from findalike.encoders.image import make_image_encoder

    encoder: Any = make_image_encoder(settings.image_model, threads=settings.torch_threads)
    return encoder  # type: ignore[no-any-return]


TEXT = SharedEncoder("minilm", _minilm)
"""all-MiniLM-L6-v2 (384-d, cosine): the text and QA apps."""
IMAGE = SharedEncoder("image", _image)
"""The image model chosen by FINDALIKE_IMAGE_MODEL: the image, video and objects apps."""
