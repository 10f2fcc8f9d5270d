"""Celery adapters: take ids, reload rows, call a service.

A leaf: nothing imports this module. Jobs are sent by task name (learners.jobs.TASKS), and
the runner (learners.runner) decides whether a redelivered message still has work to do.
"""

import logging

from celery import shared_task
from django.conf import settings

from learners import imports, jobs, lifecycle, services, simulation_jobs
from learners.models import Job

logger = logging.getLogger(__name__)


def _limits(kind: str) -> dict[str, int]:
    """Celery's soft and hard time limits for a task of this job kind (settings.SIFT_TIME_LIMITS).

    The soft limit raises SoftTimeLimitExceeded, which fails the job with a clear message; the
    hard one kills the process, and the sweeper then fails the silent job.
    """
    soft = settings.SIFT_TIME_LIMITS[kind]
    return {"soft_time_limit": soft, "time_limit": soft + settings.SIFT_TIME_LIMIT_GRACE_SECONDS}


def _job(job_id: int) -> Job | None:
    job = Job.objects.select_related("project", "created_by").filter(pk=job_id).first()
    if job is None:
        logger.warning("job %s no longer exists", job_id)
    return job


@shared_task(acks_late=True, **_limits(Job.Kind.RETRAIN))
def retrain(job_id: int) -> None:
    if job := _job(job_id):
        services.run_retrain(job)


@shared_task(acks_late=True, **_limits(Job.Kind.RETRAIN))
def score_chunk(job_id: int, index: int, first: int, last: int) -> None:
    # A chunk belongs to a running retrain: the runner skips a job that has ended.
    if job := _job(job_id):
        services.score_chunk(job, index, first, last)


@shared_task(acks_late=True, **_limits(Job.Kind.RETRAIN))
def fit_rankers(job_id: int) -> None:
    # The rankers of a running retrain, fitted while its own task fits the classifier.
    if job := _job(job_id):
        services.fit_rankers(job)


@shared_task(acks_late=True, **_limits(Job.Kind.SCORE))
def score_new_items(job_id: int) -> None:
    if job := _job(job_id):
        services.score_new_items(job)


@shared_task(acks_late=True, **_limits(Job.Kind.SIMULATE))
def simulate(job_id: int) -> None:
    if job := _job(job_id):
        simulation_jobs.run_simulation(job)


@shared_task(acks_late=True, **_limits(Job.Kind.ACTIVATE))
def activate_model(job_id: int) -> None:
    if job := _job(job_id):
        lifecycle.run_activation(job)


@shared_task(acks_late=True, **_limits(Job.Kind.EVALUATE))
def cross_validate_model(job_id: int) -> None:
    if job := _job(job_id):
        lifecycle.run_cross_validation(job)


@shared_task(acks_late=True, **_limits(Job.Kind.IMPORT))
def import_file(job_id: int) -> None:
    if job := _job(job_id):
        imports.run_import(job)


@shared_task(acks_late=True, **_limits(Job.Kind.PREDICT))
def predict_batch(job_id: int) -> None:
    from serving import batch  # serving imports learners: imported here, by the worker only

    if job := _job(job_id):
        batch.run_batch(job)


@shared_task(soft_time_limit=settings.SIFT_SWEEP_SECONDS * 2, time_limit=settings.SIFT_SWEEP_SECONDS * 3)
def sweep_jobs() -> dict[str, int]:
    """Run by Celery beat every SIFT_SWEEP_SECONDS: fail silent jobs, re-send lost ones."""
    return jobs.sweep()
