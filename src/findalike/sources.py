"""Where a load's files come from: uploaded files (spooled to disk), zip archives
and server-side folders inside an allowed root. Each yields ``SourceFile`` items,
or a ``ReadFailure`` for a member that is unsafe, too large or of a type the app
does not read; nothing here decodes content."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from findalike.app import ReadFailure
from findalike.errors import Forbidden, InvalidInput, NotFound


@dataclass(frozen=True)
class SourceFile:
    """One file to read: a path on disk, or a member of a zip on disk."""

    name: str
    path: Path
    member: str | None = None
    size: int = 0

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.member or self.name).suffix.lower()

    def read(self) -> bytes:
        if self.member is None:
            return self.path.read_bytes()
        with zipfile.ZipFile(self.path) as zf:
            return zf.read(self.member)


def resolve_folder(path: str, allowed_roots: Sequence[Path]) -> Path:
    """``path`` resolved (symlinks and ``..`` followed) if it lies inside an allowed
    root; ``Forbidden`` otherwise, ``NotFound`` if it does not exist."""
    if not allowed_roots:
        raise Forbidden(
            "Loading from a server-side path is disabled: set FINDALIKE_ALLOWED_ROOTS to the "
            "folders it may read."
        )
    target = Path(path).expanduser().resolve()
    for root in allowed_roots:
        if target.is_relative_to(root.expanduser().resolve()):
            if not target.exists():
                raise NotFound(f"No such file or folder: {path}")
            return target
    raise Forbidden(
        f"{path} is outside the allowed roots ({', '.join(str(r) for r in allowed_roots)})."
    )


def expand(
    files: Sequence[tuple[str, Path]],
    *,
    extensions: frozenset[str],
    max_item_bytes: int,
    max_zip_members: int,
) -> Iterator[SourceFile | ReadFailure]:
    """The readable files among ``files`` (display name, path): plain files, zip
    members, and files under folders, in a stable order."""
    for name, path in files:
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                rel = f"{name}/{child.relative_to(path).as_posix()}"
                yield from _one_file(rel, child, extensions, max_item_bytes, max_zip_members)
        else:
            yield from _one_file(name, path, extensions, max_item_bytes, max_zip_members)


def _one_file(
    name: str, path: Path, extensions: frozenset[str], max_item_bytes: int, max_zip_members: int
) -> Iterator[SourceFile | ReadFailure]:
    suffix = PurePosixPath(name).suffix.lower()
    if suffix == ".zip":
        yield from _zip_members(name, path, extensions, max_item_bytes, max_zip_members)
        return
    size = path.stat().st_size
    problem = _problem(suffix, size, extensions, max_item_bytes)
    if problem:
        yield ReadFailure(name, problem)
    else:
        yield SourceFile(name=name, path=path, size=size)


def _zip_members(
    name: str, path: Path, extensions: frozenset[str], max_item_bytes: int, max_members: int
) -> Iterator[SourceFile | ReadFailure]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        yield ReadFailure(name, f"not a readable zip archive ({exc})")
        return
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if not infos:
            yield ReadFailure(name, "the zip archive holds no files")
        for n, info in enumerate(infos):
            label = f"{name}/{info.filename}"
            if n >= max_members:
                yield ReadFailure(label, f"more than {max_members} members; the rest were skipped")
                return
            member = PurePosixPath(info.filename.replace("\\", "/"))
            if member.is_absolute() or ".." in member.parts:
                yield ReadFailure(label, "unsafe path in zip archive (absolute or '..'); skipped")
                continue
            if member.name.startswith(".") or "__MACOSX" in member.parts:
                continue  # hidden files and macOS resource forks are not data
            problem = _problem(member.suffix.lower(), info.file_size, extensions, max_item_bytes)
            if problem:
                yield ReadFailure(label, problem)
            else:
                yield SourceFile(name=label, path=path, member=info.filename, size=info.file_size)


def _problem(suffix: str, size: int, extensions: frozenset[str], max_bytes: int) -> str | None:
    if suffix not in extensions:
        accepted = ", ".join(sorted(extensions | {".zip"}))
        return f"unsupported file type {suffix or '(none)'!r}; this app reads {accepted}"
    if size == 0:
        return "empty file"
    if size > max_bytes:
        return f"file of {size} bytes is over the {max_bytes}-byte limit (FINDALIKE_MAX_ITEM_BYTES)"
    return None


def safe_upload_name(name: str | None, index: int) -> str:
    """A display name for an uploaded file: its base name only, never a path."""
    base = PurePosixPath((name or "").replace("\\", "/")).name.strip()
    if not base:
        raise InvalidInput(f"Uploaded file #{index + 1} has no file name.", field="files")
    return base[:255]
