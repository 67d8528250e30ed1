"""Where a load's files come from, against the findings of issue 9: symbolic links that
escape the allowed root, zips read in O(n^2), zip headers that lie about sizes, gzip
bombs. Every hostile file is generated here, small; none is shipped."""

from __future__ import annotations

import gzip
import io
import os
import struct
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from findalike.api.main import create_app
from findalike.apps.dna import APP as DNA_APP
from findalike.config import Settings
from findalike.core.app import AppRuntime, ReadFailure
from findalike.core.ingest import load_files
from findalike.core.sources import (
    SYMLINK_SKIPPED,
    SourceFile,
    SourceReader,
    expand,
    gunzip_capped,
    resolve_folder,
)
from findalike.errors import InvalidInput, TooLarge
from findalike.jobs import JobManager
from findalike.store import VectorStore
from tests.conftest import wait_job

MIB = 1024**2
SECRET = "The launch code of the outside file is swordfish."


def _expand(*files: tuple[str, Path], max_item_bytes: int = MIB) -> list[SourceFile | ReadFailure]:
    return list(
        expand(
            files,
            extensions=frozenset({".txt", ".fa"}),
            max_item_bytes=max_item_bytes,
            max_zip_members=100_000,
        )
    )


# -- gzip capped by its output --------------------------------------------------------------


def test_gunzip_capped_stops_at_the_limit_without_inflating_the_rest() -> None:
    bomb = gzip.compress(b"A" * (200 * MIB), compresslevel=9)  # the review's 204-KB file
    assert len(bomb) < 300_000
    tracemalloc.start()
    try:
        with pytest.raises(TooLarge, match="FINDALIKE_MAX_ITEM_BYTES") as caught:
            gunzip_capped(bomb, MIB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f"peak traced memory {peak / 1e6:.1f} MB for a 200-MiB bomb (bar: 8 MB)")
    assert str(MIB) in caught.value.detail
    assert peak < 8 * MIB


def test_gunzip_capped_reads_what_gzip_reads() -> None:
    text = b">a class=X\nACGT\n" * 1000
    assert gunzip_capped(gzip.compress(text), len(text)) == text  # exactly at the cap
    two_members = gzip.compress(b"first ") + gzip.compress(b"second") + b"\x00" * 8
    assert gunzip_capped(two_members, 100) == b"first second"
    with pytest.raises(TooLarge):
        gunzip_capped(gzip.compress(text), len(text) - 1)
    with pytest.raises(InvalidInput, match="ends early"):
        gunzip_capped(gzip.compress(text)[:-20], MIB)
    with pytest.raises(InvalidInput, match="not a valid gzip"):
        gunzip_capped(b"plain text, not gzip", MIB)


# -- zips: one open per load, reads capped by their output, a budget per load -----------------


def _zip(members: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def _bases(number: int) -> str:
    """A distinct 6-letter DNA word for each number below 4096."""
    return "".join("ACGT"[(number >> (2 * j)) & 3] for j in range(6))


def _lie_about_size(archive: bytes, claimed: int) -> bytes:
    """``archive`` (one member) with the uncompressed size in both of the member's
    headers (local and central) replaced by ``claimed``."""
    data = bytearray(archive)
    local = data.index(b"PK\x03\x04")
    data[local + 22 : local + 26] = struct.pack("<I", claimed)
    central = data.index(b"PK\x01\x02")
    data[central + 24 : central + 28] = struct.pack("<I", claimed)
    return bytes(data)


@pytest.mark.timeout(120)
def test_a_zip_of_3000_members_is_opened_once_per_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = {
        f"seq/{i:04d}.fa": f">s{i} class=C{i % 3}\nACGT{_bases(i)}\n".encode() for i in range(3000)
    }
    (tmp_path / "many.zip").write_bytes(_zip(members))
    opens: list[str] = []
    real_zipfile = zipfile.ZipFile

    class CountingZipFile(real_zipfile):
        def __init__(self, *args: object, **kwargs: object) -> None:
            opens.append("open")
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(zipfile, "ZipFile", CountingZipFile)
    store = VectorStore(str(tmp_path / "milvus.db"))
    rt = AppRuntime(DNA_APP, Settings(data_dir=tmp_path, encode_batch_size=1000), store)
    jobs = JobManager(tmp_path / "jobs.sqlite")
    try:
        work = load_files(rt, [("many.zip", tmp_path / "many.zip")])
        job = jobs.wait(jobs.submit("dna", work).id)
    finally:
        jobs.shutdown()
        store.close()
    print(f"3000 members: {len(opens)} ZipFile opens (bar: 2, listing and reading)")
    assert job.state == "done" and job.done + job.skipped == 3000, job
    assert len(opens) == 2


def test_a_member_whose_header_understates_its_size_is_capped(tmp_path: Path) -> None:
    real = b"ACGT" * (8 * MIB)  # 32 MiB inflated, ~32 KB deflated
    for method in (zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED):
        archive = _lie_about_size(_zip({"liar.fa": real}, method=method), claimed=1000)
        path = tmp_path / f"liar{method}.zip"
        path.write_bytes(archive)
        (source,) = _expand((path.name, path))
        assert isinstance(source, SourceFile) and source.size == 1000  # the lie passes listing
        tracemalloc.start()
        try:
            with SourceReader(max_item_bytes=MIB, max_unzipped_bytes=16 * MIB) as reader:
                try:
                    data = reader.read(source)
                except InvalidInput as exc:  # the CRC of the cut-off data does not match
                    data = b""
                    assert "zip member" in exc.detail
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert len(data) <= 1000 and peak < 4 * MIB, (method, len(data), peak)
        assert reader.unzipped_bytes <= MIB + 1


def test_the_members_of_a_load_share_one_unzipped_budget(tmp_path: Path) -> None:
    path = tmp_path / "five.zip"
    path.write_bytes(_zip({f"{i}.txt": bytes([65 + i]) * 1000 for i in range(5)}))
    sources = _expand(("five.zip", path))
    outcomes = []
    with SourceReader(max_item_bytes=MIB, max_unzipped_bytes=2500) as reader:
        for source in sources:
            assert isinstance(source, SourceFile)
            try:
                outcomes.append(len(reader.read(source)))
            except TooLarge as exc:
                outcomes.append(exc.detail)
    assert outcomes[:2] == [1000, 1000]
    assert all("FINDALIKE_MAX_UNZIPPED_BYTES" in str(o) for o in outcomes[2:])


def test_a_plain_file_is_read_up_to_the_item_limit(tmp_path: Path) -> None:
    path = tmp_path / "grew.txt"
    path.write_bytes(b"x" * 100)
    (source,) = _expand(("grew.txt", path))
    assert isinstance(source, SourceFile)
    with path.open("ab") as f:  # it grows after it was listed
        f.write(b"y" * (2 * MIB))
    with (
        SourceReader(max_item_bytes=MIB, max_unzipped_bytes=MIB) as reader,
        pytest.raises(TooLarge, match="FINDALIKE_MAX_ITEM_BYTES"),
    ):
        reader.read(source)


# -- symbolic links never followed ------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """``root/`` holding a real file, a link to a file outside the root, a link to a
    folder outside it, and a sub-folder with a real file."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "real.txt").write_text("Penguins huddle together to survive the winter.")
    (root / "sub" / "deep.txt").write_text("Seals rest on the ice between dives.")
    os.symlink(outside / "secret.txt", root / "link.txt")
    os.symlink(outside, root / "linkdir")
    return root


def test_a_folder_walk_reports_links_and_never_follows_them(tree: Path) -> None:
    found = _expand(("root", tree))
    files = [f.name for f in found if isinstance(f, SourceFile)]
    failures = {f.label: f.error for f in found if isinstance(f, ReadFailure)}
    assert files == ["root/real.txt", "root/sub/deep.txt"]
    assert failures == {"root/link.txt": SYMLINK_SKIPPED, "root/linkdir": SYMLINK_SKIPPED}


def test_a_file_swapped_for_a_link_after_listing_is_not_read(tree: Path) -> None:
    found = [f for f in _expand(("root", tree)) if isinstance(f, SourceFile)]
    real = found[0]
    real.path.unlink()
    os.symlink(tree.parent / "outside" / "secret.txt", real.path)  # the race
    with SourceReader(max_item_bytes=MIB, max_unzipped_bytes=MIB) as reader:
        with pytest.raises(InvalidInput, match="symbolic link"):
            reader.read(real)
        deep = found[1]
        other = deep.path.with_name("other.tmp")
        other.write_text("another file in its place")  # exists beside it: a new inode
        os.replace(other, deep.path)
        with pytest.raises(InvalidInput, match="replaced"):
            reader.read(deep)


def test_resolve_folder_refuses_nul_and_over_long_paths(tree: Path) -> None:
    with pytest.raises(InvalidInput, match="NUL"):
        resolve_folder(f"{tree}/\x00", [tree])
    with pytest.raises(InvalidInput, match="longer than"):
        resolve_folder(str(tree / ("a" * 5000)), [tree])
    with pytest.raises(InvalidInput):  # one component over NAME_MAX: not a usable path
        resolve_folder(str(tree / ("b" * 300)), [tree])


@pytest.fixture
def text_client(tree: Path, shared_encoders: dict) -> Iterator[TestClient]:
    settings = Settings(data_dir=tree.parent / "data", apps=["text"], allowed_roots=[tree])
    with TestClient(create_app(settings, encoders=shared_encoders)) as c:
        yield c


def test_a_folder_load_never_stores_what_a_link_points_to(
    text_client: TestClient, tree: Path
) -> None:
    r = text_client.post("/api/text/load", data={"path": str(tree)})
    assert r.status_code == 202, r.text
    job = wait_job(text_client, r.json()["id"])
    errors = {e["item"]: e["error"] for e in job["errors"]}
    assert (job["state"], job["done"]) == ("done", 2), job
    assert errors == {"root/link.txt": SYMLINK_SKIPPED, "root/linkdir": SYMLINK_SKIPPED}
    assert text_client.get("/api/text/count").json()["items"] == 2
    r = text_client.post("/api/text/search", json={"query": "launch code swordfish", "top_k": 10})
    assert r.status_code == 200
    assert all("swordfish" not in str(hit) for hit in r.json()["hits"])
    # the link named directly resolves outside the root: refused before any job
    r = text_client.post("/api/text/load", data={"path": str(tree / "link.txt")})
    assert r.status_code == 403


def test_a_path_with_nul_or_too_long_is_a_json_4xx(text_client: TestClient, tree: Path) -> None:
    """NUL is refused by the loader (400); over 4096 characters by the schema (422)."""
    for path, status, field in (
        (f"{tree}/real.txt\x00.csv", 400, "path"),
        (str(tree / ("a" * 5000)), 422, "body.path"),
    ):
        r = text_client.post("/api/text/load", data={"path": path})
        assert r.status_code == status, (r.status_code, r.text)
        body = r.json()
        assert body["status"] == status and body["errors"][0]["field"] == field


def test_zlib_errors_do_not_escape_as_500s(tmp_path: Path) -> None:
    """A member whose deflate stream is corrupt fails as an item, with its reason."""
    archive = bytearray(_zip({"bad.txt": b"hello world " * 200}))
    start = archive.index(b"PK\x03\x04") + 30 + len("bad.txt")
    archive[start : start + 8] = b"\xff" * 8
    path = tmp_path / "bad.zip"
    path.write_bytes(bytes(archive))
    (source,) = _expand(("bad.zip", path))
    assert isinstance(source, SourceFile)
    with (
        SourceReader(max_item_bytes=MIB, max_unzipped_bytes=MIB) as reader,
        pytest.raises(InvalidInput, match="zip member"),
    ):
        reader.read(source)
