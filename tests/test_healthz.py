"""/healthz checks the database and the broker, and says which one is down."""

import socket
import time

import pytest

from config.celery import app


def _dead_port() -> int:
    # A port that was free a moment ago: nothing listens on it, a connect is refused at once.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _use_broker(url: str) -> None:
    app.conf.broker_url = app.conf.broker_write_url = app.conf.broker_read_url = url
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker_down():
    saved = (app.conf.broker_url, app.conf.broker_write_url, app.conf.broker_read_url)
    _use_broker(f"redis://127.0.0.1:{_dead_port()}/3")
    try:
        yield
    finally:
        app.conf.broker_url, app.conf.broker_write_url, app.conf.broker_read_url = saved
        app._pool = None
        app.amqp._producer_pool = None


def test_healthz_is_200_while_both_answer(db, client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "database": "ok", "broker": "ok"}


def test_healthz_names_a_stopped_broker_fast(db, client, broker_down):
    started = time.monotonic()
    response = client.get("/healthz")
    seconds = time.monotonic() - started

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {
        "error": "the job queue (broker) is unreachable; background jobs cannot start",
        "ok": False,
        "database": "ok",
        "broker": "unreachable",
    }
    assert seconds < 10  # one refused connection, no retry loop
