"""Small helpers every background job uses: write progress at once, give up on lost jobs."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from labeling.models import Project
from learners.models import Job

logger = logging.getLogger(__name__)


def update_job(job: Job, **fields: object) -> None:
    """Write job fields at once, outside any long transaction, so pages see progress."""
    fields = {"updated_at": timezone.now(), **fields}
    for name, value in fields.items():
        setattr(job, name, value)
    Job.objects.filter(pk=job.pk).update(**fields)


def fail_stale_jobs(project: Project) -> None:
    """Fail jobs whose worker is gone, so that they do not block new jobs forever.

    A running job reports progress at every step; one silent for SIFT_JOB_STALL_SECONDS
    lost its worker (stopped or killed mid-job). A queued job that no worker took within
    SIFT_JOB_TIMEOUT_SECONDS is given up too.
    """
    now = timezone.now()
    stalled = Q(
        state=Job.State.RUNNING, updated_at__lt=now - timedelta(seconds=settings.SIFT_JOB_STALL_SECONDS)
    )
    unclaimed = Q(
        state=Job.State.QUEUED, created_at__lt=now - timedelta(seconds=settings.SIFT_JOB_TIMEOUT_SECONDS)
    )
    Job.objects.filter(stalled | unclaimed, project=project).update(
        state=Job.State.FAILED,
        error="The job stopped reporting progress; its worker was probably stopped. Start it again.",
        finished_at=now,
        updated_at=now,
    )


def fail_job(job: Job, exc: Exception, message: str = "Failed.") -> None:
    """Record why a job failed, with the traceback in the log."""
    logger.exception("%s job %s failed", job.kind, job.pk)
    update_job(
        job,
        state=Job.State.FAILED,
        finished_at=timezone.now(),
        error=f"{type(exc).__name__}: {exc}",
        message=message,
    )
