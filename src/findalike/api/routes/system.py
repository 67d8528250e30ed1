"""Health and the list of apps."""

from __future__ import annotations

import os

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from findalike.api.deps import StoreDep
from findalike.api.security import KEY_SCOPE_STATE
from findalike.core.app import AppRuntime
from findalike.errors import FindalikeError, Unavailable

router = APIRouter(prefix="/api", tags=["system"])


class MilvusHealth(BaseModel):
    uri: str | None = Field(
        description="The Milvus URI (on Milvus Lite, a path on the server); null unless "
        "the request carries a write key or no keys are configured."
    )
    ok: bool
    version: str | None = None
    error: str | None = None


class Health(BaseModel):
    status: str = Field(description="`ok`, or `unavailable` when Milvus cannot be reached.")
    milvus: MilvusHealth
    worker: int = Field(
        default_factory=os.getpid,
        description="Process id of the worker that answered (`serve --workers N` runs several).",
    )


class IndexInfo(BaseModel):
    type: str = Field(description="FLAT, HNSW, IVF_FLAT, AUTOINDEX, BIN_FLAT, ...")
    params: dict[str, int] = Field(
        description="Its build parameters as recorded at creation (M, efConstruction, nlist)."
    )


class AppInfo(BaseModel):
    name: str
    title: str
    summary: str
    enabled: bool
    reason: str | None = Field(None, description="Why the app is disabled.")
    extensions: list[str] = Field(default_factory=list)
    items: int | None = Field(None, description="Items stored (null if unknown).")
    encoder: str | None = Field(None, description="Encoder the stored vectors were made with.")
    dim: int | None = None
    metric: str | None = None
    index: IndexInfo | None = Field(None, description="The vector index of the stored data.")


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(store: StoreDep, request: Request) -> JSONResponse:
    shown = store.uri if getattr(request.state, KEY_SCOPE_STATE, None) == "write" else None
    try:
        version = await anyio.to_thread.run_sync(store.ping)
    except Unavailable as exc:
        error = exc.detail if shown else exc.detail.replace(store.uri, "<uri>")
        body = Health(status="unavailable", milvus=MilvusHealth(uri=shown, ok=False, error=error))
        return JSONResponse(body.model_dump(), status_code=503)
    body = Health(status="ok", milvus=MilvusHealth(uri=shown, ok=True, version=version))
    return JSONResponse(body.model_dump())


class AppsPage(BaseModel):
    data: list[AppInfo]
    count: int = Field(description="Apps listed (enabled and disabled).")


@router.get("/apps", response_model=AppsPage, summary="Every app, its counts and encoder")
async def list_apps(request: Request) -> AppsPage:
    runtimes: dict[str, AppRuntime] = request.app.state.runtimes
    infos = [await anyio.to_thread.run_sync(_app_info, rt) for rt in runtimes.values()]
    infos += [
        AppInfo(name=d.name, title=d.name, summary="", enabled=False, reason=d.reason)
        for d in request.app.state.disabled
    ]
    return AppsPage(data=infos, count=len(infos))


def _app_info(rt: AppRuntime) -> AppInfo:
    info = AppInfo(
        name=rt.name,
        title=rt.spec.title,
        summary=rt.spec.summary,
        enabled=True,
        extensions=sorted(rt.spec.extensions),
    )
    try:
        if rt.store.exists(rt.collection):
            props = rt.store.properties(rt.collection)
            info.encoder = props.get("encoder")
            info.dim = int(props["dim"]) if "dim" in props else None
            info.metric = props.get("metric")
            info.index = IndexInfo(**rt.store.index_of(rt.collection))
            info.items = rt.count()[0]
        else:  # nothing in the app's own collection (its data may all be in named ones)
            info.items = 0
            info.encoder = rt.default_encoder_record()
    except FindalikeError as exc:
        info.reason = exc.detail
    return info
