"""Every team endpoint and page x every role: anonymous, outsider, annotator, project admin, site admin.

A non-member gets 404 (the project's existence is not revealed), an annotator 403 for admin
actions, and a refused request changes nothing.
"""

import pytest
from django.test import Client

from labeling import services
from labeling.models import Annotation, Membership, Project, Skip
from tests.factories import add_member, api_client, make_user

MEMBER, ADMIN = "member", "admin"

# (method, path, body, who may, status when allowed): {p} is the project id, {s} its
# slug, {i} an item with an open flag.
API = [
    ("get", "/api/v1/projects/{p}", None, MEMBER, 200),
    ("patch", "/api/v1/projects/{p}", {"overlap": 2}, ADMIN, 200),
    ("get", "/api/v1/projects/{p}/history", None, MEMBER, 200),
    ("get", "/api/v1/projects/{p}/progress", None, MEMBER, 200),
    ("get", "/api/v1/projects/{p}/agreement", None, MEMBER, 200),
    ("get", "/api/v1/projects/{p}/annotator-stats", None, ADMIN, 200),
    ("get", "/api/v1/projects/{p}/conflicts", None, ADMIN, 200),
    ("get", "/api/v1/projects/{p}/flags", None, ADMIN, 200),
    ("post", "/api/v1/items/{i}/adjudicate", {"label": "positive"}, ADMIN, 201),
    ("post", "/api/v1/items/{i}/flags/resolve", {"label": None}, ADMIN, 200),
]
PAGES = [
    ("get", "/projects/{s}/annotate", None, MEMBER, 200),
    ("get", "/projects/{s}/agreement", None, MEMBER, 200),
    ("get", "/projects/{s}/adjudicate", None, ADMIN, 200),
    ("get", "/projects/{s}/flags", None, ADMIN, 200),
    ("get", "/projects/{s}/annotators", None, ADMIN, 200),
    ("post", "/projects/{s}/adjudicate", {"item": "{i}", "label": "positive"}, ADMIN, 302),
    ("post", "/projects/{s}/flags", {"item": "{i}", "label": ""}, ADMIN, 302),
    (
        "post",
        "/projects/{s}/settings",
        {
            "overlap": 2,
            "retrain_every": 50,
            "test_fraction": 0.2,
            "test_target": 200,
            "suggestion_threshold": 0,
            "suggestion_withhold_share": 0,
            "strategy_weights": "",
            "guidelines": "",
        },
        ADMIN,
        302,
    ),
]
ROLES = ["anonymous", "outsider", "annotator", "project_admin", "site_admin"]


@pytest.fixture
def world(owner, annotator, outsider, project, items):
    lead = make_user("lead")
    add_member(project, lead, Membership.Role.ADMIN)
    services.skip_item(items[0], annotator, flag=True, comment="odd")
    users = {"outsider": outsider, "annotator": annotator, "project_admin": lead, "site_admin": owner}
    return project, items[0], users


def _expected(role: str, who_may: str, allowed: int, *, api: bool) -> int:
    if role == "anonymous":
        return 401 if api else 302
    if role == "outsider":
        return 404
    if role == "annotator" and who_may == ADMIN:
        return 403
    return allowed


def _fill(value, project, item):
    if isinstance(value, str):
        return value.format(p=project.pk, s=project.slug, i=item.pk)
    if isinstance(value, dict):
        return {k: _fill(v, project, item) for k, v in value.items()}
    return value


def _state(project, item) -> tuple:
    """What any of the endpoints could change."""
    project = Project.objects.get(pk=project.pk)
    return (project.overlap, Annotation.objects.count(), Skip.objects.filter(resolved_at=None).count())


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("method", "path", "body", "who_may", "allowed"), API, ids=[f"{m} {p}" for m, p, *_ in API]
)
def test_api_access(world, role, method, path, body, who_may, allowed):
    project, item, users = world
    client = api_client(users.get(role))
    before = _state(project, item)

    response = getattr(client, method)(_fill(path, project, item), _fill(body, project, item), format="json")

    expected = _expected(role, who_may, allowed, api=True)
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert "error" in response.json()
        assert _state(project, item) == before


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("method", "path", "body", "who_may", "allowed"), PAGES, ids=[f"{m} {p}" for m, p, *_ in PAGES]
)
def test_page_access(world, role, method, path, body, who_may, allowed):
    project, item, users = world
    client = Client()
    if role != "anonymous":
        client.force_login(users[role])
    before = _state(project, item)

    response = getattr(client, method)(_fill(path, project, item), _fill(body, project, item) or {})

    expected = _expected(role, who_may, allowed, api=False)
    assert response.status_code == expected
    if role == "anonymous":
        assert response["Location"].startswith("/accounts/login/")
    if expected != allowed or role == "anonymous":
        assert _state(project, item) == before


def test_a_pages_navigation_hides_admin_pages_from_annotators(client, world):
    project, _, users = world
    client.force_login(users["annotator"])
    html = client.get(f"/projects/{project.slug}/").content.decode()
    assert f"/projects/{project.slug}/agreement" in html
    assert f"/projects/{project.slug}/adjudicate" not in html
    assert 'id="settings"' not in html
