"""What fuzzing the live schema found (tests/api/test_fuzz.py), each pinned by a test:
bad input is a 422 (or 400) in the JSON error shape and never a 500, the schema states
the constraints the server enforces, and a wrong method is a 405 with ``Allow``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from findalike.api.main import create_app
from findalike.config import Settings
from tests.conftest import wait_job

HEX_ID = "0" * 32
ALIAS_OF = "x-deprecated-alias-of"
ERROR_KEYS = {"status", "title", "detail", "errors"}


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, shared_encoders: dict[str, Any]
) -> Iterator[TestClient]:
    """Every app; a little text stored, so item lookups reach a real collection."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("validation"))
    with TestClient(create_app(settings, encoders=shared_encoders)) as c:
        csv = b"title,text\nVolcanoes,Molten rock escapes from the magma chamber.\n"
        r = c.post("/api/text/load", files=[("files", ("docs.csv", csv))])
        assert wait_job(c, r.json()["id"])["state"] == "done"
        yield c


@pytest.fixture(scope="module")
def openapi(client: TestClient) -> dict[str, Any]:
    doc: dict[str, Any] = client.get("/openapi.json").json()
    return doc


def _error(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    body: dict[str, Any] = r.json()
    assert set(body) == ERROR_KEYS and body["status"] == status, body
    return body


def _post_raw(client: TestClient, path: str, text: str) -> Any:
    """JSON as Python's json module writes it: NaN and Infinity included."""
    return client.post(path, content=text, headers={"content-type": "application/json"})


# -- item ids in paths (control characters reached Milvus expressions: 500) --------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/text/items/{}",
        "/api/image/items/{}/file",
        "/api/image/items/{}/thumbnail",
        "/api/image/items/{}",
        "/api/molecule/items/{}/depiction",
        "/api/recommend/items/{}",
        "/api/recommend/users/{}",
        "/api/recommend/items/{}/similar",
    ],
)
def test_control_characters_in_ids_are_a_422(client: TestClient, path: str) -> None:
    body = _error(client.get(path.format("%01")), 422)
    assert body["errors"][0]["field"].startswith("path."), body


def test_item_ids_are_checked_on_delete_and_stated_in_the_schema(
    client: TestClient, openapi: dict[str, Any]
) -> None:
    _error(client.delete("/api/text/items/a%22%01"), 422)
    _error(client.delete(f"/api/text/items/{HEX_ID}"), 404)
    _error(client.get(f"/api/text/items/{HEX_ID}"), 404)
    _error(client.get("/api/recommend/items/no-such-item"), 404)  # names, not hashes
    for path, pattern in [
        ("/api/text/items/{item_id}", "^[0-9a-f]{32}$"),
        ("/api/recommend/users/{user}", "^[^\\x00-\\x1f\\x7f-\\x9f]{1,128}$"),
    ]:
        (param,) = openapi["paths"][path]["get"]["parameters"][:1]
        assert param["schema"]["pattern"] == pattern


# -- numbers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("/api/recommend/fold-in", '{"items": ["1"], "ratings": [NaN]}'),
        ("/api/recommend/fold-in", '{"items": ["1"], "ratings": [1e308]}'),
        ("/api/recommend/evaluate", '{"relevant_min_rating": Infinity}'),
        ("/api/text/search", '{"query": "x", "filters": {"year": NaN}}'),
        ("/api/text/search", '{"query": "x", "filters": {"year": {"gte": -Infinity}}}'),
    ],
)
def test_non_finite_numbers_are_refused(client: TestClient, path: str, text: str) -> None:
    _error(_post_raw(client, path, text), 422)


def test_a_negative_seed_is_refused_and_the_schema_says_so(
    client: TestClient, openapi: dict[str, Any]
) -> None:
    body = _error(client.post("/api/recommend/evaluate", json={"seed": -1}), 422)
    assert body["errors"][0]["field"] == "body.seed"
    assert openapi["components"]["schemas"]["EvaluateRequest"]["properties"]["seed"]["minimum"] == 0


@pytest.mark.parametrize(
    ("path", "body", "named"),
    [
        ("/api/recommend/evaluate", {"seed": False}, "seed must be a number, not false"),
        ("/api/recommend/evaluate", {"relevant_min_rating": True}, "relevant_min_rating"),
        ("/api/dna/evaluate", {"seed": True}, "seed must be a number, not true"),
        ("/api/text/search", {"query": "x", "top_k": True}, "top_k must be a number"),
        (
            "/api/dna/collections",
            {"name": "reads", "encoder": "kmer-profile", "canonical": 0},
            "canonical must be true or false, not 0",
        ),
    ],
)
def test_a_boolean_is_not_a_number_nor_a_number_a_boolean(
    client: TestClient, path: str, body: dict[str, Any], named: str
) -> None:
    """pydantic's lax mode took ``"seed": false`` as seed 0 (found by the fuzz test's
    negative-data check)."""
    assert named in _error(client.post(path, json=body), 422)["detail"]


# -- text filters --------------------------------------------------------------------


@pytest.mark.parametrize(
    "filters",
    [
        {"topic": "a\u0001b"},
        {"topic": "x" * 1001},
        {"year": {"gte": 2000, "gtee": 1}},
        {"bad key!": 1},
        {"year": {}},
        {f"k{i}": 1 for i in range(33)},
    ],
)
def test_text_filters_outside_the_schema_are_a_422(
    client: TestClient, filters: dict[str, Any]
) -> None:
    _error(client.post("/api/text/search", json={"query": "x", "filters": filters}), 422)


def test_text_filter_rules_are_in_the_schema(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    filters = schemas["TextSearchRequest"]["properties"]["filters"]
    assert filters["maxProperties"] == 32 and "pattern" in filters["propertyNames"]
    assert {"gte", "gt", "lte", "lt"} == {
        next(iter(rule["required"])) for rule in schemas["Range"]["anyOf"]
    }


# -- molecules -----------------------------------------------------------------------


def test_non_ascii_smiles_is_a_422_naming_the_character(client: TestClient) -> None:
    # RDKit's log of such a string was cut mid-character: a UnicodeDecodeError (500)
    r = client.get("/api/molecule/depict", params={"smiles": "C" * 229 + "\U0001f600"})
    assert "position 230" in _error(r, 422)["detail"]
    r = client.post("/api/molecule/search", json={"query": "CCé"})
    assert "position 3" in _error(r, 422)["detail"]


def test_smiles_limits_are_in_the_schema(client: TestClient, openapi: dict[str, Any]) -> None:
    params = {
        p["name"]: p["schema"]
        for p in openapi["paths"]["/api/molecule/depict"]["get"]["parameters"]
    }
    assert params["smiles"]["maxLength"] == 2000 and params["smiles"]["pattern"]
    _error(client.get("/api/molecule/depict", params={"smiles": "C" * 2001}), 422)


# -- one of two fields ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "schema", "fields"),
    [
        ("/api/image/search", "ImageSearchRequest", {"item_id", "image_base64", "text"}),
        ("/api/video/search", "VideoSearchRequest", {"item_id", "image_base64"}),
        ("/api/audio/search", "AudioSearchRequest", {"item_id", "audio_base64"}),
        ("/api/recommend/search", "RecommendRequest", {"user", "items"}),
    ],
)
def test_exactly_one_of_is_stated_and_enforced(
    client: TestClient, openapi: dict[str, Any], path: str, schema: str, fields: set[str]
) -> None:
    rules = openapi["components"]["schemas"][schema]["oneOf"]
    assert {rule["required"][0] for rule in rules} == fields
    assert client.post(path, json={}).status_code in (400, 422)


# -- wrong methods -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/api/text/count", "GET"),
        ("HEAD", "/api/text/count", "GET"),
        ("POST", f"/api/text/items/{HEX_ID}", "GET, DELETE"),
        ("PATCH", "/api/jobs/some-job/cancel", "POST"),
        ("DELETE", "/api/health", "GET"),
        ("OPTIONS", "/api/text", "DELETE"),
        ("GET", "/api/recommend/train", "POST"),
    ],
)
def test_a_wrong_method_is_a_405_with_allow(
    client: TestClient, method: str, path: str, allow: str
) -> None:
    r = client.request(method, path)
    assert r.status_code == 405 and r.headers["allow"] == allow, (r.status_code, r.headers)
    if method != "HEAD":
        assert allow in _error(r, 405)["detail"]


@pytest.mark.parametrize(
    ("path", "needle"),
    [
        ("/api/text/nothing-here", "No route /api/text/nothing-here"),
        ("/api/jobs/a/b/c", "No route /api/jobs/a/b/c"),
        ("/api/nope/search", "Unknown app 'nope'; enabled apps: text, qa"),
    ],
)
def test_an_unknown_path_is_still_a_404_that_helps(
    client: TestClient, path: str, needle: str
) -> None:
    for method in ("GET", "POST"):
        assert needle in _error(client.request(method, path), 404)["detail"]


# -- every JSON body: bad types; every string: bounded ----------------------------------


def _json_operations(openapi: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in openapi["paths"].items():
        for method, op in item.items():
            content = op.get("requestBody", {}).get("content", {})
            if method == "post" and "application/json" in content:
                ref = content["application/json"]["schema"]["$ref"]
                yield path, openapi["components"]["schemas"][ref.rsplit("/", 1)[1]]


def _json_types(schema: dict[str, Any], openapi: dict[str, Any]) -> set[str]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return _json_types(openapi["components"]["schemas"][name], openapi)
    types = {schema["type"]} if "type" in schema else set()
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            types |= _json_types(sub, openapi)
    return types


def test_every_json_body_refuses_bad_types_with_a_422(
    client: TestClient, openapi: dict[str, Any]
) -> None:
    checked = 0
    for path, schema in _json_operations(openapi):
        _error(client.post(path, json=["not", "an", "object"]), 422)
        for name, prop in schema["properties"].items():
            wrong = [["nested"]] if "object" in _json_types(prop, openapi) else {"no": "object"}
            body = _error(client.post(path, json={name: wrong}), 422)
            target = prop.get(ALIAS_OF, name)  # a deprecated name's value moves to its target
            fields = {".".join(e["field"].split(".")[:2]) for e in body["errors"]}
            assert f"body.{target}" in fields, (path, name, body)
            checked += 1
    print(f"{checked} fields of JSON bodies refused a wrong type")
    assert checked > 40


def _string_fields(openapi: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every string a client sends in a query parameter or a JSON body's top level."""
    for path, item in openapi["paths"].items():
        for op in item.values():
            for p in op.get("parameters", []):
                if p["in"] == "query":
                    yield from _strings(f"{path}?{p['name']}", p["schema"])
    for path, schema in _json_operations(openapi):
        for name, prop in schema["properties"].items():
            if ALIAS_OF not in prop:  # checked under the name its value moves to
                yield from _strings(f"{path} {name}", prop)


def _strings(name: str, schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for sub in [schema, *schema.get("anyOf", [])]:
        if sub.get("type") == "string":
            yield name, sub


def test_every_query_parameter_and_body_string_has_a_stated_max_length(
    openapi: dict[str, Any],
) -> None:
    fields = dict(_string_fields(openapi))
    unbounded = sorted(
        name
        for name, schema in fields.items()
        if "maxLength" not in schema and "enum" not in schema
    )
    assert not unbounded, unbounded
    assert len(fields) > 20


def test_an_over_long_query_is_a_422(client: TestClient) -> None:
    body = _error(client.post("/api/text/search", json={"query": "x" * 4001}), 422)
    assert body["errors"][0]["field"] == "body.query"
    _error(client.get("/api/jobs", params={"app": "x" * 65}), 422)


def test_what_may_go_wrong_is_documented(openapi: dict[str, Any]) -> None:
    load = openapi["paths"]["/api/text/load"]["post"]
    assert {"202", "400", "401", "403", "413", "415", "422", "503"} <= set(load["responses"])
    assert load["requestBody"]["content"]["multipart/form-data"]["schema"]["anyOf"]
    for path, item in openapi["paths"].items():
        for method, op in item.items():
            if path.startswith("/api/") and path not in ("/api/health", "/api/apps"):
                assert "422" in op["responses"], (method, path)


def test_json_errors_carry_field_paths(client: TestClient) -> None:
    r = client.post(
        "/api/qa/search", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert _error(r, 422)["errors"]
    body = _error(_post_raw(client, "/api/dna/search", json.dumps({"sequence": 5})), 422)
    assert body["errors"][0]["field"] == "body.sequence"
