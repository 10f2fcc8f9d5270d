"""Who may do what, on every page and every API endpoint.

One table of endpoints crossed with one list of roles. Each endpoint has an access rule:

- list:          any logged-in user (an outsider gets an empty list);
- site admin:    staff only (creating a project is not a project resource);
- member:        members of the project and staff; anyone else gets 404;
- project admin: admin members of the project and staff; annotators 403, others 404.

Anonymous callers get 401 from the API and a redirect to the login page from pages.
A refused request writes nothing.
"""

import re
from dataclasses import dataclass, field

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from labeling.models import Annotation, ImportBatch, Item, Membership, Project, Skip
from learners.models import Job
from tests.factories import add_member, api_client, csv_bytes, import_rows, make_project, make_user

ROLES = ["anonymous", "outsider", "annotator", "project_admin", "site_admin"]


@dataclass(frozen=True)
class Endpoint:
    name: str
    kind: str  # "api" or "page"
    method: str
    url: str  # with {pk}, {slug}, {item}, {job}
    access: str  # "list", "site admin", "member", "project admin"
    ok: int  # status for an allowed caller
    data: dict = field(default_factory=dict)
    upload: bool = False  # send a small CSV as the `file` field


ENDPOINTS = [
    # Pages.
    Endpoint("page project list", "page", "GET", "/", "list", 200),
    Endpoint("page project create form", "page", "GET", "/projects/new", "site admin", 200),
    Endpoint(
        "page project create",
        "page",
        "POST",
        "/projects/new",
        "site admin",
        302,
        {"name": "Created", "labels": "yes\nno", "test_fraction": 0.2, "retrain_every": 50},
    ),
    Endpoint("page project detail", "page", "GET", "/projects/{slug}/", "member", 200),
    Endpoint("page import", "page", "POST", "/projects/{slug}/import", "project admin", 302, upload=True),
    Endpoint(
        "page members",
        "page",
        "POST",
        "/projects/{slug}/members",
        "project admin",
        302,
        {"username": "newcomer", "role": "annotator"},
    ),
    Endpoint("page export", "page", "GET", "/projects/{slug}/export?format=csv", "project admin", 200),
    Endpoint("page annotate", "page", "GET", "/projects/{slug}/annotate", "member", 200),
    Endpoint("page models", "page", "GET", "/projects/{slug}/models/", "member", 200),
    Endpoint("page retrain", "page", "POST", "/projects/{slug}/retrain", "project admin", 302),
    Endpoint("page job", "page", "GET", "/jobs/{job}/", "member", 200),
    # API.
    Endpoint("api projects list", "api", "GET", "/api/v1/projects", "list", 200),
    Endpoint(
        "api project create",
        "api",
        "POST",
        "/api/v1/projects",
        "site admin",
        201,
        {"name": "Created", "labels": ["yes", "no"]},
    ),
    Endpoint("api project detail", "api", "GET", "/api/v1/projects/{pk}", "member", 200),
    Endpoint(
        "api members",
        "api",
        "POST",
        "/api/v1/projects/{pk}/members",
        "project admin",
        201,
        {"username": "newcomer"},
    ),
    Endpoint(
        "api imports", "api", "POST", "/api/v1/projects/{pk}/imports", "project admin", 201, upload=True
    ),
    Endpoint("api next", "api", "GET", "/api/v1/projects/{pk}/next", "member", 200),
    Endpoint(
        "api annotations",
        "api",
        "POST",
        "/api/v1/items/{item}/annotations",
        "member",
        201,
        {"label": "positive"},
    ),
    Endpoint("api skip", "api", "POST", "/api/v1/items/{item}/skip", "member", 201),
    Endpoint("api stats", "api", "GET", "/api/v1/projects/{pk}/stats", "member", 200),
    Endpoint("api export", "api", "GET", "/api/v1/projects/{pk}/export?format=csv", "project admin", 200),
    Endpoint("api retrain", "api", "POST", "/api/v1/projects/{pk}/retrain", "project admin", 202),
    Endpoint("api jobs", "api", "GET", "/api/v1/projects/{pk}/jobs", "member", 200),
    Endpoint("api job detail", "api", "GET", "/api/v1/jobs/{job}", "member", 200),
    Endpoint("api models", "api", "GET", "/api/v1/projects/{pk}/models", "member", 200),
]


def expected_status(endpoint: Endpoint, role: str) -> int:
    if role == "anonymous":
        return 401 if endpoint.kind == "api" else 302
    if endpoint.access == "list" or role == "site_admin":
        return endpoint.ok
    if endpoint.access == "site admin":
        # Only staff create projects; a project admin manages the projects given to them.
        return 403
    if role == "outsider":
        return 404
    if endpoint.access == "project admin" and role == "annotator":
        return 403
    return endpoint.ok


@pytest.fixture
def world(owner, annotator, outsider, project):
    """The project with one item and one job, and a user for every role."""
    import_rows(project, [{"id": "i1", "text": "great food"}, {"id": "i2", "text": "awful food"}])
    project_admin = make_user("erin")
    add_member(project, project_admin, Membership.Role.ADMIN)
    make_user("newcomer")
    job = Job.objects.create(project=project, kind=Job.Kind.RETRAIN, state=Job.State.SUCCEEDED)
    users = {
        "anonymous": None,
        "outsider": outsider,
        "annotator": annotator,
        "project_admin": project_admin,
        "site_admin": make_user("dora", staff=True),  # staff, and a member of nothing
    }
    ids = {"pk": project.pk, "slug": project.slug, "item": project.items.first().pk, "job": job.pk}
    return users, ids


def _request(endpoint: Endpoint, user, ids: dict):
    url = endpoint.url.format(**ids)
    data = dict(endpoint.data)
    if endpoint.upload:
        data["file"] = SimpleUploadedFile("more.csv", csv_bytes([{"id": "new-1", "text": "new text"}]))
    if endpoint.kind == "api":
        client = api_client(user)
        if endpoint.method == "GET":
            return client.get(url)
        return client.post(url, data, format="multipart" if endpoint.upload else "json")
    client = Client()
    if user is not None:
        client.force_login(user)
    return client.get(url) if endpoint.method == "GET" else client.post(url, data)


def _counts() -> dict:
    models = [Project, Item, Annotation, Skip, ImportBatch, Membership, Job]
    return {model.__name__: model.objects.count() for model in models}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_each_role_gets_the_right_answer_from_each_endpoint(world, endpoint, role):
    users, ids = world
    before = _counts()
    response = _request(endpoint, users[role], ids)

    expected = expected_status(endpoint, role)
    assert response.status_code == expected, getattr(response, "content", b"")[:300]
    if role != "anonymous" and expected == endpoint.ok:
        if endpoint.method == "POST":
            # Every allowed POST here writes a row; a 302 that only carried a form error would not.
            assert _counts() != before
        return
    assert _counts() == before
    if endpoint.kind == "api":
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["error"]
    elif role == "anonymous":
        assert response.url.startswith(reverse("login") + "?next=")


def test_refused_api_calls_say_why(world):
    users, ids = world
    project_url = f"/api/v1/projects/{ids['pk']}"

    anonymous = api_client().get(project_url)
    assert anonymous.json() == {"error": "Authentication credentials were not provided."}
    assert anonymous["WWW-Authenticate"].startswith("Token")
    forbidden = api_client(users["annotator"]).post(f"{project_url}/retrain")
    assert forbidden.json() == {"error": "Only an admin of this project can do that."}
    hidden = api_client(users["outsider"]).get(project_url)
    assert hidden.status_code == 404
    assert "error" in hidden.json()
    bad_token = api_client()
    bad_token.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert bad_token.get(project_url).status_code == 401


def test_an_annotator_sees_only_their_projects_in_the_api_and_the_page(owner, annotator, project):
    other = make_project(owner, name="Secret tickets")

    listed = api_client(annotator).get("/api/v1/projects").json()
    assert [p["id"] for p in listed] == [project.pk]
    client = Client()
    client.force_login(annotator)
    page = client.get("/").content.decode()
    assert project.name in page
    assert other.name not in page
    assert "New project" not in page
    everything = api_client(owner).get("/api/v1/projects").json()
    assert {p["id"] for p in everything} == {project.pk, other.pk}


def test_an_outsider_gets_an_empty_project_list(outsider, project):
    assert api_client(outsider).get("/api/v1/projects").json() == []
    client = Client()
    client.force_login(outsider)
    page = client.get("/")
    assert page.status_code == 200
    assert project.name not in page.content.decode()
    assert "not a member of any project" in page.content.decode()


def test_a_project_admin_manages_only_their_own_project(owner, project):
    manager = make_user("erin")
    add_member(project, manager, Membership.Role.ADMIN)
    other = make_project(owner, name="Other")

    assert api_client(manager).post(f"/api/v1/projects/{project.pk}/retrain").status_code == 202
    assert api_client(manager).post(f"/api/v1/projects/{other.pk}/retrain").status_code == 404
    assert not Job.objects.filter(project=other).exists()


def _csrf_client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_session_api_posts_without_the_csrf_token_are_refused(annotator, items):
    client = _csrf_client(annotator)
    url = f"/api/v1/items/{items[0].pk}/annotations"
    response = client.post(url, {"label": "positive"}, content_type="application/json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]
    assert not Annotation.objects.exists()


def test_session_api_posts_with_the_page_csrf_token_are_accepted(annotator, project, items):
    client = _csrf_client(annotator)
    page = client.get(reverse("labeling:annotate", args=[project.slug]))
    # What static/js/sift.js sends: the token from the page's <meta name="csrf-token">.
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.content.decode()).group(1)
    url = f"/api/v1/items/{items[0].pk}/annotations"
    response = client.post(
        url, {"label": "positive"}, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )

    assert response.status_code == 201
    assert Annotation.objects.filter(item=items[0], user=annotator).count() == 1


def test_page_posts_without_the_csrf_token_are_refused(owner, project):
    client = _csrf_client(owner)
    response = client.post(reverse("learners:project-retrain", args=[project.slug]))

    assert response.status_code == 403
    assert not Job.objects.exists()


def test_token_authenticated_api_posts_need_no_csrf_token(annotator, items):
    response = api_client(annotator).post(
        f"/api/v1/items/{items[0].pk}/annotations", {"label": "negative"}, format="json"
    )
    assert response.status_code == 201
