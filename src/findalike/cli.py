"""The command line: ``findalike serve`` runs the server; the other commands talk
to a running server over HTTP (``--server``, default http://127.0.0.1:8000), so they
work the same against a local or a remote findalike. ``export`` and ``import`` work on
the store itself (backups, moving from Milvus Lite to a server)."""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from findalike.client import DEFAULT_SERVER, ApiError, Client, Unreachable, files_in

if TYPE_CHECKING:
    from findalike.backup import ArchiveReport
    from findalike.config import Settings
    from findalike.jobs import Job

app = typer.Typer(
    help="findalike: similarity search over unstructured data, on Milvus.", no_args_is_help=True
)
jobs_app = typer.Typer(help="Load jobs: list, show, watch, cancel.", no_args_is_help=False)
app.add_typer(jobs_app, name="jobs")
console = Console()
err = Console(stderr=True)

ServerOpt = Annotated[
    str | None,
    typer.Option(
        "--server",
        "-s",
        show_default=False,
        help="findalike server URL (also before the command; or FINDALIKE_SERVER; "
        "default http://127.0.0.1:8000).",
    ),
]


class Output(StrEnum):
    table = "table"
    json = "json"


OutputOpt = Annotated[
    Output,
    typer.Option(
        "--output",
        "-o",
        help="`table` (for people) or `json` (the server's response, for scripts).",
    ),
]
CollectionOpt = Annotated[
    str | None,
    typer.Option(
        "--collection", "-c", help="A named collection of the app (default: the app's own)."
    ),
]


def _in(collection: str | None) -> dict[str, Any]:
    """The query parameters that pick a named collection."""
    return {"params": {"collection": collection}} if collection else {}


class _Global:
    """What every command that talks to a server sends with each request."""

    api_key: str = ""
    server: str | None = None
    """``--server`` given before the command."""


def _url(server: str | None) -> str:
    """The server a command talks to: its own ``--server``, else the one given before
    the command, else FINDALIKE_SERVER, else the local default."""
    return server or _Global.server or os.environ.get("FINDALIKE_SERVER") or DEFAULT_SERVER


@app.callback()
def _options(
    server: ServerOpt = None,
    api_key: Annotated[
        str,
        typer.Option(
            "--api-key",
            envvar="FINDALIKE_API_KEY",
            show_default=False,
            help="API key for a server that requires one (or FINDALIKE_API_KEY); also "
            "after the command.",
        ),
    ] = "",
) -> None:
    """findalike: similarity search over unstructured data, on Milvus."""
    _Global.api_key = api_key
    _Global.server = server


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    demo: Annotated[
        bool, typer.Option("--demo/--no-demo", help="Load the bundled demo data into empty apps.")
    ] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Worker processes on the one port (default FINDALIKE_WORKERS, 1). On Milvus "
            "Lite, findalike runs it as a local server on loopback that they share.",
        ),
    ] = None,
) -> None:
    """Serve the API (/docs, /redoc) and the web UI."""
    import uvicorn
    from pydantic import ValidationError

    from findalike.api.main import create_app
    from findalike.api.metrics import log_config
    from findalike.api.security import ApiKeys, KeyFormatError, is_loopback
    from findalike.config import Settings

    settings = Settings()
    try:
        keys = ApiKeys.parse(settings.api_keys.get_secret_value())
    except KeyFormatError as exc:
        _fail(str(exc))
    if not is_loopback(host):
        if not keys.enabled:
            _fail(
                f"serving on {host} (not loopback) needs API keys: set FINDALIKE_API_KEYS to "
                "'read:<key>,write:<key>' (see the README's Security section)"
            )
        if host not in ("0.0.0.0", "::"):
            settings.trusted_hosts = [*settings.trusted_hosts, host]
        elif "trusted_hosts" not in settings.model_fields_set:
            # every interface: any name may reach it; the keys are what protects it
            settings.trusted_hosts = ["*"]
            console.print(
                "note: any Host header is accepted; set FINDALIKE_TRUSTED_HOSTS to "
                "this server's names to refuse the others"
            )
    settings.load_demo = settings.load_demo or demo
    settings.workers = workers or settings.workers
    file = settings.resolved_milvus_uri
    with _lite_server(settings):
        try:
            application = create_app(settings)  # in each worker too: checked here first
        except ValidationError as exc:  # an app's own settings (FINDALIKE_<APP>_...)
            _fail(f"invalid setting: {exc}")
        if settings.workers > 1:
            del application
            _serve_workers(settings, host, port, log_level)
            return
        lite = f", Milvus Lite over {file}" if settings.resolved_milvus_uri != file else ""
        console.print(
            f"findalike on http://{host}:{port}  (Milvus: {settings.resolved_milvus_uri}{lite})"
        )
        uvicorn.run(
            application,
            host=host,
            port=port,
            log_level=log_level,
            log_config=log_config(log_level),
            limit_concurrency=settings.max_connections,
        )


@contextmanager
def _lite_server(settings: Settings) -> Iterator[None]:
    """On Milvus Lite with several workers, or with ``lite_process``: Milvus Lite as a
    local server on loopback, started here and stopped on the way out;
    ``settings.milvus_uri`` becomes its URI. Otherwise nothing."""
    from findalike.store.liteserver import LiteServer

    uri = settings.resolved_milvus_uri
    if not settings.embedded_store or (settings.workers == 1 and not settings.lite_process):
        yield
        return
    lite = LiteServer(
        Path(uri).expanduser().resolve(), log_path=settings.data_dir / "milvus-lite.log"
    )
    try:
        settings.milvus_uri = lite.start()
    except RuntimeError as exc:
        _fail(str(exc))
    # uvicorn, once shut down, raises the SIGTERM it caught again; by default that ends
    # the process on the spot, skipping the stop below (the server would notice its
    # parent gone only later, holding the folder meanwhile): exit through it instead
    before = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        yield
    finally:
        lite.stop()
        signal.signal(signal.SIGTERM, before)


def _serve_workers(settings: Settings, host: str, port: int, log_level: str) -> None:
    """``serve`` with several worker processes: each builds the application from the
    environment, which gets the options given here (on Milvus Lite, the URI of the
    local server ``_lite_server`` started, which they share); their metrics meet in a
    folder of this run (``PROMETHEUS_MULTIPROC_DIR``)."""
    import shutil

    import uvicorn

    from findalike.api.metrics import MULTIPROCESS_ENV, log_config

    uri = settings.resolved_milvus_uri
    metrics_dir = settings.data_dir.resolve() / "metrics" / str(os.getpid())
    env = {
        "FINDALIKE_WORKERS": str(settings.workers),
        "FINDALIKE_LOAD_DEMO": str(settings.load_demo).lower(),
        "FINDALIKE_TRUSTED_HOSTS": json.dumps(settings.trusted_hosts),
        "FINDALIKE_DATA_DIR": str(settings.data_dir.resolve()),
        "FINDALIKE_MILVUS_URI": uri,
        MULTIPROCESS_ENV: str(metrics_dir),
    }
    try:
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ.update(env)
        console.print(
            f"findalike on http://{host}:{port}  ({settings.workers} workers; Milvus: {uri})"
        )
        uvicorn.run(
            "findalike.api.main:create_app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=settings.workers,
            log_level=log_level,
            log_config=log_config(log_level),
            limit_concurrency=settings.max_connections,
        )
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


@app.command()
def apps(server: ServerOpt = None, output: OutputOpt = Output.table) -> None:
    """The apps, their item counts and encoders."""
    listed = _request("GET", server, "/api/apps")
    if output == Output.json:
        console.print_json(data=listed)
        return
    rows = listed["data"]
    table = Table("app", "items", "encoder", "status")
    for a in rows:
        status = "enabled" if a["enabled"] else f"disabled: {a.get('reason')}"
        encoder = a.get("encoder") or "-"
        if a.get("dim"):  # known once the app's own collection exists
            encoder += f" ({a['dim']}-d {a['metric']})"
        table.add_row(
            a["name"], str(a.get("items") if a.get("items") is not None else "-"), encoder, status
        )
    console.print(table)


@app.command()
def load(
    app_name: Annotated[str, typer.Argument(metavar="APP", help="text, qa, image, ...")],
    paths: Annotated[list[Path], typer.Argument(help="Files, zips or folders to upload.")],
    server: ServerOpt = None,
    server_path: Annotated[
        bool, typer.Option(help="Send PATHS as paths on the server (inside an allowed root).")
    ] = False,
    wait: Annotated[bool, typer.Option(help="Follow the job with a progress bar.")] = True,
    collection: CollectionOpt = None,
) -> None:
    """Load data into an app (a background job on the server)."""
    with _connected(server) as fa:
        target = fa.app(app_name)
        if server_path:
            jobs = [target.load(server_path=str(p), collection=collection) for p in paths]
        else:
            files = files_in(paths)
            if not files:
                _fail("no files found in the given paths")
            jobs = [target.load(*files, collection=collection)]
        for job in jobs:
            console.print(f"request received: job {job.id}")
            if wait:
                _watch(fa, job.id)


@app.command()
def search(
    app_name: Annotated[str, typer.Argument(metavar="APP")],
    query: Annotated[str | None, typer.Argument(help="The query text / SMILES / sequence.")] = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k")] = 10,
    file: Annotated[Path | None, typer.Option(help="Query file (image, clip) to upload.")] = None,
    body: Annotated[str | None, typer.Option("--json", help="The whole request body.")] = None,
    server: ServerOpt = None,
    collection: CollectionOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Search an app: a table of the hits (``--output json``: the server's response)."""
    where = _in(collection)
    if file is not None:
        with file.open("rb") as fh:
            result = _request(
                "POST",
                server,
                f"/api/{app_name}/search/upload",
                files=[("file", (file.name, fh))],
                data={"top_k": str(top_k)},
                **where,
            )
    else:
        payload = json.loads(body) if body else _query_body(server, app_name, query, top_k)
        result = _request("POST", server, f"/api/{app_name}/search", json=payload, **where)
    if output == Output.json:
        console.print_json(data=result)
    else:
        _print_hits(result)


@app.command()
def collections(
    app_name: Annotated[str, typer.Argument(metavar="APP")],
    create: Annotated[str | None, typer.Option(help="Create this named collection.")] = None,
    encoder: Annotated[
        str | None,
        typer.Option(help="With --create: its encoder (text, qa: minilm, multilingual, ...)."),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="FIELD=VALUE",
            help="With --create: another field of the app's collection (language=zh, "
            "sequence_length=60, ...; VALUE read as JSON when it is JSON).",
        ),
    ] = None,
    drop: Annotated[str | None, typer.Option(help="Drop this named collection.")] = None,
    server: ServerOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """An app's named collections (use one with --collection on load and search)."""
    if create:
        body: dict[str, Any] = {"name": create}
        if encoder:
            body["encoder"] = encoder
        for pair in option or []:
            field, sep, value = pair.partition("=")
            if not sep or not field:
                _fail(f"--set takes FIELD=VALUE, not {pair!r}")
            try:
                body[field] = json.loads(value)
            except ValueError:
                body[field] = value
        _request("POST", server, f"/api/{app_name}/collections", json=body)
    if drop:
        _request("DELETE", server, f"/api/{app_name}/collections/{drop}")
    listed = _request("GET", server, f"/api/{app_name}/collections")
    if output == Output.json:
        console.print_json(data=listed)
        return
    table = Table("collection", "items", "vectors", "encoder", "language")
    for c in listed["data"]:
        table.add_row(
            c["name"], str(c["items"]), str(c["vectors"]), c["encoder"], c.get("language") or "-"
        )
    console.print(table)


@app.command()
def ask(
    question: Annotated[str, typer.Argument()],
    server: ServerOpt = None,
    collection: CollectionOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Ask the QA chatbot (``--output json``: the server's response)."""
    r = _request("POST", server, "/api/qa/answer", json={"question": question}, **_in(collection))
    if output == Output.json:
        console.print_json(data=r)
    elif r["answered"]:
        console.print(f"[bold]{r['matched_question']}[/] (confidence {r['confidence']:.2f})")
        console.print(r["answer"])
    else:
        console.print(f"{r['message']} (confidence {r['confidence']:.2f})")
        for rel in r["related"]:
            console.print(f"  - {rel['question']}")


@app.command()
def evaluate(
    app_name: Annotated[str, typer.Argument(metavar="APP", help="dna, recommend, text or qa")],
    body: Annotated[str, typer.Option("--json", help="Request body (JSON).")] = "{}",
    file: Annotated[
        Path | None, typer.Option("--file", help="Request body from a JSON file.")
    ] = None,
    server: ServerOpt = None,
    collection: CollectionOpt = None,
) -> None:
    """Run an app's evaluation: dna and recommend hold out part of the stored data;
    text and qa take labelled queries (``{"queries": [...]}``, see the API docs)."""
    try:
        payload = json.loads(file.read_text(encoding="utf-8") if file else body)
    except (OSError, ValueError) as exc:
        _fail(f"the request body is not readable JSON: {exc}")
    result = _request("POST", server, f"/api/{app_name}/evaluate", json=payload, **_in(collection))
    console.print_json(data=result)


@app.command("dna-encoders")
def dna_encoders(
    holdout: Annotated[float, typer.Option(help="Share of the stored sequences held out.")] = 0.2,
    neighbours: Annotated[int | None, typer.Option(help="k of the kNN vote.")] = None,
    seed: Annotated[int, typer.Option(help="Chooses the held-out split.")] = 0,
    max_sequences: Annotated[int, typer.Option(help="Stored sequences used at most.")] = 5000,
    server: ServerOpt = None,
) -> None:
    """Compare the DNA encoders on the stored sequences (held-out kNN accuracy); pick
    one with FINDALIKE_DNA_ENCODER."""
    body = {"holdout_fraction": holdout, "seed": seed, "max_sequences": max_sequences}
    if neighbours is not None:
        body["neighbours"] = neighbours
    r = _request("POST", server, "/api/dna/evaluate", json=body)
    table = Table("encoder", "dim", "accuracy", "recall per class", "note")
    for e in r["encoders"]:
        recall = ", ".join(f"{c['label']} {c['recall']:.3f}" for c in e["per_class"])
        note = ("stored vectors; " if e["current"] else "") + (
            "best" if e["encoder"] == r["best"] else ""
        )
        accuracy = f"{e['accuracy']:.3f}" if e["applicable"] else "n/a"
        table.add_row(e["encoder"], str(e["dim"]), accuracy, recall, note or e["reason"][:60])
    console.print(table)
    for e in r["encoders"]:
        if e.get("position_weights"):
            weights = json.dumps(e["position_weights"])
            line = f"{e['encoder']}: FINDALIKE_DNA_POSITION_WEIGHTS='{weights}'"
            console.print(line, soft_wrap=True, markup=False, highlight=False)
    console.print(
        f"{r['held_out']} held out, {r['training']} for training, {r['neighbours']} neighbours, "
        f"seed {r['seed']}; majority baseline {r['majority_baseline']:.3f} "
        f"({r['majority_label']})"
    )


@jobs_app.callback(invoke_without_command=True)
def jobs_list(
    ctx: typer.Context,
    app_name: Annotated[str | None, typer.Option("--app")] = None,
    server: ServerOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Recent jobs."""
    if ctx.invoked_subcommand:
        return
    params = {"app": app_name} if app_name else {}
    listed = _request("GET", server, "/api/jobs", params=params)
    if output == Output.json:
        console.print_json(data=listed)
        return
    table = Table("id", "app", "state", "done", "skipped", "failed", "total", "message")
    for j in listed["data"]:
        table.add_row(
            j["id"],
            j["app"],
            j["state"],
            str(j["done"]),
            str(j["skipped"]),
            str(j["failed"]),
            str(j["total"]),
            j["message"][:60],
        )
    console.print(table)


@jobs_app.command("show")
def jobs_show(job_id: str, server: ServerOpt = None) -> None:
    """One job as JSON (with its per-item errors)."""
    console.print_json(data=_request("GET", server, f"/api/jobs/{job_id}"))


@jobs_app.command("watch")
def jobs_watch(job_id: str, server: ServerOpt = None) -> None:
    """Follow a job with a progress bar until it ends."""
    with _connected(server) as fa:
        _watch(fa, job_id)


@jobs_app.command("cancel")
def jobs_cancel(job_id: str, server: ServerOpt = None) -> None:
    """Ask a running job to stop."""
    console.print_json(data=_request("POST", server, f"/api/jobs/{job_id}/cancel"))


# -- backups (these work on the store directly, not through a server) ------------------

MilvusUriOpt = Annotated[
    str | None,
    typer.Option(
        "--milvus-uri",
        show_default=False,
        help="The store to use instead of FINDALIKE_MILVUS_URI: a Milvus Lite file "
        "(.db) or http(s)://host:19530.",
    ),
]


@app.command("export")
def export_command(
    apps: Annotated[
        list[str] | None,
        typer.Argument(metavar="[APP]...", help="Apps to export (default: every app with data)."),
    ] = None,
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Archive to write: .tar, or .tar.gz to compress (vectors compress little).",
        ),
    ] = Path("findalike-backup.tar"),
    milvus_uri: MilvusUriOpt = None,
) -> None:
    """Back up apps (each one's collection, named collections and image labels: vectors,
    fields, encoder record, originals, state) to one archive.

    Reads the store of FINDALIKE_MILVUS_URI and FINDALIKE_DATA_DIR directly: stop a
    server that uses a Milvus Lite file first. Fails, writing nothing, if a collection
    changes while it is read."""
    from findalike.backup import export_install

    with _row_progress("exporting") as on_progress:
        report = _offline(
            lambda: export_install(
                _store_settings(milvus_uri), apps or [], output, on_progress=on_progress
            )
        )
    _print_archive_report(report, "exported to")


@app.command("import")
def import_command(
    archive: Annotated[Path, typer.Argument(help="An archive written by `findalike export`.")],
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Drop each archived app's collection and state "
            "in the target first (default: add to a compatible one).",
        ),
    ] = False,
    milvus_uri: MilvusUriOpt = None,
) -> None:
    """Restore an archive from `findalike export` (e.g. Milvus Lite -> a server).

    Writes to the store of FINDALIKE_MILVUS_URI (or --milvus-uri), originals and app
    state under FINDALIKE_DATA_DIR. Nothing is re-encoded; fingerprints kept as 0/1
    floats on Milvus Lite become binary vectors on a server, and back. The archive is
    checked whole before anything is written. Restart a findalike server that uses the
    target store afterwards."""
    from findalike.backup import import_install

    with _row_progress("importing") as on_progress:
        report = _offline(
            lambda: import_install(
                _store_settings(milvus_uri), archive, replace=replace, on_progress=on_progress
            )
        )
    _print_archive_report(report, "imported from")


def _store_settings(milvus_uri: str | None) -> Settings:
    from findalike.config import Settings

    return Settings(milvus_uri=milvus_uri) if milvus_uri else Settings()


def _offline(work: Callable[[], ArchiveReport]) -> ArchiveReport:
    """Run an export or import; a findalike error ends the command with its message."""
    from findalike.errors import FindalikeError

    try:
        return work()
    except FindalikeError as exc:
        _fail(exc.detail)


@contextmanager
def _row_progress(verb: str) -> Iterator[Callable[[str, int, int], None]]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        tasks: dict[str, TaskID] = {}

        def update(collection: str, done: int, total: int) -> None:
            if collection not in tasks:
                tasks[collection] = progress.add_task(f"{verb} {collection}", total=total)
            progress.update(tasks[collection], completed=done, total=total)

        yield update


def _print_archive_report(report: ArchiveReport, verb: str) -> None:
    table = Table("collection", "app", "rows", "vectors")
    for c in report.collections:
        kind = (
            c.vector_kind
            if c.converted_from is None
            else f"{c.vector_kind} (from {c.converted_from})"
        )
        table.add_row(c.name, c.app, str(c.rows), kind)
    console.print(table)
    console.print(
        f"{verb} {report.path}: {report.rows} rows, {report.media_files} stored originals, "
        f"{report.state_files} state files, {report.archive_bytes / 1e6:.1f} MB archive, "
        f"{report.seconds:.1f} s ({report.rows / max(report.seconds, 1e-9):.0f} rows/s)"
    )


# -- helpers ---------------------------------------------------------------------------

_LABEL_FIELDS = ("title", "question", "name", "label", "smiles", "source", "filename")
"""What names a hit in a table: the first of these it has (else its item id)."""
_TEXT_FIELDS = ("snippet", "answer", "text", "sequence")
"""What a hit's table row shows of its content: the first of these it has."""
SNIPPET_CHARS = 160


def _print_hits(result: dict[str, Any]) -> None:
    """A search response as a table: rank, score, what the hit is, what matched."""
    hits = result.get("hits")
    if not isinstance(hits, list):
        console.print_json(data=result)
        return
    # one line per hit, a table people read at a glance: the name and the text are cut
    # to the terminal's width (rich would squeeze the rank and score columns away)
    hit_width = min(30, max(8, console.width // 4))
    rank_width = len(str(len(hits)))
    match_width = max(8, console.width - hit_width - rank_width - len("0.0000") - 13)
    table = Table(show_lines=False)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("score", no_wrap=True)
    table.add_column("hit", no_wrap=True, overflow="ellipsis", max_width=hit_width)
    table.add_column("match", no_wrap=True, overflow="ellipsis", max_width=match_width)
    for rank, hit in enumerate(hits, 1):
        label = next((str(hit[f]) for f in _LABEL_FIELDS if hit.get(f)), str(hit.get("item_id")))
        text = " ".join(next((str(hit[f]) for f in _TEXT_FIELDS if hit.get(f)), "").split())
        if len(text) > SNIPPET_CHARS:
            text = text[:SNIPPET_CHARS] + "…"
        score = hit.get("score")
        table.add_row(
            str(rank), f"{score:.4f}" if isinstance(score, float) else str(score), label, text
        )
    console.print(table)
    notes = [f"mode {result['mode']}"] if result.get("mode") else []
    if result.get("exact_terms"):
        notes.append("exact first: " + ", ".join(result["exact_terms"]))
    if result.get("notice"):
        notes.append(str(result["notice"]))
    if not hits:
        notes.insert(0, "no hits")
    if notes:
        console.print("; ".join(notes), style="dim", markup=False, highlight=False)


@contextmanager
def _connected(server: str | None) -> Iterator[Client]:
    """A client of the server a command talks to; its errors end the command with
    the server's problem details."""
    try:
        with Client(_url(server), api_key=_Global.api_key, timeout=600) as fa:
            yield fa
    except ApiError as exc:
        _fail(f"{exc.status}: {exc.detail}")
    except (Unreachable, FileNotFoundError) as exc:
        _fail(str(exc))


def _request(method: str, server: str | None, path: str, **kwargs: Any) -> Any:
    """The JSON answer of any route (what ``--output json`` prints as it is)."""
    with _connected(server) as fa:
        return fa.request(method, path, **kwargs)


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/] {message}")
    raise typer.Exit(1)


def _query_body(server: str | None, app_name: str, query: str | None, top_k: int) -> dict[str, Any]:
    """A search body: QUERY in the app's query field and ``top_k`` (every app's search
    takes it: the contract). The query field is read from the server's OpenAPI
    schema (its first required text field, else its first optional one that is not
    an id or media), so the CLI needs no knowledge of each app."""
    if query is None:
        _fail("give a QUERY, --file or --json")
    spec = _request("GET", server, "/openapi.json")
    op = spec["paths"].get(f"/api/{app_name}/search", {}).get("post")
    if op is None:
        _fail(f"the app {app_name!r} has no JSON search; try --file")
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    schema = spec["components"]["schemas"][ref]
    field = _query_field(schema)
    if field is None:
        _fail(f"{app_name} searches by a file or a stored item: use --file or --json")
    return {field: query, "top_k": top_k}


def _query_field(schema: dict[str, Any]) -> str | None:
    properties: dict[str, Any] = schema.get("properties", {})

    def is_text(prop: dict[str, Any]) -> bool:
        options = [prop, *prop.get("anyOf", [])]
        return any(
            o.get("type") == "string" and o.get("contentEncoding") != "base64" for o in options
        ) and not prop.get("deprecated")

    required = [n for n in schema.get("required", []) if is_text(properties.get(n, {}))]
    optional = [
        n
        for n, p in properties.items()
        if is_text(p) and n != "item_id" and not n.endswith("_base64")
    ]
    return (required or optional or [None])[0]


def _watch(fa: Client, job_id: str) -> None:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("queued", total=None, rate="")

        def show(job: Job) -> None:
            rate = f"{job.rate_per_s:.1f}/s" if job.rate_per_s else ""
            progress.update(
                task, total=job.total, completed=job.processed, description=job.phase, rate=rate
            )

        job = fa.wait(job_id, on_progress=show)
    colour = "green" if job.state == "done" else "red"
    console.print(f"[{colour}]{job.state}[/]: {job.message}")
    for e in job.errors[:20]:
        console.print(f"  [yellow]{e.item}[/]: {e.error}")
    if len(job.errors) > 20 or job.errors_truncated:
        console.print(f"  ... {job.failed - 20} more (findalike jobs show {job_id})")
    if job.state != "done":
        raise typer.Exit(1)


GLOBAL_ONLY = ("--api-key",)
"""Options of the command line as a whole that are also taken after the command
(``findalike search text "q" --api-key K``): moved before it."""


def hoist_global_options(args: list[str]) -> list[str]:
    """``args`` with every ``--api-key VALUE`` (or ``--api-key=VALUE``) moved to the
    front, where the command line as a whole reads it; anything after ``--`` is left."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        if arg in GLOBAL_ONLY and i + 1 < len(args):
            front += args[i : i + 2]
            i += 2
            continue
        if arg.split("=", 1)[0] in GLOBAL_ONLY and "=" in arg:
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


def main() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    app(args=hoist_global_options(sys.argv[1:]), prog_name="findalike")


if __name__ == "__main__":
    main()
