"""Operable (issue 12, item 5): ``GET /metrics`` in Prometheus' text format, counting
what really happened (requests by route template, batched model calls and searches,
jobs by state, store errors), behind a read key when keys are set; and a request id
in every response and in the server's log lines."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from findalike.api.main import create_app
from findalike.config import Settings
from tests.conftest import REPO, _free_port, wait_job

PHOTOS = sorted((REPO / "datasets" / "images" / "photos").glob("*.jpg"))


def _samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("metrics"), apps=["image", "dna"])
    with TestClient(create_app(settings)) as c:
        files = [("files", (p.name, p.read_bytes())) for p in PHOTOS[:4]]
        job = wait_job(c, c.post("/api/image/load", files=files).json()["id"])
        assert job["state"] == "done"
        yield c


def test_requests_are_counted_by_route_template_and_status(client: TestClient) -> None:
    before = _samples(client)
    query = {"image_base64": base64.b64encode(PHOTOS[5].read_bytes()).decode(), "top_k": 2}
    for _ in range(3):
        assert client.post("/api/image/search", json=query).status_code == 200
    assert client.get("/api/image/items/0123456789abcdef0123456789abcdef").status_code == 404
    assert client.post("/api/image/search", json={"top_k": 0}).status_code == 422
    after = _samples(client)

    def count(route: str, status: str) -> float:
        key = (
            "findalike_request_seconds_count",
            (
                ("method", "POST" if "search" in route else "GET"),
                ("route", route),
                ("status", status),
            ),
        )
        return after.get(key, 0) - before.get(key, 0)

    assert count("/api/image/search", "2xx") == 3
    assert count("/api/image/search", "4xx") == 1
    assert count("/api/image/items/{item_id}", "4xx") == 1  # the template, not the id
    # the searches went through the model thread and the search batcher
    encoder = [k for k in after if k[0] == "findalike_encoder_batch_callers_count"]
    assert encoder and after[encoder[0]] >= 3
    searched = ("findalike_search_batch_callers_count", (("app", "image"),))
    assert after[searched] - before.get(searched, 0) == 3
    assert after[("findalike_jobs_finished_total", (("state", "done"),))] == 1
    assert after[("findalike_jobs", (("state", "running"),))] == 0


def test_store_errors_are_counted(client: TestClient) -> None:
    store = client.app.state.store  # type: ignore[attr-defined]
    before = sum(store.errors.values())
    with pytest.raises(Exception):  # noqa: B017 - any mapped store error
        store.search("no_such_collection_here", np.zeros((1, 4), dtype=np.float32), limit=1)
    samples = _samples(client)
    counted = sum(v for (name, _), v in samples.items() if name == "findalike_store_errors_total")
    assert counted == before + 1


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    mine = uuid.uuid4().hex
    r = client.get("/api/health", headers={"X-Request-ID": mine})
    assert r.headers["x-request-id"] == mine
    fresh = client.get("/api/health").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", fresh) and fresh != mine
    # not a UUID: replaced, never echoed into logs as given
    assert (
        client.get("/api/health", headers={"X-Request-ID": "a\nb"}).headers["x-request-id"]
        != "a\nb"
    )


def test_metrics_need_a_read_key_when_keys_are_set(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, apps=["dna"], api_keys="read:r-0123456789abcdef")
    with TestClient(create_app(settings)) as c:
        assert c.get("/metrics").status_code == 401
        ok = c.get("/metrics", headers={"Authorization": "Bearer r-0123456789abcdef"})
        assert ok.status_code == 200 and "findalike_request_seconds" in ok.text


def test_the_served_log_lines_carry_the_request_id(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "FINDALIKE_DATA_DIR": str(tmp_path),
        "FINDALIKE_APPS": json.dumps(["dna"]),
    }
    cmd = [sys.executable, "-m", "findalike.cli", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/api/health", timeout=2).is_success:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "serve did not start"
            time.sleep(0.3)
        mine = uuid.uuid4().hex
        r = httpx.post(
            f"{url}/api/dna/search", json={"sequence": "ACGT" * 8}, headers={"X-Request-ID": mine}
        )
        assert r.status_code in (200, 404), r.text
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    lines = [line for line in err.splitlines() if mine in line]
    assert any("POST /api/dna/search" in line for line in lines), err[-2000:]
