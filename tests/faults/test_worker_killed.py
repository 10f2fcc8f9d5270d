"""Issue 9: a worker SIGKILLed mid-retrain. The sweeper (beat's schedule, run by whichever
worker is up: a restart policy brings one back) fails the silent job and retries it once."""

import os
import signal
import time

import pytest

from learners.models import Job, ModelVersion
from tests.faults.conftest import STALL_SECONDS, SWEEP_SECONDS, banking_labels, make_team
from tests.faults.jobs import retrain_running, retry_of, wait_until_finished
from tests.processes import needs_postgres, needs_redis_server, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.slow, needs_postgres, needs_redis_server]


def test_a_worker_killed_mid_retrain_fails_the_job_within_the_sweep_and_the_retry_succeeds(stack):
    # Big enough to be caught running, small enough that the retry is quick.
    team = make_team(banking_labels(20), per_label=30, n_labeled=400)
    job_id, worker = retrain_running(stack, team)

    os.killpg(worker.pid, signal.SIGKILL)  # the worker and its pool processes, as `docker kill` does
    worker.process.wait(timeout=10)
    replacement = stack.worker("worker-2")
    back = time.monotonic()

    failed = wait_until_finished(job_id, replacement.log, seconds=STALL_SECONDS + 6 * SWEEP_SECONDS + 30)
    noticed = time.monotonic() - back
    assert failed.state == Job.State.FAILED
    assert "worker" in failed.error.lower(), failed.error  # says what happened, not just "failed"
    # Silent since before the kill: failed at the first sweep after the stall period.
    assert noticed <= STALL_SECONDS + 3 * SWEEP_SECONDS + 5, noticed

    retry = wait_for(lambda: retry_of(failed), 6 * SWEEP_SECONDS, "the retry", replacement.log)
    done = wait_until_finished(retry.pk, replacement.log, seconds=150)
    assert done.state == Job.State.SUCCEEDED, done.error
    assert Job.objects.filter(project=team.project, kind=Job.Kind.RETRAIN).count() == 2  # retried once
    assert not ModelVersion.objects.filter(project=team.project, status=ModelVersion.Status.TRAINING).exists()
