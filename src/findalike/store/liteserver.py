"""Milvus Lite as a local server that several processes share.

The embedded Milvus Lite (``<data_dir>/milvus.db``) is opened by one process only, so
``findalike serve --workers N`` cannot let each worker open it. Instead the serving
process starts Milvus Lite's own server on a free loopback port (it would bind every
interface unless told), hands the workers its ``http://127.0.0.1:<port>`` URI, and stops
it with the server. Milvus Lite 2.5 (the default): its C++ server (``milvus_lite/lib/
milvus``) over the file, holding the lock pymilvus's own start of Lite takes, so it ends
when the lock is let go. (Milvus Lite 3.2, the pure-Python engine before issue 25, is
not run any more: its folders are moved to a 2.5 file, ``findalike.store.lite3``.)
"""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
LOCK_WAIT_S = 15.0


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiteServer:
    """Milvus Lite 2.5's server over ``data_path`` on 127.0.0.1, owned by this object:
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

    def _command(self) -> tuple[list[str], dict[str, str] | None]:
        """The server's command line and environment: Lite 2.5's C++ server over the
        file, bound to loopback, with a lock file this object holds: the server ends when
        the lock is let go (``stop``, or this process gone, however it ended)."""
        import fcntl
        import os

        import milvus_lite

        from findalike.store.lite3 import move_to_lite25

        move_to_lite25(self.data_path)  # a Lite 3.2 folder here: moved to a 2.5 file first
        lib = Path(milvus_lite.__file__).parent / "lib"
        # the lock pymilvus's own start of Lite takes (milvus_lite.server): one process
        # per file, whichever starts it; waited for a while (one that had it may be exiting)
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
