"""The people app's own routes: the registered people with their photos, and removing
a person (every face vector and stored photo of theirs)."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Path

from findalike.apps.people.models import PeopleList, Person, PersonDeleted
from findalike.apps.people.register import delete_person, list_people
from findalike.core.app import AppRuntime
from findalike.core.request_types import CollectionQuery
from findalike.errors import NotFound

PersonName = Annotated[str, Path(min_length=1, max_length=256, description="The person's name.")]


def make_router(rt: AppRuntime) -> APIRouter:
    router = APIRouter()

    @router.get("/people", response_model=PeopleList, summary="The registered people")
    async def people(collection: CollectionQuery = None) -> PeopleList:
        target = await anyio.to_thread.run_sync(rt.target, collection)
        found = await anyio.to_thread.run_sync(list_people, target)
        return PeopleList(
            people=[
                Person(
                    name=name,
                    photos=ids,
                    thumbnail_urls=[target.item_url(i, "/thumbnail") for i in ids],
                )
                for name, ids in found.items()
            ]
        )

    @router.delete(
        "/people/{name}",
        response_model=PersonDeleted,
        summary="Remove a person: their face vectors and photos",
    )
    async def remove_person(name: PersonName, collection: CollectionQuery = None) -> PersonDeleted:
        target = await anyio.to_thread.run_sync(rt.target, collection)
        item_ids, vectors = await anyio.to_thread.run_sync(delete_person, target, name)
        if not item_ids:
            raise NotFound(f"No registered person named {name!r}.")
        return PersonDeleted(name=name, deleted_photos=len(item_ids), deleted_vectors=vectors)

    return router
