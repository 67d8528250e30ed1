"""Settings of the objects app (env prefix ``FINDALIKE_OBJECTS_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from findalike.kit.sightings import FrameScanSettings


class ObjectsSettings(FrameScanSettings):
    """The frame sampling (``FrameScanSettings``) and the detect's thresholds."""

    model_config = SettingsConfigDict(
        env_prefix="FINDALIKE_OBJECTS_", env_file=".env", extra="ignore"
    )

    min_detector_score: float = Field(
        0.4, ge=0, le=1, description="Detections less confident than this are ignored."
    )
    min_match_score: float = Field(
        0.7,
        ge=-1,
        le=1,
        description="A detected object is reported as a known object only "
        "if its crop is at least this similar (cosine) to one of the object's images.",
    )
