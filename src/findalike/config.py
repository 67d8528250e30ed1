"""The one settings object. Every field is read from an environment variable
prefixed ``FINDALIKE_`` (``FINDALIKE_MILVUS_URI`` for ``milvus_uri``) or from a
``.env`` file; the README lists them all."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from findalike.formats.imaging import DEFAULT_MAX_PIXELS


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FINDALIKE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        Path("data"),
        description="Where findalike keeps its state: the Milvus Lite file, job records, "
        "stored originals and upload spools.",
    )
    milvus_uri: str = Field(
        "",
        description="Empty: Milvus Lite in <data_dir>/milvus.db. A file path ending in .db: "
        "Milvus Lite there. http(s)://host:19530: a Milvus server or cluster.",
    )
    milvus_token: str = Field("", description="Token (or user:password) for a Milvus server.")
    milvus_timeout_s: float = Field(
        10.0, gt=0, description="Seconds to wait for a Milvus server to answer a connection."
    )
    milvus_db: str = Field("", description="Database name on a Milvus server (empty: default).")
    collection_prefix: str = Field(
        "findalike_",
        description="Prefix of every collection name, so several installs can "
        "share one Milvus server.",
    )
    apps: list[str] = Field(
        default_factory=list,
        description='Apps to enable, as a JSON list (`["text","qa"]`); empty enables every '
        "app whose dependencies are installed.",
    )
    allowed_roots: list[Path] = Field(
        default_factory=list,
        description="Server-side folders that POST /api/{app}/load may read from "
        "(JSON list). Empty: loading by path is refused.",
    )
    api_keys: SecretStr = Field(
        SecretStr(""),
        description="API keys as `read:<key>,write:<key>` (16+ characters each; several of "
        "each allowed). `read` keys search and read, `write` keys also load, delete, drop, "
        "train, evaluate (it may train a model or re-encode a collection) and cancel. "
        "Empty: no key needed, allowed only when serving on loopback.",
    )
    trusted_hosts: list[str] = Field(
        default_factory=lambda: ["localhost", "127.0.0.1", "::1"],
        description="Host names the server answers to (JSON list); other Host headers get "
        '400, which stops DNS-rebinding pages. `["*"]` allows any (behind a proxy that '
        "checks it). `serve --host` adds the address it binds.",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Web origins (`https://app.example`) besides the server's own that may "
        "send state-changing requests (JSON list). Others get 403.",
    )
    max_upload_bytes: int = Field(
        1024**3, description="Largest request body accepted by a load (413 above it)."
    )
    max_json_bytes: int = Field(
        1024**2,
        ge=1024,
        description="Largest body of a JSON request without media in it (413 above it, "
        "refused before it is read). Routes that take base64 media allow their field's size.",
    )
    max_item_bytes: int = Field(
        64 * 1024**2, description="Largest single file or zip member read by a load."
    )
    max_zip_members: int = Field(100_000, description="Most members read from one zip.")
    max_unzipped_bytes: int = Field(
        16 * 1024**3,
        ge=1,
        description="Most bytes one load unzips from its zip archives, all "
        "members together (counted as read, whatever the headers claim); members past it fail.",
    )
    max_connections: int = Field(
        256,
        ge=1,
        description="Open connections (and requests in progress) one worker process "
        "accepts; past it, uvicorn answers 503 at once (its limit_concurrency).",
    )
    max_event_watchers: int = Field(
        64,
        ge=1,
        description="Job event streams (GET /api/jobs/{id}/events) one worker process "
        "keeps open at once; past it, 503 with Retry-After.",
    )
    body_timeout_s: float = Field(
        20.0,
        gt=0,
        description="A request body must arrive within this many seconds, plus one second "
        "per FINDALIKE_BODY_MIN_RATE_BYTES received (408 and the connection closed "
        "otherwise): a client trickling bytes cannot hold a connection for long.",
    )
    body_min_rate_bytes: int = Field(
        500,
        ge=1,
        description="Bytes of a request body that earn one more second of "
        "FINDALIKE_BODY_TIMEOUT_S (the slowest upload rate accepted, on average).",
    )
    image_max_pixels: int = Field(
        DEFAULT_MAX_PIXELS,
        ge=1,
        description="Largest image decoded (width x height), by every app that reads "
        "images (image, video, objects, people): above it a load records the item as "
        "failed and a query upload gets 413.",
    )
    max_query_bytes: int = Field(
        20 * 1024**2, description="Largest query upload (an image, a clip) for a search."
    )
    encode_batch_size: int = Field(
        256,
        ge=1,
        description="Model inputs per batch of a load (passages for text), for apps that "
        "set no batch size of their own. A text model reads a batch longest first in chunks "
        "of 16, so larger batches pad less; progress moves once a batch is stored.",
    )
    insert_batch_rows: int = Field(
        2000, ge=1, description="Rows per Milvus insert (kept well under gRPC's 64 MB limit)."
    )
    job_workers: int = Field(
        1, ge=1, description="Load jobs that run at the same time (in each worker process)."
    )
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Worker processes that `serve` starts on one port. Above 1, on Milvus "
        "Lite, `serve` runs Milvus Lite as a local server (loopback) that the workers share.",
    )
    lite_process: bool = Field(
        False,
        description="On Milvus Lite with one worker, `serve` runs Milvus Lite as a local "
        "server process on loopback, as it does for several workers. On Lite 3.2 (pure "
        "Python) that moved its search work out of the API process (measured on 2 cores: "
        "the same text search throughput within noise, ~150-200 MB more memory); Lite 2.5 "
        "runs in a process of its own anyway (on a local socket), so there it changes only "
        "the socket.",
    )
    load_demo: bool = Field(
        False, description="Load the bundled demo data into empty apps at start (`--demo`)."
    )
    demo_data_dir: Path | None = Field(
        None,
        description="The folder of the demo data sets (a findalike checkout's `datasets/`: "
        "images, clips, molecules, ratings, ...), which `--demo` loads from; text and QA "
        "demo data ship inside the package. Default: the checkout's `datasets/` when "
        "findalike runs from one; with an installed wheel, point it at a copy.",
    )
    torch_threads: int = Field(
        0, ge=0, description="Threads for model inference (0: PyTorch's default)."
    )
    search_consistency: Literal["auto", "Strong", "Session", "Bounded", "Eventually"] = Field(
        "auto",
        description="Consistency of searches on a Milvus server. `Strong` sees every write "
        "made before it, by any process, and waits for the server's next time tick for it "
        "(200-400 ms on a Milvus 2.3 standalone); `Session` sees this process's own writes "
        "at once and others' within about a time tick, with no wait; `Bounded` answers at "
        "once from data at most a few seconds old (Milvus's default). `auto`: `Session` "
        "with one worker (whose own load jobs write), `Strong` with several (a load runs "
        "in one worker, searches land on any). Milvus Lite always sees every write.",
    )
    index_type: Literal["auto", "FLAT", "HNSW", "IVF_FLAT", "AUTOINDEX"] = Field(
        "auto",
        description="Vector index of new collections: `auto` is FLAT (exact) on the "
        "embedded Milvus Lite 2.5 (with an HNSW graph beside it past `ann_min_rows`), "
        "AUTOINDEX (HNSW over sealed rows) on Milvus Lite 3.2 and HNSW on a server; an "
        "explicit FLAT is exact (brute force), always. Milvus Lite 2.5 builds FLAT, IVF_FLAT "
        "and AUTOINDEX only. Recorded by Milvus with each collection and shown in GET "
        "/api/apps; an existing collection keeps the index it was built with.",
    )
    ann_min_rows: int = Field(
        50_000,
        ge=0,
        description="Embedded Milvus Lite 2.5 with `index_type` `auto`: a collection of at "
        "least this many rows is searched through an HNSW graph (usearch) kept in the "
        "server's memory beside Milvus, built in the background and kept up to date with "
        "this server's writes; smaller ones, and any search while the graph is built, are "
        'exact (FLAT). 0: every search exact. See the docs\' "How big on what".',
    )
    flat_min_rows: int = Field(
        100,
        ge=0,
        description="Embedded Milvus Lite 2.5 with `index_type` `auto`: a collection of at "
        "least this many rows, and fewer than `ann_min_rows`, is searched exactly (brute "
        "force, as Milvus's FLAT) over a copy of its float vectors and its rows' fields kept "
        "in the server's memory (at most 256 MB of vectors a collection), made in the "
        "background and kept up to date like the HNSW graph; a filtered search is still "
        "Milvus's. It saves the round trip to Milvus Lite's process: a search for 10 rows "
        "among 1,000 took 0.27 ms against Lite's 1.46, among 50,000 5.5 against 11.6. 0: "
        "Milvus answers.",
    )
    half_vectors_min_dim: int = Field(
        1000,
        ge=0,
        description="Embedded Milvus Lite 2.5: a new collection of float vectors with at "
        "least this many dimensions (the image, video, objects and image-label collections) "
        "stores them as float16, which halves the memory Milvus Lite holds for each loaded "
        "collection (a 1280-d collection: 81 MB instead of 162, whatever its rows); scores "
        "move by ~1e-3. Existing collections keep what they were made with. 0: float32 always.",
    )
    ann_ef: int = Field(
        256,
        ge=8,
        le=4096,
        description="HNSW graph of the embedded store: candidates kept per search (ef), "
        "unless a request names its own `ef`.",
    )
    hnsw_m: int = Field(16, ge=4, le=64, description="HNSW: links per node (M).")
    hnsw_ef_construction: int = Field(
        200, ge=8, le=1024, description="HNSW: candidates kept while building (efConstruction)."
    )
    ivf_nlist: int = Field(1024, ge=1, le=65536, description="IVF_FLAT: clusters (nlist).")
    batch_queries: bool = Field(
        True,
        description="Encode concurrent queries together on one model thread and send "
        "concurrent searches to Milvus as one request (off: each request on its own).",
    )
    text_runtime: Literal["onnx", "torch"] = Field(
        "onnx",
        description="How all-MiniLM-L6-v2 (the default text model) runs: `onnx` exports "
        "its weights once to ONNX Runtime (a file under `data_dir`/models, made and checked "
        "against PyTorch by a child process; the same vectors, a query in ~2 ms instead of "
        "~5, and no PyTorch in the server: ~800 MB less memory), `torch` runs them in "
        "PyTorch. An export that fails or differs falls back to PyTorch, with a warning.",
    )
    image_model: str = Field(
        "efficientnet-lite3-int8",
        description="Image encoder: efficientnet-lite3-int8 (TFLite, default: as good on the "
        "near-duplicate test and ~8x faster on CPU) or efficientnet-lite0 (PyTorch). Shared "
        "by the image, video and objects apps (one model loaded for the three).",
    )
    qa_threshold: float = Field(
        0.45,
        ge=-1.0,
        le=1.0,
        description="QA: below this cosine similarity the chatbot says it does not know.",
    )
    text_chunk_words: int = Field(
        180,
        ge=16,
        description="Text: long documents are split into passages of about "
        "this many words (the model reads at most 256 word pieces).",
    )
    text_models: dict[str, Path] = Field(
        default_factory=dict,
        description="Your own text encoders, as a JSON object of name -> local folder "
        '(`{"legal": "/models/legal-minilm"}`): a sentence-transformers folder or an ONNX '
        "model with its tokenizer.json, read offline. Text and QA collections may be made "
        "with them by name (`encoder` at creation), as with the shipped ones.",
    )
    text_max_chars: int = Field(
        1_000_000,
        ge=1000,
        description="Text/QA: longest document or answer read (characters); "
        "a longer one is reported and skipped.",
    )

    @field_validator("text_models")
    @classmethod
    def _readable_models(cls, models: dict[str, Path]) -> dict[str, Path]:
        from findalike.encoders.local import check_name, model_kind
        from findalike.encoders.registry import TEXT_ENCODERS

        shipped = {e.key for e in TEXT_ENCODERS}
        for name, folder in models.items():
            check_name(name)
            if name in shipped:
                raise ValueError(f"{name!r} is a shipped encoder's name: choose another")
            model_kind(folder)
        return {name: folder.expanduser().resolve() for name, folder in models.items()}

    @property
    def resolved_milvus_uri(self) -> str:
        if self.milvus_uri:
            return self.milvus_uri
        return str(self.data_dir / "milvus.db")

    @property
    def resolved_demo_data_dir(self) -> Path:
        """``demo_data_dir``, or the ``datasets/`` folder of the checkout this runs from
        (which may not exist: then only the demo data inside the package loads)."""
        if self.demo_data_dir is not None:
            return self.demo_data_dir.expanduser()
        return Path(__file__).resolve().parents[2] / "datasets"

    @property
    def embedded_store(self) -> bool:
        """Whether the store is a Milvus Lite file (opened in this process), not a server."""
        return is_embedded_uri(self.resolved_milvus_uri)

    @property
    def resolved_search_consistency(self) -> str:
        """The consistency searches use: ``auto`` resolved by the number of workers."""
        if self.search_consistency != "auto":
            return self.search_consistency
        return "Session" if self.workers <= 1 else "Strong"


def is_embedded_uri(uri: str) -> bool:
    """Whether ``uri`` names a Milvus Lite file (opened in this process), not a server."""
    return not uri.startswith(("http://", "https://", "tcp://", "grpc://"))
