"""`make run` as typed, from a clean copy of the tree: it comes up, works, and stops on Ctrl-C.

The copy holds what git would check out (tracked and new, not ignored, files), the shared venv
as its `.venv` (installed already, so make installs nothing), and a small stand-in for the demo
archive where load_demo caches it, so nothing is downloaded. make runs with no environment
beyond a login shell's PATH and HOME: no SECRET_KEY, no DEBUG, no services.
"""

import json
import os
import re
import shutil
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
# The venv that runs these tests (not resolved: a venv's python is a symlink to the system one).
VENV = Path(sys.executable).parent.parent
PROCESSES = {"web", "worker", "simulate", "beat"}
pytestmark = pytest.mark.slow


def free_port() -> int:
    """A free port: from SIFT_TEST_PORTS ("8140-8149") when a shared machine hands out ranges."""
    low, _, high = os.environ.get("SIFT_TEST_PORTS", "0-0").partition("-")
    ports = list(range(int(low), int(high or low) + 1))
    # xdist workers start apart, so that two of them do not both find the first port free.
    shift = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")) % len(ports)
    for port in ports[shift:] + ports[:shift]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise AssertionError(f"no free port in SIFT_TEST_PORTS={os.environ['SIFT_TEST_PORTS']}")


def clean_copy(tmp_path: Path) -> Path:
    """A checkout-like copy of the tree, with the venv linked in and the demo archive cached."""
    copy = tmp_path / "sift"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():  # a deleted, not yet committed file is listed but absent
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)  # mtimes kept: the venv stays newer than requirements
    (copy / ".venv").symlink_to(VENV)
    make_demo_archive(copy / "var" / "demo" / demo.ARCHIVE, make_demo_tweets(200))
    return copy


def bare_env(**extra: str) -> dict:
    """What a new terminal has, and nothing Sift-specific."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ["HOME"], "LANG": "C.UTF-8", **extra}


def start_make(
    copy: Path, command: list[str], env: dict, log: Path, make_hears_ctrl_c: bool
) -> subprocess.Popen:
    """Start `command` (make, or a shell typing a make line) in its own process group, as a
    shell starts a foreground job.

    A terminal's Ctrl-C reaches the whole group; with `make_hears_ctrl_c=False` make ignores it
    (as when started from a script), so only honcho acts on it.
    """
    disposition = signal.SIG_DFL if make_hears_ctrl_c else signal.SIG_IGN
    with open(log, "wb") as out:
        return subprocess.Popen(
            command,
            cwd=copy,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, disposition),
        )


def wait_for(condition: Callable[[], bool], seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}; make's output:\n{log.read_text()[-4000:]}")


def http_get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def started_groups(log: Path) -> dict[str, int]:
    """honcho's processes by name, each the leader of its own process group."""
    return {name: int(pid) for name, pid in re.findall(r"(\w+)\.1 +started \(pid=(\d+)\)", log.read_text())}


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in the process group `pgid`."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def stop_everything(make: subprocess.Popen, log: Path) -> None:
    """Clean up after a failed test: kill make and every process group honcho started."""
    if make.poll() is None:
        os.killpg(make.pid, signal.SIGKILL)
        make.wait()
    for pgid in started_groups(log).values():
        if group_members(pgid):
            os.killpg(pgid, signal.SIGKILL)


def manage(copy: Path, *args: str) -> str:
    """A manage.py command as the README types it, beside `make run`."""
    result = subprocess.run(
        [".venv/bin/python", "manage.py", *args],
        cwd=copy,
        env=bare_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def ctrl_c_and_wait(make: subprocess.Popen, log: Path, seconds: float) -> float:
    """Press Ctrl-C in make's terminal; return how long until every process had exited."""
    groups = started_groups(log)
    started = time.monotonic()
    os.killpg(make.pid, signal.SIGINT)
    make.wait(timeout=seconds)
    wait_for(
        lambda: not any(map(group_members, groups.values())),
        seconds - (time.monotonic() - started),
        "every process of make run to exit",
        log,
    )
    return time.monotonic() - started


def test_make_run_from_a_clean_copy_serves_runs_a_retrain_and_stops_on_ctrl_c(tmp_path):
    copy = clean_copy(tmp_path)
    port = free_port()
    log = tmp_path / "make.log"
    make = start_make(copy, ["make", "run"], bare_env(SIFT_PORT=str(port)), log, make_hears_ctrl_c=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: http_get(f"{base}/accounts/login/")[0] == 200, 240, "the login page", log)
        output = log.read_text()
        assert f"Sift is at {base} — log in as:" in output
        assert "admin      password: sift-admin-demo" in output
        assert set(started_groups(log)) == PROCESSES
        for ready in (r"worker\.1 .*celery@\S+ ready\.", r"simulate\.1 .*sim@\S+ ready\.", r"beat: Starting"):
            wait_for(lambda pattern=ready: re.search(pattern, log.read_text()), 120, ready, log)
        check_env_dev(copy)
        wait_for_the_demo_retrain(copy, base, log)

        took = ctrl_c_and_wait(make, log, 60)
        output = log.read_text()
        assert "SIGINT received" in output
        assert "SIGKILL" not in output, output[-3000:]
        # Each worker got honcho's SIGTERM itself (`exec`, no shell between) and ended its warm
        # shutdown on its own.
        for name in ("worker", "simulate"):
            assert re.search(rf"{name}\.1 +\| worker: Warm shutdown", output)
            assert re.search(rf"{name}\.1 +stopped \(rc=0\)", output)
        # make heard the Ctrl-C too: it says so and ends by the signal, like any interrupted make.
        assert make.returncode == -signal.SIGINT
        assert "Error 130" not in output
        assert http_get(f"{base}/accounts/login/")[0] == 0  # nothing listens any more
        print(f"make run stopped {took:.1f} s after Ctrl-C")
    finally:
        stop_everything(make, log)


def check_env_dev(copy: Path) -> None:
    """The generated key: only a SECRET_KEY, private, and kept by the next make."""
    env_dev = copy / ".env.dev"
    (line,) = env_dev.read_text().splitlines()
    assert re.fullmatch(r"SECRET_KEY=[\w-]{60,}", line)
    assert env_dev.stat().st_mode & 0o777 == 0o600
    again = subprocess.run(["make", ".env.dev"], cwd=copy, env=bare_env(), capture_output=True, text=True)
    assert "make: '.env.dev' is up to date." in again.stdout
    assert env_dev.read_text() == line + "\n"


def wait_for_the_demo_retrain(copy: Path, base: str, log: Path) -> None:
    """load_demo's labels queued a retrain on the filesystem broker: the worker runs it."""
    token = manage(copy, "add_user", "smoke", "--role", "admin").splitlines()[-1]
    status, body = http_get(f"{base}/api/v1/projects", token)
    assert status == 200, body
    (project,) = json.loads(body)

    def retrained() -> bool:
        status, body = http_get(f"{base}/api/v1/projects/{project['id']}/jobs", token)
        jobs = json.loads(body) if status == 200 else []
        assert not any(job["state"] == "failed" for job in jobs), jobs
        return any(job["kind"] == "retrain" and job["state"] == "succeeded" for job in jobs)

    wait_for(retrained, 180, "the demo retrain to succeed in the worker", log)
    wait_for(lambda: not busy_tasks(log), 120, "the worker to finish the retrain's follow-ups", log)


def busy_tasks(log: Path) -> str:
    """The names of tasks received but not yet finished, from the worker's log lines."""
    text = log.read_text()
    received = re.findall(r"Task (\S+)\[([\w-]+)\] received", text)
    done = set(re.findall(r"Task \S+\[([\w-]+)\] (?:succeeded|failed|raised)", text))
    return " ".join(name for name, task_id in received if task_id not in done)
