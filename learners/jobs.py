"""One way to start a background job and move it through its states.

`start_job` takes the project row lock, fails stale jobs, refuses a second job of an
exclusive kind, creates the row and sends its task by name once the row is committed.
Every state change is a guarded UPDATE (`... WHERE state IN expected`): a job the sweeper
failed never turns succeeded behind the user's back, and a late worker finding its job
failed stops quietly (`report` raises JobAbandoned). The runner (learners.runner) owns the
transitions of a running job; the sweeper (`sweep`, a Celery beat task) notices silent
workers and lost messages.
"""

import logging
from collections.abc import Iterable
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from labeling.models import Project
from learners import artifacts, uploads
from learners.models import Job, ModelVersion

logger = logging.getLogger(__name__)

# Tasks are sent by name: nothing imports learners.tasks, which stays a leaf.
TASKS = {
    Job.Kind.RETRAIN: "learners.tasks.retrain",
    Job.Kind.SCORE: "learners.tasks.score_new_items",
    Job.Kind.ACTIVATE: "learners.tasks.activate_model",
    Job.Kind.EVALUATE: "learners.tasks.cross_validate_model",
    Job.Kind.SIMULATE: "learners.tasks.simulate",
    Job.Kind.IMPORT: "learners.tasks.import_file",
    Job.Kind.PREDICT: "learners.tasks.predict_batch",
}
# One job of these kinds at a time per project: two retrains (or activations) racing to
# swap the queue in would leave it to whichever finished last.
BUSY_MESSAGES = {
    Job.Kind.RETRAIN: "A retrain of this project is already {state} (job {pk}).",
    Job.Kind.ACTIVATE: "Another model is being activated in this project (job {pk}, {state}).",
}
QUEUE_UNREACHABLE = "the job queue is unreachable; try again in a minute ({detail})"
# A queued job is re-sent only when it is older than this: its first message may still be on
# its way (the send runs on commit, a moment after the row exists).
RESEND_GRACE = timedelta(seconds=5)


class JobInProgress(Exception):
    def __init__(self, job: Job):
        super().__init__(BUSY_MESSAGES[job.kind].format(state=job.state, pk=job.pk))
        self.job = job


class QueueUnreachable(Exception):
    """The broker did not take the job's message; the job was failed, nothing waits for it."""


class JobAbandoned(Exception):
    """The job is no longer running (the sweeper failed it): its worker stops quietly."""


def start_job(
    project: Project,
    kind: str,
    *,
    user: AbstractBaseUser | None = None,
    params: dict | None = None,
    message: str = "Waiting for a worker.",
    enqueue: bool = True,
    resend_if_unreachable: bool = False,
) -> Job:
    """Create a queued job and send its task on commit.

    Raises JobInProgress for a second job of an exclusive kind, and QueueUnreachable (after
    failing the job) when the broker is down, unless `resend_if_unreachable`: then the job
    stays queued, says so, and the sweeper re-sends it. With `enqueue=False` the caller
    runs the job in its own process.
    """
    with transaction.atomic():
        # Serialize check-then-create on the project row: two requests never both start one.
        Project.objects.select_for_update().get(pk=project.pk)
        fail_stale_jobs(project)
        if kind in BUSY_MESSAGES:
            running = Job.objects.filter(project=project, kind=kind, state__in=Job.ACTIVE_STATES).first()
            if running is not None:
                raise JobInProgress(running)
        job = Job.objects.create(
            project=project, kind=kind, created_by=user, params=params or {}, message=message
        )
        if enqueue:
            transaction.on_commit(lambda: send(job, keep_queued=resend_if_unreachable))
    return job


def send(job: Job, keep_queued: bool = False) -> bool:
    """Publish the job's task; True if the broker took it.

    On a broker error the job is failed and QueueUnreachable raised, or with `keep_queued`
    it stays queued with a message saying it will be re-sent.
    """
    try:
        current_app.send_task(TASKS[job.kind], args=[job.pk])
    except (BrokerError, OSError) as exc:
        detail = str(exc) or type(exc).__name__
        logger.warning("could not send %s job %s: %s", job.kind, job.pk, detail)
        if keep_queued:
            transition(
                job,
                [Job.State.QUEUED],
                Job.State.QUEUED,
                message=f"The job queue was unreachable ({detail})"[:440] + "; the job will be re-sent.",
            )
            return False
        error = QUEUE_UNREACHABLE.format(detail=detail)
        fail_job(job, error, "Not started: the job queue is unreachable.")
        raise QueueUnreachable(error) from exc
    Job.objects.filter(pk=job.pk, state=Job.State.QUEUED).update(sent_at=timezone.now())
    return True


def transition(job: Job, expected: Iterable[str], state: str, where: Q | None = None, **fields) -> bool:
    """Move the job to `state` only if it is in one of the `expected` states; True if it moved."""
    fields = {"state": state, "updated_at": timezone.now(), **fields}
    rows = Job.objects.filter(pk=job.pk, state__in=list(expected))
    if where is not None:
        rows = rows.filter(where)
    if not rows.update(**fields):
        job.state = Job.objects.filter(pk=job.pk).values_list("state", flat=True).first() or job.state
        return False
    for name, value in fields.items():
        setattr(job, name, value)
    return True


def claim(job: Job) -> bool:
    """Queued -> running, for exactly one worker (a redelivered message finds it taken)."""
    now = timezone.now()
    return transition(
        job, [Job.State.QUEUED], Job.State.RUNNING, started_at=now, heartbeat_at=now, progress=0.01
    )


def report(job: Job, **fields: object) -> None:
    """Write progress (and a heartbeat) at once, outside any long transaction, so pages see it.

    Raises JobAbandoned when the job is no longer running.
    """
    now = timezone.now()
    if not transition(job, [Job.State.RUNNING], Job.State.RUNNING, heartbeat_at=now, **fields):
        raise JobAbandoned(f"{job.kind} job {job.pk} is {job.state}")


def succeed(job: Job, message: str, result: dict) -> bool:
    return transition(
        job,
        [Job.State.RUNNING],
        Job.State.SUCCEEDED,
        finished_at=timezone.now(),
        progress=1.0,
        message=message[:500],
        result=result,
    )


def fail_job(
    job: Job, error: str, message: str = "Failed.", where: Q | None = None, result: dict | None = None
) -> bool:
    """Queued or running -> failed (with `result` if given), then remove what the job left."""
    extra = {} if result is None else {"result": result}
    moved = transition(
        job,
        Job.ACTIVE_STATES,
        Job.State.FAILED,
        where=where,
        finished_at=timezone.now(),
        error=error,
        message=message[:500],
        **extra,
    )
    if moved:
        discard_outputs(job)
    return moved


def discard_outputs(job: Job) -> None:
    """Mark a failed job's models failed and delete the files it wrote that nothing serves
    (and an import job's upload, which nothing will read any more)."""
    for version in ModelVersion.objects.filter(job=job, is_active=False):
        ModelVersion.objects.filter(pk=version.pk).update(status=ModelVersion.Status.FAILED)
        artifacts.remove(artifacts.model_path(version))
    # The worker's copy of the params may name a file it wrote but could not record any more.
    stored = Job.objects.filter(pk=job.pk).values_list("params", flat=True).first() or {}
    uploads.remove(job.params.get("upload") or stored.get("upload"))
    written = {path for params in (job.params, stored) for path in _files_named(params)}
    summary = Project.objects.filter(pk=job.project_id).values_list("active_ranking__summary", flat=True)
    served = ((summary.first() or {}).get("bundle") or {}).get("path")
    for path in written - {served}:
        artifacts.remove(path)


def _files_named(params: dict) -> list[str]:
    named = (params.get("bundle"), params.get("rankers_apart_file"))
    return [path for path in (*((n or {}).get("path") for n in named), params.get("plot")) if path]


def fail_stale_jobs(project: Project | None = None, retry: bool = False) -> list[Job]:
    """Fail running jobs whose worker went silent and queued jobs no worker took in time.

    Runs at every job start (for one project: the job being started replaces a lost one) and
    in the sweeper (for all, with `retry`: a silent retrain is retried once).
    """
    now = timezone.now()
    jobs = Job.objects.all() if project is None else Job.objects.filter(project=project)
    quiet_since = now - timedelta(seconds=settings.SIFT_JOB_STALL_SECONDS)
    silent = Q(heartbeat_at__lt=quiet_since) | Q(heartbeat_at__isnull=True, updated_at__lt=quiet_since)
    unclaimed = Q(created_at__lt=now - timedelta(seconds=settings.SIFT_JOB_TIMEOUT_SECONDS))
    failed = []
    for job in jobs.filter(silent, state=Job.State.RUNNING).select_related("project", "created_by"):
        error = (
            f"Its worker stopped reporting (killed or lost): no heartbeat for more than "
            f"{settings.SIFT_JOB_STALL_SECONDS} s (SIFT_JOB_STALL_SECONDS)."
        )
        if fail_job(job, error, "Failed: its worker stopped reporting (killed or lost).", where=silent):
            failed.append(job)
            if retry:
                _retry(job)
    busy = _busy_queues()
    for job in jobs.filter(unclaimed, state=Job.State.QUEUED):
        if queue_of(job.kind) in busy:
            continue  # its worker is alive, busy with a job ahead of it (a long simulation)
        error = (
            f"No worker took the job within {settings.SIFT_JOB_TIMEOUT_SECONDS} s "
            "(SIFT_JOB_TIMEOUT_SECONDS); is a worker running and reading its queue?"
        )
        if fail_job(job, error, "Failed: no worker took it.", where=unclaimed):
            failed.append(job)
    return failed


def _retry(job: Job) -> None:
    """Start a failed retrain once more (never a retry of a retry)."""
    if job.kind != Job.Kind.RETRAIN or "retry_of" in job.params:
        return
    try:
        retry = start_job(
            job.project,
            Job.Kind.RETRAIN,
            user=job.created_by,
            params={"trigger": "retry", "retry_of": job.pk, "inline": False},
            resend_if_unreachable=True,
        )
    except JobInProgress:
        return  # another retrain is on its way already
    Job.objects.filter(pk=job.pk).update(message=f"{job.message} Retried as job {retry.pk}.")


def resend_unsent() -> int:
    """Send again the queued jobs whose message never reached a worker; the count re-sent."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.SIFT_JOB_RESEND_SECONDS)
    due = Job.objects.filter(state=Job.State.QUEUED, created_at__lt=now - RESEND_GRACE).filter(
        Q(sent_at__isnull=True) | Q(sent_at__lt=cutoff)
    )
    sent, busy = 0, _busy_queues()
    for job in due.order_by("created_at"):
        if job.sent_at is not None and queue_of(job.kind) in busy:
            continue  # its message is most likely waiting behind the running job: no duplicates
        if not send(job, keep_queued=True):
            break  # the broker is still down: the next sweep tries again
        sent += 1
        transition(job, [Job.State.QUEUED], Job.State.QUEUED, message="Waiting for a worker (re-sent).")
    return sent


def queue_of(kind: str) -> str:
    """The queue a job's task goes to (CELERY_TASK_ROUTES, else the default queue)."""
    return current_app.amqp.router.route({}, TASKS[kind])["queue"].name


def _busy_queues() -> set[str]:
    kinds = Job.objects.filter(state=Job.State.RUNNING).values_list("kind", flat=True).distinct()
    return {queue_of(kind) for kind in kinds if kind in TASKS}


def sweep() -> dict[str, int]:
    """Fail silent and unclaimed jobs (retrying a retrain once), then re-send lost messages."""
    failed = fail_stale_jobs(retry=True)
    resent = resend_unsent()
    if failed or resent:
        logger.info("sweep: failed %d stale job(s), re-sent %d", len(failed), resent)
    return {"failed": len(failed), "resent": resent}
