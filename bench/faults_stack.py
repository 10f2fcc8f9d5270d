"""The fault benchmark's production shape and its annotators.

Redis (a redis-server of the benchmark's own, which it stops and restarts), gunicorn with 4
workers, a prefork Celery worker and beat, all started here by bench/scale_procs.py and
stopped by their ids. Annotators are bench/scale_load.py's clients (GET next, POST the
label, again) that also remember which labels were answered 201, to look for them in the
database afterwards.
"""

import contextlib
import csv
import http.client
import io
import json
import os
import signal
import subprocess
import sys
import time
from argparse import Namespace
from dataclasses import dataclass, field
from pathlib import Path

import scale_procs
from django.contrib.auth import get_user_model
from django.core.management import call_command
from scale_load import LoadClient

from labeling import services as labeling_services
from labeling.models import Project

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("SIFT_DATASETS") or ROOT.parent / "shared" / "datasets")


@dataclass
class Annotator(LoadClient):
    username: str = ""
    acked: list[int] = field(default_factory=list)  # item ids whose label got a 201

    def _call(self, op: str, method: str, path: str, payload: dict | None = None) -> tuple[int, dict]:
        status, body = super()._call(op, method, path, payload)
        if op == "annotate" and status == 201:
            self.acked.append(int(path.split("/")[4]))  # /api/v1/items/<id>/annotations
        return status, body


@dataclass
class Stack:
    env: dict
    folder: Path
    redis_port: int
    web_port: int
    redis: scale_procs.Service | None = None
    web: scale_procs.Service | None = None
    worker: scale_procs.Service | None = None
    beat: scale_procs.Service | None = None
    restarts: int = 0

    def start(self) -> None:
        self.start_redis()
        self.web = scale_procs.start_gunicorn(self.web_port, self.env, self.folder, workers=4)
        self.start_worker()
        self.beat = scale_procs.start(
            "beat",
            [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
             "--schedule", str(self.folder / "celerybeat-schedule")],
            self.env,
            self.folder / "beat.log",
        )  # fmt: skip
        self.web.wait_for(b"Booting worker", 120)
        self.worker.wait_for(b"ready.", 120)
        self.beat.wait_for(b"beat: Starting", 120)
        # gunicorn's workers import the app after booting; the first annotators would time out.
        deadline = time.monotonic() + 180
        while api(self.web_port, "GET", "/api/v1/projects", "")[0] not in (401, 403):
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn never answered")
            time.sleep(0.5)

    def start_redis(self) -> None:
        command = ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        self.redis = scale_procs.start("redis", command, self.env, self.folder / "redis.log")
        self.redis.wait_for(b"Ready to accept connections", 30)

    def stop_redis(self) -> None:
        """As a crash or `redis-cli shutdown nosave` would: queued messages are gone with it."""
        self.redis.process.kill()
        self.redis.process.wait(timeout=10)

    def start_worker(self, wait: bool = False) -> None:
        self.restarts += 1
        command = [
            sys.executable, "-m", "celery", "-A", "config", "worker", "--queues", "sift",
            "--pool", "prefork", "--concurrency", "2", "--loglevel", "INFO",
            "--hostname", f"bench-faults-{self.restarts}@%h",
        ]  # fmt: skip
        self.worker = scale_procs.start(
            f"worker-{self.restarts}", command, self.env, self.folder / f"worker-{self.restarts}.log"
        )
        if wait:
            self.worker.wait_for(b"ready.", 120)

    def kill_worker(self) -> None:
        """SIGKILL the worker and its pool processes (its own session), as `docker kill` does."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.process.wait(timeout=10)

    def worker_alive(self) -> bool:
        return self.worker.process.poll() is None

    def stop(self) -> None:
        for service in (self.beat, self.worker, self.web, self.redis):
            if service is not None and service.process.poll() is None:
                service.stop(grace=10)


def set_writable(folder: Path, writable: bool) -> None:
    """Make a folder and the folders in it (un)writable.

    Root ignores mode bits, so as root this sets or clears the immutable flag (chattr).
    """
    folders = [folder, *(p for p in folder.rglob("*") if p.is_dir())]
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i" if writable else "+i", *map(str, folders)], check=True)
        return
    for path in folders:
        path.chmod(0o755 if writable else 0o555)


@dataclass
class PostgresCluster:
    """A PostgreSQL cluster of the benchmark's own (pg_ctlcluster VERSION NAME) it may restart."""

    version: str
    name: str

    def restart(self, down_seconds: float) -> None:
        self._ctl("stop")
        time.sleep(down_seconds)
        self._ctl("start")

    def _ctl(self, action: str) -> None:
        command = ["pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, action]
        subprocess.run(command, check=True, capture_output=True)


def api(port: int, method: str, path: str, token: str) -> tuple[int, dict]:
    """One request as the project's owner: (status, JSON body or {}; 0 when nothing answered)."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request(method, path, headers={"Authorization": f"Token {token}"} if token else {})
        response = conn.getresponse()
        raw = response.read()
        conn.close()
    except (OSError, http.client.HTTPException):
        return 0, {}
    try:
        return response.status, json.loads(raw) if raw else {}
    except ValueError:
        return response.status, {}


def make_project(args: Namespace) -> tuple[Project, dict[str, str], str]:
    with open(DATASETS / "banking77" / "train.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    truth = {f"b{i}": row["label"] for i, row in enumerate(rows)}
    owner_token = add_user("owner", "admin")
    owner = get_user_model().objects.get(username="owner")
    project = labeling_services.create_project(
        owner, "Bank faults", sorted(set(truth.values())), slug="bank-faults",
        overlap=2, retrain_every=args.retrain_every,
    )  # fmt: skip
    # A first model to start from: every intent labeled a few times.
    seeded = {label: 0 for label in set(truth.values())}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["id", "text", "label"], lineterminator="\n")
    writer.writeheader()
    for (external_id, label), row in zip(truth.items(), rows, strict=True):
        keep = seeded[label] < 4
        seeded[label] += keep
        writer.writerow({"id": external_id, "text": row["text"], "label": label if keep else ""})
    labeling_services.import_items(project, owner, out.getvalue().encode(), "banking77.csv")
    return project, truth, owner_token


def add_user(username: str, role: str, project: str | None = None) -> str:
    out = io.StringIO()
    call_command("add_user", username, role=role, project=[project] if project else [], stdout=out)
    return out.getvalue().strip().splitlines()[-1]
