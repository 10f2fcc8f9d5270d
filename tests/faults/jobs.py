"""Reading jobs from a fault test: how a job ended, and the retry that followed it."""

from pathlib import Path
from typing import TYPE_CHECKING

from bench.scale_procs import Service
from learners.models import Job
from tests.processes import wait_for

if TYPE_CHECKING:
    from tests.faults.conftest import Stack, Team


def retrain_running(stack: "Stack", team: "Team") -> tuple[int, Service]:
    """Bring the stack up, ask for a retrain over HTTP, and wait until its worker runs it."""
    stack.up()
    worker = stack.services[1]
    status, body = stack.call("POST", f"/api/v1/projects/{team.project.pk}/retrain", team.owner_token)
    assert status == 202, body
    job_id = body["job"]["id"]
    wait_until_running(job_id, worker.log)
    return job_id, worker


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
