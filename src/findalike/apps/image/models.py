"""Request and response models of the image app."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ImageSearchRequest(BaseModel):
    """Search by a stored image ("more like this"); to search by a new picture, upload
    it to ``POST /api/image/search/upload`` or send it base64-encoded here."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"item_id": "5d41402abc4b2a76b9719d911017c5", "top_k": 9}]}
    )

    item_id: str | None = Field(
        None, pattern=r"^[0-9a-f]{8,64}$",
        description="A stored image's id: find images like it (itself excluded).",
    )
    image_base64: str | None = Field(
        None, max_length=28_000_000,
        description="A query image (jpg, png, webp, gif, bmp), base64-encoded.",
    )
    top_k: int = Field(10, ge=1, le=200, description="Images to return.")
    min_score: float = Field(
        -1.0, ge=-1.0, le=1.0, description="Drop hits below this cosine similarity."
    )

    @model_validator(mode="after")
    def _one_query(self) -> ImageSearchRequest:
        if (self.item_id is None) == (self.image_base64 is None):
            raise ValueError("give exactly one of item_id or image_base64")
        return self


class ImageHit(BaseModel):
    item_id: str
    score: float = Field(description="Cosine similarity to the query, -1..1.")
    near_duplicate: bool = Field(
        description="Score at or above the near-duplicate threshold: very likely the same "
        "photo (resized, recompressed, cropped a little, flipped)."
    )
    name: str = Field(description="The file name it was loaded from.")
    width: int = Field(description="Pixels, after EXIF orientation.")
    height: int
    file_url: str
    thumbnail_url: str


class ImageSearchResponse(BaseModel):
    hits: list[ImageHit]
    near_duplicate_score: float = Field(description="The threshold used for near_duplicate.")
    model: str = Field(description="The encoder that made the vectors.")
