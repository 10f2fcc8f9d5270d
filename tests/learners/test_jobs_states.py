"""The job state machine: guarded transitions, heartbeats, time limits, failures that clean up."""

import ast
import errno
import time
from pathlib import Path
from unittest import mock

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from config.celery import app
from labeling.models import Lease
from labeling.queue import serve_next_item
from learners import jobs, lifecycle, ranking, services
from learners.models import Job, ModelVersion
from siftml import training
from tests.factories import add_member, api_client, import_rows, make_review_rows, make_user

LEARNERS = Path(__file__).resolve().parents[2] / "learners"


@pytest.fixture
def labeled(project):
    import_rows(project, make_review_rows(60, labeled=30))
    return project


def _files(project) -> list[str]:
    folder = settings.ARTIFACT_DIR / str(project.pk)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_transitions_are_guarded(labeled):
    job = services.start_retrain(labeled, enqueue=False)
    assert jobs.claim(job)
    assert not jobs.claim(Job.objects.get(pk=job.pk))  # a redelivered message finds it taken
    assert jobs.fail_job(job, "lost")
    assert not jobs.succeed(job, "done", {})
    with pytest.raises(jobs.JobAbandoned):
        jobs.report(job, progress=0.5)
    job.refresh_from_db()
    assert (job.state, job.error, job.progress) == (Job.State.FAILED, "lost", 0.01)


def test_a_job_failed_while_it_runs_stays_failed_and_its_worker_stops_quietly(labeled):
    job = services.start_retrain(labeled, enqueue=False)
    real_fit = training.fit_pipeline

    def swept_meanwhile(*args, **kwargs):
        # What the sweeper does when it finds the job silent, in the middle of a long fit.
        jobs.fail_job(Job.objects.get(pk=job.pk), "Its worker stopped reporting (killed or lost).")
        return real_fit(*args, **kwargs)

    with mock.patch.object(training, "fit_pipeline", swept_meanwhile):
        assert services.run_retrain(job) is None
    job.refresh_from_db()
    labeled.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert "stopped reporting" in job.error
    assert ModelVersion.objects.get(job=job).status == ModelVersion.Status.FAILED
    assert labeled.active_ranking_id is None  # nothing was swapped in behind the user's back
    assert _files(labeled) == []


def test_a_lease_labeled_while_the_queue_is_swapped_does_not_fail_the_retrain(labeled, annotator):
    labeled.promotion_tolerance = 1.0  # every new model is promoted, so the swap runs
    # Pool items only: a served test item never gets a suggestion, so its lease keeps no model.
    labeled.test_target = 0
    labeled.save()
    job = services.start_retrain(labeled, enqueue=False)
    services.run_retrain(job)
    carol = make_user("carol")
    add_member(labeled, carol)
    mine, theirs = serve_next_item(labeled, annotator), serve_next_item(labeled, carol)
    real_apply = lifecycle._apply_suggestions

    def submit_during_the_swap(leases, new_ranking):
        # The leases were read; now the annotator labels the item they hold.
        response = api_client(annotator).post(
            f"/api/v1/items/{mine.item.pk}/annotations", {"label": "positive"}, format="json"
        )
        assert response.status_code == 201
        return real_apply(leases, new_ranking)

    with mock.patch.object(lifecycle, "_apply_suggestions", submit_during_the_swap):
        second = services.start_retrain(labeled, enqueue=False)
        model = services.run_retrain(second)
    second.refresh_from_db()
    assert second.state == Job.State.SUCCEEDED, second.error
    assert model.is_active
    assert not Lease.objects.filter(user=annotator).exists()
    assert Lease.objects.get(user=carol, item=theirs.item).model_ref == str(model.pk)


def test_the_heartbeat_advances_inside_a_long_phase(transactional_db, labeled, settings):
    settings.SIFT_HEARTBEAT_SECONDS = 0.1
    job = services.start_retrain(labeled, enqueue=False)
    real_fit = training.fit_pipeline
    seen = []

    def slow_fit(*args, **kwargs):
        for _ in range(3):
            seen.append(Job.objects.get(pk=job.pk).heartbeat_at)
            time.sleep(0.4)
        return real_fit(*args, **kwargs)

    with mock.patch.object(training, "fit_pipeline", slow_fit):
        services.run_retrain(job)
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED
    assert seen[0] < seen[1] < seen[2]  # beats with no progress report in between


def test_a_soft_time_limit_fails_the_job_with_a_clear_message(labeled):
    job = services.start_retrain(labeled, enqueue=False)
    with mock.patch.object(training, "fit_pipeline", side_effect=SoftTimeLimitExceeded()):
        services.run_retrain(job)
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    limit = settings.SIFT_TIME_LIMITS["retrain"]
    assert job.error == f"Stopped: it ran past its time limit of {limit} s (SIFT_TIME_LIMIT_RETRAIN)."
    assert ModelVersion.objects.get(job=job).status == ModelVersion.Status.FAILED


def test_a_full_disk_names_the_folder_and_leaves_no_partial_file(labeled):
    job = services.start_retrain(labeled, enqueue=False)

    def disk_full(model, path, **kwargs):
        Path(path).write_bytes(b"half a model")
        raise OSError(errno.ENOSPC, "No space left on device")

    with mock.patch.object(training.joblib, "dump", disk_full):
        services.run_retrain(job)
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert f"in the artifact folder {settings.ARTIFACT_DIR}: No space left on device" in job.error
    assert ModelVersion.objects.get(job=job).status == ModelVersion.Status.FAILED
    assert _files(labeled) == []


def test_a_retrain_failing_after_its_files_were_written_removes_them(labeled):
    job = services.start_retrain(labeled, enqueue=False)
    with mock.patch.object(ranking, "write_ranking", side_effect=RuntimeError("database went away")):
        services.run_retrain(job)
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert job.params["bundle"]["path"]  # the rankers were saved, then removed
    assert ModelVersion.objects.get(job=job).status == ModelVersion.Status.FAILED
    assert _files(labeled) == []
    assert services.run_retrain(services.start_retrain(labeled, enqueue=False)) is not None
    assert len(_files(labeled)) == 2  # the next retrain's model and rankers


def test_tasks_have_time_limits_and_simulations_their_own_queue():
    app.loader.import_default_modules()  # what the worker does at start: autodiscover the tasks
    for name, kind in [
        ("retrain", "retrain"),
        ("score_chunk", "retrain"),
        ("fit_rankers", "retrain"),
        ("simulate", "simulate"),
    ]:
        task = app.tasks[f"learners.tasks.{name}"]
        assert task.soft_time_limit == settings.SIFT_TIME_LIMITS[kind]
        assert task.time_limit == settings.SIFT_TIME_LIMITS[kind] + settings.SIFT_TIME_LIMIT_GRACE_SECONDS
    route = app.amqp.router.route
    assert (
        route({}, "learners.tasks.simulate")["queue"].name == settings.SIFT_SIMULATE_QUEUE == "sift-simulate"
    )
    assert route({}, "learners.tasks.retrain")["queue"].name == settings.CELERY_TASK_DEFAULT_QUEUE
    sweep = app.conf.beat_schedule["sweep-jobs"]
    assert (sweep["task"], sweep["schedule"]) == ("learners.tasks.sweep_jobs", settings.SIFT_SWEEP_SECONDS)
    assert set(jobs.TASKS.values()) <= set(app.tasks)


def test_nothing_imports_the_tasks_module():
    for path in LEARNERS.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names = {f"{node.module}.{a.name}" for a in node.names} | {node.module or ""}
            elif isinstance(node, ast.Import):
                names = {a.name for a in node.names}
            else:
                continue
            assert "learners.tasks" not in names, path
