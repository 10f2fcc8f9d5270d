"""The one runner of background jobs: it owns queued -> running -> succeeded | failed.

A job's work is a function of the job that returns an Outcome (the runner marks the job
succeeded) or None (another task finishes it, e.g. the last chunk of a parallel retrain).
While the work runs, a heartbeat thread touches the job row, so that a long phase (a fit,
a cross-validation, a simulation) is not mistaken for a dead worker.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from learners import jobs
from learners.models import Job

logger = logging.getLogger(__name__)


@dataclass
class Outcome:
    message: str
    result: dict = field(default_factory=dict)
    # Runs once the job is marked succeeded (never for a job the sweeper failed meanwhile).
    then: Callable[[], None] | None = None


class Heartbeat:
    """Touch the running job's row every SIFT_HEARTBEAT_SECONDS from a thread of its own."""

    def __init__(self, job: Job):
        self.job_id = job.pk
        self.interval = float(settings.SIFT_HEARTBEAT_SECONDS)
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def __enter__(self) -> "Heartbeat":
        # Inside a transaction (a test, an inline run wrapped in one) nobody else can see the
        # row's heartbeat, and on SQLite the thread would wait on this transaction's lock.
        if not connection.in_atomic_block:
            self.thread = threading.Thread(target=self._beat, name=f"heartbeat-{self.job_id}", daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopped.set()
        if self.thread is not None:
            self.thread.join(timeout=self.interval + 5)

    def _beat(self) -> None:
        try:
            while not self.stopped.wait(self.interval):
                try:
                    Job.objects.filter(pk=self.job_id, state=Job.State.RUNNING).update(
                        heartbeat_at=timezone.now()
                    )
                except DatabaseError as exc:
                    # One missed beat is not fatal: the stall limit spans several beats.
                    logger.warning("heartbeat of job %s failed: %s", self.job_id, exc)
        finally:
            connection.close()  # the thread's own connection


def run_job(
    job: Job, work: Callable[[Job], Outcome | None], claim: bool = True, failure: str = "Failed."
) -> Outcome | None:
    """Claim the job (unless `claim` is False: a step of a job already running), run it, end it.

    Returns the Outcome when the job succeeded here; None when it failed, was taken by
    another worker, was failed elsewhere meanwhile, or is finished by another task.
    """
    if claim and not jobs.claim(job):
        logger.info("%s job %s is %s already; not running it again", job.kind, job.pk, job.state)
        return None
    if not claim and job.state != Job.State.RUNNING:
        return None
    try:
        with Heartbeat(job):
            outcome = work(job)
    except jobs.JobAbandoned as exc:
        logger.info("stopping quietly: %s", exc)
        # Files this worker wrote after the sweeper failed the job (never those of a job that
        # another task finished: a late chunk of a retrain that succeeded).
        if Job.objects.filter(pk=job.pk, state=Job.State.FAILED).exists():
            jobs.discard_outputs(job)
        return None
    except SoftTimeLimitExceeded:
        limit = settings.SIFT_TIME_LIMITS.get(job.kind)
        jobs.fail_job(
            job,
            f"Stopped: it ran past its time limit of {limit} s (SIFT_TIME_LIMIT_{job.kind.upper()}).",
            failure,
        )
        return None
    except Exception as exc:
        logger.exception("%s job %s failed", job.kind, job.pk)
        jobs.fail_job(job, f"{type(exc).__name__}: {exc}", failure)
        return None
    if outcome is None:
        return None
    if not jobs.succeed(job, outcome.message, outcome.result):
        logger.info("%s job %s is %s; its result is dropped", job.kind, job.pk, job.state)
        return None
    if outcome.then is not None:
        outcome.then()
    return outcome
