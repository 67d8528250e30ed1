"""The command line: ``findalike serve`` runs the server; the other commands talk
to a running server over HTTP (``--server``, default http://127.0.0.1:8000), so they
work the same against a local or a remote findalike."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

app = typer.Typer(help="findalike: similarity search over unstructured data, on Milvus.",
                  no_args_is_help=True)
jobs_app = typer.Typer(help="Load jobs: list, show, watch, cancel.", no_args_is_help=False)
app.add_typer(jobs_app, name="jobs")
console = Console()
err = Console(stderr=True)

ServerOpt = Annotated[
    str,
    typer.Option("--server", "-s", envvar="FINDALIKE_SERVER", help="findalike server URL."),
]
DEFAULT_SERVER = "http://127.0.0.1:8000"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    demo: Annotated[
        bool, typer.Option("--demo/--no-demo", help="Load the bundled demo data into empty apps.")
    ] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
) -> None:
    """Serve the API (/docs, /redoc) and the web UI."""
    import logging

    import uvicorn

    from findalike.api.main import create_app
    from findalike.config import Settings

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    settings = Settings()
    console.print(f"findalike on http://{host}:{port}  (Milvus: {settings.resolved_milvus_uri})")
    uvicorn.run(create_app(settings, load_demo=demo), host=host, port=port, log_level=log_level)


@app.command()
def apps(server: ServerOpt = DEFAULT_SERVER) -> None:
    """The apps, their item counts and encoders."""
    rows = _request("GET", server, "/api/apps")
    table = Table("app", "items", "encoder", "status")
    for a in rows:
        status = "enabled" if a["enabled"] else f"disabled: {a.get('reason')}"
        encoder = f"{a['encoder']} ({a['dim']}-d {a['metric']})" if a.get("encoder") else "-"
        table.add_row(a["name"], str(a.get("items") if a.get("items") is not None else "-"),
                      encoder, status)
    console.print(table)


@app.command()
def load(
    app_name: Annotated[str, typer.Argument(metavar="APP", help="text, qa, image, ...")],
    paths: Annotated[list[Path], typer.Argument(help="Files, zips or folders to upload.")],
    server: ServerOpt = DEFAULT_SERVER,
    server_path: Annotated[
        bool, typer.Option(help="Send PATHS as paths on the server (inside an allowed root).")
    ] = False,
    wait: Annotated[bool, typer.Option(help="Follow the job with a progress bar.")] = True,
) -> None:
    """Load data into an app (a background job on the server)."""
    if server_path:
        job_ids = [
            _request("POST", server, f"/api/{app_name}/load", data={"path": str(p)})["id"]
            for p in paths
        ]
    else:
        files = _collect(paths)
        if not files:
            _fail("no files found in the given paths")
        handles = [("files", (f.name, f.open("rb"))) for f in files]
        try:
            job_ids = [_request("POST", server, f"/api/{app_name}/load", files=handles)["id"]]
        finally:
            for _, (_, fh) in handles:
                fh.close()
    for job_id in job_ids:
        console.print(f"request received: job {job_id}")
        if wait:
            _watch(server, job_id)


@app.command()
def search(
    app_name: Annotated[str, typer.Argument(metavar="APP")],
    query: Annotated[str | None, typer.Argument(help="The query text / SMILES / sequence.")] = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k")] = 10,
    file: Annotated[Path | None, typer.Option(help="Query file (image, clip) to upload.")] = None,
    body: Annotated[str | None, typer.Option("--json", help="The whole request body.")] = None,
    server: ServerOpt = DEFAULT_SERVER,
) -> None:
    """Search an app; prints the JSON response."""
    if file is not None:
        with file.open("rb") as fh:
            result = _request("POST", server, f"/api/{app_name}/search/upload",
                              files=[("file", (file.name, fh))], data={"top_k": str(top_k)})
    else:
        payload = json.loads(body) if body else _query_body(server, app_name, query, top_k)
        result = _request("POST", server, f"/api/{app_name}/search", json=payload)
    console.print_json(data=result)


@app.command()
def ask(
    question: Annotated[str, typer.Argument()],
    server: ServerOpt = DEFAULT_SERVER,
) -> None:
    """Ask the QA chatbot."""
    r = _request("POST", server, "/api/qa/answer", json={"question": question})
    if r["answered"]:
        console.print(f"[bold]{r['matched_question']}[/] (confidence {r['confidence']:.2f})")
        console.print(r["answer"])
    else:
        console.print(f"{r['message']} (confidence {r['confidence']:.2f})")
        for rel in r["related"]:
            console.print(f"  - {rel['question']}")


@app.command()
def evaluate(
    app_name: Annotated[str, typer.Argument(metavar="APP", help="dna or recommend")],
    body: Annotated[str, typer.Option("--json", help="Request body (JSON).")] = "{}",
    server: ServerOpt = DEFAULT_SERVER,
) -> None:
    """Run an app's held-out evaluation (dna, recommend)."""
    console.print_json(
        data=_request("POST", server, f"/api/{app_name}/evaluate", json=json.loads(body))
    )


@jobs_app.callback(invoke_without_command=True)
def jobs_list(
    ctx: typer.Context,
    app_name: Annotated[str | None, typer.Option("--app")] = None,
    server: ServerOpt = DEFAULT_SERVER,
) -> None:
    """Recent jobs."""
    if ctx.invoked_subcommand:
        return
    params = {"app": app_name} if app_name else {}
    table = Table("id", "app", "state", "done", "skipped", "failed", "total", "message")
    for j in _request("GET", server, "/api/jobs", params=params):
        table.add_row(j["id"], j["app"], j["state"], str(j["done"]), str(j["skipped"]),
                      str(j["failed"]), str(j["total"]), j["message"][:60])
    console.print(table)


@jobs_app.command("show")
def jobs_show(job_id: str, server: ServerOpt = DEFAULT_SERVER) -> None:
    """One job as JSON (with its per-item errors)."""
    console.print_json(data=_request("GET", server, f"/api/jobs/{job_id}"))


@jobs_app.command("watch")
def jobs_watch(job_id: str, server: ServerOpt = DEFAULT_SERVER) -> None:
    """Follow a job with a progress bar until it ends."""
    _watch(server, job_id)


@jobs_app.command("cancel")
def jobs_cancel(job_id: str, server: ServerOpt = DEFAULT_SERVER) -> None:
    """Ask a running job to stop."""
    console.print_json(data=_request("POST", server, f"/api/jobs/{job_id}/cancel"))


# -- helpers ---------------------------------------------------------------------------


def _request(method: str, server: str, path: str, **kwargs: Any) -> Any:
    try:
        with httpx.Client(base_url=server, timeout=600) as client:
            r = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        _fail(f"cannot reach findalike at {server}: {exc} (is `findalike serve` running?)")
    if r.status_code >= 400:
        try:
            detail = r.json().get("detail", r.text)
        except ValueError:
            detail = r.text
        _fail(f"{r.status_code}: {detail}")
    return r.json()


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/] {message}")
    raise typer.Exit(1)


def _collect(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
        elif p.is_file():
            out.append(p)
        else:
            _fail(f"no such file or folder: {p}")
    return out


def _query_body(server: str, app_name: str, query: str | None, top_k: int) -> dict[str, Any]:
    """A search body with QUERY in the app's first required text field, read from the
    server's OpenAPI schema, so the CLI needs no knowledge of each app."""
    if query is None:
        _fail("give a QUERY, --file or --json")
    spec = _request("GET", server, "/openapi.json")
    op = spec["paths"].get(f"/api/{app_name}/search", {}).get("post")
    if op is None:
        _fail(f"the app {app_name!r} has no JSON search; try --file")
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    schema = spec["components"]["schemas"][ref]
    field = next(
        (n for n in schema.get("required", [])
         if schema["properties"][n].get("type") == "string"),
        None,
    )
    if field is None:
        _fail(f"cannot tell which field of {ref} takes the query; use --json")
    body: dict[str, Any] = {field: query}
    if "top_k" in schema["properties"]:
        body["top_k"] = top_k
    return body


def _watch(server: str, job_id: str) -> None:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("queued", total=None, rate="")
        while True:
            job = _request("GET", server, f"/api/jobs/{job_id}")
            processed = job["done"] + job["skipped"] + job["failed"]
            rate = f"{job['rate_per_s']:.1f}/s" if job.get("rate_per_s") else ""
            progress.update(task, total=job["total"], completed=processed,
                            description=job["phase"], rate=rate)
            if job["state"] not in ("queued", "running"):
                break
            time.sleep(0.5)
    colour = "green" if job["state"] == "done" else "red"
    console.print(f"[{colour}]{job['state']}[/]: {job['message']}")
    for e in job["errors"][:20]:
        console.print(f"  [yellow]{e['item']}[/]: {e['error']}")
    if len(job["errors"]) > 20 or job["errors_truncated"]:
        console.print(f"  ... {job['failed'] - 20} more (findalike jobs show {job_id})")
    if job["state"] != "done":
        raise typer.Exit(1)


def main() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    app(prog_name="findalike")


if __name__ == "__main__":
    sys.exit(main())
