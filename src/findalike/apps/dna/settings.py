"""Settings of the DNA app (env prefix ``FINDALIKE_DNA_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_LABEL_PATTERN = r"(?:^|[\s;,|])(?:class|label|p)[=:]([^;,|\s]+)"


class DnaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FINDALIKE_DNA_", env_file=".env", extra="ignore")

    k: int = Field(5, ge=2, le=7, description="k-mer length; vectors have 4**k dimensions.")
    neighbours: int = Field(5, ge=1, le=200, description="Default k of the kNN vote.")
    label_pattern: str = Field(
        DEFAULT_LABEL_PATTERN,
        description="Regex whose first group is the class in a FASTA header. The default "
        "reads `class=X` or `label=X`, or the phylum `p:X` of a taxonomy header "
        "(`tax=d:Bacteria,p:Proteobacteria,...`).",
    )
    max_sequence_letters: int = Field(
        1_000_000, ge=100, description="Longer sequences are rejected (per record)."
    )
