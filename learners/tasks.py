"""Celery adapters: take ids, reload rows, call a service."""

import logging

from celery import shared_task

from learners import lifecycle, services, simulation_jobs
from learners.models import Job

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def retrain(job_id: int) -> None:
    job = Job.objects.select_related("project", "created_by").filter(pk=job_id).first()
    if job is None:
        logger.warning("retrain job %s no longer exists", job_id)
        return
    if job.state != Job.State.QUEUED:
        logger.info("retrain job %s is %s already; not running it again", job_id, job.state)
        return
    services.run_retrain(job)


@shared_task(acks_late=True)
def score_chunk(job_id: int, index: int, first: int, last: int) -> None:
    job = Job.objects.select_related("project").filter(pk=job_id).first()
    if job is None:
        logger.warning("scoring job %s no longer exists", job_id)
        return
    services.score_chunk(job, index, first, last)


@shared_task(acks_late=True)
def score_new_items(job_id: int) -> None:
    job = Job.objects.select_related("project").filter(pk=job_id).first()
    if job is None or job.state != Job.State.QUEUED:
        return
    services.score_new_items(job)


@shared_task(acks_late=True)
def simulate(job_id: int) -> None:
    job = Job.objects.select_related("project").filter(pk=job_id).first()
    if job is None or job.state != Job.State.QUEUED:
        return
    simulation_jobs.run_simulation(job)


@shared_task(acks_late=True)
def activate_model(job_id: int) -> None:
    job = Job.objects.select_related("project", "created_by").filter(pk=job_id).first()
    if job is None:
        logger.warning("activation job %s no longer exists", job_id)
        return
    if job.state != Job.State.QUEUED:
        logger.info("activation job %s is %s already; not running it again", job_id, job.state)
        return
    lifecycle.run_activation(job)


@shared_task(acks_late=True)
def cross_validate_model(job_id: int) -> None:
    job = Job.objects.select_related("project").filter(pk=job_id).first()
    if job is None:
        logger.warning("evaluation job %s no longer exists", job_id)
        return
    if job.state != Job.State.QUEUED:
        logger.info("evaluation job %s is %s already; not running it again", job_id, job.state)
        return
    lifecycle.run_cross_validation(job)
