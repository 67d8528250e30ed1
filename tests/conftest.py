"""Shared fixtures: real Milvus (Lite file and a real standalone server), the real
text model loaded once per session, and the real HTTP app."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Starlette's TestClient sends `Host: testserver`; the real default is loopback names only
os.environ.setdefault("FINDALIKE_TRUSTED_HOSTS", '["localhost", "127.0.0.1", "::1", "testserver"]')

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "tests" / "artifacts"


@pytest.fixture(scope="session")
def milvus_server_uri() -> Iterator[str]:
    """A real Milvus 2.3 standalone server (PyPI package ``milvus``) on loopback."""
    from milvus import MilvusServer

    base = Path(tempfile.mkdtemp(prefix="findalike-milvus-"))
    server = MilvusServer()
    server.set_base_dir(str(base))
    server.start()
    try:
        yield f"http://127.0.0.1:{server.listen_port}"
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def lite_server_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Milvus Lite's own gRPC server (``LiteServer``) on a loopback port: a
    BM25-capable Milvus reached by URI (the 2.3 server above has no BM25)."""
    from findalike.store.liteserver import LiteServer

    with LiteServer(tmp_path_factory.mktemp("lite-server") / "milvus.db") as server:
        yield server.uri


@pytest.fixture
def hung_milvus_uri() -> Iterator[str]:
    """A port that accepts TCP connections and never answers: a hung Milvus."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


@pytest.fixture(params=["lite", "server"])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same contract on Milvus Lite (a file) and on a Milvus server."""
    if request.param == "lite":
        return str(tmp_path / "milvus.db")
    uri: str = request.getfixturevalue("milvus_server_uri")
    return uri


@pytest.fixture(scope="session")
def minilm_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the suite's text model export (and its record) is made, once."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def minilm(minilm_models_dir: Path) -> Any:
    """The real text model, loaded once for the whole session, as findalike runs it by
    default: on ONNX Runtime, its export made here by a child process."""
    from findalike.encoders.sentence import MiniLMEncoder

    return MiniLMEncoder(onnx_dir=minilm_models_dir)


@pytest.fixture(scope="session")
def torch_minilm() -> Any:
    """The same model on PyTorch through sentence-transformers: what the ONNX export is
    held to."""
    from findalike.encoders.sentence import MiniLMEncoder

    return MiniLMEncoder()


@pytest.fixture(scope="session")
def shared_encoders(minilm: Any) -> dict[str, Any]:
    return {"minilm": minilm}


def wait_job(client: Any, job_id: str, timeout_s: float = 300.0) -> dict[str, Any]:
    """Poll a job over HTTP until it ends."""
    deadline = time.monotonic() + timeout_s
    while True:
        job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] not in ("queued", "running") or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Strict by default: a skipped test fails the run (``make test`` installs every
    dependency, so a skip means something is missing, and a silently skipped file
    tests nothing). ``FINDALIKE_TESTS_STRICT=0`` lets skips pass, for a partial
    install."""
    if os.environ.get("FINDALIKE_TESTS_STRICT", "1") == "0":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and session.exitstatus == 0:
        print(
            f"\n{len(skipped)} test(s) skipped; failing the run (strict by default: "
            "FINDALIKE_TESTS_STRICT=0 lets skips pass)."
        )
        session.exitstatus = 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port (in a thread); yields its URL."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn-e2e", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the findalike server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def count_connection_attempts(store: Any) -> list[int]:
    """A list that holds one entry per connection attempt ``store`` makes from now on
    (its own ``_open_client``, called through)."""
    attempts: list[int] = []
    real = store._open_client

    def counted() -> Any:
        attempts.append(1)
        return real()

    store._open_client = counted  # type: ignore[method-assign]
    return attempts
