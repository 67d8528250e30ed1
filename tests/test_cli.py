"""The command line against a real server process: serve, load with progress,
search, ask, apps, jobs; and a server killed mid-load comes back with the job
marked interrupted, and loading again completes it without duplicates."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from typer.testing import CliRunner

from findalike.cli import app as cli
from tests.api.test_resilience import sotu_sentences

runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = env or {}

    def start(self) -> None:
        env = {
            **os.environ,
            "FINDALIKE_DATA_DIR": str(self.data_dir),
            "FINDALIKE_APPS": '["text", "qa"]',
            **self.env,
        }
        log = (self.data_dir / "server.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "findalike.cli", "serve", "--port", str(self.port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/api/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.proc.poll() is None, (self.data_dir / "server.log").read_text()
            time.sleep(0.3)
        raise AssertionError("server did not start")

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown handler runs (a crash)."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path)
    s.start()
    yield s
    s.stop()


def _cli(server: Server, *args: str) -> str:
    result = runner.invoke(cli, list(args), env={"FINDALIKE_SERVER": server.url})
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_load_search_ask_and_jobs(server: Server, tmp_path: Path) -> None:
    fresh = _cli(server, "apps")  # nothing stored yet: each app's encoder, no dimensions
    assert "all-MiniLM-L6-v2" in fresh and "None" not in fresh, fresh
    docs = tmp_path / "docs.csv"
    docs.write_text(
        "title,text,kind\nBread,Knead the dough and let it rise before baking.,food\n"
        "Rockets,The booster separated two minutes after launch.,space\n"
    )
    qa = tmp_path / "qa.csv"
    qa.write_text("question,answer\nHow do I reset my password?,Use the 'forgot password' link.\n")
    out = _cli(server, "load", "text", str(docs))
    assert "request received" in out and "done" in out and "2 stored" in out
    _cli(server, "load", "qa", str(qa))
    out = _cli(server, "search", "text", "space flight", "-k", "1", "--output", "json")
    assert json.loads(out)["hits"][0]["title"] == "Rockets"
    table = _cli(server, "search", "text", "space flight", "-k", "2")  # for people: a table
    lines = [line for line in table.splitlines() if "Rockets" in line or "Bread" in line]
    assert len(lines) == 2 and "Rockets" in lines[0] and "booster separated" in lines[0], table
    assert "mode auto" in table and "{" not in table
    out = _cli(server, "ask", "I forgot my password, what now?")
    assert "forgot password" in out
    # a named QA collection: ask -c reads it (the app's own holds another pair)
    other = tmp_path / "other.csv"
    other.write_text("question,answer\nWhere is the office?,On the third floor.\n")
    _cli(server, "collections", "qa", "--create", "office")
    _cli(server, "load", "qa", str(other), "-c", "office")
    assert "third floor" in _cli(server, "ask", "where do I find the office", "-c", "office")
    assert "third floor" not in _cli(server, "ask", "where do I find the office")
    listed = _cli(server, "collections", "qa")  # with the language of its full-text index
    assert "language" in listed and any(
        "office" in line and line.rstrip(" │").endswith("en") for line in listed.splitlines()
    ), listed
    named = json.loads(_cli(server, "collections", "qa", "-o", "json"))["data"]
    assert [(c["name"], c["language"]) for c in named] == [("office", "en")]
    assert {a["name"] for a in json.loads(_cli(server, "apps", "-o", "json"))["data"]} >= {"text"}
    assert json.loads(_cli(server, "jobs", "-o", "json"))["data"][0]["state"] == "done"
    # --server before the command, and it wins over FINDALIKE_SERVER
    before = runner.invoke(
        cli, ["--server", server.url, "apps"], env={"FINDALIKE_SERVER": "http://127.0.0.1:9"}
    )
    assert before.exit_code == 0 and "all-MiniLM-L6-v2" in before.output, before.output
    wrong = runner.invoke(cli, ["apps"], env={"FINDALIKE_SERVER": "http://127.0.0.1:9"})
    assert wrong.exit_code == 1 and "http://127.0.0.1:9" in wrong.output
    # text evaluate from the command line (labelled queries in a file)
    hit = json.loads(_cli(server, "search", "text", "space flight", "-o", "json"))["hits"][0]
    queries = tmp_path / "queries.json"
    queries.write_text(
        json.dumps({"queries": [{"query": "rocket launch", "relevant": [hit["item_id"]]}]})
    )
    figures = json.loads(_cli(server, "evaluate", "text", "--file", str(queries)))
    assert figures["modes"]["auto"]["top1"] == 1.0
    out = _cli(server, "apps")
    assert "text" in out and "all-MiniLM-L6-v2" in out
    assert "None" not in out  # an app with no collection of its own yet: its encoder only
    assert "done" in _cli(server, "jobs")
    bad = runner.invoke(
        cli, ["load", "text", str(tmp_path / "missing.csv")], env={"FINDALIKE_SERVER": server.url}
    )
    assert bad.exit_code == 1 and "no such file" in bad.output


def test_a_killed_server_marks_the_job_interrupted_and_a_reload_completes(
    server: Server, tmp_path: Path
) -> None:
    big = tmp_path / "big.jsonl"
    texts = sotu_sentences(1500)
    big.write_text(
        "\n".join(json.dumps({"title": f"s{i}", "text": t}) for i, t in enumerate(texts))
    )
    out = _cli(server, "load", "text", str(big), "--no-wait")
    job_id = out.split("job")[-1].strip()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = httpx.get(f"{server.url}/api/jobs/{job_id}").json()
        if job["done"] > 0:
            break
        time.sleep(0.2)
    assert job["state"] == "running" and 0 < job["done"] < 1500
    server.kill()
    server.start()
    job = httpx.get(f"{server.url}/api/jobs/{job_id}").json()
    assert job["state"] == "interrupted", job
    out = _cli(server, "load", "text", str(big))
    assert "done" in out
    count = httpx.get(f"{server.url}/api/text/count").json()
    assert count["items"] == 1500, count  # nothing lost, nothing duplicated


def test_serve_refuses_a_bad_app_setting_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad app setting stops ``serve`` with the setting named, instead of a 500 at the
    first request that builds the app's settings."""
    monkeypatch.setenv("FINDALIKE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FINDALIKE_APPS", '["dna"]')
    monkeypatch.setenv("FINDALIKE_DNA_ENCODER", "onehot")  # needs a sequence length
    monkeypatch.delenv("FINDALIKE_DNA_SEQUENCE_LENGTH", raising=False)
    result = runner.invoke(cli, ["serve", "--port", "1"])
    assert result.exit_code == 1
    assert "invalid setting" in result.output and "SEQUENCE_LENGTH" in result.output


def _lite_process(server: Server) -> psutil.Process:
    assert server.proc is not None
    health = httpx.get(f"{server.url}/api/health").json()
    assert health["milvus"]["uri"].startswith("http://127.0.0.1:"), health
    (lite,) = [  # Lite 3.2: liteserver.py run by python; Lite 2.5: its C++ ``milvus``
        p
        for p in psutil.Process(server.proc.pid).children()
        if any(a.endswith("liteserver.py") for a in p.cmdline())
        or Path(p.cmdline()[0]).name == "milvus"
    ]
    return lite


def test_serve_with_lite_in_its_own_process_stops_it_however_it_ends(tmp_path: Path) -> None:
    """``FINDALIKE_LITE_PROCESS=true``: Milvus Lite runs as a server process of its own.
    It stops with ``serve`` on SIGTERM (uvicorn raises the signal again once shut down,
    which would skip the clean-up), and by itself when ``serve`` is killed outright;
    either way the folder is free for the next server at once."""
    own = Server(tmp_path, {"FINDALIKE_LITE_PROCESS": "true"})
    own.start()
    lite = _lite_process(own)
    r = httpx.post(f"{own.url}/api/text/search", json={"query": "taxes", "top_k": 3}, timeout=60)
    assert r.status_code == 200 and r.json()["hits"] == []
    assert own.proc is not None
    own.proc.send_signal(signal.SIGTERM)  # serve alone, not its process group
    own.proc.wait(60)
    _, alive = psutil.wait_procs([lite], timeout=30)
    assert not alive, "Milvus Lite outlived serve"

    embedded = Server(tmp_path)  # Lite inside the server: needs the folder's lock
    embedded.start()
    assert httpx.get(f"{embedded.url}/api/health").json()["milvus"]["uri"].endswith("milvus.db")
    embedded.stop()

    own.start()
    lite = _lite_process(own)
    own.proc.kill()  # no clean-up runs in serve
    own.proc.wait(30)
    _, alive = psutil.wait_procs([lite], timeout=30)
    assert not alive, "Milvus Lite outlived a killed serve"


def test_serve_caps_open_connections_with_a_503(tmp_path: Path) -> None:
    """FINDALIKE_MAX_CONNECTIONS reaches uvicorn: connections that only trickle their
    headers fill the cap, the next request is refused at once, and closing them
    frees it."""
    server = Server(tmp_path, {"FINDALIKE_APPS": '["dna"]', "FINDALIKE_MAX_CONNECTIONS": "3"})
    server.start()
    idle: list[socket.socket] = []
    try:
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # no end
            idle.append(sock)
        time.sleep(0.5)  # the server has accepted them
        r = httpx.get(f"{server.url}/api/health", timeout=10)
        assert r.status_code == 503, r.text
        for sock in idle:
            sock.close()
        deadline = time.monotonic() + 10
        while (code := httpx.get(f"{server.url}/api/health", timeout=10).status_code) != 200:
            assert time.monotonic() < deadline, code
            time.sleep(0.2)
    finally:
        for sock in idle:
            sock.close()
        server.stop()


def test_global_options_after_the_command_move_before_it() -> None:
    from findalike.cli import hoist_global_options

    given = ["search", "text", "q", "--api-key", "K", "-k", "3", "--api-key=L", "--", "--api-key"]
    assert hoist_global_options(given) == [
        "--api-key",
        "K",
        "--api-key=L",
        "search",
        "text",
        "q",
        "-k",
        "3",
        "--",
        "--api-key",
    ]


def test_keys_never_reach_the_servers_log_access_lines_included(tmp_path: Path) -> None:
    """The real ``serve`` log (uvicorn's access log through findalike's log
    configuration): a key sent in a header, in the cookie or (refused) in the URL is
    not written, while the request itself is."""
    read_key, write_key = "read-key-0123456789abcdef", "write-key-0123456789abcdef"
    server = Server(
        tmp_path,
        {"FINDALIKE_APPS": '["dna"]', "FINDALIKE_API_KEYS": f"read:{read_key},write:{write_key}"},
    )
    server.start()
    try:
        assert httpx.get(f"{server.url}/api/apps", headers={"X-API-Key": read_key}).is_success
        url_key = httpx.get(f"{server.url}/api/apps?api_key={write_key}&top_k=3")
        assert url_key.status_code == 401  # a key in a URL is not a key
        httpx.get(f"{server.url}/api/dna/count", cookies={"findalike_key": read_key})
        # the CLI takes the key before or after the command (a real process: main())
        findalike = str(Path(sys.executable).parent / "findalike")
        env = {k: v for k, v in os.environ.items() if k != "FINDALIKE_API_KEY"}
        for args in (["--api-key", read_key, "apps"], ["apps", f"--api-key={read_key}"]):
            done = subprocess.run(
                [findalike, *args, "-s", server.url], env=env, capture_output=True, text=True
            )
            assert done.returncode == 0 and "dna" in done.stdout, done.stderr
        refused = subprocess.run(
            [findalike, "apps", "-s", server.url], env=env, capture_output=True, text=True
        )
        assert refused.returncode == 1 and "401" in refused.stderr, refused.stderr
    finally:
        server.stop()
    log = (tmp_path / "server.log").read_text()
    assert 'GET /api/apps?api_key=***&top_k=3 HTTP/1.1" 401' in log, log[-2000:]
    assert read_key not in log and write_key not in log
