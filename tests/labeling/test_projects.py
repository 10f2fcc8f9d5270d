"""Projects and members through the API: the shapes returned and every refused input."""

import pytest

from labeling.models import Membership, Project
from tests.factories import api_client, make_user


def test_creating_a_project_returns_it_with_keyed_labels(owner):
    response = api_client(owner).post(
        "/api/v1/projects",
        {"name": "  Tickets ", "labels": ["bug", " idea "], "test_fraction": 0.3},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    project = Project.objects.get()
    assert body["id"] == project.pk
    assert body["slug"] == "tickets"
    assert body["name"] == "Tickets"
    assert body["labels"] == ["bug", "idea"]
    assert body["label_keys"] == {"bug": "1", "idea": "2"}
    assert body["test_fraction"] == 0.3
    assert project.memberships.get().user == owner
    assert project.memberships.get().role == Membership.Role.ADMIN
    assert api_client(owner).get(f"/api/v1/projects/{project.pk}").json() == body


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "T", "labels": ["only"]}, "labels: A project needs at least two labels."),
        ({"name": "T", "labels": ["a", "b", "a"]}, "labels: Labels repeat: a."),
        ({"name": "T", "labels": ["a", " "]}, "labels: Label names cannot be empty."),
        ({"name": "T", "labels": "a,b"}, "labels: Expected a list of items"),
        ({"name": "T"}, "labels: This field is required."),
        ({"name": "  ", "labels": ["a", "b"]}, "name: This field may not be blank."),
        (
            {"name": "T", "labels": ["a", "b"], "test_fraction": 0.95},
            "test_fraction: Ensure this value is less",
        ),
        (
            {"name": "T", "labels": ["a", "b"], "test_fraction": -1},
            "test_fraction: Ensure this value is greater",
        ),
    ],
)
def test_a_bad_project_is_refused_with_the_field_and_nothing_is_created(owner, body, message):
    response = api_client(owner).post("/api/v1/projects", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"].startswith(message)
    assert not Project.objects.exists()


def test_malformed_json_is_a_json_error(owner):
    response = api_client(owner).post("/api/v1/projects", "{oops", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"].startswith("JSON parse error")
    assert not Project.objects.exists()


def test_members_are_added_with_a_role_and_a_second_call_changes_the_role(owner, project):
    carol = make_user("carol")
    client = api_client(owner)
    url = f"/api/v1/projects/{project.pk}/members"

    first = client.post(url, {"username": "carol"}, format="json")
    assert first.status_code == 201
    assert first.json() == {"username": "carol", "role": "annotator"}
    again = client.post(url, {"username": "carol", "role": "admin"}, format="json")
    assert again.json() == {"username": "carol", "role": "admin"}
    assert project.memberships.get(user=carol).role == Membership.Role.ADMIN
    assert api_client(carol).get(f"/api/v1/projects/{project.pk}").status_code == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"username": "nobody"}, "username: There is no active user 'nobody'."),
        ({"username": "carol", "role": "owner"}, 'role: "owner" is not a valid choice.'),
        ({}, "username: This field is required."),
    ],
)
def test_a_bad_member_is_refused_and_nobody_is_added(owner, project, body, message):
    make_user("carol")
    before = set(project.memberships.values_list("user__username", "role"))
    response = api_client(owner).post(f"/api/v1/projects/{project.pk}/members", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == message
    assert set(project.memberships.values_list("user__username", "role")) == before


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/v1/projects/{pk}/retrain"),
        ("get", "/api/v1/projects/{pk}/members"),
        ("delete", "/api/v1/projects/{pk}"),
        ("put", "/api/v1/projects/{pk}/stats"),
        ("get", "/api/v1/items/{item}/annotations"),
    ],
)
def test_a_wrong_method_is_a_json_405(owner, items, method, url):
    path = url.format(pk=items[0].project_id, item=items[0].pk)
    response = getattr(api_client(owner), method)(path)

    assert response.status_code == 405
    assert response.json() == {"error": f'Method "{method.upper()}" not allowed.'}


def test_an_unknown_api_url_is_a_json_404(owner):
    response = api_client(owner).get("/api/v1/projects/1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"error": "There is no API endpoint '/api/v1/projects/1/nothing-here'."}


def test_an_unexpected_api_error_is_json_500(owner, project, monkeypatch, settings):
    from unittest import mock

    from tests.factories import api_client

    settings.DEBUG = False
    client = api_client(owner)
    client.raise_request_exception = False
    with mock.patch("labeling.services.get_project_stats", side_effect=RuntimeError("boom")):
        response = client.get(f"/api/v1/projects/{project.pk}/stats")
    assert response.status_code == 500
    assert response.json() == {"error": "Something went wrong on the server; the error was logged."}
