"""Audio search: the query clip (uploaded, inline base64, or a stored clip) is cut
into windows at the fine query hop, each window searches the stored windows, and the
hits are grouped per stored clip (``matching.group_by_clip``), best clip first."""

from __future__ import annotations

from findalike.apps.audio.decode import decode
from findalike.apps.audio.matching import ClipScore, WindowHit, group_by_clip
from findalike.apps.audio.models import (
    AudioHit,
    AudioSearchOptions,
    AudioSearchRequest,
    AudioSearchResponse,
    WindowMatch,
)
from findalike.apps.audio.reader import clip_windows, encoder_rate_hz
from findalike.apps.audio.settings import AudioSettings
from findalike.core.app import AppRuntime
from findalike.errors import NotFound
from findalike.schema import Hit, similarity


def search(rt: AppRuntime, request: AudioSearchRequest) -> AudioSearchResponse:
    """The JSON search: by ``audio_base64`` or by a stored clip's ``item_id``."""
    if request.audio_base64 is not None:
        return search_clip_bytes(rt, request.audio_base64, request)
    item_id = str(request.item_id)
    if rt.get_item(item_id) is None or rt.media is None:
        raise NotFound(f"No stored audio clip with id {item_id!r}.")
    data = rt.media.find(rt.name, item_id).read_bytes()
    exclude = item_id if request.exclude_self else None
    return search_clip_bytes(rt, data, request, exclude_item=exclude)


def search_upload(
    rt: AppRuntime, name: str, data: bytes, options: AudioSearchOptions
) -> AudioSearchResponse:
    """The upload search (``POST /api/audio/search/upload``): the file is the query;
    its name's suffix helps the decoder."""
    return search_clip_bytes(rt, data, options, name=name)


def search_clip_bytes(
    rt: AppRuntime,
    data: bytes,
    options: AudioSearchOptions,
    *,
    exclude_item: str | None = None,
    name: str = "query",
) -> AudioSearchResponse:
    """Search by the clip in ``data`` (any format the app loads); only its first
    ``query_max_s`` seconds are decoded. ``InvalidInput`` if it cannot be decoded."""
    s = rt.config(AudioSettings)
    audio = decode(data, encoder_rate_hz(rt), name=name, max_seconds=s.query_max_s)
    max_samples = int(s.query_max_s * audio.sample_rate_hz)
    truncated = audio.truncated or audio.samples.size > max_samples
    samples = audio.samples[:max_samples]
    wins = clip_windows(rt, samples, query=True)
    vectors = rt.encoder.encode([w.samples for w in wins])
    hits = rt.search_vectors(
        vectors,
        limit=s.hits_per_window,
        output_fields=["item_id", "offset_s", "name", "duration_s"],
    )
    clips = group_by_clip(
        [w.offset_s for w in wins],
        [[_window_hit(rt, h) for h in per_window] for per_window in hits],
        shift_bin_s=s.hop_s,
    )
    info = {h.item_id: h.fields for per_window in hits for h in per_window}
    floor = options.min_score
    found = [
        _hit(rt, c, info[c.item_id], options.matches_per_clip)
        for c in clips
        if c.item_id != exclude_item and (floor is None or c.score >= floor)
    ][: options.top_k]
    return AudioSearchResponse(
        query_duration_s=round(audio.duration_s, 3),
        query_windows=len(wins),
        query_truncated=truncated,
        hits=found,
    )


def _window_hit(rt: AppRuntime, hit: Hit) -> WindowHit:
    return WindowHit(
        item_id=hit.item_id,
        offset_s=float(hit.fields.get("offset_s", 0.0)),
        similarity=similarity(rt.encoder.metric, hit.distance),
    )


def _hit(rt: AppRuntime, clip: ClipScore, fields: dict[str, object], n_matches: int) -> AudioHit:
    return AudioHit(
        item_id=clip.item_id,
        name=str(fields.get("name", "")),
        score=round(clip.score, 4),
        offset_s=round(clip.offset_s, 3),
        duration_s=float(fields.get("duration_s", 0.0)),  # type: ignore[arg-type]
        file_url=rt.item_url(clip.item_id, "/file"),
        matches=[
            WindowMatch(query_offset_s=round(q, 3), offset_s=round(o, 3), score=round(sim, 4))
            for q, o, sim in clip.matches[:n_matches]
        ],
    )
