"""The API explains itself: a valid schema with a type for every answer, true to real answers."""

import io
import json
import uuid
from functools import cache

import jsonschema
import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

from labeling import services as labeling_services
from learners import services as learners_services
from tests.factories import api_client, import_rows, make_review_rows


@cache
def _schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _walk(node: object, where: str, components: dict, seen: set[str]) -> list[str]:
    """Every place under `node` whose type a client generator cannot know."""
    if not isinstance(node, dict):
        return []
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return []
        seen.add(name)
        return _walk(components[name], name, components, seen)
    found = []
    if node.get("type") == "object" and "properties" not in node and "additionalProperties" not in node:
        found.append(f"{where}: a bare object")
    if not node.get("type") and not any(k in node for k in ("allOf", "oneOf", "anyOf", "enum")):
        found.append(f"{where}: no type")
    for name, child in node.get("properties", {}).items():
        found += _walk(child, f"{where}.{name}", components, seen)
    if node.get("additionalProperties"):
        found += _walk(node["additionalProperties"], f"{where}.*", components, seen)
    found += _walk(node.get("items"), f"{where}[]", components, seen)
    for key in ("allOf", "oneOf", "anyOf"):
        for child in node.get(key, []):
            found += _walk(child, where, components, seen)
    return found


def _responses() -> list[tuple[str, str, str, dict]]:
    return [
        (method, path, code, response)
        for path, operations in _schema()["paths"].items()
        for method, operation in operations.items()
        for code, response in operation["responses"].items()
    ]


def test_the_schema_validates_with_no_warning(tmp_path):
    target = tmp_path / "schema.yaml"
    # --fail-on-warn turns every warning (an untyped field, a guessed path parameter) into an error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert yaml.safe_load(target.read_text())["paths"]


def test_no_response_anywhere_in_the_schema_is_untyped():
    components = _schema()["components"]["schemas"]
    untyped = []
    for method, path, code, response in _responses():
        for content_type, content in response.get("content", {}).items():
            where = f"{method.upper()} {path} {code} {content_type}"
            untyped += _walk(content["schema"], where, components, set())
    assert untyped == []
    assert len(_responses()) > 100  # every operation, with its error answers


def test_every_error_answer_is_the_shared_error_body():
    names = {"Error", "ImportError", "JobConflict"}
    for method, path, code, response in _responses():
        if int(code) >= 400:
            ref = response["content"]["application/json"]["schema"]["$ref"]
            assert ref.rsplit("/", 1)[-1] in names, (method, path, code)
    error = _schema()["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]


def test_client_id_is_documented_as_a_uuid():
    request = _schema()["components"]["schemas"]["AnnotationRequest"]
    assert request["properties"]["client_id"]["format"] == "uuid"
    assert "client_id" not in request.get("required", [])


# Real answers against the documented ones.


def _json_schema(node: object) -> object:
    """OpenAPI 3.0 `nullable` as JSON Schema's null type, everywhere below `node`."""
    if isinstance(node, list):
        return [_json_schema(child) for child in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def _assert_documented(response, method: str, path: str) -> None:
    """The response's body matches what the schema says `method path` answers with its status."""
    documented = _schema()["paths"][path][method]["responses"][str(response.status_code)]
    schema = documented["content"]["application/json"]["schema"]
    root = {**_json_schema(schema), "components": _json_schema(_schema()["components"])}
    jsonschema.validate(response.json(), root)


@pytest.fixture
def trained(project, owner, annotator):
    """A project with labels from an annotator, a dataset version and a ready, active model."""
    import_rows(project, make_review_rows(80, labeled=60))
    client = api_client(annotator)
    pool_item = project.items.filter(split="pool", label__isnull=True).first()
    client.post(f"/api/v1/items/{pool_item.pk}/annotations", {"label": "positive"}, format="json")
    client.post(f"/api/v1/items/{pool_item.pk}/skip", {"flag": True, "comment": "unsure"}, format="json")
    labeling_services.create_dataset_version(project, owner, note="first")
    job = learners_services.start_retrain(project, owner, enqueue=False)
    learners_services.run_retrain(job)
    labeling_services.create_dataset_version(project, owner, note="second")
    return project


READS = [
    "/api/v1/projects",
    "/api/v1/projects/{id}",
    "/api/v1/projects/{id}/next",
    "/api/v1/projects/{id}/stats",
    "/api/v1/projects/{id}/history",
    "/api/v1/projects/{id}/progress",
    "/api/v1/projects/{id}/agreement",
    "/api/v1/projects/{id}/annotator-stats",
    "/api/v1/projects/{id}/conflicts",
    "/api/v1/projects/{id}/flags",
    "/api/v1/projects/{id}/versions",
    "/api/v1/projects/{id}/jobs",
    "/api/v1/projects/{id}/models",
]


@pytest.mark.parametrize("who", ["owner", "annotator"])
def test_every_read_answers_as_documented(trained, request, who):
    client = api_client(request.getfixturevalue(who))
    for path in READS:
        response = client.get(path.replace("{id}", str(trained.pk)))
        if response.status_code != 403:  # an annotator asking for an admin list
            assert response.status_code == 200, (path, response.content)
        _assert_documented(response, "get", path)


def test_model_job_diff_and_evaluation_answer_as_documented(trained, owner):
    client = api_client(owner)
    model = trained.model_versions.get()
    job = trained.jobs.first()
    answers = {
        "/api/v1/models/{id}": client.get(f"/api/v1/models/{model.pk}"),
        "/api/v1/models/{id}/evaluation": client.get(f"/api/v1/models/{model.pk}/evaluation?k=3"),
        "/api/v1/jobs/{id}": client.get(f"/api/v1/jobs/{job.pk}"),
        "/api/v1/projects/{id}/versions/{a}/diff/{b}": client.get(
            f"/api/v1/projects/{trained.pk}/versions/1/diff/2"
        ),
    }
    for path, response in answers.items():
        assert response.status_code == 200, (path, response.content)
        _assert_documented(response, "get", path)
    assert answers["/api/v1/models/{id}/evaluation"].json()["evaluation"]["n"] > 0


def test_writes_and_their_errors_answer_as_documented(trained, owner, annotator):
    admin, member = api_client(owner), api_client(annotator)
    base = f"/api/v1/projects/{trained.pk}"
    item = trained.items.filter(split="pool", label__isnull=True).last()
    csv_file = io.BytesIO(b"id,text\nnew1,a fresh review\n")
    csv_file.name = "more.csv"
    bad_file = io.BytesIO(b"id,text\nnew2,\n")
    bad_file.name = "bad.csv"
    client_id = str(uuid.uuid4())
    cases = [
        (
            admin.post("/api/v1/projects", {"name": "New", "labels": ["a", "b"]}, format="json"),
            "/api/v1/projects",
        ),
        (
            admin.post("/api/v1/projects", {"name": "new", "labels": ["a", "b"]}, format="json"),
            "/api/v1/projects",
        ),
        (
            member.post("/api/v1/projects", {"name": "X", "labels": ["a", "b"]}, format="json"),
            "/api/v1/projects",
        ),
        (admin.patch(base, {"overlap": 2}, format="json"), "/api/v1/projects/{id}"),
        (admin.patch(base, {"test_fraction": 0.5}, format="json"), "/api/v1/projects/{id}"),
        (admin.post(f"{base}/members", {"username": "alice", "role": "admin"}, format="json"), None),
        (
            admin.post(f"{base}/imports", {"file": csv_file}, format="multipart"),
            "/api/v1/projects/{id}/imports",
        ),
        (
            admin.post(f"{base}/imports", {"file": bad_file}, format="multipart"),
            "/api/v1/projects/{id}/imports",
        ),
        (admin.post(f"{base}/versions", {"note": "third"}, format="json"), "/api/v1/projects/{id}/versions"),
        (
            member.post(
                f"/api/v1/items/{item.pk}/annotations",
                {"label": "negative", "client_id": client_id},
                format="json",
            ),
            None,
        ),
        (
            member.post(
                f"/api/v1/items/{item.pk}/annotations",
                {"label": "negative", "client_id": client_id},
                format="json",
            ),
            None,
        ),
        (member.post(f"/api/v1/items/{item.pk}/annotations", {"label": "nope"}, format="json"), None),
        (admin.post(f"/api/v1/items/{item.pk}/adjudicate", {"label": "positive"}, format="json"), None),
        (admin.post(f"/api/v1/items/{item.pk}/flags/resolve", {"label": None}, format="json"), None),
        (member.post(f"{base}/retrain"), "/api/v1/projects/{id}/retrain"),
        (admin.get(f"/api/v1/models/{uuid.uuid4()}"), "/api/v1/models/{id}"),
        (member.post("/api/v1/auth/token/revoke"), "/api/v1/auth/token/revoke"),
    ]
    codes = []
    for response, path in cases:
        path = path or _template(response.wsgi_request.path)
        codes.append(response.status_code)
        _assert_documented(response, response.wsgi_request.method.lower(), path)
    assert codes == [201, 400, 403, 200, 400, 201, 201, 400, 201, 201, 200, 400, 201, 400, 403, 404, 200]


def _template(path: str) -> str:
    """/api/v1/items/7/annotations -> /api/v1/items/{id}/annotations."""
    return "/".join("{id}" if part.isdigit() else part for part in path.split("/"))


def test_the_schema_is_yaml_by_default_and_json_on_request(client):
    assert yaml.safe_load(client.get("/api/v1/schema").content)["openapi"].startswith("3.")
    as_json = client.get("/api/v1/schema?format=json")
    assert as_json["Content-Type"] == "application/json"
    assert json.loads(as_json.content)["info"]["title"] == "Sift API"
    unknown = client.get("/api/v1/schema?format=xml")
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "Unknown schema format 'xml'; choose json or yaml."}


def test_the_api_root_answers_with_links_to_the_schema_and_docs(client):
    response = client.get("/api/v1/")
    assert response.status_code == 200
    links = response.json()["links"]
    assert links["docs"] == "http://testserver/api/v1/docs"
    for url in links.values():
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize(
    ("path", "asset"), [("/api/v1/docs", "swagger-ui-bundle.js"), ("/api/v1/redoc", "redoc")]
)
def test_the_docs_pages_use_local_assets_only(client, path, asset):
    page = client.get(path).content.decode()
    assert "/static/drf_spectacular_sidecar/" in page
    assert asset in page
    assert "https://" not in page
    assert "http://" not in page.replace("http://testserver", "")
