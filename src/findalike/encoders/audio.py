"""Audio windows to vectors: log-mel statistics, a weight-free representation.

No PyPI package was found that ships the weights of a learned audio embedding
(PANNs, VGGish, YAMNet, CLAP, OpenL3 all download them at run time), so the default
encoder is plain signal processing, measured on the audio app's robustness test
(re-encoded mp3, added noise, gain change, excerpts). It is swappable: any object
with the ``AudioEncoder`` attributes below plugs into the audio app.

The vector of one window (mono float32 samples at ``sample_rate_hz``) is made of
blocks, each centred and scaled to unit length before the whole vector is:

* the mean log-mel spectrum (spectral envelope), with the window's mean level
  subtracted so a gain change does not move it;
* the standard deviation of each mel band over time (how each band moves);
* the mean absolute frame-to-frame change of each band (onsets, rhythm);
* a coarse time profile: the mean spectrum of each quarter of the window.

Log energies are floored ``dynamic_range_db`` below the window's loudest bin, which
makes the vector independent of gain and much less sensitive to low-level noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from findalike.encoders.base import Metric, VectorKind, l2_normalise


def mel_filterbank(
    sample_rate_hz: int, n_fft: int, n_mels: int, fmin_hz: float, fmax_hz: float
) -> np.ndarray:
    """Triangular mel filters (HTK mel scale), shape ``(n_mels, n_fft // 2 + 1)``."""

    def to_mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def to_hz(m: np.ndarray) -> np.ndarray:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    edges_hz = to_hz(np.linspace(to_mel(np.array(fmin_hz)), to_mel(np.array(fmax_hz)), n_mels + 2))
    bins_hz = np.linspace(0.0, sample_rate_hz / 2.0, n_fft // 2 + 1)
    lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rising = (bins_hz[None, :] - lower) / np.maximum(centre - lower, 1e-9)
    falling = (upper - bins_hz[None, :]) / np.maximum(upper - centre, 1e-9)
    filters = np.maximum(0.0, np.minimum(rising, falling))
    # filters narrower than one FFT bin would be empty: give them their nearest bin
    for i in np.flatnonzero(filters.sum(axis=1) == 0):
        filters[i, int(np.argmin(np.abs(bins_hz - centre[i, 0])))] = 1.0
    result: np.ndarray = filters.astype(np.float32)
    return result


@dataclass
class LogMelStatsEncoder:
    """The default audio encoder (see the module docstring). ``encode`` takes 1-D
    float32 arrays of samples at ``sample_rate_hz`` (any length >= 1 sample: a
    window shorter than one analysis frame is zero-padded to it) and returns unit
    float32 vectors, shape ``(n, dim)``; compare them with cosine similarity."""

    sample_rate_hz: int = 16_000
    n_fft: int = 512
    hop: int = 160
    n_mels: int = 48
    fmin_hz: float = 50.0
    fmax_hz: float = 7_600.0
    dynamic_range_db: float = 40.0
    time_slices: int = 2
    window_s: float = 2.0
    """The window length the app cuts; only recorded in ``version`` so that a collection
    built with other windows is refused instead of mixed."""
    name: str = "logmel-stats"
    vector_kind: VectorKind = "float"
    metric: Metric = "COSINE"
    _window: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._window = np.hanning(self.n_fft).astype(np.float32)
        self._filters_t = np.ascontiguousarray(self._filters.T)

    @property
    def version(self) -> str:
        return f"1-sr{self.sample_rate_hz}-m{self.n_mels}-w{self.window_s:g}"

    @property
    def dim(self) -> int:
        return self.n_mels * (3 + self.time_slices)

    @cached_property
    def _filters(self) -> np.ndarray:
        fmax_hz = min(self.fmax_hz, self.sample_rate_hz / 2.0)
        return mel_filterbank(self.sample_rate_hz, self.n_fft, self.n_mels, self.fmin_hz, fmax_hz)

    def encode(self, items: Sequence[np.ndarray]) -> np.ndarray:
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        frames = [self._frames(np.asarray(x, dtype=np.float32)) for x in items]
        db_all = self._db(np.concatenate(frames))  # one FFT and one product for the batch
        bounds = np.cumsum([0, *[len(f) for f in frames]])
        return np.stack(
            [self._vector(db_all[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        )

    def log_mel(self, samples: np.ndarray) -> np.ndarray:
        """Log-mel energies in dB of one window, shape ``(frames, n_mels)``, floored
        ``dynamic_range_db`` below the loudest value."""
        db = self._db(self._frames(np.asarray(samples, dtype=np.float32)))
        floored: np.ndarray = np.maximum(db, db.max() - self.dynamic_range_db)
        return floored

    def _frames(self, samples: np.ndarray) -> np.ndarray:
        if samples.size < self.n_fft:
            samples = np.pad(samples, (0, self.n_fft - samples.size))
        n_frames = 1 + (samples.size - self.n_fft) // self.hop
        idx = np.arange(self.n_fft)[None, :] + self.hop * np.arange(n_frames)[:, None]
        framed: np.ndarray = samples[idx] * self._window
        return framed

    def _db(self, frames: np.ndarray) -> np.ndarray:
        spectrum = np.abs(np.fft.rfft(frames, axis=1)).astype(np.float32) ** 2
        mel = spectrum @ self._filters_t
        db: np.ndarray = 10.0 * np.log10(np.maximum(mel, 1e-12))
        return db

    def _vector(self, db: np.ndarray) -> np.ndarray:
        db = np.maximum(db, db.max() - self.dynamic_range_db)
        db = db - db.mean()
        slices = np.array_split(db, self.time_slices, axis=0)
        blocks = [
            db.mean(axis=0),
            db.std(axis=0),
            np.abs(np.diff(db, axis=0)).mean(axis=0) if len(db) > 1 else np.zeros(self.n_mels),
            *[s.mean(axis=0) if len(s) else db.mean(axis=0) for s in slices],
        ]
        parts = [_unit(b - b.mean()) for b in blocks]
        vector: np.ndarray = l2_normalise(np.concatenate(parts)[None, :])[0]
        return vector


def _unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return (v / norm if norm > 0 else v).astype(np.float32)
