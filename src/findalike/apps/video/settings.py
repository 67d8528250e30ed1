"""Settings of the video app (env prefix ``FINDALIKE_VIDEO_``)."""

from __future__ import annotations

from dataclasses import replace

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from findalike.formats.video import Sampling


class VideoSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FINDALIKE_VIDEO_", env_file=".env", extra="ignore"
    )

    interval_s: float = Field(
        1.0, gt=0, description="One frame is sampled every this many seconds (plus cuts)."
    )
    scene_threshold: float = Field(
        0.12,
        ge=0,
        le=1,
        description="Mean grey-level change (0..1) between consecutive "
        "frames that counts as a cut; the first frame after a cut is sampled too. 0: off.",
    )
    max_frames: int = Field(
        600,
        ge=1,
        description="Most frames sampled from one video; past it the interval "
        "and the gap between cuts are doubled until the video fits (in one decoding pass).",
    )
    query_max_frames: int = Field(32, ge=1, description="Most frames sampled from a query clip.")
    query_max_duration_s: float = Field(
        120.0,
        gt=0,
        description="Only the first this many seconds of a query clip are decoded and sampled.",
    )
    frame_side_px: int = Field(
        480, ge=64, description="Sampled frames are shrunk to this longer side before encoding."
    )
    max_duration_s: float = Field(
        4 * 3600.0, gt=0, description="Longest video accepted (413 / job error above it)."
    )

    def sampling(self) -> Sampling:
        """How a loaded video is sampled."""
        return Sampling(
            interval_s=self.interval_s,
            scene_threshold=self.scene_threshold,
            max_frames=self.max_frames,
            max_side_px=self.frame_side_px,
            max_duration_s=self.max_duration_s,
        )

    def query_sampling(self) -> Sampling:
        """How a query clip is sampled: fewer frames, only its first part decoded."""
        return replace(
            self.sampling(),
            max_frames=self.query_max_frames,
            max_duration_s=min(self.query_max_duration_s, self.max_duration_s),
        )
