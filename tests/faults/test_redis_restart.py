"""Issue 9, item 4: Redis restarts while a retrain runs; the worker lives on and the job ends.

With kombu's stock Redis transport a Celery 5.7 worker exits here ("Unrecoverable error:
AttributeError ... 'hostname'"); config/broker_transport.py says why and what we changed.
"""

import time

import pytest

from learners.models import Job
from tests.faults.conftest import banking_labels, make_team
from tests.faults.jobs import retrain_running, retry_of, wait_until_finished
from tests.processes import needs_postgres, needs_redis_server, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.slow, needs_postgres, needs_redis_server]


def test_the_worker_survives_a_redis_restart_mid_retrain_and_the_job_ends(stack):
    # 77 intents: a retrain that lasts long enough to restart Redis under it.
    team = make_team(banking_labels(77), per_label=25, n_labeled=1200)
    job_id, worker = retrain_running(stack, team)

    stack.redis.stop()
    time.sleep(2)
    assert Job.objects.get(pk=job_id).state == Job.State.RUNNING, "the retrain ended before Redis went down"
    stack.redis.start()

    job = wait_until_finished(job_id, worker.log)
    if job.state == Job.State.FAILED:  # lost with its worker after all: then it must be retried
        retry = wait_for(lambda: retry_of(job), 30, "the retry", worker.log)
        job = wait_until_finished(retry.pk, worker.log)
    assert job.state == Job.State.SUCCEEDED, job.error
    log = worker.log.read_text(errors="replace")
    assert worker.process.poll() is None, log[-3000:]
    assert "Unrecoverable error" not in log
    # Reconnected, the worker takes new tasks: the sweeper's, sent by beat every few seconds.
    reconnected = log.rindex("Connected to")
    wait_for(
        lambda: "sweep_jobs" in worker.log.read_text(errors="replace")[reconnected:],
        30,
        "the worker to take a task after the restart",
        worker.log,
    )
