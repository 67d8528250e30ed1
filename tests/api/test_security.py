"""Exposure: the Host check (DNS rebinding), the Origin check (cross-site posts), API
keys with read/write scopes, per-route body limits, and `serve` refusing to listen
beyond loopback without keys. The real app with the DNA app (no model to load) on a
Milvus Lite file."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from findalike.api.limits import BODY_LIMIT_KEY
from findalike.api.main import create_app
from findalike.api.security import ApiKeys, KeyFormatError, is_loopback
from findalike.cli import app as cli_app
from findalike.config import Settings
from tests.conftest import wait_job

READ_KEY = "read-key-0123456789abcdef"
WRITE_KEY = "write-key-0123456789abcdef"
FASTA = b">s1 class=A\nACGTACGTACGTAAAACCCGGGTTT\n>s2 class=B\nTTTTGGGGCCCCAAAATTTTGGGG\n"
CLASSIFY = {"sequence": "ACGTACGTACGTAAAACCCGGG"}


def _settings(tmp_path: Path, **extra: Any) -> Settings:
    return Settings(data_dir=tmp_path, apps=["dna"], **extra)


@pytest.fixture
def open_client(tmp_path: Path) -> Iterator[TestClient]:
    """No keys (the loopback default), loopback names plus the test client's host."""
    with TestClient(create_app(_settings(tmp_path))) as c:
        yield c


@pytest.fixture
def keyed_client(tmp_path: Path) -> Iterator[TestClient]:
    keys = f"read:{READ_KEY},write:{WRITE_KEY}"
    with TestClient(create_app(_settings(tmp_path, api_keys=keys))) as c:
        yield c


def _load(client: TestClient, **kwargs: Any) -> Any:
    return client.post("/api/dna/load", files=[("files", ("s.fa", FASTA))], **kwargs)


# -- Host (DNS rebinding) ---------------------------------------------------------------


def test_a_foreign_host_header_is_refused_before_anything_happens(open_client: TestClient) -> None:
    r = open_client.delete("/api/dna", headers={"Host": "attacker.example"})
    assert r.status_code == 400
    assert r.json()["title"] and "Host" in r.json()["detail"]
    r = open_client.get("/api/apps", headers={"Host": "attacker.example:8000"})
    assert r.status_code == 400


def test_loopback_host_names_are_answered(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, apps=["dna"], trusted_hosts=["localhost", "127.0.0.1", "::1"]
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000") as c:
        assert c.get("/api/apps").status_code == 200
        assert c.get("/api/apps", headers={"Host": "localhost:8000"}).status_code == 200
        assert c.get("/api/apps", headers={"Host": "[::1]:8000"}).status_code == 200
        assert c.get("/api/apps", headers={"Host": "testserver"}).status_code == 400


# -- Origin (cross-site requests) --------------------------------------------------------


def test_the_same_host_under_another_scheme_is_another_origin(open_client: TestClient) -> None:
    """``https://testserver`` is not the origin of an ``http`` server on that host."""
    r = _load(open_client, headers={"Origin": "https://testserver"})
    assert r.status_code == 403 and "Origin" in r.json()["detail"]
    r = _load(open_client, headers={"Origin": "http://testserver"})
    assert r.status_code == 202, r.text


def test_health_names_the_milvus_uri_only_to_a_write_key(
    keyed_client: TestClient, open_client: TestClient
) -> None:
    """On Milvus Lite the URI is a path on the server: not for anyone who asks."""
    assert keyed_client.get("/api/health").json()["milvus"]["uri"] is None
    read = keyed_client.get("/api/health", headers={"X-API-Key": READ_KEY}).json()
    assert read["milvus"]["uri"] is None and read["milvus"]["ok"]
    written = keyed_client.get("/api/health", headers={"X-API-Key": WRITE_KEY}).json()
    assert written["milvus"]["uri"].endswith("milvus.db")
    # no keys configured (loopback only): every caller may write, and sees it
    assert open_client.get("/api/health").json()["milvus"]["uri"].endswith("milvus.db")


def test_a_cross_site_load_is_refused_and_queues_nothing(open_client: TestClient) -> None:
    r = _load(open_client, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    assert "Origin" in r.json()["detail"]
    r = _load(open_client, headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403
    assert open_client.get("/api/jobs").json() == {"data": [], "count": 0}


def test_a_cross_site_drop_leaves_the_data(open_client: TestClient) -> None:
    assert wait_job(open_client, _load(open_client).json()["id"])["state"] == "done"
    r = open_client.delete("/api/dna", headers={"Origin": "http://attacker.example"})
    assert r.status_code == 403
    assert open_client.get("/api/dna/count").json()["items"] == 2


def test_same_origin_and_non_browser_requests_pass(open_client: TestClient) -> None:
    assert _load(open_client, headers={"Origin": "http://testserver"}).status_code == 202
    assert _load(open_client).status_code == 202  # curl sends no Origin
    # a cross-site GET is harmless (the browser keeps the answer from the page)
    r = open_client.get("/api/apps", headers={"Origin": "https://evil.example"})
    assert r.status_code == 200


def test_allowed_origins_are_configurable(tmp_path: Path) -> None:
    settings = _settings(tmp_path, allowed_origins=["https://tools.example"])
    with TestClient(create_app(settings)) as c:
        assert _load(c, headers={"Origin": "https://tools.example"}).status_code == 202
        assert _load(c, headers={"Origin": "https://other.example"}).status_code == 403


# -- API keys ------------------------------------------------------------------------------


def test_without_a_key_data_routes_are_401_and_public_ones_answer(
    keyed_client: TestClient,
) -> None:
    r = keyed_client.get("/api/apps")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["status"] == 401
    assert keyed_client.post("/api/dna/classify", json=CLASSIFY).status_code == 401
    assert keyed_client.get("/api/health").status_code in (200, 503)
    assert keyed_client.get("/").status_code == 200  # the UI, where the key is typed
    assert keyed_client.get("/openapi.json").status_code == 200
    bad = {"Authorization": "Bearer not-a-key-not-a-key"}
    assert keyed_client.get("/api/apps", headers=bad).status_code == 401


def test_a_read_key_searches_but_cannot_change_anything(keyed_client: TestClient) -> None:
    write = {"X-API-Key": WRITE_KEY}
    read = {"Authorization": f"Bearer {READ_KEY}"}
    job = _load(keyed_client, headers=write).json()
    assert wait_job(_Authed(keyed_client, write), job["id"])["state"] == "done"
    assert keyed_client.get("/api/apps", headers=read).status_code == 200
    r = keyed_client.post("/api/dna/classify", json=CLASSIFY, headers=read)
    assert r.status_code == 200, r.text
    assert _load(keyed_client, headers=read).status_code == 403
    r = keyed_client.delete("/api/dna", headers=read)
    assert r.status_code == 403
    assert "write" in r.json()["detail"]
    assert keyed_client.get("/api/dna/count", headers=read).json()["items"] == 2
    assert keyed_client.delete("/api/dna", headers=write).json()["dropped"] is True


def test_the_allowed_roots_are_named_only_to_a_write_key(tmp_path: Path) -> None:
    """A load from a server folder outside the allowed roots names the roots (so a
    user can fix the path): only to a caller who may load, never to a read key."""
    root = tmp_path / "incoming"
    root.mkdir()
    keys = f"read:{READ_KEY},write:{WRITE_KEY}"
    settings = _settings(tmp_path, api_keys=keys, allowed_roots=[root])
    outside = {"path": "/etc"}
    with TestClient(create_app(settings)) as client:
        for headers in ({}, {"X-API-Key": READ_KEY}):
            r = client.post("/api/dna/load", data=outside, headers=headers)
            assert r.status_code in (401, 403), r.text
            assert str(root) not in r.text and "roots" not in r.text
        r = client.post("/api/dna/load", data=outside, headers={"X-API-Key": WRITE_KEY})
        assert r.status_code == 403 and str(root) in r.json()["detail"], r.text


def test_an_evaluation_needs_a_write_key(keyed_client: TestClient) -> None:
    """An evaluation trains or re-encodes per request: not for a read key."""
    r = keyed_client.post("/api/dna/evaluate", json={}, headers={"X-API-Key": READ_KEY})
    assert r.status_code == 403 and "write key" in r.json()["detail"]
    r = keyed_client.post("/api/dna/evaluate", json={}, headers={"X-API-Key": WRITE_KEY})
    assert r.status_code not in (401, 403), r.text
    r = keyed_client.post("/api/dna/classify", json=CLASSIFY, headers={"X-API-Key": READ_KEY})
    assert r.status_code not in (401, 403), r.text


def test_the_ui_cookie_carries_the_key(keyed_client: TestClient) -> None:
    keyed_client.cookies.set("findalike_key", READ_KEY)
    try:
        assert keyed_client.get("/api/apps").status_code == 200
    finally:
        keyed_client.cookies.clear()


def test_keys_never_reach_the_logs(
    keyed_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        keyed_client.get("/api/apps", headers={"X-API-Key": READ_KEY})
        keyed_client.get("/api/apps", headers={"X-API-Key": READ_KEY[:-1] + "X"})
    assert READ_KEY not in caplog.text and READ_KEY[:-1] not in caplog.text


def test_key_setting_format() -> None:
    keys = ApiKeys.parse(f" read:{READ_KEY} , write:{WRITE_KEY}")
    assert keys.scope_of(READ_KEY) == "read" and keys.scope_of(WRITE_KEY) == "write"
    assert keys.scope_of(READ_KEY + "x") is None
    assert not ApiKeys.parse("").enabled
    with pytest.raises(KeyFormatError, match="entry #1") as info:
        ApiKeys.parse("admin:0123456789abcdef0")
    assert "0123456789abcdef0" not in str(info.value)
    with pytest.raises(KeyFormatError, match="16 characters"):
        ApiKeys.parse("read:short")


def test_serve_refuses_a_public_address_without_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINDALIKE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FINDALIKE_API_KEYS", raising=False)
    result = CliRunner().invoke(cli_app, ["serve", "--host", "0.0.0.0", "--port", "1"])
    assert result.exit_code == 1
    assert "FINDALIKE_API_KEYS" in result.output
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.7")


# -- body limits ---------------------------------------------------------------------------


def test_each_route_states_its_body_limit(open_client: TestClient) -> None:
    settings: Settings = open_client.app.state.settings  # type: ignore[attr-defined]
    paths = open_client.get("/openapi.json").json()["paths"]
    assert paths["/api/dna/load"]["post"][BODY_LIMIT_KEY] == settings.max_upload_bytes
    assert paths["/api/jobs/{job_id}/cancel"]["post"][BODY_LIMIT_KEY] == settings.max_json_bytes
    # a JSON body with a long field may be as long as that field allows, and no longer
    classify = paths["/api/dna/classify"]["post"]
    ref = classify["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    model = open_client.get("/openapi.json").json()["components"]["schemas"][ref.split("/")[-1]]
    longest = model["properties"]["sequence"]["maxLength"]
    assert longest < classify[BODY_LIMIT_KEY] <= longest + 64 * 1024


def test_an_oversized_json_body_is_413_and_never_read(open_client: TestClient) -> None:
    big = b'{"sequence": "' + b"A" * (2 * 1024**2) + b'"}'
    r = open_client.post(
        "/api/dna/classify", content=big, headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    assert r.json()["status"] == 413

    received: list[Any] = []

    async def receive() -> dict[str, Any]:
        received.append(1)
        return {"type": "http.request", "body": b"", "more_body": True}

    sent = _asgi_post(open_client.app, receive, 150 * 1024**2)
    assert sent[0]["status"] == 413
    assert not received  # refused on the declared length: not one byte read


def test_an_oversized_chunked_body_is_413_not_400(open_client: TestClient) -> None:
    """No Content-Length: counted as it streams; FastAPI turns any error while reading
    a JSON body into a 400, which must not hide the 413."""

    def chunks() -> Iterator[bytes]:
        yield b'{"sequence": "'
        for _ in range(40):
            yield b"A" * 64 * 1024
        yield b'"}'

    r = open_client.post(
        "/api/dna/classify", content=chunks(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413, r.text
    assert "limit" in r.json()["detail"]
    assert r.headers["connection"] == "close"


def _asgi_post(app: Any, receive: Any, body_bytes: int) -> list[dict[str, Any]]:
    """Run one POST through the ASGI app with a hand-made ``receive``; the messages sent."""
    import anyio

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/dna/classify",
        "raw_path": b"",
        "root_path": "",
        "scheme": "http",
        "query_string": b"",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1),
        "http_version": "1.1",
        "asgi": {"version": "3.0"},
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(body_bytes).encode()),
        ],
    }
    anyio.run(app, scope, receive, send)
    return sent


def test_a_trickled_body_is_cut_off_with_408(tmp_path: Path) -> None:
    """A client sending a byte at a time (slowloris) is answered 408 once the body's
    time is up (here 0.3 s plus 1 s per 1,000 bytes), and the app never sees it."""
    import anyio

    settings = _settings(tmp_path, body_timeout_s=0.3, body_min_rate_bytes=1000)
    with TestClient(create_app(settings)) as c:
        chunks_sent: list[int] = []

        async def trickle() -> dict[str, Any]:
            if chunks_sent:
                await anyio.sleep(0.1)
            chunks_sent.append(1)
            more = len(chunks_sent) < 40  # bounded: ends (as bad JSON) if never cut off
            return {"type": "http.request", "body": b"A", "more_body": more}

        sent = _asgi_post(c.app, trickle, 40)
        assert sent[0]["status"] == 408
        body = b"".join(m.get("body", b"") for m in sent[1:])
        assert b"too slowly" in body and b"FINDALIKE_BODY_TIMEOUT_S" in body
        assert 2 <= len(chunks_sent) <= 10  # cut off after ~0.3 s, not read to the end

        # the same bytes at once are answered by the app itself
        parts = [b'{"sequence": "ACGTACGTACGTAAAACCCGGG"}']

        async def whole() -> dict[str, Any]:
            return {"type": "http.request", "body": parts.pop(), "more_body": False}

        assert _asgi_post(c.app, whole, 36)[0]["status"] == 200


def test_a_load_may_be_large(open_client: TestClient) -> None:
    fasta = FASTA + b">s3 class=C\n" + b"ACGT" * (600 * 1024) + b"\n"  # 2.4 MB > JSON limit
    r = open_client.post("/api/dna/load", files=[("files", ("big.fa", fasta))])
    assert r.status_code == 202


class _Authed:
    """A TestClient that sends one header with every GET (for ``wait_job``)."""

    def __init__(self, client: TestClient, headers: dict[str, str]) -> None:
        self._client = client
        self._headers = headers

    def get(self, url: str) -> Any:
        return self._client.get(url, headers=self._headers)
