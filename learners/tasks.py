"""Celery adapters: take ids, reload rows, call a service."""

import logging

from celery import shared_task

from learners import lifecycle, services, simulation_jobs
from learners.models import Job

logger = logging.getLogger(__name__)


def _queued_job(job_id: int) -> Job | None:
    """The job, if it still exists and no worker has started it (a redelivered message)."""
    job = Job.objects.select_related("project", "created_by").filter(pk=job_id).first()
    if job is None:
        logger.warning("job %s no longer exists", job_id)
        return None
    if job.state != Job.State.QUEUED:
        logger.info("%s job %s is %s already; not running it again", job.kind, job_id, job.state)
        return None
    return job


@shared_task(acks_late=True)
def retrain(job_id: int) -> None:
    if job := _queued_job(job_id):
        services.run_retrain(job)


@shared_task(acks_late=True)
def score_chunk(job_id: int, index: int, first: int, last: int) -> None:
    # A chunk belongs to a running retrain: score_chunk itself skips a job that has ended.
    job = Job.objects.select_related("project").filter(pk=job_id).first()
    if job is None:
        logger.warning("job %s no longer exists", job_id)
        return
    services.score_chunk(job, index, first, last)


@shared_task(acks_late=True)
def score_new_items(job_id: int) -> None:
    if job := _queued_job(job_id):
        services.score_new_items(job)


@shared_task(acks_late=True)
def simulate(job_id: int) -> None:
    if job := _queued_job(job_id):
        simulation_jobs.run_simulation(job)


@shared_task(acks_late=True)
def activate_model(job_id: int) -> None:
    if job := _queued_job(job_id):
        lifecycle.run_activation(job)


@shared_task(acks_late=True)
def cross_validate_model(job_id: int) -> None:
    if job := _queued_job(job_id):
        lifecycle.run_cross_validation(job)
