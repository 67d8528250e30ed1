"""`serve --demo`: bundled demo data is queued into empty apps at start-up, and an
app's follow-up job (the recommender's training) runs after its load."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from findalike.api.main import create_app
from findalike.config import Settings
from tests.conftest import wait_job

DATASETS = Path(__file__).resolve().parents[2] / "datasets"


def test_demo_load_then_training_then_drop_forgets_everything(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, apps=["recommend"])
    with TestClient(create_app(settings, load_demo=True)) as c:
        jobs = c.get("/api/jobs", params={"app": "recommend"}).json()["data"]
        assert [j["kind"] for j in reversed(jobs)] == ["load", "follow-up"]
        for job in jobs:
            assert wait_job(c, job["id"])["state"] == "done", job
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


def test_video_and_objects_demo_load_and_find_the_demo_objects(tmp_path: Path) -> None:
    """The video app's three demo clips and the objects app's known objects load in
    well under a minute; each demo clip uploaded to the objects app finds the known
    object cut from it and no other (not the owl, flamingo or rabbit photos)."""
    clips = Path(__file__).resolve().parents[2] / "datasets" / "video"
    settings = Settings(data_dir=tmp_path, apps=["video", "objects"])
    started = time.monotonic()
    with TestClient(create_app(settings, load_demo=True)) as c:
        jobs = c.get("/api/jobs").json()["data"]
        assert sorted(j["app"] for j in jobs) == ["objects", "video"]
        for job in jobs:
            assert wait_job(c, job["id"])["state"] == "done", job
        load_s = time.monotonic() - started
        assert c.get("/api/video/count").json()["items"] == 3
        known = c.get("/api/objects/items", params={"limit": 50}).json()["data"]
        names = {item["fields"]["name"] for item in known}
        assert names == {"cockatoo", "big buck bunny", "owl", "flamingo", "rabbit"}
        found = {}
        for clip in ("cockatoo.mp4", "bigbuckbunny.mp4"):
            r = c.post(
                "/api/objects/search/upload",
                files={"file": (clip, (clips / clip).read_bytes(), "video/mp4")},
            )
            assert r.status_code == 200, r.text
            found[clip] = [hit["name"] for hit in r.json()["hits"]]
        print(f"video + objects demo loaded in {load_s:.1f} s; found: {found}")
        assert found == {"cockatoo.mp4": ["cockatoo"], "bigbuckbunny.mp4": ["big buck bunny"]}


def test_demo_data_come_from_the_folder_the_setting_names(tmp_path: Path) -> None:
    """An installed wheel has no checkout beside it: ``demo_data_dir`` names the folder
    of the demo data sets, and the demo loads what that folder holds, nothing else."""
    smiles = (DATASETS / "molecules" / "nci_first_5K.smi").read_text().splitlines()[:20]
    (tmp_path / "copy" / "molecules").mkdir(parents=True)
    (tmp_path / "copy" / "molecules" / "nci_first_5K.smi").write_text("\n".join(smiles) + "\n")
    settings = Settings(
        data_dir=tmp_path / "data", apps=["molecule", "dna"], demo_data_dir=tmp_path / "copy"
    )
    with TestClient(create_app(settings, load_demo=True)) as c:
        jobs = c.get("/api/jobs").json()["data"]
        assert [j["app"] for j in jobs] == ["molecule"]  # no dna/ in the copy: no dna load
        assert wait_job(c, jobs[0]["id"])["state"] == "done"
        assert c.get("/api/molecule/count").json()["items"] == 20
    assert Settings(data_dir=tmp_path).resolved_demo_data_dir == DATASETS  # the checkout's
