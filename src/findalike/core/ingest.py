"""The load pipeline every app shares: sources -> reader -> records -> encode in
batches -> upsert -> flush, with every item's fate reported to the job.

Runs in a job worker thread, pipelined in three steps: while one batch is written to
Milvus (a writer thread), the next is encoded (an encoder thread) and the one after it
is read and looked up (the job's thread), so the model never waits for the store or
the reader. Batches hold about ``batch_size`` model inputs (``AppSpec.weight``), so
progress moves every few seconds even when items are long documents.

A bad file, line or member is recorded and skipped; a batch that fails to encode is
retried item by item so that one bad item never takes its neighbours down. Items
already stored (same content hash) are counted as skipped and not encoded again.
"""

from __future__ import annotations

import contextvars
import dataclasses
import logging
import queue
import shutil
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

from findalike.core.app import AppRuntime, EncodedItem, ReadFailure, Record
from findalike.core.sources import SourceFile, SourceReader, expand
from findalike.errors import FindalikeError
from findalike.jobs import JobCancelled, JobContext, Work, checkpoint

log = logging.getLogger(__name__)

FLUSH_EVERY_ROWS = 20_000

T = TypeVar("T")


class _Stage(Generic[T]):
    """One step of the load pipeline on a thread of its own: ``run`` is called with
    each batch ``put`` to it, in order, behind a queue of one (the step before never
    runs more than a batch ahead). A failure stops the step: the next ``put`` (or
    ``close``, or ``check``) raises it in the thread that feeds it. A cancelled job
    stops the step before its next batch."""

    def __init__(self, name: str, run: Callable[[T], None]) -> None:
        self.name = name
        self.run = run
        self.error: BaseException | None = None
        self._abandoned = False
        self._queue: queue.Queue[T | None] = queue.Queue(maxsize=1)
        # in the feeder's context: ``checkpoint()`` deep in an item's work must see the job
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run, args=(self._loop,), name=name, daemon=True
        )
        self._thread.start()

    def put(self, batch: T) -> None:
        self.check()
        while True:  # a dead step must not leave its feeder blocked on a full queue
            try:
                self._queue.put(batch, timeout=0.5)
                return
            except queue.Full:
                self.check()

    def close(self) -> None:
        """Wait for every batch to be done; raises the step's failure, if any."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self.check()

    def abandon(self) -> None:
        """Stop after the batch in hand (the load failed or was cancelled)."""
        with self._queue.mutex:
            self._abandoned = True
            self._queue.queue.clear()
            self._queue.not_full.notify_all()
        self._queue.put(None)
        self._thread.join()
        if self.error is not None and not isinstance(self.error, JobCancelled):
            log.warning("%s stopped: %s", self.name, self.error)  # else lost with the load

    def check(self) -> None:
        """Raise the step's failure, if it has failed."""
        if self.error is not None:
            raise self.error

    def _loop(self) -> None:
        while (batch := self._queue.get()) is not None:
            if self.error is not None or self._abandoned:
                continue  # drain: nothing more is done after a failure
            try:
                checkpoint()  # a cancelled load encodes and writes nothing more
                self.run(batch)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the feeder's thread
                self.error = exc


class Loader:
    """One load: feeds records to the store in batches and reports progress."""

    def __init__(self, rt: AppRuntime, job: JobContext) -> None:
        self.rt = rt
        self.job = job
        self.batch: list[Record] = []
        self.batch_weight = 0
        self.seen: set[str] = set()
        self.rows_since_flush = 0
        self._items = 0  # items counted in the files read so far
        self._unread = 0  # files not read yet
        self.encoder: _Stage[list[Record]] | None = None
        self.reader = SourceReader(
            max_item_bytes=rt.settings.max_item_bytes,
            max_unzipped_bytes=rt.settings.max_unzipped_bytes,
        )

    def run(self, files: Sequence[tuple[str, Path]]) -> str | None:
        """Load ``files``; every zip is opened once and closed when the load ends."""
        try:
            with self.reader:
                return self._run(files)
        finally:  # a failed or cancelled load gives up what it did not write
            self.rt.claims.release(self)

    def _run(self, files: Sequence[tuple[str, Path]]) -> str | None:
        settings = self.rt.settings
        sources = list(
            expand(
                files,
                extensions=self.rt.spec.extensions,
                max_item_bytes=settings.max_item_bytes,
                max_zip_members=settings.max_zip_members,
            )
        )
        # total: what is known, never a guess. One item per file: the files' count.
        # Otherwise null until every file has been read (its items are known then).
        if self.rt.spec.one_item_per_file:
            self.job.set_total(len(sources))
        self.job.phase("loading model")
        self.rt.ensure_collection()
        self.job.phase("encoding")
        # three steps overlap: this thread reads and looks up the next batch while
        # the one before is encoded and the one before that is written
        writer: _Stage[list[EncodedItem]] = _Stage("load-writer", self._write)

        def encode(fresh: list[Record]) -> None:
            writer.check()  # a failed writer: nothing more is worth encoding
            encoded = self._encode(fresh)
            for item in encoded:  # the writer needs only the label: free the content
                item.record = dataclasses.replace(item.record, payload=None)
            writer.put(encoded)

        self.encoder = _Stage("load-encoder", encode)
        try:
            try:
                self._unread = len(sources)
                for source in sources:
                    self.job.check_cancelled()
                    if isinstance(source, ReadFailure):
                        self.job.fail_item(source.label, source.error)
                        self._counted(1)
                        continue
                    self._read(source)
                self._process(self.batch)
                self.encoder.close()
            except BaseException:
                self.encoder.abandon()  # first: it feeds the writer
                raise
            writer.close()
        except BaseException:
            writer.abandon()
            raise
        self.job.phase("flushing")
        self.rt.store.flush(self.rt.collection)
        return None

    def _counted(self, items: int) -> None:
        """One more file read, counting for ``items`` items (a file that yields none,
        or cannot be read, is one failed item): once the last file has been read, and
        before its items are encoded, the load's total is known."""
        self._items += items
        self._unread -= 1
        if self._unread == 0 and not self.rt.spec.one_item_per_file:
            self.job.set_total(self._items)

    def _read(self, source: SourceFile) -> None:
        try:
            data = self.reader.read(source)
            found = list(self.rt.spec.read(source.name, data, self.rt))
        except FindalikeError as exc:
            self.job.fail_item(source.name, exc.detail)
            self._counted(1)
            return
        except Exception as exc:  # a broken file must never end the job
            log.info("could not read %s: %s", source.name, exc)
            self.job.fail_item(source.name, f"could not be read: {exc}")
            self._counted(1)
            return
        self._counted(max(1, len(found)))
        if not found:
            self.job.fail_item(source.name, "no items found in this file")
            return
        for item in found:
            if isinstance(item, ReadFailure):
                self.job.fail_item(item.label, item.error)
                continue
            if item.item_id in self.seen:
                self.job.advance(skipped=1)
                continue
            self.seen.add(item.item_id)
            self.batch.append(item)
            weigh = self.rt.spec.weight
            self.batch_weight += 1 if weigh is None else max(1, weigh(self.rt, item))
            if self.batch_weight >= self.rt.batch_size:
                self._process(self.batch)
                self.batch, self.batch_weight = [], 0

    def _process(self, batch: Sequence[Record]) -> None:
        """Hand the batch's items not stored yet to the encoder. An item another load
        of this process is writing is waited for, then looked up again: it is
        skipped once written, and loaded here if that load gave it up."""
        pending = list(batch)
        while pending:
            self.job.check_cancelled()
            busy = self.rt.claims.claim(self, (r.item_id for r in pending))
            mine = [r for r in pending if r.item_id not in busy]
            # looked up after the claim: a load that wrote one before it is seen here
            existing = self.rt.existing_items([r.item_id for r in mine])
            if existing:
                self.rt.claims.release(self, existing)
                self.job.advance(skipped=len(existing))
            fresh = [r for r in mine if r.item_id not in existing]
            if fresh:
                assert self.encoder is not None
                self.encoder.put(fresh)
            pending = [r for r in pending if r.item_id in busy]
            for event in {id(e): e for e in busy.values()}.values():
                while not event.wait(0.5):
                    self.job.check_cancelled()

    def _write(self, encoded: list[EncodedItem]) -> None:
        rows = [row for e in encoded if e.error is None for row in e.rows]
        if rows:
            self.rt.store.upsert(
                self.rt.collection, rows, batch_rows=self.rt.settings.insert_batch_rows
            )
            self.rows_since_flush += len(rows)
        for e in encoded:
            if e.error is not None:
                self.job.fail_item(e.record.label, e.error)
        self.job.advance(done=sum(1 for e in encoded if e.error is None))
        self.rt.claims.release(self, (e.record.item_id for e in encoded))
        if self.rows_since_flush >= FLUSH_EVERY_ROWS:
            self.rt.store.flush(self.rt.collection)
            self.rows_since_flush = 0

    def _encode(self, records: Sequence[Record]) -> list[EncodedItem]:
        try:
            return self.rt.spec.to_rows(self.rt, records)
        except Exception as exc:
            if len(records) == 1:
                detail = exc.detail if isinstance(exc, FindalikeError) else str(exc)
                return [EncodedItem(record=records[0], error=f"could not be encoded: {detail}")]
            # isolate the bad item(s): one failure must not fail its neighbours
            return [item for r in records for item in self._encode([r])]


def load_files(
    rt: AppRuntime, files: Sequence[tuple[str, Path]], *, cleanup: Path | None = None
) -> Work:
    """A job work function loading ``files`` into ``rt``; ``cleanup`` (an upload
    spool folder) is removed when the job ends, whatever its outcome."""

    def work(job: JobContext) -> str | None:
        try:
            return Loader(rt, job).run(files)
        finally:
            if cleanup is not None:
                shutil.rmtree(cleanup, ignore_errors=True)

    return work
