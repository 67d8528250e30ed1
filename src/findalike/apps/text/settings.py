"""Settings of the text app (env prefix ``FINDALIKE_TEXT_``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from findalike.schema import Language


class TextSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FINDALIKE_TEXT_", env_file=".env", extra="ignore")

    encoder: Literal["minilm", "multilingual", "minilm-int8", "bge-small"] = Field(
        "minilm",
        description="Encoder of the app's default collection (and of named ones created "
        "without `encoder`): `minilm` (all-MiniLM-L6-v2, English; best on English), "
        "`multilingual` (multilingual Universal Sentence Encoder v3: 16 languages, Chinese "
        "among them, and questions in one language find text in another) or `minilm-int8` "
        "(the same MiniLM with int8 weights on ONNX Runtime, no PyTorch) or `bge-small` "
        "(BAAI/bge-small-en-v1.5, int8 ONNX, English; an instruction before each query). "
        "Recorded with the collection: changing it for a collection made with another is a 409.",
    )
    language: Language | None = Field(
        None,
        description="Language of the default collection's text, for its full-text (BM25) "
        "index: `en` (words between spaces), `zh` (Chinese, segmented by jieba) or "
        "`multi` (several, Chinese among them: jieba). Unset: `en` for `minilm`, "
        "`multi` for `multilingual`. Fixed when the collection is made.",
    )
