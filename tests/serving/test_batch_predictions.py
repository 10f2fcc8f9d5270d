"""Batch predictions: POST /api/v1/projects/{id}/batch-predictions starts a "predict" job that
answers a file's texts (or the unlabeled pool) with the active model, through the predict API's
safeguards; GET /api/v1/jobs/{id}/predictions downloads the file it wrote.

The job is run by calling the task's function (the worker's code path, without a process).
"""

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeling import services as labeling_services
from learners import tasks
from learners.models import Job, ModelVersion
from serving import services
from serving.models import PredictionLog
from tests.factories import add_member, api_client, csv_bytes
from tests.serving.conftest import review_rows

TEXTS = [
    "great lovely service, visit 900",
    "terrible rude service, visit 901",
    '=HYPERLINK("http://evil.example","great")',
    "+wonderful kind",
    "@SUM(1,2) awful",
    "zzqx unknownish blorf",
]


def _upload(rows: list[dict], name: str = "texts.csv", columns=None) -> SimpleUploadedFile:
    if name.endswith(".jsonl"):
        data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    else:
        data = csv_bytes(rows, columns)
    return SimpleUploadedFile(name, data)


def _start(project, user, fmt: str = "csv", **body):
    if "file" in body:
        return api_client(user).post(
            f"/api/v1/projects/{project.pk}/batch-predictions",
            {"file": body["file"], "format": fmt},
            format="multipart",
        )
    return api_client(user).post(
        f"/api/v1/projects/{project.pk}/batch-predictions", {**body, "format": fmt}, format="json"
    )


def _run(job_id: int) -> dict:
    tasks.predict_batch(job_id)  # what the worker runs for the message
    return api_client(Job.objects.get(pk=job_id).created_by).get(f"/api/v1/jobs/{job_id}").json()


def _download(user, job_id: int):
    return api_client(user).get(f"/api/v1/jobs/{job_id}/predictions")


def _content(response) -> str:
    return b"".join(response.streaming_content).decode()


def test_a_file_is_predicted_by_a_job_with_the_predict_apis_labels(served, owner, settings):
    rows = [{"id": f"t{i}", "text": t} for i, t in enumerate(TEXTS)]
    response = _start(served, owner, file=_upload(rows))

    assert response.status_code == 202, response.content
    job = response.json()["job"]
    assert job["kind"] == "predict"
    assert job["state"] == "queued"
    assert len(list(settings.SIFT_UPLOAD_DIR.iterdir())) == 1  # saved for the worker

    done = _run(job["id"])

    assert done["state"] == "succeeded", done
    active = ModelVersion.objects.get(project=served, is_active=True)
    assert done["result"]["rows"] == len(TEXTS)
    assert done["result"]["format"] == "csv"
    assert done["result"]["model"] == str(active.pk)
    assert list(settings.SIFT_UPLOAD_DIR.iterdir()) == []  # the upload is deleted
    assert not PredictionLog.objects.exists()  # a batch is not live traffic: nothing logged

    download = _download(owner, job["id"])
    assert download.status_code == 200
    assert download["Content-Type"].startswith("text/csv")
    assert "attachment" in download["Content-Disposition"]
    written = list(csv.DictReader(io.StringIO(_content(download))))
    assert [r["id"] for r in written] == [f"t{i}" for i in range(len(TEXTS))]

    _, live = services.predict(served, TEXTS)
    for row, answer, text in zip(written, live, TEXTS, strict=True):
        assert row["outcome"] == answer["outcome"]
        assert row["label"] == (answer["label"] or "")
        meta = json.loads(row["meta"])
        assert [t["label"] for t in meta["top_k"]] == [t["label"] for t in answer["top_k"]]
        if text.startswith(("=", "+", "@")):
            assert row["text"] == "'" + text  # formula cells neutralised
        else:
            assert row["text"] == text
    assert {r["outcome"] for r in written} >= {"label"}
    assert written[0]["label"] == "positive"
    assert written[1]["label"] == "negative"


def test_the_unlabeled_pool_is_predicted_as_jsonl(served, owner):
    fresh = [{"id": r["id"], "text": r["text"]} for r in review_rows(12, start=500)]
    labeling_services.import_items(served, owner, csv_bytes(fresh, ["id", "text"]), "fresh.csv")
    unlabeled = served.items.filter(split="pool", label__isnull=True)
    expected = dict(unlabeled.values_list("external_id", "text"))
    assert expected

    response = _start(served, owner, fmt="jsonl", unlabeled=True)
    assert response.status_code == 202, response.content
    done = _run(response.json()["job"]["id"])

    assert done["state"] == "succeeded", done
    assert done["result"]["rows"] == len(expected)
    download = _download(owner, done["id"])
    assert download["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in _content(download).splitlines()]
    assert {r["id"]: r["text"] for r in lines} == expected  # raw text in JSONL
    _, live = services.predict(served, [r["text"] for r in lines])
    assert [r["label"] or None for r in lines] == [a["label"] for a in live]
    assert [r["outcome"] for r in lines] == [a["outcome"] for a in live]


def test_abstain_and_refusals_follow_the_serving_settings(served, owner):
    from serving.models import ServingSettings

    config = ServingSettings.of(served.pk)
    config.confidence_threshold = 0.999
    config.save()
    rows = [{"id": "a", "text": "great lovely service, visit 900"}, {"id": "b", "text": "x" * 20}]
    job = _start(served, owner, fmt="jsonl", file=_upload(rows, "t.jsonl")).json()["job"]
    _run(job["id"])
    lines = [json.loads(line) for line in _content(_download(owner, job["id"])).splitlines()]
    _, live = services.predict(served, [r["text"] for r in rows])
    assert [r["outcome"] for r in lines] == [a["outcome"] for a in live]
    assert lines[0]["outcome"] == "abstain"
    assert lines[0]["label"] == ""
    assert lines[0]["meta"]["best_guess"]["label"] == "positive"


def test_a_bad_file_is_a_400_with_its_rows_and_nothing_is_saved(served, owner, settings):
    rows = [{"id": "a", "text": "fine text"}, {"id": "b", "text": " "}, {"id": "a", "text": "again"}]
    response = _start(served, owner, file=_upload(rows))

    assert response.status_code == 400
    body = response.json()
    assert "problem" in body["error"]
    assert {r["row"] for r in body["rows"]} == {3, 4}
    assert not Job.objects.filter(kind=Job.Kind.PREDICT).exists()
    assert not settings.SIFT_UPLOAD_DIR.exists() or not list(settings.SIFT_UPLOAD_DIR.iterdir())


def test_no_text_column_and_a_bad_request_are_400s(served, owner):
    no_text = _start(served, owner, file=_upload([{"id": "a", "body": "hello"}]))
    assert no_text.status_code == 400
    assert "text" in no_text.json()["error"]
    neither = _start(served, owner)
    assert neither.status_code == 400
    assert "unlabeled" in neither.json()["error"]
    bad_format = _start(served, owner, fmt="xlsx", unlabeled=True)
    assert bad_format.status_code == 400
    empty_pool = _start(served, owner, unlabeled=True)  # every item of `served` is labeled
    assert empty_pool.status_code == 400
    assert "unlabeled" in empty_pool.json()["error"]
    assert not Job.objects.filter(kind=Job.Kind.PREDICT).exists()


def test_no_active_model_is_a_409(project, owner):
    response = _start(project, owner, file=_upload([{"text": "hello there"}]))
    assert response.status_code == 409
    assert "no active model" in response.json()["error"]
    assert not Job.objects.filter(kind=Job.Kind.PREDICT).exists()


def test_only_the_projects_admins_start_and_download(served, owner, annotator, outsider):
    assert _start(served, annotator, unlabeled=True).status_code == 403
    assert _start(served, outsider, unlabeled=True).status_code == 404
    job = _start(served, owner, file=_upload([{"text": "great lovely"}])).json()["job"]

    assert _download(owner, job["id"]).status_code == 409  # queued: no file yet
    _run(job["id"])
    assert _download(annotator, job["id"]).status_code == 404
    assert _download(outsider, job["id"]).status_code == 404
    assert api_client().get(f"/api/v1/jobs/{job['id']}/predictions").status_code == 401
    assert _download(owner, job["id"]).status_code == 200
    other = Job.objects.filter(project=served).exclude(kind=Job.Kind.PREDICT).first()
    assert _download(owner, other.pk).status_code == 404  # not a predict job


def test_a_job_whose_model_went_away_fails_and_writes_nothing(served, owner, settings):
    job = _start(served, owner, file=_upload([{"text": "great lovely"}])).json()["job"]
    ModelVersion.objects.filter(project=served).update(is_active=False)
    from serving import engine

    engine.forget()

    done = _run(job["id"])

    assert done["state"] == "failed"
    assert "no active model" in done["error"]
    assert _download(owner, job["id"]).status_code == 409
    assert not settings.SIFT_PREDICTIONS_DIR.exists() or not list(settings.SIFT_PREDICTIONS_DIR.iterdir())
    assert list(settings.SIFT_UPLOAD_DIR.iterdir()) == []


@pytest.fixture
def second_admin(served, annotator):
    add_member(served, annotator, "admin")
    return annotator


def test_another_admin_of_the_project_may_download(served, owner, second_admin):
    job = _start(served, owner, file=_upload([{"text": "awful rude"}])).json()["job"]
    _run(job["id"])
    assert _download(second_admin, job["id"]).status_code == 200


def test_the_job_page_links_the_download_once_it_succeeded(served, owner, client):
    job = _start(served, owner, file=_upload([{"text": "great lovely"}])).json()["job"]
    client.force_login(owner)
    page = client.get(f"/jobs/{job['id']}/")
    assert page.status_code == 200
    assert b"predictions-download" not in page.content
    _run(job["id"])
    page = client.get(f"/jobs/{job['id']}/")
    assert f'href="/api/v1/jobs/{job["id"]}/predictions"'.encode() in page.content
    download = client.get(f"/api/v1/jobs/{job['id']}/predictions")  # the page's session works
    assert download.status_code == 200
    assert "great lovely" in _content(download)


def test_an_empty_file_and_a_file_with_unlabeled_are_400s(served, owner):
    empty = _start(served, owner, file=SimpleUploadedFile("e.csv", b"id,text\n"))
    assert empty.status_code == 400
    assert "no rows" in empty.json()["error"]
    both = api_client(owner).post(
        f"/api/v1/projects/{served.pk}/batch-predictions",
        {"file": _upload([{"text": "great"}]), "unlabeled": "true"},
        format="multipart",
    )
    assert both.status_code == 400
    assert not Job.objects.filter(kind=Job.Kind.PREDICT).exists()


def test_minus_and_tab_cells_are_neutralised_and_ids_too(served, owner):
    rows = [{"id": "=1+1", "text": "-great lovely"}, {"id": "b", "text": "\tawful rude"}]
    job = _start(served, owner, file=_upload(rows)).json()["job"]
    _run(job["id"])
    written = list(csv.DictReader(io.StringIO(_content(_download(owner, job["id"])))))
    assert [r["id"] for r in written] == ["'=1+1", "b"]
    assert [r["text"] for r in written] == ["'-great lovely", "'\tawful rude"]


def test_a_finished_job_whose_file_is_gone_is_a_404(served, owner, settings):
    job = _start(served, owner, file=_upload([{"text": "great lovely"}])).json()["job"]
    done = _run(job["id"])
    (settings.SIFT_PREDICTIONS_DIR / done["result"]["file"]).unlink()
    response = _download(owner, job["id"])
    assert response.status_code == 404
    assert "no longer" in response.json()["error"]


def test_a_job_failed_by_the_sweeper_midway_leaves_no_file(served, owner, settings, monkeypatch):
    from learners import jobs

    settings.SIFT_PREDICT_MAX_BATCH = 1
    rows = [{"text": t} for t in ("great lovely", "awful rude", "kind fast")]
    job = _start(served, owner, file=_upload(rows)).json()["job"]
    real_report = jobs.report

    def swept_then_report(job_row, **fields):
        Job.objects.filter(pk=job_row.pk).update(state=Job.State.FAILED, error="No heartbeat.")
        real_report(job_row, **fields)  # finds the job failed: JobAbandoned

    monkeypatch.setattr(jobs, "report", swept_then_report)
    done = _run(job["id"])

    assert done["state"] == "failed"
    assert done["error"] == "No heartbeat."
    assert list(settings.SIFT_PREDICTIONS_DIR.iterdir()) == []  # the partial file is deleted
    assert list(settings.SIFT_UPLOAD_DIR.iterdir()) == []
    assert _download(owner, job["id"]).status_code == 409
