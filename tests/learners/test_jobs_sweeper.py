"""The sweeper fails silent jobs and re-sends lost ones; the worker and beat processes start right."""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.utils import timezone

from learners import jobs
from learners.models import Job
from tests.factories import import_rows, make_review_rows

ROOT = Path(__file__).resolve().parents[2]
SEND = "learners.jobs.current_app.send_task"


@pytest.fixture
def labeled(project):
    import_rows(project, make_review_rows(60, labeled=30))
    return project


def _running(project, silent_for: float, **params) -> Job:
    job = jobs.start_job(project, Job.Kind.RETRAIN, params={"trigger": "manual", **params}, enqueue=False)
    jobs.claim(job)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=silent_for))
    return job


def test_the_sweeper_fails_a_silent_retrain_and_retries_it_once(
    labeled, owner, settings, django_capture_on_commit_callbacks
):
    lost = _running(labeled, settings.SIFT_JOB_STALL_SECONDS + 1)
    with mock.patch(SEND) as send, django_capture_on_commit_callbacks(execute=True):
        assert jobs.sweep() == {"failed": 1, "resent": 0}
    lost.refresh_from_db()
    assert lost.state == Job.State.FAILED
    assert lost.error.startswith(
        "Its worker stopped reporting (killed or lost): no heartbeat for more than 60 s"
    )
    retry = Job.objects.get(state=Job.State.QUEUED)
    assert retry.params == {"trigger": "retry", "retry_of": lost.pk, "inline": False}
    assert (
        lost.message == f"Failed: its worker stopped reporting (killed or lost). Retried as job {retry.pk}."
    )
    send.assert_called_once_with("learners.tasks.retrain", args=[retry.pk])

    # The retry's worker dies too: it is failed, and not retried again.
    jobs.claim(retry)
    Job.objects.filter(pk=retry.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=61))
    with mock.patch(SEND) as send, django_capture_on_commit_callbacks(execute=True):
        assert jobs.sweep() == {"failed": 1, "resent": 0}
    send.assert_not_called()
    assert not Job.objects.filter(state__in=Job.ACTIVE_STATES).exists()


def test_a_running_job_whose_heartbeat_is_recent_is_left_alone(labeled, settings):
    busy = _running(labeled, settings.SIFT_JOB_STALL_SECONDS - 5)
    assert jobs.sweep() == {"failed": 0, "resent": 0}
    busy.refresh_from_db()
    assert busy.state == Job.State.RUNNING


def test_a_queued_job_no_worker_took_is_re_sent_then_given_up(labeled, settings):
    job = jobs.start_job(labeled, Job.Kind.RETRAIN, params={"trigger": "manual"}, enqueue=False)
    long_ago = timezone.now() - timedelta(seconds=settings.SIFT_JOB_RESEND_SECONDS + 1)
    Job.objects.filter(pk=job.pk).update(created_at=long_ago, sent_at=long_ago)
    with mock.patch(SEND) as send:
        assert jobs.sweep() == {"failed": 0, "resent": 1}
    send.assert_called_once_with("learners.tasks.retrain", args=[job.pk])
    job.refresh_from_db()
    assert job.sent_at > long_ago
    assert job.state == Job.State.QUEUED

    given_up = timezone.now() - timedelta(seconds=settings.SIFT_JOB_TIMEOUT_SECONDS + 1)
    Job.objects.filter(pk=job.pk).update(created_at=given_up)
    assert jobs.sweep()["failed"] == 1
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert "No worker took the job within 900 s" in job.error


def test_the_sweep_task_runs_the_sweeper(labeled, settings):
    from config.celery import app

    app.loader.import_default_modules()
    lost = _running(labeled, settings.SIFT_JOB_STALL_SECONDS + 1, retry_of=0)
    assert app.tasks["learners.tasks.sweep_jobs"]() == {"failed": 1, "resent": 0}
    lost.refresh_from_db()
    assert lost.state == Job.State.FAILED


def _env(tmp_path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "SECRET_KEY": "worker-test-key",
        "SIFT_DATA_DIR": str(tmp_path / "data"),
        "CELERY_BROKER_URL": "filesystem://",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        **extra,
    }


@pytest.mark.slow
def test_the_worker_refuses_to_start_with_an_unwritable_artifact_folder(tmp_path):
    # A path under a regular file: unwritable even for root, who ignores file modes.
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--pool",
        "solo",
        "--loglevel",
        "INFO",
    ]
    done = subprocess.run(
        command,
        cwd=ROOT,
        env=_env(tmp_path, SIFT_ARTIFACT_DIR=str(blocked / "artifacts")),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 1
    assert f"The worker cannot start: Cannot create SIFT_ARTIFACT_DIR {blocked / 'artifacts'}" in done.stderr
    assert "ready." not in done.stdout + done.stderr


@pytest.mark.slow
def test_beat_sends_the_sweep_on_the_embedded_filesystem_broker(tmp_path):
    schedule = tmp_path / "data" / "celerybeat-schedule"
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "beat",
        "--loglevel",
        "INFO",
        "--schedule",
        str(schedule),
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=_env(tmp_path, SIFT_SWEEP_SECONDS="1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    queue = tmp_path / "data" / "broker" / "queue"
    try:
        deadline = time.monotonic() + 150
        while not (queue.exists() and any(queue.glob("*.msg"))):
            assert process.poll() is None, "celery beat exited"
            assert time.monotonic() < deadline, "celery beat sent nothing"
            time.sleep(0.5)
    finally:
        process.terminate()
        process.wait(timeout=30)
    message = next(queue.glob("*.msg")).read_text()
    assert "learners.tasks.sweep_jobs" in message


def test_a_job_waiting_behind_a_running_one_on_its_queue_is_neither_resent_nor_given_up(labeled, settings):
    running = jobs.start_job(labeled, Job.Kind.SIMULATE, enqueue=False)
    jobs.claim(running)
    waiting = jobs.start_job(labeled, Job.Kind.SIMULATE, enqueue=False)
    retrain = jobs.start_job(labeled, Job.Kind.RETRAIN, params={"trigger": "manual"}, enqueue=False)
    long_ago = timezone.now() - timedelta(seconds=settings.SIFT_JOB_TIMEOUT_SECONDS + 1)
    Job.objects.filter(pk__in=[waiting.pk, retrain.pk]).update(created_at=long_ago, sent_at=long_ago)
    with mock.patch(SEND) as send:
        assert jobs.sweep() == {"failed": 1, "resent": 0}
    send.assert_not_called()
    waiting.refresh_from_db()
    retrain.refresh_from_db()
    assert waiting.state == Job.State.QUEUED  # the simulation worker is busy, not gone
    assert retrain.state == Job.State.FAILED  # nothing runs on the main queue: no worker took it
