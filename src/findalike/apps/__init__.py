"""The app registry: every app is a package here exposing ``APP: AppSpec``.

Adding an app adds one package and its name below; nothing else changes. Importing
an app module must stay cheap (no model, no heavy library at import): encoders are
created by ``AppSpec.make_encoder`` at first use.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from findalike.core.app import AppSpec

ALL_APPS: tuple[str, ...] = (
    "text",
    "qa",
    "image",
    "video",
    "objects",
    "people",
    "audio",
    "molecule",
    "dna",
    "recommend",
)


@dataclass(frozen=True)
class DisabledApp:
    name: str
    reason: str


def discover(names: list[str] | None = None) -> tuple[list[AppSpec], list[DisabledApp]]:
    """The enabled app declarations (in ``ALL_APPS`` order) and the disabled ones
    with the reason (not written yet, or a missing dependency)."""
    wanted = names or list(ALL_APPS)
    unknown = [n for n in wanted if n not in ALL_APPS]
    if unknown:
        raise ValueError(f"unknown app(s) {unknown}; known: {', '.join(ALL_APPS)}")
    enabled: list[AppSpec] = []
    disabled: list[DisabledApp] = []
    for name in wanted:
        module_name = f"findalike.apps.{name}"
        if importlib.util.find_spec(module_name) is None:
            disabled.append(DisabledApp(name, "not available in this version"))
            continue
        try:
            spec: AppSpec = importlib.import_module(module_name).APP
        except Exception as exc:  # a broken or half-installed app must not stop the server
            disabled.append(DisabledApp(name, f"could not be loaded: {type(exc).__name__}: {exc}"))
            continue
        missing = [m for m in spec.requires if importlib.util.find_spec(m) is None]
        if missing:
            disabled.append(DisabledApp(name, f"missing Python package(s): {', '.join(missing)}"))
            continue
        enabled.append(spec)
    return enabled, disabled
