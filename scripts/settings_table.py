"""Print every FINDALIKE_* environment variable (core and apps) as a Markdown table,
for the README. `tests/test_readme.py` checks that the README lists them all."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from pydantic import SecretStr
from pydantic_settings import BaseSettings

import findalike.apps
from findalike.config import Settings


def settings_classes() -> list[type[BaseSettings]]:
    found: list[type[BaseSettings]] = [Settings]
    for mod in pkgutil.walk_packages(findalike.apps.__path__, "findalike.apps."):
        try:
            module = importlib.import_module(mod.name)
        except ImportError:
            continue
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(cls, BaseSettings)
                and cls is not BaseSettings
                and cls not in found
                and cls.__module__ == module.__name__
            ):
                found.append(cls)
    return found


def variables() -> list[tuple[str, str, str]]:
    rows = []
    for cls in settings_classes():
        prefix = cls.model_config.get("env_prefix", "")
        for name, field in cls.model_fields.items():
            default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
            if isinstance(default, SecretStr):
                default = default.get_secret_value()
            rows.append(
                (
                    f"{prefix}{name}".upper(),
                    repr(default) if default != "" else '""',
                    (field.description or "").replace("\n", " "),
                )
            )
    return rows


if __name__ == "__main__":
    print("| variable | default | what it does |\n|---|---|---|")
    for var, default, desc in variables():
        print(f"| `{var}` | `{default}` | {desc} |")
