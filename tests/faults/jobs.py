"""Reading jobs from a fault test: how a job ended, and the retry that followed it."""

from pathlib import Path

from learners.models import Job
from tests.processes import wait_for


def wait_until_running(job_id: int, log: Path, seconds: float = 60) -> Job:
    return wait_for(
        lambda: Job.objects.filter(pk=job_id, state=Job.State.RUNNING).first(),
        seconds,
        f"job {job_id} to run",
        log,
    )


def wait_until_finished(job_id: int, log: Path, seconds: float = 120) -> Job:
    return wait_for(
        lambda: Job.objects.filter(pk=job_id, state__in=(Job.State.SUCCEEDED, Job.State.FAILED)).first(),
        seconds,
        f"job {job_id} to end",
        log,
    )


def retry_of(job: Job) -> Job | None:
    """The retrain the sweeper started in place of a failed one (params retry_of)."""
    return Job.objects.filter(project=job.project, kind=job.kind, params__retry_of=job.pk).first()
