"""Every /api/v1/ error is JSON {"error": ...}: wrong methods, bad bodies, mistyped paths, CSRF."""

import json
import re
import uuid

import pytest
from django.test import Client, RequestFactory
from django.urls import URLPattern, get_resolver
from drf_spectacular.generators import SchemaGenerator

from labeling import services
from labeling.api_errors import csrf_failure
from labeling.middleware import server_error
from tests.factories import api_client, import_rows, make_review_rows

METHODS = ("get", "post", "put", "patch", "delete")


def _api_routes() -> list[URLPattern]:
    """Every named route under /api/v1/ (the catch-all has no name)."""
    for prefix in get_resolver().url_patterns:
        if str(prefix.pattern) == "api/v1/":
            yield from (p for p in prefix.url_patterns if isinstance(p, URLPattern) and p.name)


def _allowed(route: URLPattern) -> set[str]:
    view = route.callback.cls()
    return {method for method in METHODS if hasattr(view, method)}


@pytest.fixture
def ids(project, owner):
    import_rows(project, make_review_rows(10, labeled=4))
    services.create_dataset_version(project, owner)
    return {"project": project.pk, "item": project.items.first().pk}


def _url(route: URLPattern, ids: dict) -> str:
    """The route with real ids in it (a random UUID for a model or a prediction: 404 comes after 405)."""
    pattern = "/api/v1/" + str(route.pattern)
    values = {"pk": ids["item"] if pattern.startswith("/api/v1/items/") else ids["project"]}
    return re.sub(
        r"<(\w+):(\w+)>", lambda m: str(uuid.uuid4() if m[1] == "uuid" else values.get(m[2], 1)), pattern
    )


def _assert_json_error(response, status: int) -> None:
    assert response.status_code == status, (response.wsgi_request.path, response.content[:200])
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    assert isinstance(response.json()["error"], str)
    assert response.json()["error"]


def test_the_walk_covers_every_api_route():
    names = {route.name for route in _api_routes()}
    assert {"api-index", "api-schema", "api-docs", "api-redoc", "api-projects", "api-model-activate"} <= names
    # + serving (tokens x2, predict, monitoring, feedback, shadow, canary, batch predictions and
    # their download) and the items export
    assert len(names) == 48


def test_every_wrong_method_on_every_route_is_a_json_405(ids, owner):
    client = api_client(owner)
    checked = 0
    for route in _api_routes():
        for method in sorted(set(METHODS) - _allowed(route)):
            _assert_json_error(getattr(client, method)(_url(route, ids)), 405)
            checked += 1
    assert checked > 80


def _body_operations(ids: dict) -> list[tuple[str, str]]:
    """(method, url) of every operation whose schema says it reads a request body."""
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    found = []
    for route in _api_routes():
        template = re.sub(
            r"<\w+:(\w+)>", lambda m: "{" + ("id" if m[1] == "pk" else m[1]) + "}", str(route.pattern)
        )
        for method, operation in paths.get("/api/v1/" + template, {}).items():
            if "requestBody" in operation:
                found.append((method, _url(route, ids)))
    return found


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ('{"label": ', "application/json", 400),  # malformed JSON
        ("[1, 2]", "application/json", 400),  # JSON, but not an object
        ("label=x", "text/plain", 415),
    ],
)
def test_every_bad_body_on_every_operation_that_reads_one_is_a_json_error(
    ids, owner, body, content_type, status
):
    client = api_client(owner)
    operations = _body_operations(ids)
    # + service token, predict, feedback, shadow, canary, batch predictions, items export
    assert len(operations) == 18
    for method, url in operations:
        response = getattr(client, method)(url, data=body, content_type=content_type)
        expected = 415 if url.endswith("/imports") and content_type == "application/json" else status
        _assert_json_error(response, expected)


MISTYPED = [
    "/api/v1/projectz",
    "/api/v1/projects/",
    "/api/v1/projects/abc",
    "/api/v1/projects/{project}/nope",
    "/api/v1/items/{item}/annotation",
    "/api/v1/models/not-a-uuid",
    "/api/v1/docs/",
    "/api/v1/v2/projects",
]


@pytest.mark.parametrize("method", METHODS)
def test_every_method_on_a_mistyped_path_is_a_json_404_even_with_a_session_and_no_csrf_token(
    ids, owner, method
):
    # A logged-in browser session without a CSRF token: before, a POST got Django's HTML 403.
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    for path in MISTYPED:
        response = getattr(client, method)(path.format(**ids))
        _assert_json_error(response, 404)
        assert path.split("{")[0] in response.json()["error"]


def test_a_session_post_without_a_csrf_token_to_a_real_endpoint_is_a_json_403(ids, owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post(f"/api/v1/projects/{ids['project']}/versions", {"note": "x"})
    _assert_json_error(response, 403)
    assert "CSRF" in response.json()["error"]


def test_every_route_asks_an_anonymous_caller_for_credentials_in_json(ids):
    client = Client()
    public = {"api-index", "api-schema", "api-docs", "api-redoc"}
    for route in _api_routes():
        if route.name in public:
            continue
        for method in _allowed(route):
            _assert_json_error(getattr(client, method)(_url(route, ids)), 401)


def test_the_csrf_failure_view_answers_json_on_api_paths_and_the_usual_page_elsewhere():
    factory = RequestFactory()
    api = csrf_failure(factory.post("/api/v1/projects"), reason="CSRF token missing.")
    assert api.status_code == 403
    assert api["Content-Type"] == "application/json"
    assert "CSRF token missing." in json.loads(api.content)["error"]
    page = csrf_failure(factory.post("/projects/new"), reason="CSRF token missing.")
    assert page.status_code == 403
    assert page["Content-Type"].startswith("text/html")
    assert b"CSRF verification failed" in page.content


def test_a_page_form_posted_without_a_csrf_token_still_gets_the_html_page(db):
    response = Client(enforce_csrf_checks=True).post("/accounts/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403
    assert b"CSRF verification failed" in response.content


def test_a_body_over_the_upload_limit_is_a_json_413_and_nothing_is_written(ids, owner, project, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    body = json.dumps({"note": "x" * (1024 * 1024)})
    response = api_client(owner).post(
        f"/api/v1/projects/{project.pk}/versions", body, content_type="application/json"
    )
    _assert_json_error(response, 413)
    assert response.json()["error"].startswith("The request body is larger than 1 MB")
    assert project.versions.count() == 1


def test_an_unacceptable_accept_header_is_a_json_406(ids, owner):
    response = api_client(owner).get("/api/v1/projects", HTTP_ACCEPT="text/html")
    _assert_json_error(response, 406)


def test_a_bad_host_header_is_json_on_api_paths_and_the_usual_page_elsewhere(db):
    client = Client()
    _assert_json_error(client.get("/api/v1/projects", HTTP_HOST="elsewhere.invalid"), 400)
    page = client.get("/accounts/login/", HTTP_HOST="elsewhere.invalid")
    assert page.status_code == 400
    assert page["Content-Type"].startswith("text/html")


def test_a_failure_outside_any_view_is_json_on_api_paths_and_the_usual_page_elsewhere():
    factory = RequestFactory()
    api = server_error(factory.get("/api/v1/projects"))
    assert api.status_code == 500
    assert json.loads(api.content)["error"].startswith("Something went wrong on the server")
    page = server_error(factory.get("/projects/"))
    assert page.status_code == 500
    assert page["Content-Type"].startswith("text/html")
