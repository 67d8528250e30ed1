"""Request and response models of the image app."""

from __future__ import annotations

from pydantic import ConfigDict, Field, model_validator

from findalike.contract import Base64Media, Hit, SearchRequest, SearchResponse
from findalike.request_types import ContentId, exactly_one_of


class ImageSearchOptions(SearchRequest):
    """The options of an image search: ``top_k`` and ``min_score`` (cosine, -1..1).
    The form fields beside the file of ``POST /api/image/search/upload``."""


class ImageSearchRequest(ImageSearchOptions):
    """Search by a stored image ("more like this"); to search by a new picture, upload
    it to ``POST /api/image/search/upload`` or send it base64-encoded here."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"item_id": "5d41402abc4b2a76b9719d911017c592", "top_k": 9}],
            **exactly_one_of(item_id="string", image_base64="string"),
        }
    )

    item_id: ContentId | None = Field(
        None,
        description="A stored image's id: find images like it (itself excluded).",
    )
    image_base64: Base64Media | None = Field(
        None,
        description="A query image (jpg, png, webp, gif, bmp), base64-encoded.",
    )

    @model_validator(mode="after")
    def _one_query(self) -> ImageSearchRequest:
        if (self.item_id is None) == (self.image_base64 is None):
            raise ValueError("give exactly one of item_id or image_base64")
        return self


class ImageHit(Hit):
    score: float = Field(description="Cosine similarity to the query, -1..1 (higher is closer).")
    near_duplicate: bool = Field(
        description="Score at or above the near-duplicate threshold: very likely the same "
        "photo (resized, recompressed, cropped a little, flipped)."
    )
    name: str = Field(description="The file name it was loaded from.")
    width: int = Field(description="Pixels, after EXIF orientation.")
    height: int
    file_url: str
    thumbnail_url: str


class ImageSearchResponse(SearchResponse):
    hits: list[ImageHit] = Field(description="The most similar images, best first.")
    near_duplicate_score: float = Field(description="The threshold used for near_duplicate.")
    model: str = Field(description="The encoder that made the vectors.")
