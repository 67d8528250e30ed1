"""Backups and moving house: a Milvus Lite install holding four apps on their real
models and real data (text: State of the Union addresses, image: photos with their
stored originals, molecule: NCI SMILES as fingerprints (0/1 floats on Lite 3.2),
recommend: InstEval ratings with a trained model) is exported, imported into a real
Milvus 2.3 server, and must answer the same queries with the same items, in the same order, with the
same scores; then exported from the server and imported into Milvus Lite again."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from findalike.backup import (
    CollectionEntry,
    ExportTarget,
    Manifest,
    export_archive,
    import_archive,
    read_manifest,
)
from findalike.cli import app as cli_app
from findalike.config import Settings
from findalike.core.app import AppRuntime, AppSpec
from findalike.core.ingest import load_files
from findalike.errors import Conflict, InvalidInput
from findalike.jobs import JobManager
from findalike.store import CollectionSpec, FieldSpec, StoreError, VectorStore
from findalike.store.media import MediaStore

pytest.importorskip("rdkit")
pytest.importorskip("implicit")

from findalike.apps.image import APP as IMAGE  # noqa: E402
from findalike.apps.image.labels import labels_of  # noqa: E402
from findalike.apps.image.search import search_text  # noqa: E402
from findalike.apps.molecule import APP as MOLECULE  # noqa: E402
from findalike.apps.molecule.models import MoleculeSearch  # noqa: E402
from findalike.apps.molecule.search import search_molecules  # noqa: E402
from findalike.apps.recommend import APP as RECOMMEND  # noqa: E402
from findalike.apps.recommend.recommender import recommender  # noqa: E402
from findalike.apps.text import APP as TEXT  # noqa: E402
from findalike.formats.imaging import decode_image  # noqa: E402

DATASETS = Path(__file__).resolve().parents[1] / "datasets"
SCORE_TOLERANCE = 1e-4
TANIMOTO_FLOAT32 = 1e-6
"""Tanimoto is an exact fraction on Milvus Lite and 1 - a float32 Jaccard distance on a
server (0.388888889 vs 0.388888896)."""
SPEECHES = 6
SPEECH_WORDS = 1200
PHOTOS = 12
MOLECULES = 300
RATINGS = 4000
TEXT_QUERIES = [
    "taxes on working families",
    "war and the armed forces",
    "trade with foreign nations",
    "education of our children",
    "the national debt",
]
SMILES_QUERIES = ["Oc1ccccc1", "CC(=O)Oc1ccccc1C(=O)O", "c1ccc2ccccc2c1", "CCCCCCCCCC(=O)O"]
APPS: tuple[AppSpec, ...] = (TEXT, IMAGE, MOLECULE, RECOMMEND)


@dataclass
class Install:
    """One findalike install: settings, store, originals, a runtime per app."""

    settings: Settings
    store: VectorStore
    media: MediaStore
    runtimes: dict[str, AppRuntime]

    def counts(self) -> dict[str, tuple[int, int]]:
        return {name: rt.count() for name, rt in self.runtimes.items()}

    def target_form(self) -> Callable[[CollectionEntry], CollectionSpec | None]:
        """What this install's app creates (as the CLI does)."""
        return lambda entry: self.runtimes[entry.app].collection_spec()

    def export(self, path: Path) -> Any:
        targets = [ExportTarget(name, rt.collection) for name, rt in self.runtimes.items()]
        return export_archive(
            self.store, targets, path, media=self.media, data_dir=self.settings.data_dir
        )

    def restore(self, archive: Path, *, replace: bool = False) -> Any:
        return import_archive(
            self.store,
            archive,
            media=self.media,
            data_dir=self.settings.data_dir,
            replace=replace,
            prefix=self.settings.collection_prefix,
            target_form=self.target_form(),
        )


def _install(data_dir: Path, uri: str, prefix: str, encoders: dict[str, Any]) -> Install:
    settings = Settings(data_dir=data_dir, milvus_uri=uri, collection_prefix=prefix)
    store = VectorStore(uri)
    media = MediaStore(data_dir / "media")
    runtimes = {
        spec.name: AppRuntime(spec, settings, store, media=media, encoder_cache=encoders)
        for spec in APPS
    }
    return Install(settings, store, media, runtimes)


def _data_files(folder: Path) -> dict[str, list[tuple[str, Path]]]:
    """Small real slices of the shipped data sets, written to ``folder``."""
    folder.mkdir()
    with gzip.open(DATASETS / "sotu" / "sotu.jsonl.gz", "rt") as fh:
        speeches = [json.loads(next(fh)) for _ in range(SPEECHES)]
    for s in speeches:
        s["text"] = " ".join(s["text"].split()[:SPEECH_WORDS])
    (folder / "sotu.jsonl").write_text("".join(json.dumps(s) + "\n" for s in speeches))
    smiles = (DATASETS / "molecules" / "nci_first_5K.smi").read_text().splitlines()
    (folder / "nci.smi").write_text("\n".join(smiles[:MOLECULES]) + "\n")
    ratings = (DATASETS / "ratings" / "ratings.csv").read_text().splitlines()
    (folder / "ratings.csv").write_text("\n".join(ratings[: RATINGS + 1]) + "\n")
    photos = sorted((DATASETS / "images" / "photos").glob("*.jpg"))[:PHOTOS]
    return {
        "text": [("sotu.jsonl", folder / "sotu.jsonl")],
        "image": [(f"photos/{p.name}", p) for p in photos],
        "molecule": [("nci.smi", folder / "nci.smi")],
        "recommend": [
            ("items.csv", DATASETS / "ratings" / "items.csv"),
            ("ratings.csv", folder / "ratings.csv"),
        ],
    }


@pytest.fixture(scope="module")
def lite(
    tmp_path_factory: pytest.TempPathFactory, shared_encoders: dict[str, Any]
) -> Iterator[Install]:
    """The source: Milvus Lite with the four apps loaded through their real pipelines."""
    tmp = tmp_path_factory.mktemp("backup-source")
    inst = _install(
        tmp / "data", str(tmp / "data" / "milvus.db"), "findalike_", dict(shared_encoders)
    )
    jobs = JobManager(tmp / "jobs.sqlite")
    try:
        for name, files in _data_files(tmp / "files").items():
            job = jobs.wait(jobs.submit(name, load_files(inst.runtimes[name], files)).id)
            assert job.state == "done" and job.failed == 0, (name, job.errors)
        recommender(inst.runtimes["recommend"]).train()
        yield inst
    finally:
        jobs.shutdown()
        inst.store.close()


@pytest.fixture(scope="module")
def lite_archive(lite: Install, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("backup-archive") / "lite.tar"
    started = time.perf_counter()
    report = lite.export(path)
    print(
        f"export from Lite: {report.rows} rows, {report.media_files} originals, "
        f"{report.archive_bytes / 1e6:.1f} MB in {time.perf_counter() - started:.2f} s "
        f"({report.rows / report.seconds:.0f} rows/s)"
    )
    return path


@pytest.fixture(scope="module")
def server(
    lite: Install,
    lite_archive: Path,
    milvus_server_uri: str,
    tmp_path_factory: pytest.TempPathFactory,
    shared_encoders: dict[str, Any],
) -> Iterator[tuple[Install, Any]]:
    """The archive imported into a real Milvus server (under another collection prefix,
    so it can share the session's server with other tests)."""
    inst = _install(
        tmp_path_factory.mktemp("backup-server"), milvus_server_uri, "bk_", dict(shared_encoders)
    )
    for rt in inst.runtimes.values():
        inst.store.drop(rt.collection)
    report = inst.restore(lite_archive)
    print(
        f"import into the server: {report.rows} rows in {report.seconds:.2f} s "
        f"({report.rows / report.seconds:.0f} rows/s)"
    )
    try:
        yield inst, report
    finally:
        for rt in inst.runtimes.values():
            inst.store.drop(rt.collection)
        inst.store.close()


# -- comparing two installs ---------------------------------------------------------------


def _same_vector_hits(a: AppRuntime, b: AppRuntime, queries: np.ndarray) -> None:
    for got_a, got_b in zip(
        a.search_vectors(queries, limit=10), b.search_vectors(queries, limit=10), strict=True
    ):
        assert got_a, "the source found nothing"
        assert [h.id for h in got_a] == [h.id for h in got_b]
        np.testing.assert_allclose(
            [h.distance for h in got_a], [h.distance for h in got_b], atol=SCORE_TOLERANCE
        )


def _same_molecule_hits(a: AppRuntime, b: AppRuntime) -> None:
    """Equal Tanimoto lists; equal ids except within a tie at the cut-off (each store
    keeps a different one of equally similar molecules there)."""
    for smiles in SMILES_QUERIES:
        ra = search_molecules(a, MoleculeSearch(query=smiles, top_k=10))
        rb = search_molecules(b, MoleculeSearch(query=smiles, top_k=10))
        assert ra.exact and rb.exact and ra.hits
        scores_a = np.array([h.score for h in ra.hits])
        np.testing.assert_allclose(scores_a, [h.score for h in rb.hits], atol=TANIMOTO_FLOAT32)
        tied = np.abs(scores_a - scores_a[-1]) <= TANIMOTO_FLOAT32
        assert [h.item_id for h, t in zip(ra.hits, tied, strict=True) if not t] == [
            h.item_id for h, t in zip(rb.hits, tied, strict=True) if not t
        ]
    sub_a = search_molecules(a, MoleculeSearch(query="c1ccccc1O", mode="substructure", top_k=50))
    sub_b = search_molecules(b, MoleculeSearch(query="c1ccccc1O", mode="substructure", top_k=50))
    assert sub_a.hits and [h.item_id for h in sub_a.hits] == [h.item_id for h in sub_b.hits]


def _same_answers(a: Install, b: Install, minilm: Any) -> None:
    assert a.counts() == b.counts()
    text_a, text_b = a.runtimes["text"], b.runtimes["text"]
    _same_vector_hits(text_a, text_b, minilm.encode(TEXT_QUERIES))
    photos = sorted((DATASETS / "images" / "photos").glob("*.jpg"))[:PHOTOS:3]
    image_a = a.runtimes["image"]
    queries = image_a.encoder.encode([decode_image(p.read_bytes()) for p in photos])
    _same_vector_hits(image_a, b.runtimes["image"], queries)
    _same_molecule_hits(a.runtimes["molecule"], b.runtimes["molecule"])
    rec_a, rec_b = recommender(a.runtimes["recommend"]), recommender(b.runtimes["recommend"])
    for user in ("1", "2", "3"):
        got_a, got_b = rec_a.for_user(user, 10), rec_b.for_user(user, 10)
        assert [i.item for i in got_a.hits] == [i.item for i in got_b.hits]
        np.testing.assert_allclose(
            [i.score for i in got_a.hits], [i.score for i in got_b.hits], atol=SCORE_TOLERANCE
        )


# -- Lite -> server -> Lite -----------------------------------------------------------------


@pytest.mark.server
def test_lite_to_server_same_counts_and_same_answers(
    lite: Install, server: tuple[Install, Any], minilm: Any
) -> None:
    target, report = server
    counts = lite.counts()
    print("items, vectors per app:", counts)
    assert all(items > 0 for items, _ in counts.values())
    assert counts["text"][1] > counts["text"][0]  # long speeches became several passages
    assert report.rows == sum(vectors for _, vectors in counts.values())
    _same_answers(lite, target, minilm)


@pytest.mark.server
def test_molecules_become_binary_vectors_on_the_server(server: tuple[Install, Any]) -> None:
    target, report = server
    spec = target.store.describe(target.runtimes["molecule"].collection)
    assert (spec.vector_kind, spec.metric, spec.index_type) == ("binary", "JACCARD", "BIN_FLAT")
    converted = {c.app: c.converted_from for c in report.collections}
    # Lite 2.5 holds bits already
    assert converted == {"text": None, "image": None, "molecule": None, "recommend": None}


@pytest.mark.server
def test_originals_and_recommender_state_travel(lite: Install, server: tuple[Install, Any]) -> None:
    target, report = server
    source_files = {name: p.read_bytes() for name, p in lite.media.stored_files("image")}
    target_files = {name: p.read_bytes() for name, p in target.media.stored_files("image")}
    assert len(source_files) == 2 * lite.counts()["image"][0]  # original + thumbnail each
    assert target_files == source_files and report.media_files == len(source_files)
    model = recommender(target.runtimes["recommend"]).info()
    assert model.version == recommender(lite.runtimes["recommend"]).info().version
    assert model.stored == recommender(lite.runtimes["recommend"]).info().stored


@pytest.mark.server
def test_importing_twice_keeps_the_counts(lite_archive: Path, server: tuple[Install, Any]) -> None:
    target, _ = server
    before = target.counts()
    target.restore(lite_archive)
    assert target.counts() == before
    target.restore(lite_archive, replace=True)
    assert target.counts() == before


@pytest.mark.server
def test_server_back_to_lite_converts_fingerprints_back(
    lite: Install,
    server: tuple[Install, Any],
    tmp_path: Path,
    shared_encoders: dict[str, Any],
    minilm: Any,
) -> None:
    target, _ = server
    archive = tmp_path / "server.tar.gz"
    report = target.export(archive)
    print(
        f"export from the server (gzip): {report.rows} rows in {report.seconds:.2f} s, "
        f"{report.archive_bytes / 1e6:.1f} MB"
    )
    again = _install(
        tmp_path / "again",
        str(tmp_path / "again" / "milvus.db"),
        "findalike_",
        dict(shared_encoders),
    )
    try:
        restored = again.restore(archive)
        converted = {c.app: c.converted_from for c in restored.collections}["molecule"]
        spec = again.store.describe(again.runtimes["molecule"].collection)
        assert converted is None
        assert (spec.vector_kind, spec.metric) == ("binary", "JACCARD")
        _same_answers(lite, again, minilm)
    finally:
        again.store.close()


# -- refusing bad archives -----------------------------------------------------------------


def _rewrite(
    source: Path,
    dest: Path,
    change: Callable[[str, bytes], bytes | None],
    extra: Callable[[tarfile.TarFile], None] | None = None,
) -> Path:
    """A copy of an archive with members changed (None drops one) and ``extra`` added."""
    with tarfile.open(source) as src, tarfile.open(dest, "w") as out:
        for member in src:
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            new = change(member.name, data)
            if new is not None:
                info = tarfile.TarInfo(member.name)
                info.size = len(new)
                out.addfile(info, io.BytesIO(new))
        if extra is not None:
            extra(out)
    return dest


def _flip_byte(name: str, data: bytes) -> bytes:
    if name.startswith("vectors/") and name.endswith("00000.npy"):
        return data[:-1] + bytes([data[-1] ^ 1])
    return data


def _add_member(name: str, kind: bytes = tarfile.REGTYPE) -> Callable[[tarfile.TarFile], None]:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type = kind
        if kind == tarfile.SYMTYPE:
            info.linkname = "/etc/passwd"
            tar.addfile(info)
        else:
            info.size = 4
            tar.addfile(info, io.BytesIO(b"evil"))

    return add


def _resealed(source: Path, dest: Path, change: Callable[[str, bytes], bytes]) -> Path:
    """A copy with members changed and the manifest's sizes and checksums recomputed to
    match them: tampered, yet it passes the checksum check."""
    with tarfile.open(source) as src:
        members = [(m.name, src.extractfile(m).read()) for m in src]  # type: ignore[union-attr]
    members = [(name, change(name, data)) for name, data in members]
    manifest = json.loads(dict(members)["manifest.json"])
    for name, data in members:
        if name != "manifest.json":
            manifest["files"][name] = {
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
    with tarfile.open(dest, "w") as out:
        for name, data in members:
            data = json.dumps(manifest).encode() if name == "manifest.json" else data
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    return dest


def _first_text_row(edit: Callable[[dict[str, Any]], None]) -> Callable[[str, bytes], bytes]:
    """A member change that edits the first row of the text collection's first chunk."""

    def change(name: str, data: bytes) -> bytes:
        if name != "rows/findalike_text/00000.jsonl":
            return data
        first, _, rest = data.partition(b"\n")
        row = json.loads(first)
        edit(row)
        return json.dumps(row).encode() + b"\n" + rest

    return change


def _bad_archives(good: Path, folder: Path) -> dict[str, Path]:
    data = good.read_bytes()
    (folder / "truncated.tar").write_bytes(data[: len(data) // 2])
    (folder / "not-a-tar.tar").write_bytes(b"just some bytes, not an archive\n" * 100)
    keep: Callable[[str, bytes], bytes] = lambda name, data: data  # noqa: E731
    return {
        "a flipped bit in a vector chunk": _rewrite(good, folder / "flipped.tar", _flip_byte),
        "cut in half": folder / "truncated.tar",
        "not an archive": folder / "not-a-tar.tar",
        "a missing chunk": _rewrite(
            good, folder / "missing.tar", lambda n, d: None if n.endswith("00000.jsonl") else d
        ),
        "a path traversal": _rewrite(
            good, folder / "traversal.tar", keep, _add_member("media/image/ab/../../../../evil.jpg")
        ),
        "a symlink": _rewrite(
            good,
            folder / "symlink.tar",
            keep,
            _add_member("media/image/ab/abcdef0123.jpg", tarfile.SYMTYPE),
        ),
        "an unlisted member": _rewrite(
            good, folder / "unlisted.tar", keep, _add_member("media/image/ab/abcdef0123.jpg")
        ),
        "a 5,000-character title (resealed)": _resealed(
            good,
            folder / "long-title.tar",
            _first_text_row(lambda row: row.update(title="é" * 5000)),
        ),
        "a word where a number goes (resealed)": _resealed(
            good, folder / "wrong-type.tar", _first_text_row(lambda row: row.update(part="zero"))
        ),
        "a newer format": _rewrite(
            good,
            folder / "newer.tar",
            lambda n, d: (
                d.replace(b'"format_version": 1', b'"format_version": 2')
                if n == "manifest.json"
                else d
            ),
        ),
    }


REFUSED_BECAUSE = {
    "a flipped bit in a vector chunk": "does not match its checksum",
    "cut in half": "is damaged, cut short or not a tar archive",
    "not an archive": "is damaged, cut short or not a tar archive",
    "a missing chunk": "is missing 4 member(s) its manifest lists",
    "a path traversal": "unexpected member 'media/image/ab/../",
    "a symlink": "is not a regular file (links, folders and devices are refused)",
    "an unlisted member": "holds member(s) its manifest does not list",
    "a 5,000-character title (resealed)": "field 'title' holds a value of 10000 bytes, over its",
    "a word where a number goes (resealed)": "field 'part' holds str values, not int",
    "a newer format": "has archive format 2",
}
"""Why each archive of ``_bad_archives`` is refused: each check's own words, so that
deleting one check (the traversal or link check, say) fails the test."""


def test_a_damaged_or_tampered_archive_is_refused_with_nothing_written(
    lite_archive: Path, tmp_path: Path
) -> None:
    target = _install(tmp_path / "target", str(tmp_path / "target" / "milvus.db"), "findalike_", {})
    try:
        for why, archive in _bad_archives(lite_archive, tmp_path).items():
            with pytest.raises(InvalidInput) as refused:
                target.restore(archive)
            print(f"{why}: {refused.value.detail}")
            assert REFUSED_BECAUSE[why] in refused.value.detail, why
            assert target.store.list_collections() == [], why
            assert not (tmp_path / "target" / "media").exists(), why
            assert not (tmp_path / "target" / "recommend").exists(), why
    finally:
        target.store.close()


def test_a_large_original_is_streamed_not_held_in_memory(
    lite_archive: Path, tmp_path: Path
) -> None:
    """An archive of one 64 MB original (a valid manifest, no collections): verified
    and restored block by block, so Python's peak allocation during the import stays
    far below the file's size (it was read whole, twice: a 900 MB member took an
    import to 2 GB)."""
    import tracemalloc

    big_name = "media/image/ab/abcdef0123456789.jpg"
    big = np.random.default_rng(7).bytes(64 * 1024**2)
    with tarfile.open(lite_archive) as src:
        manifest = json.loads(src.extractfile("manifest.json").read())  # type: ignore[union-attr]
    manifest["collections"] = []
    manifest["files"] = {big_name: {"bytes": len(big), "sha256": hashlib.sha256(big).hexdigest()}}
    archive = tmp_path / "one-original.tar"
    with tarfile.open(archive, "w") as out:
        for name, data in (("manifest.json", json.dumps(manifest).encode()), (big_name, big)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    del big
    target = _install(tmp_path / "t", str(tmp_path / "t" / "milvus.db"), "findalike_", {})
    try:
        tracemalloc.start()
        target.restore(archive)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        target.store.close()
    stored = tmp_path / "t" / "media" / "image" / "ab" / "abcdef0123456789.jpg"
    assert stored.stat().st_size == 64 * 1024**2
    print(f"import of a 64 MB original: peak Python allocation {peak / 1e6:.1f} MB")
    assert peak < 16 * 1024**2


def test_a_collection_of_another_encoder_needs_replace(lite_archive: Path, tmp_path: Path) -> None:
    target = _install(tmp_path / "t", str(tmp_path / "t" / "milvus.db"), "findalike_", {})
    try:
        molecule = target.runtimes["molecule"].collection
        target.store.ensure(CollectionSpec(molecule, 8, "float", "COSINE", "another@1"))
        with pytest.raises(Conflict, match="another encoder record"):
            target.restore(lite_archive)
        assert target.store.list_collections() == [molecule]
        report = target.restore(lite_archive, replace=True)
        assert target.store.describe(molecule).encoder != "another@1"
        assert target.store.count(molecule) == next(
            c.rows for c in report.collections if c.app == "molecule"
        )
    finally:
        target.store.close()


def test_another_recommenders_state_is_not_overwritten_without_replace(
    lite_archive: Path, tmp_path: Path
) -> None:
    target = _install(tmp_path / "t", str(tmp_path / "t" / "milvus.db"), "findalike_", {})
    try:
        folder = tmp_path / "t" / "recommend" / target.runtimes["recommend"].collection
        folder.mkdir(parents=True)
        (folder / "ratings.sqlite").write_bytes(b"another install's ratings")
        with pytest.raises(Conflict, match="--replace"):
            target.restore(lite_archive)
        assert target.store.list_collections() == []
        assert (folder / "ratings.sqlite").read_bytes() == b"another install's ratings"
        target.restore(lite_archive, replace=True)
        assert recommender(target.runtimes["recommend"]).info().stored.get("ratings") == RATINGS
    finally:
        target.store.close()


# -- consistency ---------------------------------------------------------------------------


def test_export_fails_if_a_collection_changes_while_it_is_read(tmp_path: Path) -> None:
    """Plumbing: a tiny collection of random vectors, written to between two chunks."""
    store = VectorStore(str(tmp_path / "milvus.db"))
    try:
        spec = CollectionSpec(
            "findalike_text",
            8,
            "float",
            "COSINE",
            "plumbing@1",
            fields=(FieldSpec("title", "str", 64),),
        )
        store.ensure(spec)
        rng = np.random.default_rng(0)

        def row(i: int) -> dict[str, Any]:
            return {
                "id": f"{i:08x}:0",
                "item_id": f"{i:08x}",
                "part": 0,
                "vector": rng.random(8, dtype=np.float32),
                "title": f"row {i}",
            }

        store.upsert(spec.name, [row(i) for i in range(50)])
        out = tmp_path / "changed.tar"
        with pytest.raises(Conflict, match="changed while it was exported"):
            export_archive(
                store,
                [ExportTarget("text", spec.name)],
                out,
                chunk_rows=10,
                on_progress=lambda *_: store.upsert(spec.name, [row(1000)]),
            )
        assert list(tmp_path.glob("changed.tar*")) == []
        report = export_archive(store, [ExportTarget("text", spec.name)], out, chunk_rows=10)
        manifest: Manifest = read_manifest(out)
        assert report.rows == manifest.collections[0].rows == 51
        assert len(manifest.collections[0].chunks) == 6
    finally:
        store.close()


def test_describe_refuses_a_collection_findalike_did_not_make(tmp_path: Path) -> None:
    store = VectorStore(str(tmp_path / "milvus.db"))
    try:
        store._call("create_collection", "foreign", dimension=4)
        with pytest.raises(StoreError, match="no findalike encoder record"):
            store.describe("foreign")
    finally:
        store.close()


# -- the command line -----------------------------------------------------------------------


def test_full_text_search_survives_an_export_and_import(
    lite: Install, lite_archive: Path, tmp_path: Path
) -> None:
    """The archive records which field has a BM25 index and its language: a text
    collection imported into Milvus Lite keeps lexical and hybrid search (it came back
    without them)."""
    target = _install(tmp_path / "t", str(tmp_path / "t" / "milvus.db"), "findalike_", {})
    try:
        target.restore(lite_archive)
        source, imported = lite.runtimes["text"].collection, target.runtimes["text"].collection
        assert lite.store.lexical_field(source) is not None
        assert target.store.lexical_field(imported) == lite.store.lexical_field(source)
        assert target.store.describe(imported).language == lite.store.describe(source).language
    finally:
        target.store.close()


def test_cli_export_and_import_between_lite_files(lite: Install, tmp_path: Path) -> None:
    runner = CliRunner()
    archive = tmp_path / "cli.tar"
    source_env = {"FINDALIKE_DATA_DIR": str(lite.settings.data_dir), "FINDALIKE_MILVUS_URI": ""}
    result = runner.invoke(
        cli_app, ["export", "molecule", "image", "-o", str(archive)], env=source_env
    )
    assert result.exit_code == 0, result.output
    assert "findalike_molecule" in result.output and "rows/s" in result.output
    target_dir = tmp_path / "target"
    result = runner.invoke(
        cli_app,
        ["import", str(archive)],
        env={"FINDALIKE_DATA_DIR": str(target_dir), "FINDALIKE_MILVUS_URI": ""},
    )
    assert result.exit_code == 0, result.output
    target = _install(target_dir, str(target_dir / "milvus.db"), "findalike_", {})
    try:
        for name in ("molecule", "image"):
            assert target.runtimes[name].count() == lite.runtimes[name].count()
        assert not target.store.exists(target.runtimes["text"].collection)
        assert len(list(target.media.stored_files("image"))) == 2 * lite.counts()["image"][0]
    finally:
        target.store.close()
    result = runner.invoke(cli_app, ["export", "nosuchapp", "-o", str(archive)], env=source_env)
    assert result.exit_code == 1 and "unknown app" in result.output


def test_named_collections_and_image_labels_travel_and_go_with_a_drop(
    lite: Install, tmp_path: Path, shared_encoders: dict[str, Any]
) -> None:
    """``findalike export`` carries an app's named collections (with their originals)
    and the companions of each (the image labels that text-to-image search reads);
    import restores them under the target's names. Dropping a named collection
    removes its labels and its files too."""
    image = lite.runtimes["image"]
    named = image.named("logos")
    photos = sorted((DATASETS / "images" / "photos").glob("*.jpg"))[PHOTOS : PHOTOS + 3]
    jobs = JobManager(tmp_path / "jobs.sqlite")
    try:
        job = jobs.wait(jobs.submit("image", load_files(named, [(p.name, p) for p in photos])).id)
        assert job.state == "done" and job.failed == 0, job.errors
    finally:
        jobs.shutdown()
    try:
        archive = tmp_path / "named.tar"
        runner = CliRunner()
        env = {"FINDALIKE_DATA_DIR": str(lite.settings.data_dir), "FINDALIKE_MILVUS_URI": ""}
        result = runner.invoke(cli_app, ["export", "image", "-o", str(archive)], env=env)
        assert result.exit_code == 0, result.output
        archived = {(c.name, c.named, c.companion) for c in read_manifest(archive).collections}
        assert archived == {
            ("findalike_image", None, ""),
            ("findalike_image__logos", "logos", ""),
            ("findalike_image_labels", None, "_labels"),
            ("findalike_image__logos_labels", "logos", "_labels"),
        }
        target_dir = tmp_path / "target"
        env = {"FINDALIKE_DATA_DIR": str(target_dir), "FINDALIKE_MILVUS_URI": ""}
        result = runner.invoke(cli_app, ["import", str(archive)], env=env)
        assert result.exit_code == 0, result.output
        target = _install(target_dir, str(target_dir / "milvus.db"), "findalike_", shared_encoders)
        try:
            copy = target.runtimes["image"].named("logos")
            assert copy.count() == named.count() and named.count()[0] == 3
            assert target.runtimes["image"].collection_names() == ["logos"]
            for a, b in ((image, target.runtimes["image"]), (named, copy)):
                assert labels_of(b).count() == labels_of(a).count() > 0
            source_files = dict(_files(named.media))
            assert len(source_files) == 6 and dict(_files(copy.media)) == source_files
            for query in ("a dog", "a boat on the water", "food on a plate"):
                want = search_text(named, query, top_k=3)
                got = search_text(copy, query, top_k=3)
                assert [h.item_id for h in got.hits] == [h.item_id for h in want.hits]
                assert got.labelled_images == want.labelled_images == 3
        finally:
            target.store.close()
    finally:
        assert named.drop()
    assert not lite.store.exists(labels_of(named).name)
    assert named.media is not None and not list(_files(named.media))
    assert image.collection_names() == [] and labels_of(image).exists()


def _files(media: MediaStore | None) -> Iterator[tuple[str, bytes]]:
    assert media is not None
    for name, path in media.stored_files("image"):
        yield name, path.read_bytes()


def test_cli_says_to_stop_the_server_that_holds_a_lite_file(tmp_path: Path) -> None:
    db = tmp_path / "data" / "milvus.db"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom findalike.store import VectorStore\n"
            f"VectorStore({str(db)!r}).list_collections()\nprint('open', flush=True)\n"
            "time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        result = CliRunner().invoke(
            cli_app,
            ["export", "-o", str(tmp_path / "x.tar")],
            env={
                "FINDALIKE_DATA_DIR": str(tmp_path / "data"),
                "FINDALIKE_MILVUS_URI": "",
                "COLUMNS": "300",
            },
        )
        print(result.output)
        assert result.exit_code == 1
        assert "findalike serve" in result.output and "stop it first" in result.output
    finally:
        holder.kill()
        holder.wait()
