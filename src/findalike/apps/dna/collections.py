"""A named DNA collection's encoder, chosen when it is created.

``POST /api/dna/collections`` takes ``encoder`` and its options (``sequence_length``,
``position_weights``, ``canonical``, ``k``) beside ``name``: the collection's
vectors come from that encoder, its name@version is recorded with the collection
(so a load or search under another is a 409, as for the default collection), and
the options are kept in the collection's state folder (``encoder.json`` in
``AppRuntime.state_dir``, which backups carry and a drop removes) so that the
collection's encoder is rebuilt the same after a restart. Without ``encoder`` a
collection takes the app's settings (``FINDALIKE_DNA_*``), as the default one does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from findalike.apps.dna.encoders import configured_encoder
from findalike.apps.dna.models import DnaCollectionRequest
from findalike.apps.dna.settings import DnaSettings
from findalike.core.app import AppRuntime
from findalike.errors import Unprocessable

ENCODER_OPTIONS = ("encoder", "sequence_length", "position_weights", "canonical", "k")
"""The settings a named collection may choose; the rest stay the app's."""
_MAX_CHOICE_BYTES = 1_000_000
MAX_VECTOR_DIM = 32_768
"""Milvus's limit on a float vector's dimensions (one-hot: 4 per letter, 8,192 letters)."""


CHOICE_FILE = "encoder.json"


def choice_path(rt: AppRuntime) -> Path:
    """Where a named collection's encoder choice is kept (its state folder); one kept
    where findalike 0.x kept it (``<data_dir>/dna_collections/<name>.json``) is moved
    there at its first read."""
    path = rt.state_dir / CHOICE_FILE
    old = rt.settings.data_dir / "dna_collections" / f"{rt.collection_name}.json"
    if not path.exists() and old.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        old.replace(path)
    return path


def collection_settings(app: DnaSettings, options: dict[str, Any]) -> DnaSettings:
    """The app's settings with a collection's encoder ``options``; an option left out
    takes its default (not the app's: the encoder is the collection's own), and
    ``ValidationError`` for a choice that does not hold together."""
    fields = DnaSettings.model_fields
    chosen = {name: options.get(name, fields[name].default) for name in ENCODER_OPTIONS}
    # every field given explicitly: no FINDALIKE_DNA_* variable slips in
    return DnaSettings(**{**app.model_dump(), **chosen})


def choose_collection(rt: AppRuntime, body: Any) -> None:
    """Apply ``body`` (a ``DnaCollectionRequest``) to the named collection ``rt``
    before it is made: a 422 naming what is wrong with the choice."""
    request: DnaCollectionRequest = body
    options = request.model_dump(include=set(ENCODER_OPTIONS), exclude_none=True)
    path = choice_path(rt)
    if "encoder" not in options:
        if options:
            raise Unprocessable(
                f"`{sorted(options)[0]}` is an option of the collection's `encoder`: "
                "name the encoder too.",
                field=sorted(options)[0],
            )
        path.unlink(missing_ok=True)
        rt.state["dna_settings"] = rt.config(DnaSettings)
        rt.forget_encoder()
        return
    try:
        settings = collection_settings(rt.config(DnaSettings), options)
        dim = configured_encoder(settings).dim  # its own checks (finite weights, ...) too
    except ValidationError as exc:
        reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise Unprocessable(
            f"This encoder choice does not hold together: {reasons} (here each setting "
            "is the option of its name less FINDALIKE_DNA_, lower-case: `sequence_length`, "
            "`position_weights`, ...)",
            field="encoder",
        ) from exc
    except ValueError as exc:
        raise Unprocessable(f"This encoder choice does not hold: {exc}", field="encoder") from exc
    if dim > MAX_VECTOR_DIM:
        raise Unprocessable(
            f"The {options['encoder']} encoder of these options makes vectors of {dim} "
            f"dimensions; the vector store takes at most {MAX_VECTOR_DIM} (a shorter "
            "sequence_length, or a smaller k).",
            field="sequence_length" if "sequence_length" in options else "k",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(options, sort_keys=True))
    rt.state["dna_settings"] = settings
    rt.forget_encoder()


def recorded_settings(rt: AppRuntime) -> DnaSettings:
    """A named collection's settings: as chosen at its creation (read back from its
    file after a restart), else the app's."""
    app = rt.config(DnaSettings)
    path = choice_path(rt)
    try:
        if path.stat().st_size > _MAX_CHOICE_BYTES:
            return app
        options = json.loads(path.read_text())
        return collection_settings(app, options) if isinstance(options, dict) else app
    except (OSError, ValueError):  # none (made before choices existed) or unreadable:
        return app  # the app's encoder, and a 409 if the collection records another


def forget_choice(rt: AppRuntime) -> None:
    """On drop: the name may be made again with another encoder."""
    if rt.collection_name is not None:
        choice_path(rt).unlink(missing_ok=True)
        rt.state.pop("dna_settings", None)
        rt.forget_encoder()
