"""Project settings: PATCH /api/v1/projects/{id} and the project page's form, same rules."""

import pytest

from labeling import services
from labeling.models import Project
from labeling.queue import serve_next_item
from tests.factories import add_member, api_client, import_rows, make_project, make_review_rows, make_user


@pytest.fixture
def empty_project(owner, annotator):
    project = make_project(owner, name="Empty")
    add_member(project, annotator)
    return project


def _patch(user, project, body):
    return api_client(user).patch(f"/api/v1/projects/{project.pk}", body, format="json")


def _settings(project) -> tuple:
    project.refresh_from_db()
    return (
        project.overlap,
        project.test_fraction,
        project.retrain_every,
        project.strategy_weights,
        project.guidelines,
        project.suggestion_threshold,
        project.suggestion_withhold_share,
    )


def test_an_admin_changes_settings_through_the_api(owner, project):
    body = {
        "overlap": 2,
        "retrain_every": 25,
        "strategy_weights": {"margin": 0.7, "random": 0.3},
        "guidelines": "Sarcasm is negative.",
        "suggestion_threshold": 0.6,
        "suggestion_withhold_share": 0.25,
    }
    response = _patch(owner, project, body)

    assert response.status_code == 200
    assert response.json()["overlap"] == 2
    assert response.json()["strategy_weights"] == {"margin": 0.7, "random": 0.3}
    assert _settings(project) == (
        2,
        0.2,
        25,
        {"margin": 0.7, "random": 0.3},
        "Sarcasm is negative.",
        0.6,
        0.25,
    )


def test_test_fraction_can_change_before_the_first_import(owner, empty_project):
    response = _patch(owner, empty_project, {"test_fraction": 0.3})
    assert response.status_code == 200
    empty_project.refresh_from_db()
    assert empty_project.test_fraction == 0.3


def test_test_fraction_is_refused_after_an_import_and_nothing_else_changes(owner, project, items):
    before = _settings(project)
    response = _patch(owner, project, {"test_fraction": 0.5, "overlap": 3})

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["test_fraction"]
    assert "fixed at 0.2" in response.json()["error"]
    assert _settings(project) == before


def test_resending_the_same_test_fraction_after_import_is_not_a_change(owner, project, items):
    response = _patch(owner, project, {"test_fraction": 0.2, "overlap": 2})
    assert response.status_code == 200
    project.refresh_from_db()
    assert project.overlap == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"strategy_weights": {"margin": -1}}, "cannot be negative"),
        ({"strategy_weights": {"margin": "lots"}}, "must be a number"),
        ({"strategy_weights": {"margin": True}}, "must be a number"),
        ({"strategy_weights": ["margin"]}, "JSON object"),
        ({"strategy_weights": {"Margin Sampling": 1}}, "is not a ranker; the rankers are"),
        ({"strategy_weights": {"margin": 0, "random": 0}}, "above 0"),
        ({"overlap": 0}, "overlap"),
        ({"overlap": 11}, "overlap"),
        ({"suggestion_threshold": 1.5}, "suggestion_threshold"),
        ({"suggestion_withhold_share": -0.1}, "suggestion_withhold_share"),
        ({"retrain_every": -5}, "retrain_every"),
        ({"colour": "blue"}, "Not a project setting: colour"),
        ({}, "Nothing to change"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_error_and_nothing_changes(owner, project, body, message):
    before = _settings(project)
    response = _patch(owner, project, body)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert _settings(project) == before


def test_an_annotator_cannot_change_settings_and_an_outsider_cannot_see_them(project, annotator, outsider):
    before = _settings(project)
    assert _patch(annotator, project, {"overlap": 3}).status_code == 403
    assert _patch(outsider, project, {"overlap": 3}).status_code == 404
    assert _settings(project) == before


def _form(project, **overrides) -> dict:
    data = {
        "overlap": project.overlap,
        "retrain_every": project.retrain_every,
        "test_fraction": project.test_fraction,
        "test_target": project.test_target,
        "suggestion_threshold": project.suggestion_threshold,
        "suggestion_withhold_share": project.suggestion_withhold_share,
        "strategy_weights": "",
        "guidelines": project.guidelines,
    }
    return {**data, **overrides}


def test_the_project_page_form_saves_settings(client, owner, project):
    client.force_login(owner)
    response = client.post(
        f"/projects/{project.slug}/settings",
        _form(project, overlap=3, strategy_weights='{"margin": 1}', guidelines="Be kind."),
    )
    assert response.status_code == 302
    project.refresh_from_db()
    assert (project.overlap, project.strategy_weights, project.guidelines) == (3, {"margin": 1.0}, "Be kind.")


def test_the_form_refuses_a_new_test_fraction_after_import_and_shows_why(client, owner, project, items):
    client.force_login(owner)
    before = _settings(project)
    response = client.post(f"/projects/{project.slug}/settings", _form(project, test_fraction=0.4, overlap=2))
    assert response.status_code == 400
    assert "fixed at 0.2" in response.content.decode()
    assert _settings(project) == before


def test_the_form_refuses_negative_weights(client, owner, project):
    client.force_login(owner)
    before = _settings(project)
    response = client.post(
        f"/projects/{project.slug}/settings", _form(project, strategy_weights='{"margin": -2}')
    )
    assert response.status_code == 400
    assert "cannot be negative" in response.content.decode()
    assert _settings(project) == before


def test_an_annotator_cannot_post_the_settings_form(client, annotator, project):
    client.force_login(annotator)
    response = client.post(f"/projects/{project.slug}/settings", _form(project, overlap=4))
    assert response.status_code == 403
    assert Project.objects.get(pk=project.pk).overlap == 1


def test_raising_overlap_returns_labeled_items_to_the_queue_for_others(owner, project, annotator):
    project.test_fraction = 0.0
    project.save()
    import_rows(project, make_review_rows(1))
    item = project.items.get()
    services.save_annotation(item, annotator, project.labels.first())
    other = make_user("dora")
    assert serve_next_item(project, other) is None
    _patch(owner, project, {"overlap": 2})
    project.refresh_from_db()
    assert serve_next_item(project, other).item == item
