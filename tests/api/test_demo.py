"""`serve --demo`: bundled demo data is queued into empty apps at start-up, and an
app's follow-up job (the recommender's training) runs after its load."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from findalike.api.main import create_app
from findalike.config import Settings
from tests.conftest import wait_job


def test_demo_load_then_training_then_drop_forgets_everything(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, apps=["recommend"])
    with TestClient(create_app(settings, load_demo=True)) as c:
        deadline = time.monotonic() + 120
        jobs = c.get("/api/jobs", params={"app": "recommend"}).json()["data"]
        assert [j["kind"] for j in reversed(jobs)] == ["load", "follow-up"]
        for job in jobs:
            assert wait_job(c, job["id"])["state"] == "done", job
        assert time.monotonic() < deadline
        recs = c.get("/api/recommend/users/1", params={"top_k": 5}).json()
        assert len(recs["hits"]) == 5
        assert c.get("/api/recommend/model").json()["stored"]["ratings"] > 70_000
        assert c.delete("/api/recommend").json()["dropped"] is True
        info = c.get("/api/recommend/model").json()
        assert info["stored"]["ratings"] == 0 and info["version"] is None
        assert c.get("/api/recommend/users/1").status_code in (404, 409)
    # a second start finds data (none here after the drop) and does not duplicate jobs
    with TestClient(create_app(settings, load_demo=False)) as c:
        assert c.get("/api/jobs").json()["count"] == 2
