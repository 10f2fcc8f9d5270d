"""The project JSON shows what PATCH sets; project names are unique; input errors look alike."""

import pytest
from django.test import Client
from django.urls import reverse

from labeling.models import Annotation, Project
from labeling.serializers import ProjectSettingsSerializer
from tests.factories import api_client, import_rows, make_review_rows

# A value for every setting, each different from the default.
NEW_SETTINGS = {
    "guidelines": "Read twice.",
    "overlap": 2,
    "test_fraction": 0.3,
    "test_target": 40,
    "retrain_every": 7,
    "strategy_weights": {"margin": 0.75, "random": 0.25},
    "adaptive_mix": True,
    "cold_start_min_per_label": 5,
    "suggestion_threshold": 0.6,
    "suggestion_withhold_share": 0.2,
}


def test_the_project_json_has_every_field_patch_accepts(project):
    shown = set(api_client(project.created_by).get(f"/api/v1/projects/{project.pk}").json())
    accepted = set(ProjectSettingsSerializer().fields)
    assert accepted == set(NEW_SETTINGS)  # a new setting needs a value above
    assert accepted <= shown


def test_every_patched_setting_reads_back_in_the_project_json(owner, project):
    client = api_client(owner)
    patched = client.patch(f"/api/v1/projects/{project.pk}", NEW_SETTINGS, format="json")
    assert patched.status_code == 200, patched.content
    for body in (patched.json(), client.get(f"/api/v1/projects/{project.pk}").json()):
        assert {name: body[name] for name in NEW_SETTINGS} == NEW_SETTINGS
    listed = client.get("/api/v1/projects").json()[0]
    assert listed["adaptive_mix"] is True
    assert listed["cold_start_min_per_label"] == 5


@pytest.mark.parametrize("value", [0, 51, "many"])
def test_cold_start_min_per_label_has_the_page_forms_bounds(owner, project, value):
    response = api_client(owner).patch(f"/api/v1/projects/{project.pk}", {"cold_start_min_per_label": value})
    assert response.status_code == 400
    assert response.json()["error"].startswith("cold_start_min_per_label: ")
    assert list(response.json()["fields"]) == ["cold_start_min_per_label"]
    project.refresh_from_db()
    assert project.cold_start_min_per_label == 2


def test_a_settings_error_names_its_field_under_fields_like_every_input_error(owner, project):
    import_rows(project, make_review_rows(4))
    client = api_client(owner)
    service_refusal = client.patch(f"/api/v1/projects/{project.pk}", {"test_fraction": 0.5}, format="json")
    field_refusal = client.patch(f"/api/v1/projects/{project.pk}", {"overlap": 0}, format="json")
    for response in (service_refusal, field_refusal):
        assert response.status_code == 400
        assert set(response.json()) == {"error", "fields"}
        assert "field" not in response.json()
    assert list(service_refusal.json()["fields"]) == ["test_fraction"]
    assert list(field_refusal.json()["fields"]) == ["overlap"]


@pytest.mark.parametrize("name", ["Reviews", "reviews", "  REVIEWS "])
def test_the_api_refuses_a_project_name_already_taken(owner, project, name):
    response = api_client(owner).post("/api/v1/projects", {"name": name, "labels": ["a", "b"]}, format="json")
    assert response.status_code == 400
    assert (
        response.json()["error"] == "name: There is already a project named 'Reviews'; choose another name."
    )
    assert list(response.json()["fields"]) == ["name"]
    assert Project.objects.count() == 1


def test_the_new_project_page_refuses_a_name_already_taken_with_a_form_error(owner, project):
    client = Client()
    client.force_login(owner)
    data = {"name": "reviews", "labels": "a\nb", "test_fraction": "0.2", "retrain_every": "50"}
    response = client.post(reverse("labeling:project-create"), data)
    assert response.status_code == 200
    assert response.context["form"].errors["name"] == [
        "There is already a project named 'Reviews'; choose another name."
    ]
    assert Project.objects.count() == 1


def test_a_new_name_is_still_accepted(owner, project):
    response = api_client(owner).post(
        "/api/v1/projects", {"name": "Reviews 2", "labels": ["a", "b"]}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["slug"] == "reviews-2"
    assert response.json()["labels"] == ["a", "b"]
    assert set(response.json()["label_keys"]) == {"a", "b"}


@pytest.mark.parametrize("client_id", ["not-a-uuid", "12345", ""])
def test_a_client_id_that_is_not_a_uuid_is_a_clear_400_and_nothing_is_written(annotator, items, client_id):
    body = {"label": "positive", "client_id": client_id}
    response = api_client(annotator).post(f"/api/v1/items/{items[0].pk}/annotations", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"].startswith("client_id: Must be a valid UUID.")
    assert "crypto.randomUUID()" in response.json()["error"]
    assert not Annotation.objects.filter(user=annotator).exists()
