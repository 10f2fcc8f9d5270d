"""Rollback through the API with a real Celery worker process: the activation job loads the
older model's file (sha256 checked), re-scores the pool and swaps it in."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeling.models import Project
from tests.factories import api_client, csv_bytes, make_user
from tests.test_loop_with_worker import _banking_rows, _wait_for_job, worker  # noqa: F401

pytestmark = pytest.mark.worker


def test_rollback_in_a_worker_serves_items_ranked_by_the_older_model(worker):  # noqa: F811
    labels = ["card_arrival", "exchange_rate", "lost_or_stolen_card", "top_up_failed"]
    admin, annotator = make_user("admin", staff=True), make_user("annie")
    client, annotating = api_client(admin), api_client(annotator)
    spec = {"name": "Rollback", "labels": labels, "test_fraction": 0.25, "retrain_every": 0, "test_target": 0}
    pid = client.post("/api/v1/projects", spec, format="json").json()["id"]
    Project.objects.filter(pk=pid).update(promotion_tolerance=1.0)
    rows, truth = _banking_rows(labels, n_labeled=100)
    upload = SimpleUploadedFile("bank.csv", csv_bytes(rows, ["id", "text", "label"]))
    assert (
        client.post(f"/api/v1/projects/{pid}/imports", {"file": upload}, format="multipart").status_code
        == 201
    )
    client.post(f"/api/v1/projects/{pid}/members", {"username": "annie"}, format="json")

    _wait_for_job(client, client.post(f"/api/v1/projects/{pid}/retrain").json()["job"]["id"], worker)
    for _ in range(5):
        item = annotating.get(f"/api/v1/projects/{pid}/next").json()["item"]
        annotating.post(f"/api/v1/items/{item['id']}/annotations", {"label": truth[item["external_id"]]})
    _wait_for_job(client, client.post(f"/api/v1/projects/{pid}/retrain").json()["job"]["id"], worker)
    older, newer = sorted(client.get(f"/api/v1/projects/{pid}/models").json(), key=lambda m: m["created_at"])
    assert newer["active"]
    assert not older["active"]

    started = client.post(f"/api/v1/models/{older['id']}/activate")
    assert started.status_code == 202
    job = _wait_for_job(client, started.json()["job"]["id"], worker)
    assert job["kind"] == "activate"
    assert job["result"]["model"] == older["id"]

    models = {m["id"]: m for m in client.get(f"/api/v1/projects/{pid}/models").json()}
    assert models[older["id"]]["active"]
    assert not models[newer["id"]]["active"]
    served = annotating.get(f"/api/v1/projects/{pid}/next").json()
    assert served["reason"]["model"] == older["id"]
    assert served["suggestion"]["label"] in labels
