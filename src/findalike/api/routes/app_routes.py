"""The routes every app gets from its declaration: load, search, count, items,
stored files and drop. Written once; an app adds only routes of its own.

(No ``from __future__ import annotations`` here: the endpoints are built in a
closure and FastAPI must see the app's own request/response models.)
"""

import shutil
import uuid
from importlib.util import find_spec
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import anyio
from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field, create_model

from findalike.api.deps import JobsDep, SettingsDep
from findalike.api.errors import ERROR_RESPONSES
from findalike.api.limits import MULTIPART_SLACK_BYTES, body_limit
from findalike.api.uploads import read_upload_search, upload_body
from findalike.core.app import AppJob, AppRuntime, Evaluation
from findalike.core.contract import StrictModel
from findalike.core.ingest import load_files
from findalike.core.request_types import (
    COLLECTION_NAME_PATTERN,
    CollectionQuery,
    at_least_one_of,
    json_response,
)
from findalike.core.sources import resolve_folder, safe_upload_name
from findalike.errors import Conflict, InvalidInput, NotFound, Unprocessable, UnsupportedMedia
from findalike.jobs import Job, spool_root
from findalike.schema import MAX_RESULT_ROWS, Language

LOAD_BODY_RULE = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "schema": at_least_one_of(files="array", path="string"),
            }
        }
    }
}
"""States in the schema what ``load`` enforces: files, a server path, or both."""


class CountResponse(BaseModel):
    app: str
    items: int = Field(description="Items stored (documents, images, videos, ...).")
    vectors: int = Field(description="Vectors stored (passages, frames, windows, ...).")


class ItemResponse(BaseModel):
    app: str
    item_id: str
    fields: dict[str, Any]
    file_url: str | None = Field(None, description="The stored original, if the app keeps it.")
    thumbnail_url: str | None = Field(None, description="Its thumbnail, if the app makes one.")


class ItemsPage(BaseModel):
    data: list[ItemResponse]
    count: int = Field(description="Items stored in all (not only on this page).")
    offset: int
    limit: int


MAX_BROWSE_ROWS = MAX_RESULT_ROWS
"""Milvus answers a query only while offset + limit stays within this."""


class DeletedResponse(BaseModel):
    app: str
    item_id: str
    deleted_vectors: int


class DroppedResponse(BaseModel):
    app: str
    dropped: bool = Field(description="False if there was nothing to drop.")


class CollectionInfo(BaseModel):
    app: str
    name: str = Field(description="The collection's name (`?collection=` on the app's routes).")
    items: int
    vectors: int
    encoder: str = Field(description="The encoder that made its vectors (name@version).")
    language: str | None = Field(
        None,
        description="Text and QA: the language its full-text (BM25) index is analysed "
        "for: `en` (words between spaces), `zh` or `multi` (jieba: Chinese words too).",
    )


class CollectionList(BaseModel):
    data: list[CollectionInfo] = Field(description="The app's named collections, by name.")
    count: int


class NewCollection(StrictModel):
    """A named collection of an app with one encoder: a name, nothing to choose."""

    name: str = Field(
        pattern=COLLECTION_NAME_PATTERN,
        max_length=32,
        description="A lower-case letter, then up to 31 lower-case letters, digits or `_`.",
        examples=["logos"],
    )


class CreateCollection(NewCollection):
    """A named collection of an app with a choice of encoders (text, QA)."""

    encoder: str | None = Field(
        None,
        max_length=64,
        description="Text and QA: the encoder of its vectors, `minilm` (English, the "
        "default: FINDALIKE_TEXT_ENCODER / FINDALIKE_QA_ENCODER), `multilingual` (16 "
        "languages, Chinese among them), `minilm-int8` (MiniLM on ONNX Runtime) or "
        "`bge-small` (BAAI/bge-small-en-v1.5 on ONNX Runtime, English), or the name of "
        "one of the operator's own models (FINDALIKE_TEXT_MODELS). "
        "Recorded with the collection.",
        examples=["multilingual"],
    )
    language: Language | None = Field(
        None,
        description="Text and QA: the language of its text, for the full-text (BM25) "
        "index: `en` (and any language with spaces between words), `zh` (Chinese) or "
        "`multi` (several, Chinese among them). Default: `en` for `minilm`, `multi` for "
        "`multilingual`.",
    )


def make_app_router(rt: AppRuntime) -> APIRouter:
    spec = rt.spec
    router = APIRouter(prefix=f"/api/{spec.name}", tags=[spec.name], responses=ERROR_RESPONSES)
    request_model = spec.search_request
    response_model = spec.search_response
    accepted = ", ".join(sorted(spec.extensions | {".zip"}))
    ItemId = Annotated[
        str, PathParam(pattern=spec.item_id_pattern, description=f"A stored {spec.name} item's id.")
    ]

    @router.post(
        "/load",
        status_code=202,
        response_model=Job,
        openapi_extra=LOAD_BODY_RULE,
        summary=f"Load {spec.title} data (answers at once with a job)",
        description=(
            f"Upload files ({accepted}; a zip of them) or name a server-side folder inside an "
            "allowed root. Answers 202 with the job at once; follow it at `/api/jobs/{id}` or "
            "`/api/jobs/{id}/events`. Items already stored (same content) are skipped; a bad "
            "item is reported in the job and skipped."
        ),
    )
    async def load(
        jobs: JobsDep,
        settings: SettingsDep,
        collection: CollectionQuery = None,
        files: Annotated[list[UploadFile] | None, File(description="Files or zips.")] = None,
        path: Annotated[
            str | None,
            Form(
                description="A file or folder on the server, inside an allowed root.",
                min_length=1,
                max_length=4096,
                examples=["/srv/findalike/incoming/docs"],
            ),
        ] = None,
    ) -> Job:
        target = await anyio.to_thread.run_sync(rt.target, collection)
        if not files and not path:
            raise InvalidInput(
                "Send files (multipart field `files`) or a server `path`.", field="files"
            )
        sources: list[tuple[str, Path]] = []
        spool: Path | None = None
        if path:
            folder = resolve_folder(path, settings.allowed_roots)
            sources.append((folder.name or str(folder), folder))
        if files:
            _check_uploads(files, spec.extensions)
            spool = spool_root(settings.data_dir, jobs.owner) / uuid.uuid4().hex
            sources += await anyio.to_thread.run_sync(_spool_uploads, files, spool)
        return jobs.submit(spec.name, load_files(target, sources, cleanup=spool))

    @router.post(
        "/search",
        response_model=response_model,
        summary=f"Search {spec.title}",
    )
    async def search(body: request_model, collection: CollectionQuery = None) -> Any:  # type: ignore[valid-type]
        def run() -> Any:  # one trip to a worker thread, not two
            return rt.target(collection).search(body)

        return json_response(await anyio.to_thread.run_sync(run), response_model)

    if spec.evaluation is not None:
        _evaluation_route(router, rt, spec.evaluation)
    for app_job in spec.jobs:
        _job_route(router, rt, app_job)

    if spec.search_upload is not None and spec.upload_options is not None:
        options_model = spec.upload_options
        upload_max_bytes = spec.upload_max_bytes(rt.settings)

        @router.post(
            "/search/upload",
            response_model=response_model,
            summary=f"Search {spec.title} by an uploaded file",
            description="Multipart: the query file in `file`, and the same options as the "
            "JSON search as form fields.",
            openapi_extra=upload_body(options_model)
            | body_limit(upload_max_bytes + MULTIPART_SLACK_BYTES),
        )
        async def search_upload(request: Request, collection: CollectionQuery = None) -> Any:
            target = await anyio.to_thread.run_sync(rt.target, collection)
            name, data, options = await read_upload_search(request, options_model, upload_max_bytes)
            found = await anyio.to_thread.run_sync(target.search_upload, name, data, options)
            return json_response(found, response_model)

    @router.get("/count", response_model=CountResponse, summary="Items and vectors stored")
    async def count(collection: CollectionQuery = None) -> CountResponse:
        target = await anyio.to_thread.run_sync(rt.target, collection)
        items, vectors = await anyio.to_thread.run_sync(target.count)
        return CountResponse(app=spec.name, items=items, vectors=vectors)

    @router.get("/items", response_model=ItemsPage, summary="Browse the stored items, a page")
    async def list_items(
        offset: Annotated[int, Query(ge=0, le=MAX_BROWSE_ROWS - 1)] = 0,
        limit: Annotated[int, Query(ge=1, le=200)] = 24,
        collection: CollectionQuery = None,
    ) -> ItemsPage:
        if offset + limit > MAX_BROWSE_ROWS:
            raise InvalidInput(f"offset + limit must stay within {MAX_BROWSE_ROWS}", field="offset")
        target = await anyio.to_thread.run_sync(rt.target, collection)
        rows = await anyio.to_thread.run_sync(lambda: target.list_items(offset=offset, limit=limit))
        items, _ = await anyio.to_thread.run_sync(target.count)
        page = [_item(target, r) for r in rows]
        return ItemsPage(data=page, count=items, offset=offset, limit=limit)

    @router.get("/items/{item_id}", response_model=ItemResponse, summary="One stored item")
    async def get_item(item_id: ItemId, collection: CollectionQuery = None) -> ItemResponse:
        target = await anyio.to_thread.run_sync(rt.target, collection)
        row = await anyio.to_thread.run_sync(target.get_item, item_id)
        if row is None:
            raise NotFound(f"No {spec.name} item with id {item_id!r}.")
        return _item(target, row)

    @router.delete("/items/{item_id}", response_model=DeletedResponse, summary="Delete one item")
    async def delete_item(item_id: ItemId, collection: CollectionQuery = None) -> DeletedResponse:
        target = await anyio.to_thread.run_sync(rt.target, collection)
        deleted = await anyio.to_thread.run_sync(target.delete_item, item_id)
        if not deleted:
            raise NotFound(f"No {spec.name} item with id {item_id!r}.")
        return DeletedResponse(app=spec.name, item_id=item_id, deleted_vectors=deleted)

    if spec.stores_originals:

        @router.get(
            "/items/{item_id}/file",
            response_class=FileResponse,
            summary="The stored original",
        )
        async def item_file(item_id: ItemId, collection: CollectionQuery = None) -> FileResponse:
            target = await anyio.to_thread.run_sync(rt.target, collection)
            return _media_file(target, item_id, "")

    if spec.stores_thumbnails:

        @router.get(
            "/items/{item_id}/thumbnail",
            response_class=FileResponse,
            summary="A thumbnail of the item, or of one of its frames (`part`)",
        )
        async def item_thumbnail(
            item_id: ItemId,
            part: Annotated[int | None, Query(ge=0)] = None,
            collection: CollectionQuery = None,
        ) -> FileResponse:
            target = await anyio.to_thread.run_sync(rt.target, collection)
            return _media_file(target, item_id, "thumb" if part is None else f"f{part}")

    @router.delete("", response_model=DroppedResponse, summary=f"Drop every {spec.name} item")
    async def drop(collection: CollectionQuery = None) -> DroppedResponse:
        target = await anyio.to_thread.run_sync(rt.target, collection)
        return DroppedResponse(app=spec.name, dropped=await _drop(target))

    @router.get(
        "/collections", response_model=CollectionList, summary="The app's named collections"
    )
    async def list_collections() -> CollectionList:
        names = await anyio.to_thread.run_sync(rt.collection_names)
        data = [await anyio.to_thread.run_sync(_collection_info, rt.named(n)) for n in names]
        return CollectionList(data=data, count=len(data))

    create_body = spec.collection_request or _collection_request(rt)

    @router.post(
        "/collections",
        status_code=201,
        response_model=CollectionInfo,
        summary="Create a named collection (its vectors from the app's encoder now)",
    )
    async def create_collection(body: create_body) -> CollectionInfo:  # type: ignore[valid-type]
        name: str = body.name  # type: ignore[attr-defined]  # CreateCollection or the app's
        if spec.choose_collection is None:
            _check_choice(rt, body)
        named = rt.named(name)
        if await anyio.to_thread.run_sync(named.has_data):
            raise Conflict(f"The {spec.name} app already has a collection {name!r}.")
        if spec.choose_collection is not None:  # the app's own choices (DNA's encoder)
            await anyio.to_thread.run_sync(spec.choose_collection, named, body)
        elif rt.encoder_keys():
            choice = cast("CreateCollection", body)
            named.choose(choice.encoder, choice.language)
        await anyio.to_thread.run_sync(named.ensure_collection)
        return await anyio.to_thread.run_sync(_collection_info, named)

    @router.delete(
        "/collections/{name}",
        response_model=DroppedResponse,
        summary="Drop a named collection and everything in it",
    )
    async def drop_collection(
        name: Annotated[str, PathParam(pattern=COLLECTION_NAME_PATTERN, max_length=32)],
    ) -> DroppedResponse:
        target = await anyio.to_thread.run_sync(rt.target, name)
        return DroppedResponse(app=spec.name, dropped=await _drop(target))

    if spec.routes is not None:  # each takes `collection`, or reads no collection: say so
        router.include_router(spec.routes(rt), dependencies=[Depends(_no_collection_here)])
    return router


def _evaluation_route(router: APIRouter, rt: AppRuntime, evaluation: Evaluation) -> None:
    request_model = evaluation.request

    @router.post(
        "/evaluate",
        response_model=evaluation.response,
        summary=evaluation.summary,
        description=evaluation.description,
    )
    async def evaluate(body: request_model, collection: CollectionQuery = None) -> Any:  # type: ignore[valid-type]
        def run() -> Any:
            return evaluation.run(rt.target(collection), body)

        return await anyio.to_thread.run_sync(run)


def _job_route(router: APIRouter, rt: AppRuntime, app_job: AppJob) -> None:
    @router.post(
        f"/{app_job.name}",
        status_code=202,
        response_model=Job,
        summary=app_job.summary,
        description=app_job.description,
    )
    async def submit(jobs: JobsDep, collection: CollectionQuery = None) -> Job:
        target = rt if collection is None else await anyio.to_thread.run_sync(rt.target, collection)
        return jobs.submit(rt.name, app_job.work(target), kind=app_job.name)

    submit.__name__ = f"{rt.name}_{app_job.name}"


async def _no_collection_here(request: Request) -> None:
    """A ``collection`` on an app's own route that does not take one is a 422, not
    silently ignored. Every app route that reads or writes a collection declares a
    ``collection`` query (QA ``answer``, DNA ``classify``, the recommender's routes,
    image ``labels``, the people registry, ...); the ones that do not read none (the
    molecule app's ``depict`` draws the SMILES it is given). ``async``: FastAPI would
    run a plain ``def`` in a worker thread, a trip per request of every app route for a
    dictionary lookup (measured: with it and the recommender's ``top_k`` so, 44% of a
    recommendation's time under load was FastAPI's dependency solving, most of it
    those trips)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is not None and any(p.name == "collection" for p in dependant.query_params):
        return
    if "collection" in request.query_params:
        raise Unprocessable(
            f"{request.url.path} reads no collection: `collection` is not one of its parameters.",
            field="collection",
        )


async def _drop(rt: AppRuntime) -> bool:
    """Drop a collection (default or named) and the files stored for it."""
    return await anyio.to_thread.run_sync(rt.drop)


def _collection_request(rt: AppRuntime) -> type[NewCollection]:
    """The app's create-collection body, its choices stated in the schema: an app with
    one encoder takes a name only; one with several takes one of their keys."""
    keys = rt.encoder_keys()
    prefix = rt.name.capitalize()
    if not keys:
        return create_model(f"{prefix}NewCollection", __base__=NewCollection)
    field = CreateCollection.model_fields["encoder"]
    choice: Any = Literal[tuple(keys)]
    return create_model(
        f"{prefix}CreateCollection",
        __base__=CreateCollection,
        encoder=(
            choice | None,
            Field(None, description=field.description, examples=field.examples),
        ),
    )


def _check_choice(rt: AppRuntime, body: NewCollection) -> None:
    """A 422 for an encoder the app does not offer, or a choice for an app without any."""
    keys = rt.encoder_keys()
    encoder = getattr(body, "encoder", None)
    if not keys and (encoder is not None or getattr(body, "language", None) is not None):
        field = "encoder" if encoder is not None else "language"
        raise Unprocessable(
            f"The {rt.name} app has one encoder: its collections take no `{field}`.",
            field=field,
        )
    if encoder is not None and encoder not in keys:
        raise Unprocessable(
            f"Unknown encoder {encoder!r} for the {rt.name} app: one of {', '.join(keys)}.",
            field="encoder",
        )
    chosen = next((e for e in rt.encoder_choices if e.key == encoder), None)
    missing = [m for m in chosen.requires if find_spec(m) is None] if chosen else []
    if missing:
        raise Unprocessable(
            f"The encoder {encoder!r} needs {', '.join(missing)}, which this server "
            "does not have installed.",
            field="encoder",
        )


def _collection_info(rt: AppRuntime) -> CollectionInfo:
    items, vectors = rt.count()
    props = rt.store.properties(rt.collection)
    return CollectionInfo(
        app=rt.name,
        name=rt.collection_name or "",
        items=items,
        vectors=vectors,
        encoder=props.get("encoder", ""),
        language=rt.language() if rt.encoder_keys() else None,
    )


def _item(rt: AppRuntime, row: dict[str, Any]) -> ItemResponse:
    """A stored item as the API shows it, with the links its app serves."""
    item_id = str(row["item_id"])
    return ItemResponse(
        app=rt.name,
        item_id=item_id,
        fields={k: v for k, v in row.items() if k not in ("id", "item_id", "vector", "part")},
        file_url=rt.item_url(item_id, "/file") if rt.spec.stores_originals else None,
        thumbnail_url=rt.item_url(item_id, "/thumbnail") if rt.spec.stores_thumbnails else None,
    )


def _media_file(rt: AppRuntime, item_id: str, variant: str) -> FileResponse:
    if rt.media is None:
        raise NotFound(f"The {rt.name} app stores no files.")
    path = rt.media.find(rt.name, item_id, variant=variant)
    return FileResponse(path, headers={"Cache-Control": "public, max-age=86400, immutable"})


def _check_uploads(files: list[UploadFile], extensions: frozenset[str]) -> None:
    """Refuse at once a request none of whose files could be read (415/400); a
    batch with some bad files goes ahead, the bad ones reported in the job."""
    names = [safe_upload_name(f.filename, i) for i, f in enumerate(files)]
    readable = extensions | {".zip"}
    suffixes = [Path(n).suffix.lower() for n in names]
    if not any(s in readable for s in suffixes):
        raise UnsupportedMedia(
            f"None of the uploaded files ({', '.join(names[:5])}) is of a type this app "
            f"reads ({', '.join(sorted(readable))})."
        )
    if all((f.size == 0) for f in files):
        raise InvalidInput("Every uploaded file is empty.", field="files")


def _spool_uploads(files: list[UploadFile], spool: Path) -> list[tuple[str, Path]]:
    spool.mkdir(parents=True, exist_ok=True)
    out = []
    for i, upload in enumerate(files):
        name = safe_upload_name(upload.filename, i)
        target = spool / f"{i:05d}{Path(name).suffix.lower()}"
        upload.file.seek(0)
        with target.open("wb") as fh:
            shutil.copyfileobj(upload.file, fh, 1024 * 1024)
        out.append((name, target))
    return out
