"""Milvus Lite as a local server that several processes share.

The embedded Milvus Lite (``<data_dir>/milvus.db``) is opened by one process only, so
``findalike serve --workers N`` cannot let each worker open it. Instead the serving
process starts Milvus Lite's own server on a free loopback port (it would bind every
interface unless told), hands the workers its ``http://127.0.0.1:<port>`` URI, and stops
it with the server. Milvus Lite 2.5 (the default): its C++ server (``milvus_lite/lib/
milvus``) over the file, holding the lock pymilvus's own start of Lite takes, so it ends
when the lock is let go. Milvus Lite 3.2 (the pure-Python engine before issue 25):
``milvus-lite server`` over its folder.
"""

from __future__ import annotations

import functools
import logging
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
LOCK_WAIT_S = 15.0


def serialise_lite_collection_opening() -> None:
    """Make Milvus Lite open each collection once, however many requests ask at once.

    Milvus Lite (3.2) opens a collection on its first use in a process
    (``MilvusLite.get_collection``) without a lock. Concurrent first requests (16
    searches on a server just started) each build their own copy over the same folder,
    and every copy built replaces the one before it in Lite's cache, released. A search
    then finds the collection "not loaded", and pymilvus, having loaded one copy,
    polls another one's progress forever. Seen here: 10 copies of one collection from
    the first 16 text searches, and a server that stopped answering. This wraps the
    lookup in a lock (opening a 10k-row collection takes ~0.5 s, once; later lookups
    are a dict read). Idempotent; applied by every process that runs Milvus Lite.
    Milvus Lite 2.5 (the C++ core, in a process of its own) needs none of it."""
    if not lite_is_python():
        return
    from milvus_lite import db

    original = db.MilvusLite.get_collection
    if getattr(original, "_findalike_serialised", False):
        return
    lock = threading.RLock()

    @functools.wraps(original)
    def get_collection(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, *args, **kwargs)

    get_collection._findalike_serialised = True  # type: ignore[attr-defined]
    db.MilvusLite.get_collection = get_collection


@functools.cache
def lite_is_python() -> bool:
    """Whether the installed Milvus Lite is 3.x, the pure-Python engine (opened in this
    process, a folder of Parquet files), not 2.5, the Milvus C++ core (a server process
    of its own over one file, reached on a local socket)."""
    from importlib.metadata import version

    return int(version("milvus-lite").split(".")[0]) >= 3


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiteServer:
    """``milvus-lite server`` over ``data_path`` on 127.0.0.1, owned by this object:
    ``start()`` returns its URI once it accepts connections, ``stop()`` ends it."""

    def __init__(self, data_path: Path, *, port: int | None = None, log_path: Path | None = None):
        self.data_path = data_path
        self.port = port or free_port()
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock: IO[str] | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_for_folder(self) -> None:
        """Wait (up to ``LOCK_WAIT_S``) until no process holds Milvus Lite's lock on the
        folder: a process that had it open may still be exiting. ``RuntimeError`` if
        one still holds it then (another server on the same data)."""
        import fcntl

        if not self.data_path.is_dir():
            return
        deadline = time.monotonic() + LOCK_WAIT_S
        with open(self.data_path / "LOCK", "a") as lock:
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"another process has Milvus Lite's folder {self.data_path} "
                            "open (another findalike on the same data?)"
                        ) from None
                    time.sleep(0.1)
                else:
                    fcntl.flock(lock, fcntl.LOCK_UN)
                    return

    def _command(self) -> tuple[list[str], dict[str, str] | None]:
        """The server's command line and environment. Lite 3.2: its own command line
        with ``serialise_lite_collection_opening`` applied (this file run as a script:
        stdlib and milvus_lite only). Lite 2.5: its C++ server over the file, bound to
        loopback, with a lock file this object holds: the server ends when the lock is
        let go (``stop``, or this process gone, however it ended)."""
        if lite_is_python():
            command = [sys.executable, str(Path(__file__).resolve())]
            args = ["server", "--data-dir", str(self.data_path), "--host", "127.0.0.1"]
            return [*command, *args, "--port", str(self.port)], None
        import fcntl
        import os

        import milvus_lite

        from findalike.lite3 import move_to_lite25

        move_to_lite25(self.data_path)  # a Lite 3.2 folder here: moved to a 2.5 file first
        lib = Path(milvus_lite.__file__).parent / "lib"
        # the lock pymilvus's own start of Lite takes (milvus_lite.server): one process
        # per file, whichever starts it; waited for a while, as for a 3.2 folder
        lock_path = self.data_path.parent / f".{self.data_path.name}.lock"
        self._lock = open(lock_path, "a")  # noqa: SIM115 - held while the server runs
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.lockf(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() > deadline:
                    self._lock.close()
                    self._lock = None
                    raise RuntimeError(
                        f"another process has Milvus Lite's file {self.data_path} open "
                        "(another findalike on the same data?)"
                    ) from None
                time.sleep(0.1)
        env = {**os.environ, "LD_LIBRARY_PATH": f"{lib}:{os.environ.get('LD_LIBRARY_PATH', '')}"}
        address = f"127.0.0.1:{self.port}"
        return [str(lib / "milvus"), str(self.data_path), address, "ERROR", str(lock_path)], env

    def start(self) -> str:
        if lite_is_python():
            self._wait_for_folder()
        self.data_path.parent.mkdir(parents=True, exist_ok=True)
        command, env = self._command()
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._proc = subprocess.Popen(
                command, stdout=out, stderr=out, env=env, cwd=self.data_path.parent
            )
        finally:
            if self.log_path:
                out.close()  # type: ignore[union-attr]
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    where = f" (its log: {self.log_path})" if self.log_path else ""
                    raise RuntimeError(
                        f"milvus-lite server over {self.data_path} did not start{where}"
                    ) from None
                time.sleep(0.2)
        log.info("Milvus Lite server for %s on %s", self.data_path, self.uri)
        return self.uri

    def stop(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:  # Lite 2.5's server stops when its lock is let go
            lock.close()
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> LiteServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _stop_with_parent() -> None:
    """Stop Milvus Lite's server gracefully (drain requests, close the folder) on
    SIGTERM, and when the process that started it is gone, however it ended (killed, or
    a signal that skipped its clean-up): a server left behind would hold the folder."""
    import os
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # what milvus-lite's server stops gracefully on

    signal.signal(signal.SIGTERM, interrupt)
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        log.warning("the process that started Milvus Lite's server is gone: stopping")
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="findalike-parent-watch", daemon=True).start()


if __name__ == "__main__":  # ``python liteserver.py server ...`` (LiteServer.start)
    from milvus_lite.cmdline import main

    serialise_lite_collection_opening()
    _stop_with_parent()
    sys.exit(main())
