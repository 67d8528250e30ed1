"""all-MiniLM-L6-v2 on ONNX Runtime (``FINDALIKE_TEXT_RUNTIME=onnx``, the default): its
own weights exported once under the data folder, the same vectors as PyTorch's, and
PyTorch again whenever the export cannot be trusted; PyTorch itself only in the child
process that exports.

Real model, real export, real ONNX Runtime; nothing faked."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from findalike.api.main import create_app
from findalike.config import Settings
from findalike.encoders import onnx_export
from findalike.encoders.registry import MODELS_DIR, TEXT
from findalike.encoders.sentence import ONNX_MOST_TOKENS, MiniLMEncoder
from tests.conftest import wait_job

QUERIES = [
    "how to use os.path.join",
    "a",
    "中文 查询 and Ünïcödé 🙂",
    "sending astronauts to Mars and the price of oil in every state of the union " * 40,
]


def _sentence_transformers(encoder: MiniLMEncoder, texts: list[str]) -> np.ndarray:
    return np.asarray(
        encoder._model.encode(
            texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
    )


def _counted_runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Each ONNX Runtime call's (rows, word pieces a row), recorded from now on."""
    calls: list[tuple[int, int]] = []
    real_run = onnx_export.run

    def counted(session: Any, batch: dict[str, Any]) -> np.ndarray:
        calls.append(batch["input_ids"].shape)
        return real_run(session, batch)

    monkeypatch.setattr(onnx_export, "run", counted)
    return calls


def test_the_onnx_export_gives_pytorchs_vectors(
    minilm: Any, torch_minilm: MiniLMEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The suite's shared model is the default one, on ONNX Runtime. Queries alone and
    gathered, a text past the 256-word-piece limit, and a load of 40 passages (run in
    several chunks, shortest first) all get sentence-transformers' vectors on PyTorch,
    rows in the caller's order. Its threads do not spin between runs (on 2 cores the
    spin takes the cores the requests and Milvus need)."""
    assert minilm.runtime == "onnx" and torch_minilm.runtime == "torch"
    options = minilm._onnx.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    for text in QUERIES:
        np.testing.assert_allclose(
            minilm.encode([text]), _sentence_transformers(torch_minilm, [text]), atol=1e-5
        )
    gathered = QUERIES[:3] * 5  # 15 short texts: one ONNX Runtime call
    calls = _counted_runs(monkeypatch)
    np.testing.assert_allclose(
        minilm.encode(gathered), _sentence_transformers(torch_minilm, gathered), atol=1e-5
    )
    assert len(calls) == 1
    load = [f"passage {i}: " + QUERIES[3][: 40 * (i % 7 + 1)] for i in range(40)]
    calls.clear()
    np.testing.assert_allclose(
        minilm.encode(load), _sentence_transformers(torch_minilm, load), atol=1e-5
    )
    assert len(calls) > 3 and sum(rows for rows, _ in calls) == len(load)
    assert all(rows * width <= ONNX_MOST_TOKENS for rows, width in calls)
    widths = [width for _, width in calls]
    assert widths == sorted(widths) and widths[0] < widths[-1]  # each padded to its own


def test_every_batch_runs_on_onnx_runtime_and_pytorch_is_never_imported(
    minilm: Any, minilm_models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Queries and loads alike run on ONNX Runtime, in chunks of at most
    ``ONNX_MOST_TOKENS`` word pieces (four texts of 256 in four calls); and a process
    that loads the model from its export, as the server does, never imports PyTorch,
    sentence-transformers or transformers (their ~500 MB stay out of the server)."""
    calls = _counted_runs(monkeypatch)
    minilm.encode(["one short query"])
    assert len(calls) == 1
    minilm.encode([QUERIES[3]] * 4)  # 4 x 256 word pieces
    assert calls[1:] == [(2, 256), (2, 256)]
    script = (
        "import sys; from pathlib import Path\n"
        "from findalike.encoders.sentence import MiniLMEncoder\n"
        f"e = MiniLMEncoder(onnx_dir=Path({str(minilm_models_dir)!r}))\n"
        "v = e.encode(['a query', 'a passage ' * 300])\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'transformers') "
        "if m in sys.modules]\n"
        "print(e.runtime, v.shape, heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "onnx (2, 384) []", done.stderr


def test_a_damaged_export_is_made_again(tmp_path: Path, minilm_models_dir: Path) -> None:
    """A file that is not the one its record describes (a crash mid-copy, a disk error,
    a hand-made replacement) is exported again, checked again, and used."""
    path = onnx_export.export_path(tmp_path, MiniLMEncoder.name, MiniLMEncoder.version)
    good = onnx_export.export_path(minilm_models_dir, MiniLMEncoder.name, MiniLMEncoder.version)
    path.write_bytes(b"not an ONNX model")
    shutil.copy(onnx_export.record_path(good), onnx_export.record_path(path))
    assert onnx_export.recorded_difference(path) is None  # the record is not this file's
    encoder = MiniLMEncoder(onnx_dir=tmp_path)
    assert encoder.runtime == "onnx"
    assert path.stat().st_size > 10_000_000
    difference = onnx_export.recorded_difference(path)
    assert difference is not None and difference <= onnx_export.TOLERANCE
    assert not list(tmp_path.glob("*.part"))  # nothing half-written left behind


def test_an_export_that_does_not_load_is_made_again(tmp_path: Path) -> None:
    """A file its record vouches for (same SHA-256) that ONNX Runtime cannot load (an
    export from an incompatible version, say) is exported again and used."""
    path = onnx_export.export_path(tmp_path, MiniLMEncoder.name, MiniLMEncoder.version)
    path.write_bytes(b"an ONNX Runtime of another kind")
    record = {"sha256": onnx_export.sha256(path), "difference": 0.0}
    onnx_export.record_path(path).write_text(json.dumps(record))
    assert onnx_export.recorded_difference(path) == 0.0
    encoder = MiniLMEncoder(onnx_dir=tmp_path)
    assert encoder.runtime == "onnx"
    assert path.stat().st_size > 10_000_000
    assert encoder.encode(["a query"]).shape == (1, 384)


def test_an_export_that_differs_falls_back_to_pytorch(
    tmp_path: Path,
    torch_minilm: MiniLMEncoder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """If ONNX Runtime's vectors are not PyTorch's (here: no difference is small enough),
    the encoder says so and runs on PyTorch: its vectors are still the model's."""
    monkeypatch.setattr(onnx_export, "TOLERANCE", -1.0)
    with caplog.at_level(logging.WARNING, logger="findalike.encoders.sentence"):
        encoder = MiniLMEncoder(onnx_dir=tmp_path)
    assert encoder.runtime == "torch"
    assert "runs on PyTorch" in caplog.text and "differ" in caplog.text
    np.testing.assert_allclose(
        encoder.encode(QUERIES[:2]), _sentence_transformers(torch_minilm, QUERIES[:2]), atol=1e-5
    )


def test_the_setting_chooses_the_runtime_and_the_app_searches_alike(tmp_path: Path) -> None:
    """``text_runtime`` reaches the encoder the apps share: the export lands under
    ``data_dir``/models with ``onnx``, nothing is written with ``torch``, and the text
    app answers the same search the same on both."""
    onnx_settings = Settings(data_dir=tmp_path / "a", apps=["text"], load_demo=False)
    torch_settings = Settings(
        data_dir=tmp_path / "b", apps=["text"], load_demo=False, text_runtime="torch"
    )
    on_onnx, on_torch = TEXT.make(onnx_settings), TEXT.make(torch_settings)
    assert getattr(on_onnx, "runtime", None) == "onnx"
    assert getattr(on_torch, "runtime", None) == "torch"
    assert list((tmp_path / "a" / MODELS_DIR).glob("*.onnx"))
    assert not (tmp_path / "b" / MODELS_DIR).exists()

    docs = [
        {"title": "Rivers", "text": "The Nile and the Amazon are the longest rivers."},
        {"title": "Space", "text": "Astronauts flew to the Moon and will fly to Mars."},
        {"title": "Taxes", "text": "Lower taxes for working families were promised."},
    ]
    answers = []
    for settings, encoder in ((onnx_settings, on_onnx), (torch_settings, on_torch)):
        app = create_app(settings, encoders={"minilm": encoder})
        with TestClient(app, base_url="http://127.0.0.1") as client:
            lines = "\n".join(json.dumps(d) for d in docs).encode()
            r = client.post("/api/text/load", files=[("files", ("docs.jsonl", lines))])
            assert r.status_code == 202, r.text
            assert wait_job(client, r.json()["id"])["state"] == "done"
            r = client.post("/api/text/search", json={"query": "a trip to Mars", "top_k": 3})
            assert r.status_code == 200, r.text
            answers.append([(h["title"], round(h["score"], 4)) for h in r.json()["hits"]])
    assert answers[0] == answers[1] and answers[0][0][0] == "Space"
