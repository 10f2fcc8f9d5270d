"""Use cases of the learners app: start a retrain, run it, keep the queue ranked."""

import logging
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from labeling.exports import iter_dataset_rows
from labeling.models import Annotation, Project, Split
from labeling.services import create_dataset_version
from learners import lifecycle, ranking, tasks, training
from learners.jobs import fail_stale_jobs as _fail_stale_jobs
from learners.jobs import update_job as _update_job
from learners.models import Job, ModelVersion

logger = logging.getLogger(__name__)


class RetrainInProgress(Exception):
    def __init__(self, job: Job):
        super().__init__(f"A retrain of this project is already {job.state} (job {job.pk}).")
        self.job = job


def start_retrain(
    project: Project,
    user: AbstractBaseUser | None = None,
    trigger: str = "manual",
    enqueue: bool = True,
) -> Job:
    """Queue a retrain job, unless one is already queued or running for the project.

    With `enqueue=False` the caller runs it (`run_retrain`) instead of a worker.
    """
    with transaction.atomic():
        # One retrain per project at a time: serialize the check-then-create on the project row.
        Project.objects.select_for_update().get(pk=project.pk)
        _fail_stale_jobs(project)
        running = Job.objects.filter(
            project=project, kind=Job.Kind.RETRAIN, state__in=Job.ACTIVE_STATES
        ).first()
        if running is not None:
            raise RetrainInProgress(running)
        job = Job.objects.create(
            project=project,
            kind=Job.Kind.RETRAIN,
            created_by=user,
            # Inline retrains (tests, `retrain --inline`) also cross-validate inline.
            params={"trigger": trigger, "inline": not enqueue},
            message="Waiting for a worker.",
        )
        if enqueue:
            transaction.on_commit(lambda: tasks.retrain.delay(job.pk))
    return job


def maybe_start_retrain(project_id: int) -> Job | None:
    """Start a retrain when `retrain_every` labels arrived since the last one began."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None or project.retrain_every == 0:
        return None
    if count_labels_since_last_retrain(project) < project.retrain_every:
        return None
    try:
        return start_retrain(project, trigger="auto")
    except RetrainInProgress:
        return None  # the running job starts the next one when it ends


def count_labels_since_last_retrain(project: Project) -> int:
    last = Job.objects.filter(project=project, kind=Job.Kind.RETRAIN, params__has_key="watermark").first()
    watermark = last.params["watermark"] if last else 0
    return Annotation.objects.filter(item__project=project, pk__gt=watermark, label__isnull=False).count()


def run_retrain(job: Job) -> ModelVersion | None:
    """Fit, evaluate, save and activate a model, then swap in its ranking of the pool.

    A failure marks the job failed and leaves the previous model and ranking in place.
    """
    project = job.project
    _update_job(
        job,
        state=Job.State.RUNNING,
        started_at=timezone.now(),
        progress=0.01,
        message="Fixing a dataset version.",
    )
    try:
        model_version = _train_and_rank(job, project)
    except Exception as exc:
        logger.exception("retrain job %s failed", job.pk)
        _update_job(
            job,
            state=Job.State.FAILED,
            finished_at=timezone.now(),
            error=f"{type(exc).__name__}: {exc}",
            message="Failed.",
        )
        ModelVersion.objects.filter(job=job, status=ModelVersion.Status.TRAINING).update(
            status=ModelVersion.Status.FAILED
        )
        model_version = None
    else:
        _update_job(
            job,
            state=Job.State.SUCCEEDED,
            finished_at=timezone.now(),
            progress=1.0,
            message=lifecycle.outcome_message(model_version),
            result={
                "model": str(model_version.pk),
                "metrics": _headline(model_version.metrics),
                "promoted": model_version.is_active,
            },
        )
        lifecycle.schedule_cross_validation(model_version, job)
    transaction.on_commit(lambda: maybe_start_retrain(project.pk))
    return model_version


def _train_and_rank(job: Job, project: Project) -> ModelVersion:
    version = create_dataset_version(project, job.created_by, note=f"Retrain job {job.pk}")
    job.params["watermark"] = version.max_annotation_id
    _update_job(job, params=job.params)
    rows = list(iter_dataset_rows(project, version.max_annotation_id))
    train = [(r.text, r.label) for r in rows if r.split == Split.POOL]
    test = [(r.text, r.label) for r in rows if r.split == Split.TEST]
    training.check_trainable([label for _, label in train])
    model_version = ModelVersion.objects.create(
        project=project,
        job=job,
        dataset_version=version,
        algorithm=training.ALGORITHM,
        params=training.DEFAULT_PARAMS,
        train_size=len(train),
        test_size=len(test),
    )
    _update_job(job, progress=0.1, message=f"Fitting on {len(train)} labeled pool items.")
    started = time.monotonic()
    model = training.fit_pipeline(
        [t for t, _ in train],
        [y for _, y in train],
        training.DEFAULT_PARAMS,
        random_state=project.seed % 2**31,
    )
    seconds = time.monotonic() - started
    _update_job(job, progress=0.3, message=f"Evaluating on {len(test)} labeled test items.")
    metrics, report = lifecycle.evaluate_model(model, rows, seed=project.seed % 2**31)
    path = Path(str(project.pk)) / f"{model_version.pk.hex}.joblib"
    sha256 = training.save_artifact(model, settings.ARTIFACT_DIR / path)
    ModelVersion.objects.filter(pk=model_version.pk).update(
        status=ModelVersion.Status.READY,
        classes=list(model.classes_),
        metrics=metrics,
        evaluation=report,
        artifact=str(path),
        sha256=sha256,
        training_seconds=seconds,
    )
    model_version.refresh_from_db()
    if not lifecycle.compare_with_active(model_version, model, rows)["promoted"]:
        return model_version  # a candidate: the active model and its ranking stay
    new_ranking = ranking.rank_pool(
        project,
        model,
        model_version,
        progress=lambda done: _update_job(
            job, progress=0.4 + 0.55 * done, message="Ranking the unlabeled pool."
        ),
    )
    lifecycle.activate(model_version, new_ranking)
    return model_version


def _headline(metrics: dict) -> dict:
    return {k: metrics[k] for k in ("accuracy", "macro_f1", "n") if k in metrics}
