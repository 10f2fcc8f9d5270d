"""Use cases of the learners app: start a retrain, run it, keep the queue ranked."""

import functools
import logging
import time
import uuid
from pathlib import Path

from celery import current_app, group
from django.conf import settings
from django.db import transaction

from labeling.exports import iter_dataset_rows
from labeling.models import Item, Project, Split
from labeling.services import create_dataset_version
from learners import artifacts, jobs, lifecycle, ranking
from learners.jobs import report
from learners.models import Job, ModelVersion, ScoreChunk
from learners.runner import Outcome, run_job
from learners.triggers import (  # noqa: F401 (the ways to start a retrain, here with the rest)
    count_labels_since_last_retrain,
    labels_up_to,
    maybe_start_retrain,
    start_retrain,
    start_scoring_new_items,
)
from siftml import scoring, training

logger = logging.getLogger(__name__)


def run_retrain(job: Job) -> ModelVersion | None:
    """Fit, evaluate and save a model, fit the rankers, then score the pool.

    Returns the new model version (None in cold start or on failure).

    A pool of one chunk is scored here and the job ends; a larger one is split into
    chunks that every worker scores in parallel (`score_chunk`), and the worker that
    finishes the last chunk swaps the ranking in. A failure at any step marks the job
    failed and leaves the previous model and ranking in place.
    """
    run_job(job, _retrain, failure=RETRAIN_FAILED)
    return ModelVersion.objects.filter(job=job).exclude(status=ModelVersion.Status.FAILED).first()


RETRAIN_FAILED = "Failed; the previous model and queue stay."


def _retrain(job: Job) -> Outcome | None:
    project = job.project
    report(job, message="Fixing a dataset version.")
    version = _fix_dataset_version(job, project)
    if _fits_rankers_apart(job, project):
        # The rankers need only the labels and the features, not the fitted classifier: a
        # second worker fits them while this one fits the classifier (both serial steps were
        # half the 1M rescore with the other worker idle, issue 12). The last one to finish
        # goes on; with one worker the rankers simply wait their turn.
        job.params["rankers_apart"] = True
        report(job, params=job.params)
        current_app.signature("learners.tasks.fit_rankers", args=(job.pk,)).apply_async()
    model, model_version = _train(job, project, version)
    if job.params.get("rankers_apart"):
        fitted = {"model_version": str(model_version.pk) if model_version else None}
        if not _join_fits(job, "model", **fitted, cold_start=job.params.get("cold_start")):
            return None  # the rankers task goes on when it is done
        return _after_fits(job, model, model_version, _load_apart_rankers(job))
    if model_version is not None and model_version.shadow.get("promoted") is False:
        return _success(job, model_version, ranking_pk=None)  # a candidate: the active model and queue stay
    report(job, progress=0.35, message="Fitting the rankers.")
    rankers = ranking.prepare_rankers(project, model, job.params["watermark"])
    return _rank(job, model_version, rankers)


def _fits_rankers_apart(job: Job, project: Project) -> bool:
    """Fit the rankers in a task of their own when workers do the job and the pool is several
    chunks (a small pool is not worth a second task; an inline retrain has no second worker)."""
    if job.params.get("inline"):
        return False
    chunk = settings.SIFT_SCORE_CHUNK_SIZE
    return ranking.rankable_items(project).order_by()[: chunk + 1].count() > chunk


def _rank(job: Job, model_version: ModelVersion | None, rankers: scoring.RankerSet) -> Outcome | None:
    """Save the rankers, then score the pool here (one chunk) or by every worker (several)."""
    project = job.project
    bounds = ranking.chunk_bounds(project, settings.SIFT_SCORE_CHUNK_SIZE)
    job.params |= {
        "bundle": ranking.save_bundle(project, rankers),
        "chunks": len(bounds),
        "model_version": str(model_version.pk) if model_version else None,
    }
    report(
        job, params=job.params, progress=0.4, message=f"Ranking {len(bounds)} chunk(s) of the unlabeled pool."
    )
    if len(bounds) > 1:
        chunks = [
            current_app.signature("learners.tasks.score_chunk", args=(job.pk, i, first, last))
            for i, (first, last) in enumerate(bounds)
        ]
        group(chunks).apply_async()
        return None  # the worker that scores the last chunk ends the job
    candidates = scoring.Candidates(keep=ranking.candidate_count())
    for first, last in bounds:
        candidates.merge(ranking.score_range(project, rankers, first, last, candidates.keep))
    return _finish(job, model_version, rankers, candidates)


def fit_rankers(job: Job) -> None:
    """Fit the rankers of a running retrain while its own task fits the classifier."""
    run_job(job, _fit_rankers, claim=False, failure=RETRAIN_FAILED)


def _fit_rankers(job: Job) -> Outcome | None:
    project = job.project
    rankers = ranking.prepare_rankers(project, None, job.params["watermark"], fit_model=False)
    path = Path(str(project.pk)) / f"rankers-apart-{uuid.uuid4().hex}.joblib"
    saved = {"path": str(path), "sha256": artifacts.save_object(rankers, path)}
    try:
        last = _join_fits(job, "rankers", rankers_apart_file=saved)
    except jobs.JobAbandoned:
        artifacts.remove(path)
        raise
    if not last:
        return None  # the retrain task goes on once its classifier is fitted
    params = job.params
    model_version = (
        ModelVersion.objects.get(pk=params["model_version"]) if params.get("model_version") else None
    )
    model = lifecycle.load_model(model_version) if model_version is not None else None
    return _after_fits(job, model, model_version, _load_apart_rankers(job))


def _join_fits(job: Job, part: str, **params: object) -> bool:
    """Record that the classifier ("model") or the rankers are fitted; True for the second one."""
    with transaction.atomic():
        # The job row lock serializes the two tasks when they finish at the same moment.
        locked = Job.objects.select_for_update().get(pk=job.pk)
        if locked.state != Job.State.RUNNING:
            raise jobs.JobAbandoned(f"retrain job {job.pk} is {locked.state}")
        done = sorted({*locked.params.get("fitted", []), part})
        locked.params |= params | {"fitted": done}
        # No message: the page (and bench/scale.py) keep reading the classifier's progress.
        report(job, params=locked.params)
    job.params = locked.params
    return done == ["model", "rankers"]


def _load_apart_rankers(job: Job) -> scoring.RankerSet:
    saved = job.params["rankers_apart_file"]
    return ranking.load_bundle(saved)


def _after_fits(job: Job, model, model_version: ModelVersion | None, rankers) -> Outcome | None:
    """Both fits are in: join them and rank, unless the new model stays a candidate."""
    artifacts.remove(job.params.pop("rankers_apart_file")["path"])  # the bundle replaces it
    if model_version is not None and model_version.shadow.get("promoted") is False:
        return _success(job, model_version, ranking_pk=None)  # a candidate: the active model and queue stay
    return _rank(job, model_version, rankers.with_model(model))


def _fix_dataset_version(job: Job, project: Project):
    version = create_dataset_version(project, job.created_by, note=f"Retrain job {job.pk}")
    job.params["watermark"] = version.max_annotation_id
    job.params["labels_at_watermark"] = labels_up_to(project, version.max_annotation_id)
    report(job, params=job.params)
    return version


def _train(job: Job, project: Project, version) -> tuple[object, ModelVersion | None]:
    """Fit on the labeled pool and evaluate on the labeled test set; (None, None) in cold start."""
    rows = list(iter_dataset_rows(project, version.max_annotation_id))
    train = [(r.text, r.label) for r in rows if r.split == Split.POOL]
    test = [(r.text, r.label) for r in rows if r.split == Split.TEST]
    try:
        training.check_trainable([label for _, label in train])
    except training.NotEnoughLabels as exc:
        job.params["cold_start"] = str(exc)
        return None, None
    params = training.params_for_pool(project.items.filter(split=Split.POOL).count())
    model_version = ModelVersion.objects.create(
        project=project,
        job=job,
        dataset_version=version,
        algorithm=training.algorithm_name(params),
        params=params,
        train_size=len(train),
        test_size=len(test),
    )
    report(job, progress=0.1, message=f"Fitting on {len(train)} labeled pool items.")
    started = time.monotonic()
    model = training.fit_pipeline(
        [t for t, _ in train],
        [y for _, y in train],
        params,
        random_state=project.seed % 2**31,
    )
    seconds = time.monotonic() - started
    report(job, progress=0.3, message=f"Evaluating on {len(test)} labeled test items.")
    metrics, evaluation = lifecycle.evaluate_model(model, rows, seed=project.seed % 2**31)
    path = artifacts.model_path(model_version)
    sha256 = artifacts.save_object(model, path)
    ModelVersion.objects.filter(pk=model_version.pk).update(
        status=ModelVersion.Status.READY,
        classes=list(model.classes_),
        metrics=metrics,
        evaluation=evaluation,
        artifact=str(path),
        sha256=sha256,
        training_seconds=seconds,
    )
    model_version.refresh_from_db()
    lifecycle.compare_with_active(model_version, model, rows)
    model_version.refresh_from_db()
    return model, model_version


def score_chunk(job: Job, index: int, first: int, last: int) -> None:
    """Score one chunk of the pool for a running retrain; the last chunk finishes the job."""
    run_job(job, lambda job: _score_chunk(job, index, first, last), claim=False, failure=RETRAIN_FAILED)


def _score_chunk(job: Job, index: int, first: int, last: int) -> Outcome | None:
    rankers = _load_bundle(job.params["bundle"]["path"], job.params["bundle"]["sha256"])
    started = time.monotonic()
    candidates = ranking.score_range(job.project, rankers, first, last, ranking.candidate_count())
    ScoreChunk.objects.update_or_create(
        job=job,
        index=index,
        defaults={"payload": ranking.encode_candidates(candidates), "seconds": time.monotonic() - started},
    )
    return _merge(job, rankers) if _claim_merge(job) else None


def _claim_merge(job: Job) -> bool:
    """Count finished chunks; True for exactly one caller, once all chunks are in."""
    with transaction.atomic():
        # The job row lock serializes the workers that finish chunks at the same moment.
        locked = Job.objects.select_for_update().get(pk=job.pk)
        if locked.state != Job.State.RUNNING:
            raise jobs.JobAbandoned(f"retrain job {job.pk} is {locked.state}")
        done = ScoreChunk.objects.filter(job=job).count()
        claim = done == locked.params["chunks"] and not locked.params.get("merging")
        if claim:
            locked.params["merging"] = True
        report(
            job,
            progress=0.4 + 0.5 * done / locked.params["chunks"],
            message=f"Scored {done} of {locked.params['chunks']} chunks.",
            params=locked.params,
        )
    return claim


def _merge(job: Job, rankers: scoring.RankerSet) -> Outcome:
    keep = ranking.candidate_count()
    candidates = scoring.Candidates(keep=keep)
    for payload in ScoreChunk.objects.filter(job=job).order_by("index").values_list("payload", flat=True):
        candidates.merge(ranking.decode_candidates(payload, keep))
    model_version = (
        ModelVersion.objects.get(pk=job.params["model_version"]) if job.params.get("model_version") else None
    )
    return _finish(job, model_version, rankers, candidates)


@functools.lru_cache(maxsize=4)
def _load_bundle(path: str, sha256: str) -> scoring.RankerSet:
    # Cached per worker process: a worker scoring several chunks loads the rankers once.
    return ranking.load_bundle({"path": path, "sha256": sha256})


def _finish(job: Job, model_version: ModelVersion | None, rankers: scoring.RankerSet, candidates) -> Outcome:
    project = job.project
    report(job, progress=0.95, message="Writing the new queue.")
    new_ranking = ranking.write_ranking(project, model_version, rankers, candidates, job.params["bundle"])
    report(job)  # a job failed meanwhile must not swap its queue in
    phases = dict(new_ranking.summary["phase_seconds"])
    with scoring.timed(phases, "swap"):
        lifecycle.activate(model_version, new_ranking)
    ScoreChunk.objects.filter(job=job).delete()
    if model_version is not None:
        phases["fit"] = round(model_version.training_seconds or 0.0, 4)
    return _success(job, model_version, new_ranking.pk, phases)


def _success(
    job: Job, model_version: ModelVersion | None, ranking_pk: int | None, phases: dict | None = None
) -> Outcome:
    if model_version is None:
        message = f"Cold start: {job.params.get('cold_start') or 'some labels have too few examples'} "
        message += "The queue favours items from groups of the pool that nobody has labeled yet."
        result = {"ranking": ranking_pk, "cold_start": True}
    else:
        model_version.refresh_from_db()
        message = lifecycle.outcome_message(model_version)
        result = {
            "model": str(model_version.pk),
            "ranking": ranking_pk,
            "metrics": _headline(model_version.metrics),
            "promoted": model_version.is_active,
        }
    if phases is not None:
        result["phase_seconds"] = {k: round(v, 4) for k, v in phases.items()}  # bench/scale.py reads it
    return Outcome(message, result, then=lambda: _after_retrain(job, model_version))


def _after_retrain(job: Job, model_version: ModelVersion | None) -> None:
    if model_version is not None:
        lifecycle.schedule_cross_validation(model_version, job)
    transaction.on_commit(lambda: maybe_start_retrain(job.project_id))


def score_new_items(job: Job) -> None:
    """Slot items imported after the last retrain into the active ranking."""
    run_job(job, _score_new_items, failure="Failed; the new items are served in random order.")


def _score_new_items(job: Job) -> Outcome:
    report(job, message="Scoring new items.")
    project = Project.objects.select_related("active_ranking").get(pk=job.project_id)
    items = Item.objects.filter(project=project, import_batch_id=job.params["import_batch"])
    placed = ranking.place_new_items(project, items & ranking.rankable_items(project))
    return Outcome(f"Placed {placed} new items in the queue.", {"placed": placed})


def _headline(metrics: dict) -> dict:
    return {k: metrics[k] for k in ("accuracy", "macro_f1", "n") if k in metrics}
