"""Settings of the audio app (env prefix ``FINDALIKE_AUDIO_``)."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class AudioSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FINDALIKE_AUDIO_", env_file=".env", extra="ignore"
    )

    window_s: float = Field(
        2.0,
        gt=0,
        le=30,
        description="Length of the windows a clip is cut into; each is one "
        "vector. A clip shorter than this is zero-padded to one window.",
    )
    hop_s: float = Field(
        1.0,
        gt=0,
        le=30,
        description="Step between stored windows (1.0 with 2.0 s windows: "
        "50% overlap). Also the resolution of reported offsets.",
    )
    query_hop_s: float = Field(
        0.25,
        gt=0,
        le=30,
        description="Step between the windows of a query clip; finer "
        "than hop_s so a query that starts between two stored windows still lines up.",
    )
    sample_rate_hz: int = Field(
        16_000,
        ge=4_000,
        le=96_000,
        description="Every clip is resampled to this rate before encoding.",
    )
    query_max_s: float = Field(
        60.0, gt=0, description="Only the first this many seconds of a query clip are used."
    )
    query_max_windows: int = Field(
        32,
        ge=1,
        le=1000,
        description="Most windows taken from a query clip: a long query "
        "uses a coarser hop so that its search stays fast.",
    )
    hits_per_window: int = Field(
        30,
        ge=1,
        le=1000,
        description="Stored windows fetched for each query window before "
        "they are grouped per clip.",
    )

    @model_validator(mode="after")
    def _hop_fits(self) -> AudioSettings:
        if self.hop_s > self.window_s:
            raise ValueError("FINDALIKE_AUDIO_HOP_S must not exceed FINDALIKE_AUDIO_WINDOW_S")
        return self
