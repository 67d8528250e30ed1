"""Settings of the objects app (env prefix ``FINDALIKE_OBJECTS_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from findalike.video import Sampling


class ObjectsSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FINDALIKE_OBJECTS_", env_file=".env", extra="ignore"
    )

    interval_s: float = Field(
        0.5,
        gt=0,
        description="A video frame is checked for objects every this many seconds "
        "(plus the first frame after each cut).",
    )
    max_frames: int = Field(
        240,
        ge=1,
        description="Most frames checked in one video (the interval and the gap "
        "between cuts grow past it, in one decoding pass).",
    )
    max_duration_s: float = Field(
        600.0,
        gt=0,
        description="Longest video checked for objects (413 above it); every "
        "sampled frame goes through the detector, so this bounds the work of one request.",
    )
    frame_side_px: int = Field(
        640, ge=64, description="Frames are shrunk to this longer side before detection."
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

    def sampling(self) -> Sampling:
        return Sampling(
            interval_s=self.interval_s,
            max_frames=self.max_frames,
            max_side_px=self.frame_side_px,
            max_duration_s=self.max_duration_s,
        )
