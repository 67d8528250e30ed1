"""Audio search: every clip (wav, flac, ogg, mp3; any rate, mono or stereo) is
resampled and cut into overlapping windows, each embedded and stored with its offset;
search by a clip returns the stored clips grouped, best first, with the matching
offsets. The default encoder is weight-free (log-mel statistics, see
``findalike.encoders.audio``): no PyPI package ships a learned audio model's weights."""

from __future__ import annotations

from pathlib import Path

from findalike.apps.audio.models import (
    AudioSearchOptions,
    AudioSearchRequest,
    AudioSearchResponse,
)
from findalike.apps.audio.reader import AUDIO_EXTENSIONS, audio_rows, read_audio
from findalike.apps.audio.search import search, search_upload
from findalike.apps.audio.settings import AudioSettings
from findalike.core.app import AppRuntime, AppSpec
from findalike.encoders.base import Encoder
from findalike.schema import FieldSpec


def make_encoder(rt: AppRuntime) -> Encoder:
    """The log-mel statistics encoder at the configured sample rate and window."""
    from findalike.encoders.audio import LogMelStatsEncoder

    s = rt.config(AudioSettings)
    return LogMelStatsEncoder(sample_rate_hz=s.sample_rate_hz, window_s=s.window_s)


def demo_files(datasets: Path) -> list[tuple[str, Path]]:
    """The demo clips (Sonic Pi samples, Asterisk prompts) under ``datasets/audio/``."""
    folders = (datasets / "audio" / "sonic-pi", datasets / "audio" / "asterisk")
    return [(d.name, d) for d in folders if d.is_dir()]


APP = AppSpec(
    name="audio",
    stores_originals=True,
    one_item_per_file=True,
    title="Audio search",
    summary="Find the recordings, and the moments in them, that sound like a clip.",
    extensions=AUDIO_EXTENSIONS,
    fields=(
        FieldSpec("name", "str", 512),
        FieldSpec("offset_s", "float"),
        FieldSpec("duration_s", "float"),
        FieldSpec("source_rate_hz", "int"),
        FieldSpec("channels", "int"),
    ),
    make_encoder=make_encoder,
    settings=AudioSettings,
    read=read_audio,
    to_rows=audio_rows,
    search_request=AudioSearchRequest,
    search_response=AudioSearchResponse,
    search=search,
    search_upload=search_upload,
    upload_options=AudioSearchOptions,
    requires=("soundfile", "soxr"),
    demo_files=demo_files,
    batch_size=8,
)
