"""The job queue being unreachable is an answer, not a 500, and never costs an annotation.

A real redis-server of our own (tests.processes.RedisServer, on a free port) that the tests
stop and start: the app publishes to it through kombu exactly as in production.
transactional_db, so that the send really runs on commit inside the request, as it does
outside the tests.
"""

import time
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command

from config.celery import app
from learners import jobs
from learners.models import Job
from tests.factories import api_client, import_rows, make_review_rows
from tests.processes import RedisServer


def _use_broker(url: str, options: dict) -> None:
    # Celery fills broker_write_url / broker_read_url from the configured URL and prefers them.
    app.conf.broker_url = app.conf.broker_write_url = app.conf.broker_read_url = url
    app.conf.broker_transport_options = options
    # The app caches its connection and producer pools: drop them so the next send uses the URL.
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker(tmp_path):
    """Our own Redis, started and then stopped: the app's broker is down until `start()`."""
    saved = (app.conf.broker_url, app.conf.broker_transport_options)
    server = RedisServer(tmp_path / "redis")
    _use_broker(server.url, {"socket_connect_timeout": 3})
    try:
        yield server
    finally:
        server.stop()
        _use_broker(*saved)


@pytest.fixture
def labeled(project):
    import_rows(project, make_review_rows(60, labeled=30))
    return project


def test_retrain_api_answers_503_fast_and_leaves_nothing_queued(transactional_db, broker, labeled, owner):
    started = time.monotonic()
    response = api_client(owner).post(f"/api/v1/projects/{labeled.pk}/retrain")
    seconds = time.monotonic() - started

    assert response.status_code == 503
    error = response.json()["error"]
    assert error.startswith("the job queue is unreachable; try again in a minute (")
    assert str(broker.port) in error  # the broker's own words say which one
    # Bounded retries, not kombu's default of retrying the connection for minutes; loose enough
    # for a loaded CI machine (a refused connection fails in about a second on an idle one).
    assert seconds < 30
    job = Job.objects.get(project=labeled)
    assert job.state == Job.State.FAILED
    assert job.error == error
    assert not Job.objects.filter(state__in=Job.ACTIVE_STATES).exists()
    # Nothing stuck: once the broker is back the next request is accepted, not a 409.
    broker.start()
    again = api_client(owner).post(f"/api/v1/projects/{labeled.pk}/retrain")
    assert again.status_code == 202
    assert broker.cli("llen", app.conf.task_default_queue) == "1"


def test_retrain_button_and_command_say_the_queue_is_unreachable(
    transactional_db, broker, labeled, owner, client
):
    client.force_login(owner)
    response = client.post(f"/projects/{labeled.slug}/retrain", follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == f"/projects/{labeled.slug}/models/"
    assert b"the job queue is unreachable; try again in a minute" in response.content

    with pytest.raises(CommandError, match="the job queue is unreachable; try again in a minute"):
        call_command("retrain", labeled.slug)
    assert Job.objects.filter(state=Job.State.FAILED).count() == 2
    assert not Job.objects.filter(state__in=Job.ACTIVE_STATES).exists()


def test_an_annotation_is_saved_while_the_queue_is_down_and_its_retrain_sent_later(
    transactional_db, broker, labeled, annotator, monkeypatch
):
    labeled.retrain_every = 1
    labeled.save()
    item = labeled.items.filter(label__isnull=True).first()

    response = api_client(annotator).post(
        f"/api/v1/items/{item.pk}/annotations", {"label": "positive"}, format="json"
    )

    assert response.status_code == 201
    assert item.annotations.count() == 1
    job = Job.objects.get(kind=Job.Kind.RETRAIN)
    assert job.state == Job.State.QUEUED
    assert job.params["trigger"] == "auto"
    assert job.sent_at is None
    assert "will be re-sent" in job.message

    assert jobs.sweep() == {"failed": 0, "resent": 0}  # still down, and too young anyway
    monkeypatch.setattr(jobs, "RESEND_GRACE", timedelta(0))
    assert jobs.sweep() == {"failed": 0, "resent": 0}  # still down: it stays queued
    broker.start()
    assert jobs.sweep() == {"failed": 0, "resent": 1}
    job.refresh_from_db()
    assert job.state == Job.State.QUEUED
    assert job.sent_at is not None
    assert job.message == "Waiting for a worker (re-sent)."
    assert broker.cli("llen", app.conf.task_default_queue) == "1"
