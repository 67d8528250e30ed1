"""The live server every app's contract and the Python client are checked against."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from findalike.api.main import create_app
from findalike.apps import ALL_APPS
from findalike.config import Settings
from tests.conftest import REPO, serving, wait_job

PHOTOS = REPO / "datasets" / "images" / "photos"
FASTA = "".join(
    f">s{i} class={'AB'[i % 2]}\n{('ACGT' if i % 2 else 'TTGCA') * (8 + i)}\n" for i in range(12)
)
SMILES = "\n".join(
    [
        "CCO ethanol",
        "CC(=O)O acetic",
        "c1ccccc1 benzene",
        "CC(=O)Oc1ccccc1C(=O)O aspirin",
        "c1ccccc1O phenol",
        "CCN ethylamine",
        "CCCC butane",
    ]
)


def some_photos(n: int) -> list[Path]:
    return sorted(PHOTOS.glob("*.jpg"))[:n]


def _clip_bytes(photos: list[Path]) -> bytes:
    import numpy as np
    from PIL import Image

    from findalike.formats.video import write_clip

    frames = []
    for p in photos:
        image = Image.open(p).convert("RGB").resize((160, 120))
        frames += [np.asarray(image)] * 10
    path = Path(tempfile.mkdtemp()) / "clip.mp4"
    write_clip(frames, path, fps=10)
    return path.read_bytes()


def load(client: httpx.Client, app: str, files: list[tuple[str, bytes]]) -> None:
    r = client.post(f"/api/{app}/load", files=[("files", f) for f in files])
    assert r.status_code == 202, r.text
    job = wait_job(client, r.json()["id"], timeout_s=600)
    assert job["state"] == "done" and job["done"] > 0, job


@pytest.fixture(scope="session")
def live(
    tmp_path_factory: pytest.TempPathFactory, shared_encoders: dict[str, Any]
) -> Iterator[str]:
    """The real server (uvicorn, every app) with a little real data in every app,
    shared by the contract and client tests (which leave that data as they found it)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("contract"), apps=list(ALL_APPS))
    with (
        serving(create_app(settings, encoders=shared_encoders)) as url,
        httpx.Client(base_url=url, timeout=600) as c,
    ):
        docs = "\n".join(
            json.dumps({"title": t, "text": x})
            for t, x in [
                ("Rockets", "We will send astronauts to Mars and return them safely."),
                ("Taxes", "Families deserve lower taxes and a simpler tax code."),
                ("Health", "Health care must cost less for every family."),
                ("Schools", "Every child deserves a good school and a great teacher."),
            ]
        )
        load(c, "text", [("docs.jsonl", docs.encode())])
        qa = (
            "question,answer\nHow do I sort a hash?,Use sort with a custom block.\n"
            "How do I read a file?,Open it and read line by line.\n"
            "What is a regex?,A pattern that matches text.\n"
        )
        load(c, "qa", [("faq.csv", qa.encode())])
        photos = some_photos(5)
        load(c, "image", [(p.name, p.read_bytes()) for p in photos])
        load(c, "video", [(f"clip{i}.mp4", _clip_bytes(photos[i : i + 3])) for i in range(3)])
        load(c, "objects", [(p.name, p.read_bytes()) for p in photos[:2]])
        faces = sorted((REPO / "datasets" / "people" / "register").glob("*/*.jpg"))
        load(c, "people", [(p.name, p.read_bytes()) for p in faces])
        audio = sorted((REPO / "datasets" / "audio").rglob("*.flac"))[:3]
        load(c, "audio", [(p.name, p.read_bytes()) for p in audio])
        load(c, "molecule", [("m.smi", SMILES.encode())])
        load(c, "dna", [("s.fa", FASTA.encode())])
        ratings = "user,item,rating\n" + "".join(
            f"{u},{i},{1 + (u * i) % 5}\n"
            for u in range(1, 30)
            for i in range(1, 20)
            if (u + i) % 3
        )
        items = "item,title\n" + "".join(f"{i},Item {i}\n" for i in range(1, 20))
        load(c, "recommend", [("items.csv", items.encode()), ("ratings.csv", ratings.encode())])
        train = c.post("/api/recommend/train")
        assert wait_job(c, train.json()["id"])["state"] == "done"
        yield url


def run_bash(script: str, cwd: Path, live: str) -> subprocess.CompletedProcess[str]:
    """``script`` with the README's host replaced by the live server's, every curl
    failing on an HTTP error (``--fail-with-body``) and every line checked."""
    host = live.removeprefix("http://")
    script = script.replace("localhost:8000", host)
    script = script.replace(".venv/bin/findalike", str(Path(sys.executable).parent / "findalike"))
    prelude = 'set -e -o pipefail\ncurl() { command curl --fail-with-body "$@"; }\n'
    env = {**os.environ, "FINDALIKE_SERVER": live}
    return subprocess.run(
        ["bash", "-c", prelude + script],
        cwd=cwd,
        env=env,
        text=True,
        capture_output=True,
        timeout=600,
    )
