"""Monitoring figures against a prediction log whose numbers are known, drift on the page
from live requests, live accuracy from labeled audits, and real answers against the schema."""

import uuid
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from labeling import services as labeling_services
from labeling.models import Item, Label, Split
from learners.models import ModelVersion
from serving.models import PredictionLog, ServingSettings
from tests.factories import api_client
from tests.serving.conftest import predict, service_client
from tests.test_schema import _assert_documented


def _log(project, model_ref, *, latency, outcome="label", label="positive", cached=False, **fields):
    request_id = fields.pop("request_id", uuid.uuid4())
    return PredictionLog(
        project=project,
        model_ref=model_ref,
        dataset_version=1,
        request_id=request_id,
        batch_size=fields.pop("batch_size", 1),
        latency_ms=latency,
        outcome=outcome,
        label=label,
        cached=cached,
        text=fields.pop("text", "great"),
        text_length=fields.pop("text_length", 5),
        unknown_rate=fields.pop("unknown_rate", 0.0),
        created_at=fields.pop("created_at", timezone.now()),
        **fields,
    )


def test_monitoring_figures_match_a_known_log(served, owner):
    active = ModelVersion.objects.get(project=served, is_active=True)
    ref = str(active.pk)
    latencies = [float(x) for x in range(1, 21)]  # 20 requests of one text each
    rows = [
        _log(served, ref, latency=ms, outcome=outcome, label=label, cached=i % 4 == 0)
        for i, (ms, outcome, label) in enumerate(
            zip(
                latencies,
                ["label"] * 14 + ["abstain"] * 3 + ["refused"] * 3,
                ["positive"] * 10 + ["negative"] * 7 + [""] * 3,
                strict=True,
            )
        )
    ]
    for row in rows[-3:]:
        row.reason, row.unknown_rate, row.text = "empty", None, ""
    # One request of 5 texts counts once for latency, five times for outcomes.
    batch = uuid.uuid4()
    rows += [_log(served, ref, latency=100.0, request_id=batch, batch_size=5) for _ in range(5)]
    # Outside the window: not counted.
    rows.append(_log(served, ref, latency=999.0, created_at=timezone.now() - timedelta(hours=2)))
    PredictionLog.objects.bulk_create(rows)

    response = api_client(owner).get(f"/api/v1/projects/{served.pk}/monitoring?minutes=60")
    assert response.status_code == 200, response.content
    body = response.json()
    all_latencies = [*latencies, 100.0]
    assert body["requests"] == 21
    assert body["predictions"] == 25
    assert body["requests_per_minute"] == pytest.approx(21 / 60)
    assert body["latency_ms"]["p50"] == pytest.approx(np.percentile(all_latencies, 50))
    assert body["latency_ms"]["p95"] == pytest.approx(np.percentile(all_latencies, 95))
    assert body["outcomes"] == {"label": 19, "abstain": 3, "refused": 3}
    assert body["refusal_rate"] == pytest.approx(3 / 25)
    assert body["abstain_rate"] == pytest.approx(3 / 25)
    assert body["refusal_reasons"] == {"empty": 3}
    # Cached: rows 0, 4, 8, 12, 16 of the 17 that reached the model, plus 5 uncached.
    assert body["cache_hit_rate"] == pytest.approx(5 / 22)
    live = {row["label"]: row["live"] for row in body["label_distribution"]}
    assert live == pytest.approx({"positive": 15 / 22, "negative": 7 / 22})
    test_labels = Item.objects.filter(project=served, split=Split.TEST, label__isnull=False)
    test_share = test_labels.filter(label__name="positive").count() / test_labels.count()
    shares = {row["label"]: row["test"] for row in body["label_distribution"]}
    assert shares["positive"] == pytest.approx(test_share)
    _assert_documented(response, "get", "/api/v1/projects/{id}/monitoring")


def test_drift_on_the_monitoring_page_follows_live_inputs(served, owner, service_key):
    ServingSettings.objects.create(project=served, ood_action="flag")
    client = service_client(service_key)
    test_texts = list(Item.objects.filter(project=served, split=Split.TEST).values_list("text", flat=True))
    predict(client, served, test_texts[:60])  # like the test set
    drift = api_client(owner).get(f"/api/v1/projects/{served.pk}/monitoring").json()["drift"]
    assert drift["verdict"] == "stable", drift
    rng = np.random.default_rng(11)
    strange = ["zebra", "quantum", "xylophone", "marmalade", "great", "lovely", "visit"]
    predict(client, served, [" ".join(rng.choice(strange, 8)) + " service" for _ in range(120)])
    body = api_client(owner).get(f"/api/v1/projects/{served.pk}/monitoring").json()
    assert body["drift"]["verdict"] == "drifted"
    moved = {f["name"]: f["drifted"] for f in body["drift"]["features"]}
    assert moved["unknown_word_rate"] is True
    assert any("drifted" in alert for alert in body["alerts"])
    assert body["flagged_rate"] > 0


def test_live_accuracy_comes_from_the_labeled_audit_sample(served, owner, annotator, service_key):
    ServingSettings.objects.create(project=served, audit_share=1.0)
    texts = [f"{'great' if i % 2 else 'awful'} lovely service, visit {i + 900}" for i in range(40)]
    answers = predict(service_client(service_key), served, texts).json()["predictions"]
    labels = {label.name: label for label in Label.objects.filter(project=served)}
    audited = PredictionLog.objects.filter(audit_item__isnull=False).select_related("audit_item")
    assert audited.count() == 40
    truth = []
    for i, row in enumerate(audited.order_by("text")):
        # An annotator's label: the model's own answer on every other item, the other label elsewhere.
        agree = i % 4 != 0
        given = row.label if agree else ("negative" if row.label == "positive" else "positive")
        labeling_services.save_annotation(row.audit_item, annotator, labels[given])
        truth.append(agree)
    body = api_client(owner).get(f"/api/v1/projects/{served.pk}/monitoring").json()
    accuracy = body["live_accuracy"]
    assert accuracy["n"] == 40
    assert accuracy["value"] == pytest.approx(np.mean(truth))
    assert accuracy["low"] < accuracy["value"] < accuracy["high"]
    assert len(answers) == 40


def test_the_serving_answers_are_as_documented(served, owner, service_key):
    client = service_client(service_key)
    ok = predict(client, served, ["great lovely service, visit 1", "", 7])
    _assert_documented(ok, "post", "/api/v1/projects/{id}/predict")
    _assert_documented(predict(client, served, []), "post", "/api/v1/projects/{id}/predict")
    pid = ok.json()["predictions"][0]["prediction_id"]
    url = "/api/v1/predictions/{prediction_id}/feedback"
    done = client.post(f"/api/v1/predictions/{pid}/feedback", {"correct": True}, format="json")
    assert done.status_code == 201
    _assert_documented(done, "post", url)
    again = client.post(f"/api/v1/predictions/{pid}/feedback", {"correct": True}, format="json")
    _assert_documented(again, "post", url)
    admin = api_client(owner)
    created = admin.post(f"/api/v1/projects/{served.pk}/service-tokens", {"name": "x"}, format="json")
    _assert_documented(created, "post", "/api/v1/projects/{id}/service-tokens")
    listed = admin.get(f"/api/v1/projects/{served.pk}/service-tokens")
    _assert_documented(listed, "get", "/api/v1/projects/{id}/service-tokens")
    refused = client.get(f"/api/v1/projects/{served.pk}/items")
    assert refused.status_code == 403
    bad_window = admin.get(f"/api/v1/projects/{served.pk}/monitoring?minutes=0")
    assert bad_window.status_code == 400
    _assert_documented(bad_window, "get", "/api/v1/projects/{id}/monitoring")


def test_the_serving_page_shows_tokens_settings_and_traffic(served, owner, annotator, client, service_key):
    predict(service_client(service_key), served, ["great lovely service, visit 1", ""])
    client.force_login(owner)
    page = client.get(f"/projects/{served.slug}/serving")
    assert page.status_code == 200
    html = page.content.decode()
    assert "bot" in html
    assert "requests per minute" in html
    assert "Input drift" in html
    created = client.post(f"/projects/{served.slug}/serving/tokens", {"name": "web shop"})
    assert created.status_code == 200
    assert "shown only now" in created.content.decode()
    saved = client.post(
        f"/projects/{served.slug}/serving/settings",
        {
            "confidence_threshold": "0.7",
            "ood_threshold": "0.4",
            "ood_action": "flag",
            "audit_share": "0.05",
            "top_k": "2",
        },
    )
    assert saved.status_code == 302
    config = ServingSettings.objects.get(project=served)
    assert (config.confidence_threshold, config.ood_action, config.top_k) == (0.7, "flag", 2)
    bad = client.post(
        f"/projects/{served.slug}/serving/settings",
        {
            "confidence_threshold": "1.7",
            "ood_threshold": "0.4",
            "ood_action": "flag",
            "audit_share": "0.05",
            "top_k": "2",
        },
    )
    assert bad.status_code == 400
    assert ServingSettings.objects.get(project=served).confidence_threshold == 0.7
    client.force_login(annotator)
    assert client.get(f"/projects/{served.slug}/serving").status_code == 403
