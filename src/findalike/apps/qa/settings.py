"""Settings of the qa app (env prefix ``FINDALIKE_QA_``): the text app's, under its own
prefix (the encoder and the full-text language of the app's collection)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from findalike.apps.text.settings import TextSettings


class QASettings(TextSettings):
    model_config = SettingsConfigDict(env_prefix="FINDALIKE_QA_", env_file=".env", extra="ignore")
