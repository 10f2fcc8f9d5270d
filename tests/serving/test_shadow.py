"""A shadow model answers live traffic alongside the active one: its answers are stored, never
returned, and the comparison (agreement, confidences, who was right by feedback) adds up."""

import json

import pytest

from learners.models import ModelVersion
from serving.models import PredictionLog, ShadowPrediction
from tests.factories import api_client
from tests.serving.conftest import predict, retrain, service_client

TEXTS = ["great lovely service, visit 999", "awful rude service, visit 998", "kind fast visit 997"]


@pytest.fixture
def candidate(served):
    """A second model version of the project that is not the active one."""
    retrain(served)
    return ModelVersion.objects.filter(project=served, is_active=False).order_by("-created_at").first()


def shadow_url(project) -> str:
    return f"/api/v1/projects/{project.pk}/shadow"


def test_shadow_answers_are_stored_and_never_returned(served, owner, service_key, candidate):
    active = ModelVersion.objects.get(project=served, is_active=True)
    response = api_client(owner).put(shadow_url(served), {"model": str(candidate.pk)}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["shadow_model"] == str(candidate.pk)

    answer = predict(service_client(service_key), served, [*TEXTS, ""])
    assert answer.status_code == 200
    body = answer.json()
    assert str(candidate.pk) not in json.dumps(body)  # nothing of the shadow reaches the client
    assert {p["model"] for p in body["predictions"]} == {str(active.pk)}
    shadows = {s.prediction_id: s for s in ShadowPrediction.objects.all()}
    answered = [p for p in body["predictions"] if p["outcome"] != "refused"]
    assert {str(k) for k in shadows} == {p["prediction_id"] for p in answered}  # not the refused ""
    for p in answered:
        row = shadows[PredictionLog.objects.get(pk=p["prediction_id"]).pk]
        assert row.model_ref == str(candidate.pk)
        assert 0 < row.confidence <= 1


def test_the_comparison_counts_agreement_and_who_was_right(served, owner, service_key, candidate):
    admin = api_client(owner)
    admin.put(shadow_url(served), {"model": str(candidate.pk)}, format="json")
    body = predict(service_client(service_key), served, TEXTS).json()["predictions"]
    said = [p["label"] or p["best_guess"]["label"] for p in body]
    other = {"positive": "negative", "negative": "positive"}
    # A known log: the shadow agrees on the first two texts and says the other label on the third.
    for i, p in enumerate(body):
        ShadowPrediction.objects.filter(prediction_id=p["prediction_id"]).update(
            label=said[i] if i < 2 else other[said[i]]
        )
    client = service_client(service_key)
    # Feedback: the active model was right on the first text, wrong on the third (the shadow right).
    for p, given in ((body[0], {"correct": True}), (body[2], {"correct": False, "label": other[said[2]]})):
        url = f"/api/v1/predictions/{p['prediction_id']}/feedback"
        assert client.post(url, given, format="json").status_code == 201
    report = admin.get(shadow_url(served)).json()
    assert report["compared"] == 3
    assert report["agreement"] == pytest.approx(2 / 3)
    assert report["active_confidence"]["p50"] is not None
    assert report["shadow_confidence"]["p90"] <= 1
    assert (report["with_feedback"], report["active_right"]) == (2, 1)
    assert (report["shadow_judged"], report["shadow_right"]) == (2, 2)


def test_the_active_model_or_another_projects_model_cannot_be_the_shadow(served, owner, candidate):
    admin = api_client(owner)
    active = ModelVersion.objects.get(project=served, is_active=True)
    response = admin.put(shadow_url(served), {"model": str(active.pk)}, format="json")
    assert response.status_code == 400
    assert "active" in response.json()["error"]
    response = admin.put(shadow_url(served), {"model": "00000000-0000-0000-0000-000000000000"}, format="json")
    assert response.status_code == 400
    assert admin.put(shadow_url(served), {"model": None}, format="json").json()["shadow_model"] is None


def test_a_shadow_that_cannot_load_does_not_change_the_answers(served, owner, service_key, candidate):
    api_client(owner).put(shadow_url(served), {"model": str(candidate.pk)}, format="json")
    ModelVersion.objects.filter(pk=candidate.pk).update(sha256="0" * 64)  # its file no longer matches
    response = predict(service_client(service_key), served, TEXTS)
    assert response.status_code == 200
    assert [p["outcome"] for p in response.json()["predictions"]] != ["refused"] * 3
    assert not ShadowPrediction.objects.exists()


def test_the_serving_page_sets_the_shadow_and_shows_the_comparison(served, owner, service_key, candidate):
    from django.test import Client

    client = Client()
    client.force_login(owner)
    page = f"/projects/{served.slug}/serving"
    response = client.post(f"{page}/shadow", {"model": str(candidate.pk)})
    assert response.status_code == 302
    predict(service_client(service_key), served, TEXTS)
    html = client.get(page).content.decode()
    assert 'id="shadow"' in html
    assert f'value="{candidate.pk}" selected' in html
    assert "agreement with the active model on 3 predictions" in html
    active = ModelVersion.objects.get(project=served, is_active=True)
    client.post(f"{page}/shadow", {"model": str(active.pk)})  # refused: shadow unchanged
    assert ShadowPrediction.objects.count() == 3
    assert f'value="{candidate.pk}" selected' in client.get(page).content.decode()
    client.post(f"{page}/shadow", {"model": "not-a-uuid"})
    assert client.post(f"{page}/shadow", {"model": ""}).status_code == 302
    assert (
        "selected"
        not in client.get(page).content.decode().split('id="shadow-model"')[1].split("</select>")[0]
    )
