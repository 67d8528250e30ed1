"""Settings of the people app (env prefix ``FINDALIKE_PEOPLE_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from findalike.kit.sightings import FrameScanSettings


class PeopleSettings(FrameScanSettings):
    """The frame sampling (``FrameScanSettings``) and the match threshold."""

    model_config = SettingsConfigDict(
        env_prefix="FINDALIKE_PEOPLE_", env_file=".env", extra="ignore"
    )

    min_match_score: float = Field(
        0.93,
        ge=-1,
        le=1,
        description="A face is reported as a registered person only if it is at least "
        "this similar (cosine) to one of the person's photos; other faces are unknown. "
        "dlib's own threshold (0.6 euclidean between its ~1.4-long vectors) is ~0.91; on "
        "datasets/people/ (6 people registered, 4 not) a photo of a registered person scored "
        ">= 0.945 against their own photos and <= 0.922 against anyone else's (small, "
        "low-resolution faces), hence 0.93.",
    )
