"""Request and response models of the image app."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from findalike.core.contract import Base64Media, Hit, SearchRequest, SearchResponse
from findalike.core.request_types import ContentId, exactly_one_of


class ImageSearchOptions(SearchRequest):
    """The options of an image search: ``top_k`` and ``min_score`` (cosine, -1..1).
    The form fields beside the file of ``POST /api/image/search/upload``."""


class ImageSearchRequest(ImageSearchOptions):
    """Search by a stored image ("more like this"); to search by a new picture, upload
    it to ``POST /api/image/search/upload`` or send it base64-encoded here."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"item_id": "5d41402abc4b2a76b9719d911017c592", "top_k": 9}],
            **exactly_one_of(item_id="string", image_base64="string", text="string"),
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
    text: str | None = Field(
        None,
        min_length=1,
        max_length=500,
        description='Words naming what is in the picture ("a red car", "dog on a beach"): '
        "matched to each image's ImageNet labels by meaning, not by a joint text-image "
        "model (no CLIP offline); the score is then the label match, 0..1, not a cosine.",
        examples=["a bird"],
    )

    @model_validator(mode="after")
    def _one_query(self) -> ImageSearchRequest:
        given = [v for v in (self.item_id, self.image_base64, self.text) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of item_id, image_base64 or text")
        return self


class ImageLabel(BaseModel):
    name: str = Field(description="An ImageNet class name.")
    probability: float = Field(description="The classifier's probability, 0..1.")


class ImageHit(Hit):
    score: float = Field(description="Cosine similarity to the query, -1..1 (higher is closer).")
    near_duplicate: bool = Field(
        description="Score at or above the near-duplicate threshold: very likely the same "
        "photo (resized, recompressed, cropped a little, flipped)."
    )
    name: str = Field(description="The file name it was loaded from.")
    width: int = Field(description="Pixels, after EXIF orientation.")
    height: int
    region: tuple[int, int, int, int] | None = Field(
        None,
        description="(x0, y0, x1, y1) in the stored image's pixels: the part of it that "
        "matched best, when that was its centre region rather than the whole (a crop of it "
        "was searched for); null: the whole image.",
    )
    file_url: str
    thumbnail_url: str
    labels: list[ImageLabel] | None = Field(
        None, description="With a text query: the image's top ImageNet classes."
    )


class ImageSearchResponse(SearchResponse):
    hits: list[ImageHit] = Field(description="The most similar images, best first.")
    near_duplicate_score: float = Field(description="The threshold used for near_duplicate.")
    model: str = Field(description="The encoder that made the vectors.")
    labelled_images: int | None = Field(
        None,
        description="With a text query: how many stored images have labels (images loaded "
        "before labels existed have none until POST /api/image/labels).",
    )
