"""`make run` on the embedded default (SQLite, filesystem broker) comes up, works, and stops on Ctrl-C.

The same steps as the Makefile's `run` target, in a temporary SIFT_DATA_DIR: migrate, load_demo,
then honcho with Procfile.dev (web + a real Celery worker). The demo archive is placed where
load_demo caches it, so nothing is downloaded: a small stand-in shaped like the real one.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from labeling import demo
from tests.factories import make_demo_archive, make_demo_tweets

ROOT = Path(__file__).resolve().parents[1]
# The venv's bin folder, as `make run` puts it first on PATH (not resolved: a venv's python
# is a symlink to the system one).
VENV_BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(condition: Callable[[], bool], seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}; honcho's output:\n{log.read_text()[-4000:]}")


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in the process group `pgid`."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            members.append(int(stat.parent.name))
    return members


@pytest.fixture
def run_env(tmp_path) -> dict:
    """The environment of `make run`: DEBUG, no SECRET_KEY, no services, our own data folder."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "SIFT_ARTIFACT_DIR", "MEDIA_ROOT"}
        and not key.startswith("SIFT_")
    }
    env.update(
        DEBUG="1",
        SIFT_DATA_DIR=str(tmp_path / "data"),
        SIFT_PORT=str(_free_port()),
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    make_demo_archive(tmp_path / "data" / "demo" / demo.ARCHIVE, make_demo_tweets(200))
    return env


def _manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_make_run_serves_the_login_page_runs_a_retrain_in_the_worker_and_stops_on_ctrl_c(run_env, tmp_path):
    _manage(run_env, "migrate", "--noinput")
    loaded = _manage(run_env, "load_demo")
    assert "admin      password: sift-admin-demo" in loaded
    token = _manage(run_env, "add_user", "smoke", "--role", "admin").splitlines()[-1]

    base = f"http://127.0.0.1:{run_env['SIFT_PORT']}"
    log = tmp_path / "honcho.log"
    with open(log, "wb") as out:
        honcho = subprocess.Popen(
            [str(VENV_BIN / "honcho"), "-f", "Procfile.dev", "start"],
            cwd=ROOT,
            env=run_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    groups: dict[str, int] = {}
    try:
        _wait_for(lambda: _get(f"{base}/accounts/login/")[0] == 200, 90, "the login page", log)
        _wait_for(lambda: b"ready." in log.read_bytes(), 90, "the worker to be ready", log)
        groups = {
            name: int(pid) for name, pid in re.findall(r"(\w+)\.1 started \(pid=(\d+)\)", log.read_text())
        }
        assert set(groups) == {"web", "worker"}

        # load_demo's labels queued a retrain on the filesystem broker; the worker runs it.
        status, body = _get(f"{base}/api/v1/projects", token)
        assert status == 200
        (project,) = json.loads(body)

        def retrained() -> bool:
            status, body = _get(f"{base}/api/v1/projects/{project['id']}/jobs", token)
            jobs = json.loads(body) if status == 200 else []
            assert not any(job["state"] == "failed" for job in jobs), jobs
            return any(job["state"] == "succeeded" for job in jobs)

        _wait_for(retrained, 120, "the demo retrain to succeed in the worker", log)
        status, body = _get(f"{base}/api/v1/projects/{project['id']}/models", token)
        (model,) = json.loads(body)
        assert model["active"]
        assert model["train_size"] > 0

        started = time.monotonic()
        honcho.send_signal(signal.SIGINT)
        honcho.wait(timeout=20)
        _wait_for(
            lambda: not any(map(_group_members, groups.values())),
            20 - (time.monotonic() - started),
            "web and worker to exit",
            log,
        )
        output = log.read_text()
        assert "SIGINT received" in output
        # The worker began a warm shutdown. (Honcho kills what is left after 5 s; on the
        # filesystem broker an idle worker notices the signal within its 2 s poll and
        # usually ends in time, but a loaded machine can push it past 5 s.)
        assert "worker: Warm shutdown" in output
        assert _get(f"{base}/accounts/login/")[0] == 0  # nothing listens any more
    finally:
        if honcho.poll() is None:
            honcho.kill()
            honcho.wait()
        for pgid in groups.values():
            if _group_members(pgid):
                os.killpg(pgid, signal.SIGKILL)
