"""Loading audio: each file is decoded (validated) by the reader, then cut into
windows that are embedded in batches; every window is one row (``part`` = window
index) with its ``offset_s``. The original file is kept in the media store so the
UI's player can stream it from ``GET /api/audio/items/{id}/file``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np

from findalike.apps.audio.decode import DecodedAudio, Window, decode, windows
from findalike.apps.audio.settings import AudioSettings
from findalike.core.app import AppRuntime, EncodedItem, ReadFailure, Record, content_id
from findalike.jobs import checkpoint

ENCODE_CHUNK_WINDOWS = 256
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3"})


@dataclass(frozen=True)
class AudioPayload:
    """What ``audio_rows`` needs of one clip: its decoded samples and the original file."""

    audio: DecodedAudio
    data: bytes
    suffix: str


def encoder_rate_hz(rt: AppRuntime) -> int:
    return int(getattr(rt.encoder, "sample_rate_hz", rt.config(AudioSettings).sample_rate_hz))


def read_audio(name: str, data: bytes, rt: AppRuntime) -> Iterator[Record | ReadFailure]:
    """One record per audio file; empty or undecodable audio raises ``InvalidInput``
    (the load reports it for this file and goes on)."""
    audio = decode(data, encoder_rate_hz(rt), name=name)
    suffix = PurePosixPath(name).suffix.lower()
    yield Record(
        item_id=content_id("audio", data),
        payload=AudioPayload(audio=audio, data=data, suffix=suffix),
        fields={
            "name": PurePosixPath(name).name[:500],
            "duration_s": round(audio.duration_s, 3),
            "source_rate_hz": audio.source_rate_hz,
            "channels": audio.channels,
        },
        label=name,
    )


def clip_windows(rt: AppRuntime, samples: np.ndarray, *, query: bool = False) -> list[Window]:
    """The windows of a clip at the encoder's rate: the stored hop, or for a query the
    finer query hop, widened so that at most ``query_max_windows`` windows are cut."""
    s = rt.config(AudioSettings)
    rate_hz = encoder_rate_hz(rt)
    hop_s = s.hop_s
    if query:
        span_s = max(0.0, samples.size / rate_hz - s.window_s)
        hop_s = max(s.query_hop_s, span_s / max(1, s.query_max_windows - 1))
    return windows(samples, rate_hz, s.window_s, hop_s)


def _encode_windows(rt: AppRuntime, samples: list[np.ndarray]) -> np.ndarray:
    """The windows embedded ``ENCODE_CHUNK_WINDOWS`` at a time, checking the job's
    cancellation between chunks (an hour-long clip is 3,600 windows)."""
    chunks = []
    for start in range(0, len(samples), ENCODE_CHUNK_WINDOWS):
        checkpoint()
        chunks.append(np.asarray(rt.encoder.encode(samples[start : start + ENCODE_CHUNK_WINDOWS])))
    return np.concatenate(chunks) if chunks else np.asarray(rt.encoder.encode([]))


def audio_rows(rt: AppRuntime, records: Sequence[Record]) -> list[EncodedItem]:
    """Every record's windows embedded in one batch; the originals stored as media."""
    per_record = [clip_windows(rt, r.payload.audio.samples) for r in records]
    vectors = _encode_windows(rt, [w.samples for ws in per_record for w in ws])
    out: list[EncodedItem] = []
    start = 0
    for record, ws in zip(records, per_record, strict=True):
        rows = [
            rt.row(record, w.index, vectors[start + i], offset_s=round(w.offset_s, 3))
            for i, w in enumerate(ws)
        ]
        start += len(ws)
        if rt.media is not None:
            payload: AudioPayload = record.payload
            rt.media.put(rt.name, record.item_id, payload.data, payload.suffix)
        out.append(EncodedItem(record=record, rows=rows))
    return out
