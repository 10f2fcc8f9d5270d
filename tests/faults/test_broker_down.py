"""Issue 9: the job queue (Redis) down. Asking for a retrain is a 503 that leaves nothing
queued; labeling goes on (every annotation a 201) and the automatic retrain is sent later."""

import pytest

from labeling.models import Annotation
from learners.models import Job
from tests.faults.conftest import SWEEP_SECONDS, make_team
from tests.faults.jobs import wait_until_finished
from tests.processes import needs_postgres, needs_redis_server, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.slow, needs_postgres, needs_redis_server]
INTENTS = ["card_arrival", "exchange_rate", "lost_or_stolen_card", "top_up_failed"]


def test_a_retrain_asked_while_redis_is_down_is_a_503_and_leaves_no_job_queued(stack):
    team = make_team(INTENTS, per_label=30, n_labeled=60)
    stack.up(beat=False)
    retrain = f"/api/v1/projects/{team.project.pk}/retrain"
    stack.redis.stop()

    status, body = stack.call("POST", retrain, team.owner_token)
    assert status == 503, body
    assert body["error"].startswith("the job queue is unreachable"), body
    assert not Job.objects.filter(project=team.project, state__in=Job.ACTIVE_STATES).exists()

    stack.redis.start()
    status, body = stack.call("POST", retrain, team.owner_token)
    assert status == 202, body  # not a 409 for a job stuck in "queued"
    job = wait_until_finished(body["job"]["id"], stack.services[1].log)
    assert job.state == Job.State.SUCCEEDED, job.error


def test_annotations_while_redis_is_down_are_all_201_and_the_automatic_retrain_follows(stack):
    team = make_team(INTENTS, per_label=30, n_labeled=40, annotators=2, retrain_every=10)
    stack.up()
    worker = stack.services[1]
    stack.redis.stop()

    answers, labeled = [], []
    for _ in range(12):
        for token in team.annotator_tokens:
            status, body = stack.call("GET", f"/api/v1/projects/{team.project.pk}/next", token)
            assert status == 200, body
            item = body["item"]
            label = team.truth[item["external_id"]]
            status, body = stack.call(
                "POST", f"/api/v1/items/{item['id']}/annotations", token, {"label": label}
            )
            answers.append(status)
            labeled.append(item["id"])
    assert answers == [201] * len(answers)
    saved = Annotation.objects.filter(item__project=team.project, user__isnull=False)
    assert set(saved.values_list("item_id", flat=True)) == set(labeled)

    stack.redis.start()

    def automatic_retrain_ended() -> Job | None:
        jobs = Job.objects.filter(project=team.project, kind=Job.Kind.RETRAIN, params__trigger="auto")
        return jobs.filter(state__in=(Job.State.SUCCEEDED, Job.State.FAILED)).first()

    job = wait_for(automatic_retrain_ended, 10 * SWEEP_SECONDS + 120, "the automatic retrain", worker.log)
    assert job.state == Job.State.SUCCEEDED, job.error
    # The labels beyond the first retrain_every start one more; nothing stays queued for good.
    active = Job.objects.filter(project=team.project, state__in=Job.ACTIVE_STATES)
    wait_for(lambda: not active.exists(), 120, "every retrain to end", worker.log)
    failed = Job.objects.filter(project=team.project, state=Job.State.FAILED)
    assert not failed.exists(), list(failed.values_list("error", flat=True))
