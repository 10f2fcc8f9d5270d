"""A large import through the API, checked and written by a real Celery worker process.

As in tests/test_loop_with_worker.py: the worker runs on the test database and broker, on a
queue of its own; the web side is the test client, which shares SIFT_UPLOAD_DIR with it.
"""

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from config.celery import app
from labeling.models import Item
from tests.factories import api_client, csv_bytes, make_project, make_review_rows
from tests.processes import process_env, start_worker, wait_for

pytestmark = pytest.mark.worker


@pytest.fixture
def worker(transactional_db, tmp_path, settings):
    queue = f"test-{uuid.uuid4().hex[:8]}"
    previous_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    log = tmp_path / "worker.log"
    process = start_worker(process_env(SIFT_QUEUE=queue), queue, log)
    try:
        yield log
    finally:
        process.stop(grace=20)
        app.conf.task_default_queue = previous_queue


def _finished(client, job_id: int, log):
    def done():
        body = client.get(f"/api/v1/jobs/{job_id}").json()
        return body if body["state"] in ("succeeded", "failed") else None

    return wait_for(done, 120, f"import job {job_id}", log)


def test_a_large_import_runs_in_the_worker_and_a_bad_one_imports_nothing(worker, owner, settings):
    settings.SIFT_IMPORT_INLINE_BYTES = 1000
    project = make_project(owner)
    client = api_client(owner)
    url = f"/api/v1/projects/{project.pk}/imports"
    rows = make_review_rows(3000, labeled=500)

    accepted = client.post(url, {"file": SimpleUploadedFile("big.csv", csv_bytes(rows))}, format="multipart")
    assert accepted.status_code == 202
    body = _finished(client, accepted.json()["job"]["id"], worker)

    assert body["state"] == "succeeded", body["error"]
    assert body["result"]["imported"] == 3000
    assert body["result"]["labeled"] == 500
    assert Item.objects.filter(project=project).count() == 3000

    rows[2500]["label"] = "neutral"
    again = [dict(r, id=f"second-{i}") for i, r in enumerate(rows)]
    accepted = client.post(url, {"file": SimpleUploadedFile("bad.csv", csv_bytes(again))}, format="multipart")
    body = _finished(client, accepted.json()["job"]["id"], worker)

    assert body["state"] == "failed"
    assert body["result"]["rows"][0]["row"] == 2502
    assert "neutral" in body["result"]["rows"][0]["error"]
    assert Item.objects.filter(project=project).count() == 3000
    assert list(settings.SIFT_UPLOAD_DIR.iterdir()) == []
