"""Imports as background jobs: a file over SIFT_IMPORT_INLINE_BYTES answers 202 with an
"import" job that checks and writes it; its result carries the 201's counts or the 400's row
errors, and its upload is deleted however the job ends.

The job is run here by calling the task's function (the worker's code path, without a
process); tests/test_import_with_worker.py runs one in a real Celery worker.
"""

from datetime import timedelta
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from labeling.models import ImportBatch, Item
from learners import imports, jobs, tasks
from learners.models import Job
from tests.factories import api_client, csv_bytes, make_project, make_review_rows

ROWS = make_review_rows(50, labeled=20)
GOOD = csv_bytes(ROWS, ["id", "text", "label"])
# Row 7 (line 8) has a label the project does not have; line 31 an empty text.
BAD_ROWS = [dict(r) for r in ROWS]
BAD_ROWS[6]["label"] = "neutral"
BAD_ROWS[29]["text"] = " "
BAD = csv_bytes(BAD_ROWS, ["id", "text", "label"])


@pytest.fixture
def as_job(settings):
    """Every upload larger than 100 bytes is imported by a job."""
    settings.SIFT_IMPORT_INLINE_BYTES = 100


def _post(project, user, data: bytes, name: str = "reviews.csv"):
    upload = SimpleUploadedFile(name, data)
    return api_client(user).post(
        f"/api/v1/projects/{project.pk}/imports", {"file": upload}, format="multipart"
    )


def _uploads(settings) -> list[str]:
    folder = settings.SIFT_UPLOAD_DIR
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _run(job_id: int) -> dict:
    tasks.import_file(job_id)  # what the worker runs for the message
    return api_client(Job.objects.get(pk=job_id).created_by).get(f"/api/v1/jobs/{job_id}").json()


def test_a_small_file_is_imported_at_once_with_201(project, owner, settings):
    response = _post(project, owner, GOOD)

    assert response.status_code == 201
    body = response.json()
    assert (body["imported"], body["labeled"], body["pool"] + body["test"]) == (50, 20, 50)
    assert not Job.objects.filter(kind=Job.Kind.IMPORT).exists()
    assert _uploads(settings) == []


def test_a_large_file_answers_202_and_its_job_carries_the_same_counts(project, owner, settings, as_job):
    twin = make_project(owner, seed=project.seed)  # the same file inline, to compare with
    settings.SIFT_IMPORT_INLINE_BYTES = 10**9
    inline = _post(twin, owner, GOOD).json()
    settings.SIFT_IMPORT_INLINE_BYTES = 100

    response = _post(project, owner, GOOD)

    assert response.status_code == 202
    job = response.json()["job"]
    assert (job["kind"], job["state"], job["project"]) == ("import", "queued", project.pk)
    assert len(_uploads(settings)) == 1  # saved for the worker, nothing imported yet
    assert not project.items.exists()

    done = _run(job["id"])

    assert done["state"] == "succeeded", done["error"]
    assert done["progress"] == 1.0
    batch = ImportBatch.objects.get(project=project)
    assert done["result"] == {**inline, "id": batch.pk}
    assert done["message"].startswith("Imported 50 items from reviews.csv")
    assert project.items.count() == 50
    assert _uploads(settings) == []


def test_the_job_reports_progress_of_the_check_and_the_write(project, owner, settings, as_job, monkeypatch):
    monkeypatch.setattr("labeling.importing.PROGRESS_ROWS", 10)
    monkeypatch.setattr("labeling.services.IMPORT_CHUNK", 10)
    job_id = _post(project, owner, GOOD).json()["job"]["id"]
    seen = []
    real_report = jobs.report

    def recording(job, **fields):
        seen.append((fields["progress"], fields["message"]))
        return real_report(job, **fields)

    with mock.patch.object(jobs, "report", recording):
        assert _run(job_id)["state"] == "succeeded"

    progress = [p for p, _ in seen]
    assert progress == sorted(progress)
    assert 0 < progress[0] < 0.4
    assert progress[-1] == 0.99
    assert any(m.startswith("Checking the file: ") for _, m in seen)
    assert ("Writing items: 50 of 50.") in [m for _, m in seen]


def test_a_bad_row_fails_the_job_with_the_rows_of_the_400_and_imports_nothing(
    project, owner, settings, as_job
):
    settings.SIFT_IMPORT_INLINE_BYTES = 10**9
    refused = _post(project, owner, BAD)
    assert refused.status_code == 400
    settings.SIFT_IMPORT_INLINE_BYTES = 100

    response = _post(project, owner, BAD)
    assert response.status_code == 202
    done = _run(response.json()["job"]["id"])

    assert done["state"] == "failed"
    assert done["message"] == "Failed: nothing was imported."
    assert done["error"] == refused.json()["error"] == "2 rows have problems; nothing was imported."
    assert done["result"] == refused.json()
    assert [r["row"] for r in done["result"]["rows"]] == [8, 31]
    assert not Item.objects.filter(project=project).exists()
    assert not ImportBatch.objects.filter(project=project).exists()
    assert _uploads(settings) == []


def test_an_id_the_project_has_fails_the_job_and_rolls_back_every_chunk(
    project, owner, settings, as_job, monkeypatch
):
    monkeypatch.setattr("labeling.services.IMPORT_CHUNK", 10)
    settings.SIFT_IMPORT_INLINE_BYTES = 10**9
    assert _post(project, owner, csv_bytes([ROWS[45]], ["id", "text", "label"])).status_code == 201
    settings.SIFT_IMPORT_INLINE_BYTES = 100

    done = _run(_post(project, owner, GOOD).json()["job"]["id"])

    assert done["state"] == "failed"
    assert done["result"]["rows"] == [{"row": 47, "error": "id 'r45' already exists in this project"}]
    assert project.items.count() == 1  # the four chunks before the taken id were rolled back
    assert _uploads(settings) == []


def test_a_job_whose_worker_was_lost_fails_and_its_upload_is_deleted(project, owner, settings, as_job):
    job = Job.objects.get(pk=_post(project, owner, GOOD).json()["job"]["id"])
    assert jobs.claim(job)  # a worker took it, then died before writing anything
    stale = timezone.now() - timedelta(seconds=settings.SIFT_JOB_STALL_SECONDS + 1)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=stale)

    assert jobs.sweep()["failed"] == 1

    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert "stopped reporting" in job.error
    assert _uploads(settings) == []
    assert not project.items.exists()
    # The message redelivered to another worker finds the job ended and imports nothing.
    tasks.import_file(job.pk)
    assert not project.items.exists()


def test_an_import_whose_job_was_failed_while_it_writes_rolls_back(
    project, owner, settings, as_job, monkeypatch
):
    monkeypatch.setattr("labeling.services.IMPORT_CHUNK", 10)
    job_id = _post(project, owner, GOOD).json()["job"]["id"]
    real_report = jobs.report

    def swept_meanwhile(job, **fields):
        # What report raises once the sweeper (another process, its own transaction) has
        # failed the job: here after 20 of the 50 rows were written.
        if fields["message"].startswith("Writing items: 20 "):
            raise jobs.JobAbandoned(f"import job {job.pk} is failed")
        return real_report(job, **fields)

    with mock.patch.object(jobs, "report", swept_meanwhile):
        assert imports.run_import(Job.objects.get(pk=job_id)) is None

    assert not project.items.exists()
    assert not ImportBatch.objects.filter(project=project).exists()
    assert _uploads(settings) == []


def test_a_job_without_its_upload_says_the_folder_must_be_shared(project, owner, settings, as_job):
    job_id = _post(project, owner, GOOD).json()["job"]["id"]
    for name in _uploads(settings):
        (settings.SIFT_UPLOAD_DIR / name).unlink()  # a worker that does not see the web's folder

    done = _run(job_id)

    assert done["state"] == "failed"
    assert "web and workers must share SIFT_UPLOAD_DIR" in done["error"]


def test_the_import_form_sends_a_large_file_to_its_job_page(client, project, owner, settings, as_job):
    client.force_login(owner)
    url = reverse("learners:project-import", args=[project.slug])

    response = client.post(url, {"file": SimpleUploadedFile("reviews.csv", GOOD)})

    job = Job.objects.get(kind=Job.Kind.IMPORT)
    assert response.status_code == 302
    assert response["Location"] == reverse("learners:job-detail", args=[job.pk])
    page = client.get(response["Location"])
    assert b'id="job-bar"' in page.content
    assert b"js/job.js" in page.content
    tasks.import_file(job.pk)
    page = client.get(response["Location"]).content.decode()
    assert "Imported 50 items:" in page


def test_the_job_page_lists_the_row_errors_of_a_failed_import(client, project, owner, settings, as_job):
    client.force_login(owner)
    client.post(
        reverse("learners:project-import", args=[project.slug]), {"file": SimpleUploadedFile("r.csv", BAD)}
    )
    job = Job.objects.get(kind=Job.Kind.IMPORT)
    tasks.import_file(job.pk)

    page = client.get(reverse("learners:job-detail", args=[job.pk])).content.decode()

    assert 'id="import-errors"' in page
    assert "row 8" in page
    assert "row 31" in page
    assert "2 rows have problems; nothing was imported." in page


def test_an_annotator_cannot_start_an_import_job(project, annotator, settings, as_job):
    assert _post(project, annotator, GOOD).status_code == 403
    assert not Job.objects.exists()
    assert _uploads(settings) == []


def test_counts_and_describe_name_the_batch(project, owner):
    settings_batch = ImportBatch(rows=3, pool=2, test=1, labeled=1, file_name="a.csv", pk=9)
    assert imports.counts(settings_batch) == {"id": 9, "imported": 3, "pool": 2, "test": 1, "labeled": 1}
    assert (
        imports.describe(settings_batch) == "Imported 3 items from a.csv: 2 pool, 1 test, 1 already labeled."
    )
