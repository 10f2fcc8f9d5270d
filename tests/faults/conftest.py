"""The production shape in miniature for fault tests: gunicorn, a prefork Celery worker, beat,
and a Redis server of the test's own that the test may stop, restart or lose."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from bench.scale_procs import Service, free_port
from labeling.models import Project
from tests.factories import (
    BANKING77,
    add_member,
    import_rows,
    intent_rows,
    make_project,
    make_user,
    read_banking77,
)
from tests.processes import (
    RedisServer,
    call,
    process_env,
    start_beat,
    start_web,
    start_worker,
    wait_for_web,
)

# Short periods so that a lost job is noticed within seconds (production: a minute or so).
SWEEP_SECONDS = 2
STALL_SECONDS = 6
HEARTBEAT_SECONDS = 2  # settings want a stall period of 3 heartbeats at least
RESEND_SECONDS = 4


@dataclass
class Stack:
    folder: Path
    redis: RedisServer
    port: int = field(default_factory=free_port)
    services: list[Service] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return process_env(
            CELERY_BROKER_URL=self.redis.url,
            SIFT_QUEUE="sift",
            SIFT_SWEEP_SECONDS=str(SWEEP_SECONDS),
            SIFT_JOB_STALL_SECONDS=str(STALL_SECONDS),
            SIFT_HEARTBEAT_SECONDS=str(HEARTBEAT_SECONDS),
            SIFT_JOB_RESEND_SECONDS=str(RESEND_SECONDS),
            # Cross-validation is a job of its own after a retrain; these tests are not about it.
            SIFT_CV_FOLDS="0",
        )

    def up(self, *, worker: bool = True, beat: bool = True) -> None:
        """Start gunicorn and (by default) a worker and beat together, then wait for each."""
        web = self._add(start_web(self.env, self.port, self.folder / "gunicorn.log", wait=False))
        workers = [self.worker(wait=False)] if worker else []
        beats = [self._add(start_beat(self.env, self.folder / "beat", wait=False))] if beat else []
        wait_for_web(web, self.port)
        for service in workers:
            service.wait_for(b"ready.", 60)
        for service in beats:
            service.wait_for(b"beat: Starting", 60)

    def worker(self, name: str = "worker", *, wait: bool = True) -> Service:
        """A worker as configured in production: prefork, 2 processes, acks_late, prefetch 1."""
        log = self.folder / f"{name}.log"
        return self._add(start_worker(self.env, "sift", log, pool="prefork", concurrency=2, wait=wait))

    def _add(self, service: Service) -> Service:
        self.services.append(service)
        return service

    def call(self, method: str, path: str, token: str | None = None, body: dict | None = None):
        return call(self.port, method, path, token, body)

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop(grace=5)
        self.redis.stop()


@pytest.fixture
def stack(transactional_db, tmp_path) -> Iterator[Stack]:
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    stack = Stack(tmp_path, redis)
    try:
        yield stack
    finally:
        stack.stop()


@dataclass
class Team:
    project: Project
    owner_token: str
    annotator_tokens: list[str]
    truth: dict[str, str]  # external id -> label


def make_team(labels: list[str], per_label: int, n_labeled: int, annotators: int = 1, **fields) -> Team:
    """An owner, annotators and a project of intent texts, the first `n_labeled` labeled."""
    owner = make_user("owner", staff=True)
    fields = {"retrain_every": 0, "test_target": 0, **fields}
    project = make_project(owner, labels=tuple(labels), name="Faults", **fields)
    rows = intent_rows(labels, per_label)
    truth = {f"b{i}": r["label"] for i, r in enumerate(rows)}
    labeled = [
        {"id": k, "text": r["text"], "label": v} for (k, v), r in zip(truth.items(), rows, strict=True)
    ]
    import_rows(project, [row if i < n_labeled else {**row, "label": ""} for i, row in enumerate(labeled)])
    tokens = []
    for i in range(annotators):
        user = make_user(f"annotator{i}")
        add_member(project, user)
        tokens.append(Token.objects.create(user=user).key)
    return Team(project, Token.objects.create(user=owner).key, tokens, truth)


def banking_labels(n: int) -> list[str]:
    """n intents of banking77 (the tests that need a long retrain skip without it)."""
    if not BANKING77.exists():
        pytest.skip("needs ../shared/datasets/banking77 for a retrain that lasts")
    return sorted({row["label"] for row in read_banking77()})[:n]
