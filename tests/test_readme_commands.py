"""The README's commands work exactly as typed, in a second terminal beside `make run`.

The README's ```sh blocks of "The two commands" and "Commands" are read from the README itself
and run from a clean copy of the tree with no environment beyond a new terminal's (see
tests/test_make_run.py): `make run SIFT_PORT=8080` (on a free port instead of 8080, the one
change), then every line of the Commands block, then Ctrl-C while the worker retrains.
"""

import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from tests.test_make_run import (
    ROOT,
    bare_env,
    busy_tasks,
    clean_copy,
    ctrl_c_and_wait,
    free_port,
    http_get,
    start_make,
    stop_everything,
    wait_for,
)

pytestmark = pytest.mark.slow
PROJECT = "tweet-sentiment"
STOP_SECONDS = 20  # the Makefile's default


def sh_blocks(section: str) -> list[list[str]]:
    """The ```sh blocks under `## section`: their lines as typed (continuations joined), but
    not the lines that are only a comment."""
    text = (ROOT / "README.md").read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    blocks = []
    for block in re.findall(r"```sh\n(.*?)```", body, flags=re.S):
        lines = block.replace("\\\n", " ").splitlines()
        blocks.append([line for line in lines if words(line)])
    return blocks


def words(line: str) -> list[str]:
    """A command line's words, as the shell splits them, without its comment."""
    return shlex.split(line, comments=True)


def synopsis_commands() -> set[str]:
    """The command names the Commands section's option reference lists."""
    text = (ROOT / "README.md").read_text().split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    (reference,) = re.findall(r"```text\n(.*?)```", text, flags=re.S)
    return set(re.findall(r"^(\w+) ", reference, flags=re.M))


def test_the_readme_names_make_run_the_port_and_one_way_to_run_commands():
    first, port = sh_blocks("The two commands")[:2]
    assert [words(line) for line in first] == [["make", "run"], ["make", "test"]]
    assert [words(line) for line in port] == [
        ["make", "run", "SIFT_PORT=8080"],
        ["SIFT_PORT=8080", "make", "run"],
    ]
    (commands,) = sh_blocks("Commands")
    manage_lines = [line for line in commands if "manage.py" in line]
    assert all(line.startswith(".venv/bin/python manage.py ") for line in manage_lines), manage_lines
    # The block runs every command the reference lists, so each is tried as typed.
    assert {line.split()[2] for line in manage_lines} == synopsis_commands()


def run_typed(copy: Path, line: str) -> subprocess.CompletedProcess:
    """Type `line` into a new terminal in the copy."""
    return subprocess.run(
        ["bash", "-c", line], cwd=copy, env=bare_env(), capture_output=True, text=True, timeout=600
    )


def check_output(line: str, result: subprocess.CompletedProcess, copy: Path) -> None:
    """What each README command says it does, it did."""
    out = result.stdout
    command = line.split()[2] if "manage.py" in line else line.split()[0]
    if command == "add_user":
        assert re.fullmatch(r"[0-9a-f]{40}", out.splitlines()[-1])
    elif command == "import_items":
        assert f"Imported 2 items into {PROJECT}" in out
    elif command == "retrain":
        assert re.search(r"Job \d+: succeeded", out)
    elif command == "snapshot":
        assert re.match(r"Dataset version \d+: \d+ labeled items", out)
    elif command == "export_dataset":
        assert (copy / "labels.csv").read_text().startswith("id,text,label,split,")
    elif command == "simulate":
        assert "Labels to reach 95% of full-pool macro-F1" in out
    elif command == "load_demo":
        # A second terminal has no SIFT_PORT: no address rather than a wrong one.
        assert "Log in (at the address `make run` printed) as:" in out
        assert "127.0.0.1" not in out
    else:
        assert command == "printf", line


def test_readme_commands_work_as_typed_beside_make_run_and_ctrl_c_stops_a_busy_worker(tmp_path):
    copy = clean_copy(tmp_path)
    port = free_port()
    make_line = sh_blocks("The two commands")[1][0].replace("8080", str(port))
    log = tmp_path / "make.log"
    # Started from a script, make ignores Ctrl-C and only honcho acts on it (the case of issue 10).
    make = start_make(copy, ["bash", "-c", make_line], bare_env(), log, make_hears_ctrl_c=False)
    try:
        base = f"http://127.0.0.1:{port}"
        started = time.monotonic()
        wait_for(lambda: http_get(f"{base}/accounts/login/")[0] == 200, 240, "the login page", log)
        print(f"{time.monotonic() - started:5.1f} s  {make_line}: the login page")
        assert f"Sift is at {base} — log in as:" in log.read_text()
        first_retrain = r"Task learners\.tasks\.retrain\[[\w-]+\] succeeded"
        wait_for(lambda: re.search(first_retrain, log.read_text()), 240, "the demo's first retrain", log)
        wait_for(lambda: not busy_tasks(log), 120, "the worker to be idle", log)
        print(f"{time.monotonic() - started:5.1f} s  the demo's first retrain done")

        (commands,) = sh_blocks("Commands")
        for line in commands:
            started = time.monotonic()
            result = run_typed(copy, line)
            print(f"{time.monotonic() - started:5.1f} s  {line}")
            assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
            check_output(line, result, copy)

        # Ctrl-C while the worker is in a retrain: it ends that task or is stopped in bounded time.
        seen = len(log.read_text())
        queued = run_typed(copy, f".venv/bin/python manage.py retrain {PROJECT}")
        assert re.search(r"Retrain job \d+ queued", queued.stdout), queued.stdout + queued.stderr
        # The demo's retrain can end in half a second, before the command that queued it has
        # exited: wait until the worker took it, then press Ctrl-C whether it is still running or not.
        taken = r"Task learners\.tasks\.retrain\[[\w-]+\] received"
        wait_for(lambda: re.search(taken, log.read_text()[seen:]), 60, "the worker to take the retrain", log)
        mid_retrain = "retrain" in busy_tasks(log)
        took = ctrl_c_and_wait(make, log, STOP_SECONDS + 40)
        output = log.read_text()
        assert "SIGINT received" in output
        assert make.returncode == 0, output[-3000:]  # no "Error 130": Ctrl-C is how it ends
        assert "Error 130" not in output
        assert took < STOP_SECONDS + 15, output[-3000:]
        assert http_get(f"{base}/accounts/login/")[0] == 0
        when = "mid-retrain" if mid_retrain else "after the retrain"
        print(f"make run stopped {took:.1f} s after Ctrl-C, {when}")
    finally:
        stop_everything(make, log)


def test_make_env_dev_writes_a_key_the_commands_read_but_never_debug(tmp_path):
    copy = clean_copy(tmp_path)
    show = [
        ".venv/bin/python",
        "manage.py",
        "shell",
        "--verbosity",
        "0",
        "-c",
        "from django.conf import settings as s; print(s.DEBUG, s.SECRET_KEY)",
    ]

    def settings_seen(**extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            show, cwd=copy, env=bare_env(**extra), capture_output=True, text=True, timeout=300
        )

    before = settings_seen()
    assert before.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off." in before.stderr

    made = subprocess.run(["make", ".env.dev"], cwd=copy, env=bare_env(), capture_output=True, text=True)
    assert made.returncode == 0, made.stdout + made.stderr
    key = (copy / ".env.dev").read_text().removeprefix("SECRET_KEY=").strip()
    assert settings_seen().stdout.split() == ["False", key]  # the key, and DEBUG still off
    assert settings_seen(SECRET_KEY="from-the-environment").stdout.split() == [
        "False",
        "from-the-environment",
    ]

    # Neither git nor the Docker image takes it, and docker-compose's `.env` is another file.
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env.dev"], cwd=ROOT)
    assert ignored.returncode == 0
    assert ".env.dev*" in (ROOT / ".dockerignore").read_text().splitlines()
    assert ".env.dev" not in (ROOT / "docker-compose.yml").read_text()
