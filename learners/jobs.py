"""Small helpers every background job uses: write progress at once, give up on lost jobs."""

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from labeling.models import Project
from learners.models import Job

logger = logging.getLogger(__name__)


def update_job(job: Job, **fields: object) -> None:
    """Write job fields at once, outside any long transaction, so pages see progress."""
    for name, value in fields.items():
        setattr(job, name, value)
    Job.objects.filter(pk=job.pk).update(**fields)


def fail_stale_jobs(project: Project) -> None:
    """A job older than the timeout lost its worker; it must not block new jobs forever."""
    cutoff = timezone.now() - timedelta(seconds=settings.SIFT_JOB_TIMEOUT_SECONDS)
    Job.objects.filter(project=project, state__in=Job.ACTIVE_STATES, created_at__lt=cutoff).update(
        state=Job.State.FAILED,
        error="The job did not finish in time; its worker was probably stopped.",
        finished_at=timezone.now(),
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
