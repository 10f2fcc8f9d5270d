"""The job queue being unreachable is an answer, not a 500, and never costs an annotation.

A real redis-server of our own (port 6393) that the tests stop and start: the app publishes
to it through kombu exactly as in production. transactional_db, so that the send really
runs on commit inside the request, as it does outside the tests.
"""

import subprocess
import time
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command

from config.celery import app
from learners import jobs
from learners.models import Job
from tests.factories import api_client, import_rows, make_review_rows

PORT = 6393


class Broker:
    def __init__(self, folder):
        self.folder = folder

    def start(self) -> None:
        subprocess.run(
            [
                "redis-server",
                "--port",
                str(PORT),
                "--daemonize",
                "yes",
                "--save",
                "",
                "--dir",
                str(self.folder),
            ],
            check=True,
            capture_output=True,
        )
        deadline = time.monotonic() + 10
        while self.cli("ping") != "PONG":
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server on port 6393 did not start")
            time.sleep(0.1)

    def stop(self) -> None:
        self.cli("shutdown", "nosave")

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            ["redis-cli", "-p", str(PORT), "-n", "3", *args], capture_output=True, text=True
        )
        return done.stdout.strip()


def _use_broker(url: str, options: dict) -> None:
    app.conf.broker_url = url
    app.conf.broker_transport_options = options
    # The app caches its connection and producer pools: drop them so the next send uses the URL.
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker(tmp_path):
    """Our own Redis, started and then stopped: the app's broker is down until `start()`."""
    saved = (app.conf.broker_url, app.conf.broker_transport_options)
    server = Broker(tmp_path)
    server.start()
    server.stop()
    _use_broker(f"redis://127.0.0.1:{PORT}/3", {"socket_connect_timeout": 3})
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
    assert "6393" in error  # the broker's own words say which one
    assert seconds < 10
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
