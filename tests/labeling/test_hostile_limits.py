"""Free text has length limits, and an error never echoes an oversized value back."""

import pytest
from django.urls import reverse

from labeling.forms import MAX_GUIDELINES_LENGTH, MAX_LABELS
from labeling.models import Project
from tests.factories import api_client

HUGE = "G" * 10_000_000  # 10 MB, as in issue 11


def _create(owner, **fields):
    body = {"name": "Big", "labels": ["yes", "no"], **fields}
    return api_client(owner).post("/api/v1/projects", body, format="json")


def test_api_refuses_guidelines_over_the_limit_without_echo(owner):
    response = _create(owner, guidelines=HUGE)

    assert response.status_code == 400
    assert response.json()["error"] == (
        f"guidelines: Guidelines are at most {MAX_GUIDELINES_LENGTH:,} characters (these have 10,000,000)."
    )
    assert len(response.content) < 1_000
    assert not Project.objects.filter(name="Big").exists()


def test_guidelines_at_the_limit_are_accepted(owner):
    response = _create(owner, guidelines="g" * MAX_GUIDELINES_LENGTH)

    assert response.status_code == 201
    assert len(Project.objects.get(name="Big").guidelines) == MAX_GUIDELINES_LENGTH


def test_api_settings_patch_refuses_long_guidelines(project, owner):
    url = f"/api/v1/projects/{project.pk}"
    response = api_client(owner).patch(url, {"guidelines": "x" * (MAX_GUIDELINES_LENGTH + 1)}, format="json")

    assert response.status_code == 400
    assert len(response.content) < 1_000
    project.refresh_from_db()
    assert project.guidelines == ""


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (["yes", "L" * 1_000_000], "Label names are at most 100 characters."),
        ([f"label {i}" for i in range(MAX_LABELS + 1)], f"A project has at most {MAX_LABELS} labels."),
        (
            [f"{i % 12:02}" + "R" * 98 for i in range(24)],
            "Labels repeat: " + ", ".join(f"{i:02}" + "R" * 98 for i in range(10)) + ".",
        ),
    ],
    ids=["1 MB label name", "too many labels", "repeated long label"],
)
def test_api_refuses_bad_labels_without_echo(owner, labels, message):
    response = _create(owner, labels=labels)

    assert response.status_code == 400
    assert response.json()["error"] == f"labels: {message}"
    assert len(response.content) < 3_000  # the message, and once more under "fields"
    assert not Project.objects.filter(name="Big").exists()


def test_unknown_huge_label_on_an_annotation_is_not_echoed(items, annotator):
    item = items[0]
    url = f"/api/v1/items/{item.pk}/annotations"
    response = api_client(annotator).post(url, {"label": "U" * 1_000_000}, format="json")

    assert response.status_code == 400
    assert "is not one of this project's labels (positive, negative)" in response.json()["error"]
    assert len(response.content) < 1_000
    assert not item.annotations.exists()


def test_unknown_huge_username_is_not_echoed(project, owner):
    url = f"/api/v1/projects/{project.pk}/members"
    response = api_client(owner).post(url, {"username": "u" * 1_000_000}, format="json")

    assert response.status_code == 400
    assert len(response.content) < 1_000


def test_page_forms_refuse_long_guidelines(client, project, owner):
    client.force_login(owner)
    created = client.post(
        reverse("labeling:project-create"),
        {"name": "Big", "labels": "yes\nno", "test_fraction": 0.2, "guidelines": HUGE, "retrain_every": 50},
    )
    assert created.status_code in (200, 400)
    assert "Guidelines are at most 100,000 characters" in created.content.decode()
    assert len(created.content) < MAX_GUIDELINES_LENGTH + 50_000  # shown again cut at the limit
    assert not Project.objects.filter(name="Big").exists()
