"""Where a load's files come from: uploaded files (spooled to disk), zip archives
and server-side folders inside an allowed root. Each yields ``SourceFile`` items,
or a ``ReadFailure`` for a member that is unsafe, too large or of a type the app
does not read; nothing here decodes content.

Nothing here follows a symbolic link: a folder walk reports links as skipped items
and files are opened with ``O_NOFOLLOW`` and checked to be the file that was listed,
so a link (or a file swapped for one) cannot read outside the allowed root. Every
read is capped by its output, not by what a header claims: ``SourceReader`` reads
at most ``max_item_bytes`` per item and ``max_unzipped_bytes`` from all the zip
members of a load; ``gunzip_capped`` does the same for gzip data.
"""

from __future__ import annotations

import errno
import os
import stat
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import BinaryIO

from findalike.core.app import ReadFailure
from findalike.errors import Forbidden, InvalidInput, NotFound, TooLarge

MAX_PATH_CHARS = 4096
SYMLINK_SKIPPED = "symbolic link; skipped"
_NO_FOLLOW_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO swapped in must not block the load
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_GROWTH_CHUNK_BYTES = 1024**2


@dataclass(frozen=True)
class SourceFile:
    """One file to read: a path on disk, or a member of a zip on disk. ``identity``
    is the (device, inode) of the file on disk when it was listed."""

    name: str
    path: Path
    member: str | None = None
    size: int = 0
    identity: tuple[int, int] | None = None

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.member or self.name).suffix.lower()

    def read(self, max_bytes: int = 2**62) -> bytes:
        """The file's bytes, at most ``max_bytes`` (``TooLarge`` past it). A load
        reads through one ``SourceReader`` instead, which opens each zip once."""
        with SourceReader(max_item_bytes=max_bytes, max_unzipped_bytes=max_bytes) as reader:
            return reader.read(self)


class SourceReader:
    """Reads the files of one load. Each zip archive is opened once and kept open
    while its members are read (re-opening it per member made 3,000 tiny members take
    127 s: the central directory was parsed 3,000 times). Every read is capped by its
    output: at most ``max_item_bytes`` per item, whatever a zip header claims, and at
    most ``max_unzipped_bytes`` from all the zip members of the load together.
    Close it (or use it as a context manager) when the load ends."""

    def __init__(self, *, max_item_bytes: int, max_unzipped_bytes: int) -> None:
        self._max_item_bytes = max_item_bytes
        self._max_unzipped_bytes = max_unzipped_bytes
        self._unzipped_bytes = 0
        self._archive: tuple[Path, BinaryIO, zipfile.ZipFile] | None = None

    @property
    def unzipped_bytes(self) -> int:
        """Bytes read from zip members so far."""
        return self._unzipped_bytes

    def read(self, source: SourceFile) -> bytes:
        """The bytes of ``source``. ``TooLarge`` past a cap; ``InvalidInput`` for a
        symbolic link, a file replaced since it was listed, or a broken member."""
        if source.member is None:
            with open_no_follow(source.path, source.identity) as f:
                data = _read_at_most(f, self._max_item_bytes + 1)
            if len(data) > self._max_item_bytes:
                raise TooLarge(_over_item_limit(self._max_item_bytes))
            return data
        return self._read_member(source, source.member)

    def _read_member(self, source: SourceFile, member: str) -> bytes:
        left = self._max_unzipped_bytes - self._unzipped_bytes
        if source.size > left:
            raise TooLarge(_over_load_limit(self._max_unzipped_bytes))
        cap = min(self._max_item_bytes, left)
        zf = self._open_archive(source)
        try:
            with zf.open(member) as opened:
                data = opened.read(cap + 1)
        except (
            zipfile.BadZipFile,
            zlib.error,
            EOFError,
            OSError,
            ValueError,
            RuntimeError,
            NotImplementedError,
        ) as exc:
            raise InvalidInput(f"not a readable zip member ({exc})") from exc
        self._unzipped_bytes += len(data)
        if len(data) > cap:
            raise TooLarge(
                _over_item_limit(cap)
                if cap == self._max_item_bytes
                else _over_load_limit(self._max_unzipped_bytes)
            )
        return data

    def _open_archive(self, source: SourceFile) -> zipfile.ZipFile:
        if self._archive is not None and self._archive[0] == source.path:
            return self._archive[2]
        self.close()  # a load's members come archive by archive: one open at a time
        f = open_no_follow(source.path, source.identity)
        try:
            zf = zipfile.ZipFile(f)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            f.close()
            raise InvalidInput(f"not a readable zip archive ({exc})") from exc
        self._archive = (source.path, f, zf)
        return zf

    def close(self) -> None:
        if self._archive is not None:
            _, f, zf = self._archive
            self._archive = None
            zf.close()
            f.close()

    def __enter__(self) -> SourceReader:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _read_at_most(f: BinaryIO, max_bytes: int) -> bytes:
    """At most ``max_bytes`` of ``f``: first as much as its size when opened (one
    buffer that size, never ``max_bytes`` up front), then in chunks if it grew."""
    want = min(max_bytes, os.fstat(f.fileno()).st_size + 1)
    parts: list[bytes] = []
    left = max_bytes
    while left > 0:
        chunk = f.read(min(left, want))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
        want = _GROWTH_CHUNK_BYTES
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _over_item_limit(max_bytes: int) -> str:
    return (
        f"holds more than {max_bytes} bytes, over the {max_bytes}-byte limit "
        "(FINDALIKE_MAX_ITEM_BYTES)"
    )


def _over_load_limit(max_bytes: int) -> str:
    return (
        f"the load has unzipped its {max_bytes}-byte budget (FINDALIKE_MAX_UNZIPPED_BYTES); skipped"
    )


def open_no_follow(path: Path, identity: tuple[int, int] | None = None) -> BinaryIO:
    """``path`` opened for reading without following a symbolic link (``O_NOFOLLOW``).
    ``InvalidInput`` if it is a link, not a regular file, cannot be opened, or is not
    the file ``identity`` (device, inode) names: swapped since it was listed."""
    try:
        fd = os.open(path, _NO_FOLLOW_FLAGS)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK) or os.path.islink(path):
            raise InvalidInput(SYMLINK_SKIPPED) from exc
        raise InvalidInput(f"cannot be opened ({exc.strerror or exc})") from exc
    f = os.fdopen(fd, "rb")
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        f.close()
        raise InvalidInput("not a regular file; skipped")
    if identity is not None and (st.st_dev, st.st_ino) != identity:
        f.close()
        raise InvalidInput("the file was replaced after the load listed it; skipped")
    return f


def gunzip_capped(data: bytes, max_bytes: int) -> bytes:
    """``data`` (gzip, one member or several) decompressed, never producing more than
    ``max_bytes`` (FINDALIKE_MAX_ITEM_BYTES): ``TooLarge`` as soon as the output would
    pass it, so a 200-KB file that inflates to 200 MB costs at most ``max_bytes``.
    ``InvalidInput`` for data that is not gzip, is corrupt or ends early."""
    out = bytearray()
    rest = data
    while True:
        rest = _gunzip_member(rest, out, max_bytes).lstrip(b"\x00")
        if not rest:
            return bytes(out)


def _gunzip_member(data: bytes, out: bytearray, max_bytes: int) -> bytes:
    """Append one gzip member of ``data`` to ``out``; returns what follows it."""
    inflater = zlib.decompressobj(_GZIP_WBITS)
    pending = data
    try:
        while not inflater.eof:
            chunk = inflater.decompress(pending, max_bytes - len(out) + 1)
            out += chunk
            if len(out) > max_bytes:
                raise TooLarge(
                    f"decompresses to more than {max_bytes} bytes, over the "
                    f"{max_bytes}-byte limit (FINDALIKE_MAX_ITEM_BYTES)"
                )
            tail = inflater.unconsumed_tail
            if not chunk and len(tail) == len(pending):  # no progress: the input ran out
                raise InvalidInput("not a valid gzip file (it ends early)")
            pending = tail
    except zlib.error as exc:
        raise InvalidInput(f"not a valid gzip file ({exc})") from exc
    return inflater.unused_data


def resolve_folder(path: str, allowed_roots: Sequence[Path]) -> Path:
    """``path`` resolved (symlinks and ``..`` followed) if it lies inside an allowed
    root; ``Forbidden`` otherwise, ``NotFound`` if it does not exist, ``InvalidInput``
    for a path with a NUL byte, over ``MAX_PATH_CHARS`` or otherwise unusable."""
    if not allowed_roots:
        raise Forbidden(
            "Loading from a server-side path is disabled: set FINDALIKE_ALLOWED_ROOTS to the "
            "folders it may read."
        )
    if "\x00" in path:
        raise InvalidInput("The path contains a NUL byte.", field="path")
    if len(path) > MAX_PATH_CHARS:
        raise InvalidInput(f"The path is longer than {MAX_PATH_CHARS} characters.", field="path")
    try:
        target = Path(path).expanduser().resolve()
        for root in allowed_roots:
            if target.is_relative_to(root.expanduser().resolve()):
                if not target.exists():
                    raise NotFound(f"No such file or folder: {path}")
                return target
    except (OSError, RuntimeError, ValueError) as exc:
        raise InvalidInput(f"Not a usable path ({exc}).", field="path") from exc
    raise Forbidden(
        f"{path} is outside the allowed roots ({', '.join(str(r) for r in allowed_roots)})."
    )


@dataclass(frozen=True)
class _Rules:
    """What ``expand`` accepts: file types, the size of one item, members per zip."""

    extensions: frozenset[str]
    max_item_bytes: int
    max_zip_members: int


def expand(
    files: Sequence[tuple[str, Path]],
    *,
    extensions: frozenset[str],
    max_item_bytes: int,
    max_zip_members: int,
) -> Iterator[SourceFile | ReadFailure]:
    """The readable files among ``files`` (display name, path): plain files, zip
    members, and files under folders, in a stable order. A symbolic link, anywhere,
    is reported as ``SYMLINK_SKIPPED`` and never followed (a path inside an allowed
    root arrives here already resolved by ``resolve_folder``)."""
    rules = _Rules(extensions, max_item_bytes, max_zip_members)
    for name, path in files:
        try:
            st = os.lstat(path)
        except OSError as exc:
            yield ReadFailure(name, f"cannot be read ({exc.strerror or exc})")
            continue
        if stat.S_ISLNK(st.st_mode):
            yield ReadFailure(name, SYMLINK_SKIPPED)
        elif stat.S_ISDIR(st.st_mode):
            yield from _walk(name, path, rules)
        elif stat.S_ISREG(st.st_mode):
            yield from _one_file(name, path, st, rules)
        else:
            yield ReadFailure(name, "not a regular file; skipped")


def _walk(name: str, folder: Path, rules: _Rules) -> Iterator[SourceFile | ReadFailure]:
    """The files under ``folder`` in path order, without following links (iterative:
    a deep tree cannot exhaust the stack)."""
    try:
        stack = [(name, iter(_sorted_entries(folder)))]
    except OSError as exc:
        yield ReadFailure(name, f"the folder cannot be read ({exc.strerror or exc})")
        return
    while stack:
        parent, entries = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        label = f"{parent}/{entry.name}"
        try:
            if entry.is_symlink():
                yield ReadFailure(label, SYMLINK_SKIPPED)
            elif entry.is_dir(follow_symlinks=False):
                stack.append((label, iter(_sorted_entries(Path(entry.path)))))
            elif entry.is_file(follow_symlinks=False):
                st = entry.stat(follow_symlinks=False)
                yield from _one_file(label, Path(entry.path), st, rules)
        except OSError as exc:
            yield ReadFailure(label, f"cannot be read ({exc.strerror or exc})")


def _sorted_entries(folder: Path) -> list[os.DirEntry[str]]:
    with os.scandir(folder) as found:
        return sorted(found, key=lambda e: e.name)


def _one_file(
    name: str, path: Path, st: os.stat_result, rules: _Rules
) -> Iterator[SourceFile | ReadFailure]:
    suffix = PurePosixPath(name).suffix.lower()
    identity = (st.st_dev, st.st_ino)
    if suffix == ".zip":
        yield from _zip_members(name, path, identity, rules)
        return
    problem = _problem(suffix, st.st_size, rules.extensions, rules.max_item_bytes)
    if problem:
        yield ReadFailure(name, problem)
    else:
        yield SourceFile(name=name, path=path, size=st.st_size, identity=identity)


def _zip_members(
    name: str, path: Path, identity: tuple[int, int], rules: _Rules
) -> Iterator[SourceFile | ReadFailure]:
    try:
        f = open_no_follow(path, identity)
    except InvalidInput as exc:
        yield ReadFailure(name, exc.detail)
        return
    with f:
        try:
            zf = zipfile.ZipFile(f)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            yield ReadFailure(name, f"not a readable zip archive ({exc})")
            return
        with zf:
            yield from _members(name, path, identity, zf, rules)


def _members(
    name: str, path: Path, identity: tuple[int, int], zf: zipfile.ZipFile, rules: _Rules
) -> Iterator[SourceFile | ReadFailure]:
    infos = [i for i in zf.infolist() if not i.is_dir()]
    if not infos:
        yield ReadFailure(name, "the zip archive holds no files")
    for n, info in enumerate(infos):
        label = f"{name}/{info.filename}"
        if n >= rules.max_zip_members:
            yield ReadFailure(
                label, f"more than {rules.max_zip_members} members; the rest were skipped"
            )
            return
        member = PurePosixPath(info.filename.replace("\\", "/"))
        if member.is_absolute() or ".." in member.parts:
            yield ReadFailure(label, "unsafe path in zip archive (absolute or '..'); skipped")
            continue
        if member.name.startswith(".") or "__MACOSX" in member.parts:
            continue  # hidden files and macOS resource forks are not data
        problem = _problem(
            member.suffix.lower(), info.file_size, rules.extensions, rules.max_item_bytes
        )
        if problem:
            yield ReadFailure(label, problem)
        else:
            yield SourceFile(
                name=label, path=path, member=info.filename, size=info.file_size, identity=identity
            )


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
