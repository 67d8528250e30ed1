"""Decoding audio files and cutting them into windows.

Decoding uses libsndfile (through ``soundfile``, whose wheel bundles it): WAV,
FLAC, OGG/Vorbis/Opus and MP3, any sample rate, any number of channels. Channels
are averaged to mono and the signal is resampled (libsoxr) to the
encoder's rate.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from findalike.errors import InvalidInput

MAX_DURATION_S = 3600.0
"""Longer clips are refused: an hour of audio is ~1 GB of float samples at 48 kHz x 2."""


@dataclass(frozen=True)
class DecodedAudio:
    """A clip as mono float32 samples at ``sample_rate_hz``; ``source_rate_hz`` and
    ``channels`` describe the file as it was."""

    samples: np.ndarray
    sample_rate_hz: int
    source_rate_hz: int
    channels: int

    @property
    def duration_s(self) -> float:
        return self.samples.size / self.sample_rate_hz


@dataclass(frozen=True)
class Window:
    """One window of a clip: its samples and where it starts, in seconds."""

    index: int
    offset_s: float
    samples: np.ndarray


def decode(data: bytes, sample_rate_hz: int, *, name: str = "audio") -> DecodedAudio:
    """Decode a whole file. Raises ``InvalidInput`` for empty, corrupt, silent-length
    or over-long audio (the message says which)."""
    import soundfile as sf  # imported here: the app module stays cheap to import

    if not data:
        raise InvalidInput(f"{name}: empty file")
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            rate, channels, frames = int(f.samplerate), int(f.channels), int(f.frames)
            if rate <= 0 or channels <= 0:
                raise InvalidInput(f"{name}: no audio stream")
            if frames > MAX_DURATION_S * rate:
                raise InvalidInput(
                    f"{name}: {frames / rate:.0f} s of audio is over the "
                    f"{MAX_DURATION_S:.0f} s limit"
                )
            audio = f.read(dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise InvalidInput(f"{name}: not a readable audio file ({exc})") from exc
    if audio.shape[0] == 0:
        raise InvalidInput(f"{name}: the file holds no audio samples")
    mono = audio.mean(axis=1)
    if not np.all(np.isfinite(mono)):
        raise InvalidInput(f"{name}: the audio holds invalid (non-finite) samples")
    return DecodedAudio(resample(mono, rate, sample_rate_hz), sample_rate_hz, rate, channels)


def resample(samples: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """``samples`` resampled from ``from_hz`` to ``to_hz`` (libsoxr, high quality)."""
    if from_hz == to_hz:
        return samples.astype(np.float32, copy=False)
    import soxr

    return np.asarray(soxr.resample(samples, from_hz, to_hz), dtype=np.float32)


def windows(
    samples: np.ndarray, sample_rate_hz: int, window_s: float, hop_s: float
) -> list[Window]:
    """Windows of ``window_s`` every ``hop_s``. The last window is aligned to the end of
    the clip so the tail is covered; a clip shorter than one window gives one window,
    zero-padded to the full length (never dropped)."""
    size = max(1, round(window_s * sample_rate_hz))
    step = max(1, round(hop_s * sample_rate_hz))
    n = samples.size
    if n <= size:
        padded = np.pad(samples, (0, size - n)) if n < size else samples
        return [Window(0, 0.0, padded)]
    starts = list(range(0, n - size + 1, step))
    if starts[-1] + size < n:
        starts.append(n - size)
    return [
        Window(i, s / sample_rate_hz, samples[s : s + size]) for i, s in enumerate(starts)
    ]
