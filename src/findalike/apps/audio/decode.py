"""Decoding audio files and cutting them into windows.

Decoding uses libsndfile (through ``soundfile``, whose wheel bundles it): WAV,
FLAC, OGG/Vorbis/Opus and MP3, any sample rate, any number of channels. Channels
are averaged to mono and the signal is resampled (libsoxr) to the
encoder's rate.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from findalike.errors import InvalidInput
from findalike.jobs import checkpoint

MAX_DURATION_S = 3600.0
"""Longer clips are refused: an hour of audio is ~1 GB of float samples at 48 kHz x 2."""
BLOCK_FRAMES = 1 << 16
"""Frames decoded at a time (about 1.4 s at 48 kHz)."""
UNKNOWN_FRAMES = 1 << 62
"""A frame count at least this large means the header does not know the length."""

_OBJECT_REPR = re.compile(r"<[^<>]* at 0x[0-9a-fA-F]+>")


@dataclass(frozen=True)
class DecodedAudio:
    """A clip as mono float32 samples at ``sample_rate_hz``; ``source_rate_hz`` and
    ``channels`` describe the file as it was; ``truncated``: the file went on past the
    seconds that were decoded."""

    samples: np.ndarray
    sample_rate_hz: int
    source_rate_hz: int
    channels: int
    truncated: bool = False

    @property
    def duration_s(self) -> float:
        return self.samples.size / self.sample_rate_hz


@dataclass(frozen=True)
class Window:
    """One window of a clip: its samples and where it starts, in seconds."""

    index: int
    offset_s: float
    samples: np.ndarray


def decode(
    data: bytes, sample_rate_hz: int, *, name: str = "audio", max_seconds: float | None = None
) -> DecodedAudio:
    """Decode a file into mono samples at ``sample_rate_hz``, reading at most its first
    ``max_seconds`` (a query: the rest is never decoded, ``truncated`` says it was
    there). Without ``max_seconds`` (a load) a clip over ``MAX_DURATION_S`` is refused:
    on the header's frame count before anything is read, or, if the header does not
    know or understates it, as soon as the samples read pass the limit. Decoding is
    blockwise and mixes to mono block by block, so the memory held is the capped mono
    signal, never the whole file (an hour of silent FLAC is 546 KB, but 1.4 GB of
    float samples). Raises ``InvalidInput`` for empty, corrupt, silent-length or
    over-long audio (the message says which)."""
    import soundfile as sf  # imported here: the app module stays cheap to import

    if not data:
        raise InvalidInput(f"{name}: empty file")
    limit_s = MAX_DURATION_S if max_seconds is None else min(max_seconds, MAX_DURATION_S)
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            rate, channels, frames = int(f.samplerate), int(f.channels), int(f.frames)
            if rate <= 0 or channels <= 0:
                raise InvalidInput(f"{name}: no audio stream")
            cap = max(1, int(limit_s * rate))
            if max_seconds is None and cap < frames < UNKNOWN_FRAMES:
                raise InvalidInput(
                    f"{name}: {frames / rate:.0f} s of audio is over the "
                    f"{MAX_DURATION_S:.0f} s limit"
                )
            mono, more = _read_mono(f, cap)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise InvalidInput(f"{name}: not a readable audio file ({_reason(exc)})") from exc
    if more and max_seconds is None:
        raise InvalidInput(
            f"{name}: more than {MAX_DURATION_S:.0f} s of audio, over the "
            f"{MAX_DURATION_S:.0f} s limit"
        )
    if mono.size == 0:
        raise InvalidInput(f"{name}: the file holds no audio samples")
    if not np.all(np.isfinite(mono)):
        raise InvalidInput(f"{name}: the audio holds invalid (non-finite) samples")
    return DecodedAudio(
        resample(mono, rate, sample_rate_hz), sample_rate_hz, rate, channels, truncated=more
    )


def _reason(exc: Exception) -> str:
    """libsndfile's words for why a file did not open, without the in-memory file's
    ``repr`` (a process memory address) that soundfile puts in its message."""
    return _OBJECT_REPR.sub("the file", getattr(exc, "error_string", None) or str(exc))


def _read_mono(f: Any, cap_frames: int) -> tuple[np.ndarray, bool]:
    """At most ``cap_frames`` frames of the open ``soundfile.SoundFile`` ``f``, mixed to
    mono float32, and whether more frames follow. Checks the job's cancellation at
    every block."""
    known = int(f.frames)
    size = min(cap_frames, known if 0 < known < UNKNOWN_FRAMES else BLOCK_FRAMES)
    out = np.empty(size, dtype=np.float32)
    got = 0
    while got < cap_frames:
        checkpoint()
        block = f.read(min(BLOCK_FRAMES, cap_frames - got), dtype="float32", always_2d=True)
        n = int(block.shape[0])
        if n == 0:
            break
        if got + n > out.size:  # the header understated the length: grow, up to the cap
            grown = np.empty(min(cap_frames, max(2 * out.size, got + n)), dtype=np.float32)
            grown[:got] = out[:got]
            out = grown
        out[got : got + n] = block.mean(axis=1)
        got += n
    more = got >= cap_frames and f.read(1, dtype="float32", always_2d=True).shape[0] > 0
    return out[:got], bool(more)


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
    return [Window(i, s / sample_rate_hz, samples[s : s + size]) for i, s in enumerate(starts)]
