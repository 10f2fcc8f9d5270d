"""Real processes for the tests that need them: Celery workers, beat, gunicorn, a Redis server.

Every process starts in a session of its own and is stopped by its id (bench/scale_procs.py's
`Service`), never by name: the machine is shared. They run on the test database, which the
test must commit to (`transactional_db`).
"""

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from bench.scale_procs import Service, free_port, start

ROOT = Path(__file__).resolve().parents[1]
IS_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
needs_postgres = pytest.mark.skipif(not IS_POSTGRES, reason="needs DATABASE_URL=postgres://...")
needs_redis_server = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")


def database_url() -> str:
    """The URL of the test database, for a subprocess to use."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db["USER"] or "postgres"
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def process_env(**extra: str) -> dict[str, str]:
    """The environment of a subprocess: the test database and artifact folder, one math thread."""
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "SIFT_ARTIFACT_DIR": str(settings.ARTIFACT_DIR),
        "SIFT_UPLOAD_DIR": str(settings.SIFT_UPLOAD_DIR),
        "SECRET_KEY": os.environ.get("SECRET_KEY", "worker-test-key"),
        # Several processes share 2 cores: BLAS threads of each would only fight over them.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        **extra,
    }


def wait_for(condition: Callable[[], object], seconds: float, what: str, log: Path | None = None):
    """Poll `condition` until it returns something truthy, which is returned."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.25)
    tail = log.read_text(errors="replace")[-3000:] if log else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


def start_worker(
    env: dict, queue: str, log: Path, *, pool: str = "solo", concurrency: int = 1, wait: bool = True
) -> Service:
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker",
        "--pool", pool, "--concurrency", str(concurrency), "--queues", queue,
        "--hostname", f"{log.stem}@%h", "--loglevel", "INFO",
        "--without-heartbeat", "--without-mingle", "--without-gossip",
    ]  # fmt: skip
    worker = start(log.stem, command, env, log)
    if wait:
        worker.wait_for(b"ready.", 60)
    return worker


def start_beat(env: dict, folder: Path, *, wait: bool = True) -> Service:
    folder.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "celery", "-A", "config", "beat",
        "--schedule", str(folder / "celerybeat-schedule"), "--loglevel", "INFO",
    ]  # fmt: skip
    beat = start("beat", command, env, folder / "beat.log")
    if wait:
        beat.wait_for(b"beat: Starting", 60)
    return beat


def start_web(env: dict, port: int, log: Path, *, workers: int = 2, wait: bool = True) -> Service:
    command = [
        sys.executable, "-m", "gunicorn", "config.wsgi",
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--timeout", "60",
    ]  # fmt: skip
    web = start("gunicorn", command, env, log)
    if wait:
        wait_for_web(web, port)
    return web


def wait_for_web(web: Service, port: int) -> None:
    web.wait_for(b"Booting worker", 60)
    # Its workers import the app after booting: on a busy machine that takes a while.
    wait_for(
        lambda: call(port, "GET", "/api/v1/projects", timeout=5)[0] in (401, 403),
        120,
        "gunicorn to answer",
        web.log,
    )


class RedisServer:
    """A redis-server of the test's own (never the shared one), which it may stop and restart."""

    def __init__(self, folder: Path, port: int | None = None):
        self.folder = folder
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", str(self.folder)]
        with open(self.folder / "redis.log", "ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        wait_for(self.answers, 10, f"redis-server on port {self.port}", self.folder / "redis.log")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64) == b"+PONG\r\n"
        except OSError:
            return False

    def cli(self, *args: str) -> str:
        """What redis-cli prints for one command against this server's db 0."""
        done = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True)
        return done.stdout.strip()

    def stop(self) -> None:
        """Stop at once, as a crash or `shutdown nosave` would: the queues are gone with it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


def call(
    port: int, method: str, path: str, token: str | None = None, body: dict | None = None, timeout: float = 30
):
    """One HTTP request to a server on 127.0.0.1: (status, parsed JSON or None; 0 if no answer)."""
    headers = {"Authorization": f"Token {token}"} if token else {}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        conn.close()
    except (OSError, http.client.HTTPException):
        return 0, None
    kind = response.getheader("Content-Type") or ""
    return response.status, json.loads(raw) if raw and kind.startswith("application/json") else None
