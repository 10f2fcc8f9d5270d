"""Feedback and audits turn live texts into items: split by the import's hash rule, with
their origin, never with a gold label; audit items are labeled without a suggestion."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from labeling import queue, splits
from labeling.models import Annotation, Item, Origin
from serving.models import Feedback, PredictionLog, ServingSettings
from tests.factories import api_client
from tests.serving.conftest import predict, service_client


def _predict_one(client, project, text: str) -> dict:
    response = predict(client, project, [text])
    assert response.status_code == 200, response.content
    return response.json()["predictions"][0]


def _feedback(client, prediction_id: str, body: dict):
    return client.post(f"/api/v1/predictions/{prediction_id}/feedback", body, format="json")


def test_feedback_makes_the_text_an_item_split_by_the_import_rule(served, service_key):
    # No audit sample: an audited prediction is an item already, so its feedback creates none.
    ServingSettings.objects.create(project=served, audit_share=0.0)
    client = service_client(service_key)
    texts = [f"lovely kind service, visit {i + 500}" for i in range(12)]
    splits_seen = set()
    for text in texts:
        answer = _predict_one(client, served, text)
        response = _feedback(client, answer["prediction_id"], {"correct": False, "label": "negative"})
        assert response.status_code == 201, response.content
        body = response.json()
        item = Item.objects.get(pk=body["item"])
        assert body["item_created"] is True
        assert item.origin == Origin.FEEDBACK
        assert item.text == text
        expected = splits.assign_split(served.seed, splits.content_hash(text), served.test_fraction)
        assert item.split == body["split"] == expected
        splits_seen.add(item.split)
        # A signal, not a gold label: no annotation, no label on the item.
        assert item.label_id is None
        assert not Annotation.objects.filter(item=item).exists()
        assert item.meta["feedback"] == {"correct": False, "label": "negative"}
        assert item.meta["predicted"] == answer["label"]
    assert splits_seen == {"pool", "test"}  # 12 texts at a 40% test share reach both splits
    assert Feedback.objects.count() == 12


def test_feedback_on_a_text_the_project_has_links_the_known_item(served, service_key):
    client = service_client(service_key)
    known = Item.objects.filter(project=served).first()
    answer = _predict_one(client, served, known.text)
    body = _feedback(client, answer["prediction_id"], {"correct": True}).json()
    assert (body["item"], body["item_created"]) == (known.pk, False)
    assert Item.objects.filter(project=served).count() == 160


def test_bad_feedback_is_refused_and_writes_nothing(served, service_key, owner):
    client = service_client(service_key)
    answer = _predict_one(client, served, "great lovely service, visit 5000")
    refused = _predict_one(client, served, "")
    cases = [
        ({"correct": "maybe"}, 400),
        ({}, 400),
        ({"correct": False, "label": "neutral"}, 400),
    ]
    for body, code in cases:
        response = _feedback(client, answer["prediction_id"], body)
        assert response.status_code == code, body
        assert response.json()["error"]
    assert _feedback(client, refused["prediction_id"], {"correct": True}).status_code == 409
    assert _feedback(client, "00000000-0000-0000-0000-000000000000", {"correct": True}).status_code == 404
    assert not Feedback.objects.exists()
    assert not Item.objects.filter(origin=Origin.FEEDBACK).exists()
    assert _feedback(client, answer["prediction_id"], {"correct": True}).status_code == 201
    again = _feedback(api_client(owner), answer["prediction_id"], {"correct": False})
    assert again.status_code == 409
    assert "already has feedback" in again.json()["error"]


def test_a_token_of_another_project_cannot_send_feedback(served, service_key, owner):
    from tests.factories import make_project

    answer = _predict_one(service_client(service_key), served, "great lovely service, visit 5001")
    other = make_project(owner, name="Other")
    created = api_client(owner).post(
        f"/api/v1/projects/{other.pk}/service-tokens", {"name": "o"}, format="json"
    )
    other_client = service_client(created.json()["token"])
    assert _feedback(other_client, answer["prediction_id"], {"correct": True}).status_code == 404


def test_the_audit_share_of_predictions_becomes_items_labeled_without_a_suggestion(served, service_key):
    ServingSettings.objects.create(project=served, audit_share=0.3)
    texts = [f"happy fast service, visit {i + 700}" for i in range(200)]
    client = service_client(service_key)
    predict(client, served, texts[:100])
    predict(client, served, [*texts[100:], ""])
    audited = PredictionLog.objects.filter(audit_item__isnull=False)
    assert 40 <= audited.count() <= 80  # 60 expected of 200 answered; binomial sd 6.5
    assert not audited.filter(outcome="refused").exists()
    items = Item.objects.filter(origin=Origin.AUDIT)
    assert items.count() == audited.count()
    for row in audited.select_related("audit_item"):
        item = row.audit_item
        assert item.text == row.text
        assert item.split == splits.assign_split(
            served.seed, splits.content_hash(item.text), served.test_fraction
        )
        # Even with a confident suggestion, an audit item shows none.
        assert queue.shows_suggestion(served, item, 0.99) is False
    # The same share by hash: a prediction id decides, not the client.
    assert audited.count() == sum(
        1 for r in PredictionLog.objects.exclude(outcome="refused") if splits_hash_in(r.pk, 0.3)
    )


def splits_hash_in(pk, share):
    from serving.services import in_audit_sample

    return in_audit_sample(pk, share)


def test_prune_deletes_rows_past_retention(served, service_key, settings):
    settings.SIFT_PREDICTION_LOG_DAYS = 30
    predict(service_client(service_key), served, ["great visit a", "great visit b"])
    PredictionLog.objects.filter(text="great visit a").update(created_at=timezone.now() - timedelta(days=31))
    out = StringIO()
    call_command("prune_prediction_logs", stdout=out)
    assert "Deleted 1 row(s)" in out.getvalue()
    assert list(PredictionLog.objects.values_list("text", flat=True)) == ["great visit b"]


@pytest.mark.parametrize("days", [-1])
def test_prune_refuses_a_negative_retention(db, days):
    with pytest.raises(SystemExit):
        call_command("prune_prediction_logs", days=days, stderr=StringIO())
