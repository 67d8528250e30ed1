"""findalike's Python client: every route a user calls, sync (``Client``) and async
(``AsyncClient``), on httpx, answering with the server's own pydantic models.

    from findalike.client import Client

    with Client("http://127.0.0.1:8000") as fa:
        job = fa.text.load("speeches.jsonl", wait=True)
        for hit in fa.text.search(query="tax cuts for families", top_k=3).hits:
            print(hit.score, hit.title)

An error answer raises ``ApiError``, which carries the server's problem details
(``status``, ``title``, ``detail``, ``errors``); a server that cannot be reached
raises ``Unreachable``. Each operation is written once (``@operation``) and served by
both clients: the sync one sends it with ``httpx.Client``, the async one awaits it
with ``httpx.AsyncClient``.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import (
    IO,
    TYPE_CHECKING,
    Any,
    Concatenate,
    Generic,
    ParamSpec,
    Self,
    TypeVar,
    cast,
    overload,
)

import httpx
from pydantic import BaseModel, ConfigDict

from findalike.api.errors import ErrorBody, FieldError
from findalike.api.routes.app_routes import (
    CollectionInfo,
    CollectionList,
    CountResponse,
    DeletedResponse,
    DroppedResponse,
    ItemResponse,
    ItemsPage,
)
from findalike.api.routes.jobs import JobsPage
from findalike.api.routes.system import AppsPage, Health
from findalike.jobs import TERMINAL_STATES, Job

if TYPE_CHECKING:
    from findalike.apps.dna.models import DnaClassification, DnaEvaluation
    from findalike.apps.objects.models import DetectResponse
    from findalike.apps.people.models import PeopleList, PersonDeleted
    from findalike.apps.qa.models import AnswerResponse, QAEvaluateResponse
    from findalike.apps.recommend.models import (
        EvaluationReport,
        ModelInfo,
        Recommendations,
        SimilarItems,
        UsersRecommendations,
    )
    from findalike.apps.text.models import TextEvaluateResponse

DEFAULT_SERVER = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT_S = 600.0
WAIT_POLL_S = 0.25

T = TypeVar("T")
P = ParamSpec("P")
Progress = Callable[[Job], object]
"""Called with the job at every change seen while waiting for it."""


class ApiError(Exception):
    """The server answered with an error: its problem details."""

    def __init__(self, body: ErrorBody) -> None:
        super().__init__(f"{body.status} {body.title}: {body.detail}")
        self.body = body

    @property
    def status(self) -> int:
        return self.body.status

    @property
    def title(self) -> str:
        return self.body.title

    @property
    def detail(self) -> str:
        return self.body.detail

    @property
    def errors(self) -> list[FieldError]:
        """Which fields were wrong, where the server said (``body.top_k``, ...)."""
        return self.body.errors


class Unreachable(Exception):
    """No answer from the server (not running, wrong address, network down)."""


class JobFailed(Exception):
    """A job waited for ended other than ``done`` (``failed``, ``cancelled``, ...)."""

    def __init__(self, job: Job) -> None:
        super().__init__(f"job {job.id} {job.state}: {job.message}")
        self.job = job


class Result(BaseModel):
    """An answer whose model the client does not know (an app it does not ship):
    every field of the JSON, as attributes."""

    model_config = ConfigDict(extra="allow")


Upload = tuple[str, bytes | IO[bytes]]
"""An in-memory file to send: its name and its content."""


# -- operations: written once, sent by either client ---------------------------------


@dataclass
class Call(Generic[T]):
    """One request and how to read its answer."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    data: dict[str, Any] | None = None
    files: Sequence[tuple[str, Upload]] | Callable[[ExitStack], Sequence[tuple[str, Upload]]] = ()
    ok: tuple[int, ...] = ()
    """Error statuses answered with a body ``parse`` reads (health's 503)."""


class Operation(Generic[P, T]):
    """A method of both clients. ``template`` names the route of ``/openapi.json`` it
    calls, ``{app}`` standing for the app's name (the coverage test reads it)."""

    def __init__(
        self, method: str, template: str, build: Callable[Concatenate[Any, P], Call[T]]
    ) -> None:
        self.method, self.template, self.build = method, template, build
        self.__doc__ = build.__doc__
        self.__name__ = build.__name__

    @overload
    def __get__(self, obj: None, owner: type) -> Operation[P, T]: ...
    @overload
    def __get__(self, obj: _Sync, owner: type) -> Callable[P, T]: ...
    @overload
    def __get__(self, obj: _Async, owner: type) -> Callable[P, Awaitable[T]]: ...
    def __get__(self, obj: Any, owner: type) -> Any:
        if obj is None:
            return self

        def bound(*args: P.args, **kwargs: P.kwargs) -> Any:
            return obj._send(self.build(obj, *args, **kwargs))

        bound.__doc__, bound.__name__ = self.__doc__, self.__name__
        return bound


def operation(
    method: str, template: str
) -> Callable[[Callable[Concatenate[Any, P], Call[T]]], Operation[P, T]]:
    def wrap(build: Callable[Concatenate[Any, P], Call[T]]) -> Operation[P, T]:
        return Operation(method, template, build)

    return wrap


def _model(model: type[T]) -> Callable[[httpx.Response], T]:
    return lambda r: cast(T, cast(type[BaseModel], model).model_validate(r.json()))


def _app_model(module: str, name: str) -> Callable[[httpx.Response], Any]:
    """Reads an answer with the app's own model, imported at first use (an app's
    module imports the app's declaration, which a plain client does not need)."""

    def parse(r: httpx.Response) -> Any:
        model: type[BaseModel] = getattr(importlib.import_module(module), name)
        return model.model_validate(r.json())

    return parse


def _raw(method: str, path: str, kwargs: dict[str, Any]) -> Call[Any]:
    return Call(
        method,
        path,
        lambda r: r.json(),
        params=kwargs.get("params") or {},
        json=kwargs.get("json"),
        data=kwargs.get("data"),
        files=kwargs.get("files") or (),
    )


def _bytes(r: httpx.Response) -> bytes:
    return r.content


def _body(request: BaseModel | None, fields: dict[str, Any]) -> dict[str, Any]:
    """A JSON body from a request model or from keyword arguments (not both)."""
    if request is None:
        return fields
    if fields:
        raise TypeError("give a request model or keyword fields, not both")
    return request.model_dump(mode="json", exclude_unset=True)


def _where(collection: str | None) -> dict[str, Any]:
    return {"collection": collection} if collection else {}


def files_in(paths: Iterable[str | Path]) -> list[Path]:
    """The files of ``paths``: files as given, folders walked (sorted, hidden files
    left out). A path that does not exist raises ``FileNotFoundError``."""
    out: list[Path] = []
    for given in paths:
        p = Path(given)
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(f"no such file or folder: {p}")
    return out


def _opened(
    paths: Sequence[Path], uploads: Sequence[Upload], key: str
) -> Callable[[ExitStack], Any]:
    """The multipart files of a call, opened when it is sent and closed after."""

    def open_all(stack: ExitStack) -> list[tuple[str, Upload]]:
        out = [(key, (p.name, stack.enter_context(p.open("rb")))) for p in paths]
        return out + [(key, u) for u in uploads]

    return open_all


def _query_file(file: str | Path | Upload) -> tuple[list[Path], list[Upload]]:
    if isinstance(file, tuple):
        return [], [file]
    return [Path(file)], []


def _form(options: dict[str, Any]) -> dict[str, str]:
    """Search options as multipart form fields (numbers and flags as JSON text)."""
    return {
        k: v if isinstance(v, str) else json.dumps(v) for k, v in options.items() if v is not None
    }


class _Root:
    """The operations on the server as a whole: health, apps, jobs."""

    _http: Any

    @property
    def server(self) -> str:
        """The server's URL."""
        return str(self._http.base_url).rstrip("/")

    @operation("GET", "/api/health")
    def health(self) -> Call[Health]:
        """Whether the server and its Milvus answer (a 503 answer is returned too)."""
        return Call("GET", "/api/health", _model(Health), ok=(503,))

    @operation("GET", "/api/apps")
    def apps(self) -> Call[AppsPage]:
        """Every app: counts, encoder, enabled or why not."""
        return Call("GET", "/api/apps", _model(AppsPage))

    @operation("GET", "/api/jobs")
    def jobs(self, *, app: str | None = None, limit: int | None = None) -> Call[JobsPage]:
        """Recent jobs, newest first (``app``: only its jobs)."""
        params = {k: v for k, v in (("app", app), ("limit", limit)) if v is not None}
        return Call("GET", "/api/jobs", _model(JobsPage), params=params)

    @operation("GET", "/api/jobs/{job_id}")
    def job(self, job_id: str) -> Call[Job]:
        """One job: state, progress, per-item errors."""
        return Call("GET", f"/api/jobs/{job_id}", _model(Job))

    @operation("POST", "/api/jobs/{job_id}/cancel")
    def cancel(self, job_id: str) -> Call[Job]:
        """Ask a running job to stop; it keeps what it stored."""
        return Call("POST", f"/api/jobs/{job_id}/cancel", _model(Job))


class _App:
    """The routes every app has: load, search, count, items, collections."""

    def __init__(self, name: str, http: Any, client: Any) -> None:
        self.name = name
        self.prefix = f"/api/{name}"
        self._http = http
        self._client = client

    def _search_model(self, r: httpx.Response) -> Any:
        try:
            spec = importlib.import_module(f"findalike.apps.{self.name}").APP
        except ImportError:  # an app this client does not ship
            return Result.model_validate(r.json())
        return spec.search_response.model_validate(r.json())

    @operation("POST", "/api/{app}/load")
    def _load(
        self,
        paths: Sequence[Path],
        uploads: Sequence[Upload],
        server_path: str | None,
        collection: str | None,
    ) -> Call[Job]:
        return Call(
            "POST",
            f"{self.prefix}/load",
            _model(Job),
            params=_where(collection),
            data={"path": server_path} if server_path else None,
            files=_opened(paths, uploads, "files"),
        )

    @operation("POST", "/api/{app}/search")
    def search(
        self, request: BaseModel | None = None, /, *, collection: str | None = None, **fields: Any
    ) -> Call[Any]:
        """Search: the app's query fields and options as keywords (``query=``,
        ``smiles=``, ``item_id=``, ``top_k=``, ...) or the app's request model. Answers
        the app's search response (``hits``, best first)."""
        body = _body(request, fields)
        return Call(
            "POST",
            f"{self.prefix}/search",
            self._search_model,
            params=_where(collection),
            json=body,
        )

    @operation("GET", "/api/{app}/count")
    def count(self, *, collection: str | None = None) -> Call[CountResponse]:
        """Items and vectors stored."""
        return Call("GET", f"{self.prefix}/count", _model(CountResponse), params=_where(collection))

    @operation("GET", "/api/{app}/items")
    def items(
        self, *, offset: int = 0, limit: int = 20, collection: str | None = None
    ) -> Call[ItemsPage]:
        """A page of the stored items."""
        params = {"offset": offset, "limit": limit, **_where(collection)}
        return Call("GET", f"{self.prefix}/items", _model(ItemsPage), params=params)

    @operation("GET", "/api/{app}/items/{item_id}")
    def item(self, item_id: str, *, collection: str | None = None) -> Call[ItemResponse]:
        """One stored item and its fields."""
        return Call(
            "GET", f"{self.prefix}/items/{item_id}", _model(ItemResponse), params=_where(collection)
        )

    @operation("DELETE", "/api/{app}/items/{item_id}")
    def delete(self, item_id: str, *, collection: str | None = None) -> Call[DeletedResponse]:
        """Delete one item (its vectors and stored files)."""
        return Call(
            "DELETE",
            f"{self.prefix}/items/{item_id}",
            _model(DeletedResponse),
            params=_where(collection),
        )

    @operation("DELETE", "/api/{app}")
    def drop(self, *, collection: str | None = None) -> Call[DroppedResponse]:
        """Drop every item of the app (or of one named collection)."""
        return Call("DELETE", self.prefix, _model(DroppedResponse), params=_where(collection))

    @operation("GET", "/api/{app}/collections")
    def collections(self) -> Call[CollectionList]:
        """The app's named collections."""
        return Call("GET", f"{self.prefix}/collections", _model(CollectionList))

    @operation("POST", "/api/{app}/collections")
    def create_collection(self, name: str, /, **choices: Any) -> Call[CollectionInfo]:
        """Create a named collection; ``choices``: the app's own (``encoder=``,
        ``language=``, a DNA encoder's options, ...)."""
        body = {"name": name, **choices}
        return Call("POST", f"{self.prefix}/collections", _model(CollectionInfo), json=body)

    @operation("DELETE", "/api/{app}/collections/{name}")
    def drop_collection(self, name: str) -> Call[DroppedResponse]:
        """Drop a named collection and everything in it."""
        return Call("DELETE", f"{self.prefix}/collections/{name}", _model(DroppedResponse))


class _Uploads(_App):
    """An app searched by a file whose originals it keeps (audio)."""

    @operation("POST", "/api/{app}/search/upload")
    def search_file(
        self, file: str | Path | Upload, /, *, collection: str | None = None, **options: Any
    ) -> Call[Any]:
        """Search by a file (an image, a clip, a recording): a path, or ``(name,
        content)``; ``options`` as for ``search`` (``top_k=``, ...)."""
        paths, uploads = _query_file(file)
        return Call(
            "POST",
            f"{self.prefix}/search/upload",
            self._search_model,
            params=_where(collection),
            data=_form(options),
            files=_opened(paths, uploads, "file"),
        )

    @operation("GET", "/api/{app}/items/{item_id}/file")
    def file(self, item_id: str, *, collection: str | None = None) -> Call[bytes]:
        """The stored original of a media item (image, clip, recording)."""
        return Call("GET", f"{self.prefix}/items/{item_id}/file", _bytes, params=_where(collection))


class _Pictures(_Uploads):
    """An app of pictures: also a thumbnail per item (video: per frame)."""

    @operation("GET", "/api/{app}/items/{item_id}/thumbnail")
    def thumbnail(
        self, item_id: str, *, part: int | None = None, collection: str | None = None
    ) -> Call[bytes]:
        """A media item's thumbnail (JPEG); ``part``: a video's frame, by its number."""
        params = {**({"part": part} if part is not None else {}), **_where(collection)}
        return Call("GET", f"{self.prefix}/items/{item_id}/thumbnail", _bytes, params=params)


def _evaluation(
    app: str,
    response: str,
    request: BaseModel | None,
    fields: dict[str, Any],
    collection: str | None,
) -> Call[Any]:
    """Text and QA's ``POST /evaluate`` over labelled queries."""
    return Call(
        "POST",
        f"/api/{app}/evaluate",
        _app_model(f"findalike.apps.{app}.models", response),
        params=_where(collection),
        json=_body(request, fields),
    )


class _Text(_App):
    @operation("POST", "/api/text/evaluate")
    def evaluate(
        self, request: BaseModel | None = None, /, *, collection: str | None = None, **fields: Any
    ) -> Call[TextEvaluateResponse]:
        """Relevance of each search mode over labelled queries (``queries=[...]``)."""
        return _evaluation("text", "TextEvaluateResponse", request, fields, collection)


class _QA(_App):
    @operation("POST", "/api/qa/answer")
    def answer(
        self, question: str, /, *, collection: str | None = None, **options: Any
    ) -> Call[AnswerResponse]:
        """Ask the chatbot: the best answer, or the closest questions when unsure."""
        return Call(
            "POST",
            "/api/qa/answer",
            _app_model("findalike.apps.qa.models", "AnswerResponse"),
            params=_where(collection),
            json={"question": question, **options},
        )

    @operation("POST", "/api/qa/evaluate")
    def evaluate(
        self, request: BaseModel | None = None, /, *, collection: str | None = None, **fields: Any
    ) -> Call[QAEvaluateResponse]:
        """Relevance of each mode over labelled questions, and the best threshold."""
        return _evaluation("qa", "QAEvaluateResponse", request, fields, collection)


class _Image(_Pictures):
    @operation("POST", "/api/image/labels")
    def label(self, *, collection: str | None = None) -> Call[Job]:
        """Label the stored images that have no labels yet (a job)."""
        return Call("POST", "/api/image/labels", _model(Job), params=_where(collection))


class _Objects(_Pictures):
    @operation("POST", "/api/objects/detect/upload")
    def detect(self, file: str | Path | Upload, /, **options: Any) -> Call[DetectResponse]:
        """The known objects in a picture, with their boxes (nothing is stored)."""
        paths, uploads = _query_file(file)
        return Call(
            "POST",
            "/api/objects/detect/upload",
            _app_model("findalike.apps.objects.models", "DetectResponse"),
            data=_form(options),
            files=_opened(paths, uploads, "file"),
        )


class _People(_Pictures):
    @operation("GET", "/api/people/people")
    def people(self, *, collection: str | None = None) -> Call[PeopleList]:
        """The registered people and their photos."""
        return Call(
            "GET",
            "/api/people/people",
            _app_model("findalike.apps.people.models", "PeopleList"),
            params=_where(collection),
        )

    @operation("DELETE", "/api/people/people/{name}")
    def remove_person(self, name: str, *, collection: str | None = None) -> Call[PersonDeleted]:
        """Forget a person: every face registered under the name."""
        return Call(
            "DELETE",
            f"/api/people/people/{name}",
            _app_model("findalike.apps.people.models", "PersonDeleted"),
            params=_where(collection),
        )


class _Molecule(_App):
    @operation("GET", "/api/molecule/depict")
    def depict(
        self,
        smiles: str,
        *,
        highlight: str | None = None,
        reference: str | None = None,
        size: int | None = None,
    ) -> Call[bytes]:
        """A SMILES drawn as SVG (``highlight``: a substructure; ``reference``: the
        query whose common part is marked)."""
        given = (("highlight", highlight), ("reference", reference), ("size", size))
        params = {"smiles": smiles, **{k: v for k, v in given if v is not None}}
        return Call("GET", "/api/molecule/depict", _bytes, params=params)

    @operation("GET", "/api/molecule/items/{item_id}/depiction")
    def depiction(self, item_id: str) -> Call[bytes]:
        """A stored molecule drawn as SVG."""
        return Call("GET", f"/api/molecule/items/{item_id}/depiction", _bytes)


class _Dna(_App):
    @operation("POST", "/api/dna/classify")
    def classify(self, sequence: str, /, **options: Any) -> Call[DnaClassification]:
        """The class of a sequence by its nearest stored neighbours."""
        return Call(
            "POST",
            "/api/dna/classify",
            _app_model("findalike.apps.dna.models", "DnaClassification"),
            json={"sequence": sequence, **options},
        )

    @operation("POST", "/api/dna/evaluate")
    def evaluate(self, /, **options: Any) -> Call[DnaEvaluation]:
        """Every DNA encoder's held-out kNN accuracy on the stored sequences."""
        return Call(
            "POST",
            "/api/dna/evaluate",
            _app_model("findalike.apps.dna.models", "DnaEvaluation"),
            json=options,
        )


_RECOMMEND = "findalike.apps.recommend.models"


class _Recommend(_App):
    @operation("POST", "/api/recommend/train")
    def train(self) -> Call[Job]:
        """Train the recommender on the stored ratings (a job)."""
        return Call("POST", "/api/recommend/train", _model(Job))

    @operation("GET", "/api/recommend/model")
    def model(self) -> Call[ModelInfo]:
        """The model in use: when trained, on what, how well."""
        return Call("GET", "/api/recommend/model", _app_model(_RECOMMEND, "ModelInfo"))

    @operation("GET", "/api/recommend/users/{user}")
    def for_user(self, user: str, *, top_k: int | None = None) -> Call[Recommendations]:
        """Recommendations for a known user."""
        params = {"top_k": top_k} if top_k is not None else {}
        return Call(
            "GET",
            f"/api/recommend/users/{user}",
            _app_model(_RECOMMEND, "Recommendations"),
            params=params,
        )

    @operation("GET", "/api/recommend/items/{item}/similar")
    def similar(self, item: str, *, top_k: int | None = None) -> Call[SimilarItems]:
        """Items liked by the same people as ``item``."""
        params = {"top_k": top_k} if top_k is not None else {}
        return Call(
            "GET",
            f"/api/recommend/items/{item}/similar",
            _app_model(_RECOMMEND, "SimilarItems"),
            params=params,
        )

    @operation("POST", "/api/recommend/fold-in")
    def fold_in(self, /, **fields: Any) -> Call[Recommendations]:
        """Recommendations for a new user from a few ratings (``ratings={...}``)."""
        return Call(
            "POST", "/api/recommend/fold-in", _app_model(_RECOMMEND, "Recommendations"), json=fields
        )

    @operation("POST", "/api/recommend/for-users")
    def for_users(self, users: Sequence[str], /, **options: Any) -> Call[UsersRecommendations]:
        """Recommendations for many known users at once."""
        return Call(
            "POST",
            "/api/recommend/for-users",
            _app_model(_RECOMMEND, "UsersRecommendations"),
            json={"users": list(users), **options},
        )

    @operation("POST", "/api/recommend/evaluate")
    def evaluate(self, /, **options: Any) -> Call[EvaluationReport]:
        """Held-out ranking quality of the model against popularity."""
        return Call(
            "POST",
            "/api/recommend/evaluate",
            _app_model(_RECOMMEND, "EvaluationReport"),
            json=options,
        )


# -- the two clients --------------------------------------------------------------------


def _server(server: str | None) -> str:
    return (server or os.environ.get("FINDALIKE_SERVER") or DEFAULT_SERVER).rstrip("/")


def _headers(api_key: str | None) -> dict[str, str]:
    key = api_key if api_key is not None else os.environ.get("FINDALIKE_API_KEY", "")
    return {"Authorization": f"Bearer {key}"} if key else {}


def _answer(call: Call[T], r: httpx.Response) -> T:
    if r.status_code >= 400 and r.status_code not in call.ok:
        raise _error(r)
    return call.parse(r)


def _error(r: httpx.Response) -> ApiError:
    try:
        return ApiError(ErrorBody.model_validate(r.json()))
    except ValueError:  # not the server's error body (a proxy, another server)
        title = r.reason_phrase or "Error"
        return ApiError(ErrorBody(status=r.status_code, title=title, detail=r.text[:500]))


def _sse_job(lines: Iterable[str]) -> Iterator[Job]:
    """The jobs of a stream of Server-Sent Events lines (``data:`` lines)."""
    for line in lines:
        if line.startswith("data:"):
            yield Job.model_validate_json(line[5:].strip())


class _Waiting:
    """What waiting for a job does with each look at it (both clients)."""

    def __init__(
        self, job: Job | str, on_progress: Progress | None, timeout: float | None, check: bool
    ) -> None:
        self.job_id = job if isinstance(job, str) else job.id
        self.on_progress, self.timeout, self.check = on_progress, timeout, check
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.version = -1

    def seen(self, job: Job) -> Job | None:
        """The job if it has ended, else None (raises past the deadline)."""
        if job.version != self.version and self.on_progress is not None:
            self.on_progress(job)
        self.version = job.version
        if job.state in TERMINAL_STATES:
            if self.check and job.state != "done":
                raise JobFailed(job)
            return job
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TimeoutError(f"job {self.job_id} still {job.state} after {self.timeout} s")
        return None


def _http_options(
    server: str | None, api_key: str | None, timeout: float, transport: object
) -> dict[str, Any]:
    return {
        "base_url": _server(server),
        "headers": _headers(api_key),
        "timeout": timeout,
        "transport": transport,
    }


def _attach_apps(client: Client | AsyncClient) -> None:
    """Each app's client as an attribute, of the class the attribute is declared with."""
    for name, kind in vars(type(client))["__annotations__"].items():
        if name in _OPERATIONS:
            setattr(client, name, globals()[kind](name, client._http, client))


class _Sync:
    _http: httpx.Client

    def _send(self, call: Call[T]) -> T:
        with ExitStack() as stack:
            files = call.files(stack) if callable(call.files) else call.files
            try:
                r = self._http.request(call.method, call.path, **_request_args(call, files))
            except httpx.TransportError as exc:
                raise _unreachable(self._http.base_url, exc) from exc
        return _answer(call, r)


class _Async:
    _http: httpx.AsyncClient

    async def _send(self, call: Call[T]) -> T:
        with ExitStack() as stack:
            files = call.files(stack) if callable(call.files) else call.files
            try:
                r = await self._http.request(call.method, call.path, **_request_args(call, files))
            except httpx.TransportError as exc:
                raise _unreachable(self._http.base_url, exc) from exc
        return _answer(call, r)


def _request_args(call: Call[Any], files: Sequence[tuple[str, Upload]]) -> dict[str, Any]:
    return {
        "params": call.params or None,
        "json": call.json,
        "data": call.data,
        "files": list(files) or None,
    }


def _unreachable(url: httpx.URL, exc: Exception) -> Unreachable:
    return Unreachable(f"cannot reach findalike at {url}: {exc} (is `findalike serve` running?)")


class _SyncLoad(_Sync):
    _client: Client

    def load(
        self,
        *paths: str | Path,
        files: Sequence[Upload] = (),
        server_path: str | None = None,
        collection: str | None = None,
        wait: bool = False,
        on_progress: Progress | None = None,
    ) -> Job:
        """Load files, folders (walked) and zips from this machine, ``files`` given
        as ``(name, content)``, and/or a ``server_path`` inside one of the server's
        allowed roots. Answers the job at once; with ``wait``, once it has ended
        (``on_progress`` is called with the job at every change meanwhile)."""
        call = _App._load.build(self, files_in(paths), files, server_path, collection)
        job = self._send(call)
        return self._client.wait(job, on_progress=on_progress) if wait else job


class _AsyncLoad(_Async):
    _client: AsyncClient

    async def load(
        self,
        *paths: str | Path,
        files: Sequence[Upload] = (),
        server_path: str | None = None,
        collection: str | None = None,
        wait: bool = False,
        on_progress: Progress | None = None,
    ) -> Job:
        """As ``Client``'s ``load``."""
        call = _App._load.build(self, files_in(paths), files, server_path, collection)
        job = await self._send(call)
        return await self._client.wait(job, on_progress=on_progress) if wait else job


class AppClient(_SyncLoad, _App):
    """Any app, with the routes every app has."""


class VideoClient(_SyncLoad, _Pictures):
    """Video search."""


class AudioClient(_SyncLoad, _Uploads):
    """Audio search."""


class TextClient(_SyncLoad, _Text):
    """The text app."""


class QAClient(_SyncLoad, _QA):
    """The QA chatbot."""


class ImageClient(_SyncLoad, _Image):
    """Reverse image search."""


class ObjectsClient(_SyncLoad, _Objects):
    """Video analysis: known objects."""


class PeopleClient(_SyncLoad, _People):
    """Video analysis: known people."""


class MoleculeClient(_SyncLoad, _Molecule):
    """Molecular similarity search."""


class DnaClient(_SyncLoad, _Dna):
    """DNA sequence classification."""


class RecommendClient(_SyncLoad, _Recommend):
    """The recommender."""


class AsyncAppClient(_AsyncLoad, _App):
    """Any app, with the routes every app has."""


class AsyncVideoClient(_AsyncLoad, _Pictures):
    """Video search."""


class AsyncAudioClient(_AsyncLoad, _Uploads):
    """Audio search."""


class AsyncTextClient(_AsyncLoad, _Text):
    """The text app."""


class AsyncQAClient(_AsyncLoad, _QA):
    """The QA chatbot."""


class AsyncImageClient(_AsyncLoad, _Image):
    """Reverse image search."""


class AsyncObjectsClient(_AsyncLoad, _Objects):
    """Video analysis: known objects."""


class AsyncPeopleClient(_AsyncLoad, _People):
    """Video analysis: known people."""


class AsyncMoleculeClient(_AsyncLoad, _Molecule):
    """Molecular similarity search."""


class AsyncDnaClient(_AsyncLoad, _Dna):
    """DNA sequence classification."""


class AsyncRecommendClient(_AsyncLoad, _Recommend):
    """The recommender."""


class Client(_Sync, _Root):
    """A findalike server, from synchronous code. ``server``: its URL (default
    FINDALIKE_SERVER, else http://127.0.0.1:8000); ``api_key``: for a server that
    requires one (default FINDALIKE_API_KEY). Use it in a ``with`` block, or
    ``close()`` it. Each app is an attribute (``text``, ``qa``, ``image``, ...)."""

    text: TextClient
    qa: QAClient
    image: ImageClient
    video: VideoClient
    objects: ObjectsClient
    people: PeopleClient
    audio: AudioClient
    molecule: MoleculeClient
    dna: DnaClient
    recommend: RecommendClient

    def __init__(
        self,
        server: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(**_http_options(server, api_key, timeout, transport))
        _attach_apps(self)

    def app(self, name: str) -> AppClient:
        """Any app by name, with the routes every app has (``text``, ``image``, ...
        are attributes with their own routes too)."""
        return AppClient(name, self._http, self)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Any route, answered as JSON (``kwargs``: httpx's ``params``, ``json``,
        ``data``, ``files``); errors raise ``ApiError`` as everywhere."""
        return self._send(_raw(method, path, kwargs))

    def wait(
        self,
        job: Job | str,
        *,
        on_progress: Progress | None = None,
        timeout: float | None = None,
        check: bool = False,
    ) -> Job:
        """The job once it has ended (``done``, ``failed``, ``cancelled``,
        ``interrupted``); ``on_progress`` is called with it at every change seen.
        ``timeout`` (seconds): raise ``TimeoutError`` past it; ``check``: raise
        ``JobFailed`` unless it ended ``done``."""
        waiting = _Waiting(job, on_progress, timeout, check)
        while (ended := waiting.seen(self.job(waiting.job_id))) is None:
            time.sleep(WAIT_POLL_S)
        return ended

    def events(self, job_id: str) -> Iterator[Job]:
        """The job at every change, as the server pushes it (Server-Sent Events),
        until it ends."""
        path = f"/api/jobs/{job_id}/events"
        try:
            with self._http.stream("GET", path) as r:
                if r.status_code >= 400:
                    r.read()
                    raise _error(r)
                yield from _sse_job(r.iter_lines())
        except httpx.TransportError as exc:
            raise _unreachable(self._http.base_url, exc) from exc

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient(_Async, _Root):
    """A findalike server, from asynchronous code: as ``Client``, each operation
    awaited. Use it in an ``async with`` block, or ``await aclose()``."""

    text: AsyncTextClient
    qa: AsyncQAClient
    image: AsyncImageClient
    video: AsyncVideoClient
    objects: AsyncObjectsClient
    people: AsyncPeopleClient
    audio: AsyncAudioClient
    molecule: AsyncMoleculeClient
    dna: AsyncDnaClient
    recommend: AsyncRecommendClient

    def __init__(
        self,
        server: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(**_http_options(server, api_key, timeout, transport))
        _attach_apps(self)

    def app(self, name: str) -> AsyncAppClient:
        """As ``Client.app``."""
        return AsyncAppClient(name, self._http, self)

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """As ``Client.request``."""
        return await self._send(_raw(method, path, kwargs))

    async def wait(
        self,
        job: Job | str,
        *,
        on_progress: Progress | None = None,
        timeout: float | None = None,
        check: bool = False,
    ) -> Job:
        """As ``Client.wait``."""
        waiting = _Waiting(job, on_progress, timeout, check)
        while (ended := waiting.seen(await self.job(waiting.job_id))) is None:
            await asyncio.sleep(WAIT_POLL_S)
        return ended

    async def events(self, job_id: str) -> AsyncIterator[Job]:
        """As ``Client.events``."""
        path = f"/api/jobs/{job_id}/events"
        try:
            async with self._http.stream("GET", path) as r:
                if r.status_code >= 400:
                    await r.aread()
                    raise _error(r)
                async for line in r.aiter_lines():
                    for job in _sse_job([line]):
                        yield job
        except httpx.TransportError as exc:
            raise _unreachable(self._http.base_url, exc) from exc

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


EVENTS_TEMPLATE = "/api/jobs/{job_id}/events"
"""The one route served outside ``@operation`` (a stream): ``Client.events``."""


_OPERATIONS: dict[str, type[_App]] = {
    "text": _Text,
    "qa": _QA,
    "image": _Image,
    "video": _Pictures,
    "objects": _Objects,
    "people": _People,
    "audio": _Uploads,
    "molecule": _Molecule,
    "dna": _Dna,
    "recommend": _Recommend,
}
"""The operations of each app the package ships (others: ``_App``'s)."""


def covered_routes(app_names: Iterable[str]) -> set[tuple[str, str]]:
    """The routes of ``/openapi.json`` (method, path) that the clients call for
    these apps: for the coverage test and the docs."""
    out = {("GET", EVENTS_TEMPLATE)}
    for name in app_names:
        for klass in (*_OPERATIONS.get(name, _App).__mro__, _Root):
            for attr in vars(klass).values():
                if isinstance(attr, Operation):
                    out.add((attr.method, attr.template.replace("{app}", name)))
    return out
