"""A real PostgreSQL stopped and restarted under a running gunicorn: requests meanwhile get a 503
that says "try again" (JSON on the API, the plain page elsewhere), never a 500, and the first
requests after it work (CONN_HEALTH_CHECKS replaces the dead persistent connections).

The test makes a throwaway PostgreSQL cluster of its own (pg_createcluster, on
SIFT_FAULT_PG_PORT or a free port) so that it never stops a database anyone else uses, and
drops it at the end. It needs Debian's postgresql-common tools and root. One test function:
under xdist two would each build a cluster of their own.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _port(variable: str) -> int:
    if os.environ.get(variable):
        return int(os.environ[variable])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


PG_PORT = _port("SIFT_FAULT_PG_PORT")
WEB_PORT = _port("SIFT_FAULT_WEB_PORT")
UNAVAILABLE = {"error": "the database is unavailable; try again in a few seconds"}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("pg_createcluster") is None or os.geteuid() != 0,
        reason="needs Debian's pg_createcluster and root to make a PostgreSQL it may restart",
    ),
]

SETUP = """
import json
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from labeling import services
from tests.factories import csv_bytes, make_review_rows
owner = get_user_model().objects.create_user("alice", password="pw-for-tests-1", is_staff=True)
bob = get_user_model().objects.create_user("bob", password="pw-for-tests-1")
project = services.create_project(owner, "Blip", ["positive", "negative"], test_fraction=0.0, test_target=0)
services.add_member(project, bob, "annotator")
services.import_items(project, owner, csv_bytes(make_review_rows(200)), "items.csv")
session = SessionStore()
session[SESSION_KEY] = str(bob.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = bob.get_session_auth_hash()
session.create()
print(json.dumps({
    "token": services.issue_api_token(bob).key,
    "session": session.session_key,
    "project": project.pk,
    "items": list(project.items.order_by("pk").values_list("pk", flat=True)),
}))
"""


class Cluster:
    def __init__(self, version: str, name: str):
        self.version, self.name = version, name

    def ctl(self, action: str, *args: str) -> None:
        subprocess.run(["pg_ctlcluster", self.version, self.name, action, *args], check=True, timeout=60)


@pytest.fixture
def cluster():
    version = sorted(os.listdir("/etc/postgresql"), key=int)[-1]
    name = f"sift_blip_{os.getpid()}"
    subprocess.run(
        ["pg_createcluster", version, name, "-p", str(PG_PORT), "-o", "fsync=off"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        hba = Path(f"/etc/postgresql/{version}/{name}/pg_hba.conf")
        hba.write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")
        found = Cluster(version, name)
        found.ctl("start")
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "postgres", "-c", "CREATE DATABASE sift"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield found
    finally:
        subprocess.run(["pg_dropcluster", "--stop", version, name], capture_output=True, timeout=120)


@pytest.fixture
def server(cluster, tmp_path_factory):
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{PG_PORT}/sift",
        "SECRET_KEY": "test-only",
        "DEBUG": "0",
        "SIFT_DATA_DIR": str(tmp_path_factory.mktemp("blip-data")),
        "CELERY_BROKER_URL": "filesystem://",
    }
    env.pop("SIFT_CONN_MAX_AGE", None)  # the default (60 s on PostgreSQL) is what is tested
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True)
    setup = subprocess.run(
        [*manage, "shell", "-c", SETUP], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    info = json.loads(setup.stdout.strip().splitlines()[-1])
    gunicorn = Path(sys.executable).with_name("gunicorn")
    args = [
        str(gunicorn),
        "config.wsgi",
        "--bind",
        f"127.0.0.1:{WEB_PORT}",
        "--workers",
        "2",
        "--timeout",
        "30",
    ]
    log = open(tmp_path_factory.mktemp("blip-log") / "gunicorn.log", "w")  # noqa: SIM115
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_up()
        yield info
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def _wait_until_up() -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if _request("/healthz")[0] == 200:
            return
        time.sleep(0.5)
    raise AssertionError("gunicorn did not answer /healthz within 90 s")


def _request(path: str, *, headers: dict | None = None, body: dict | None = None) -> tuple[int, dict, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{WEB_PORT}{path}", data=data, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()
    except (urllib.error.URLError, OSError):
        return 0, {}, b""


def _api(info: dict, path: str, body: dict | None = None) -> tuple[int, dict, bytes]:
    return _request(path, headers={"Authorization": f"Token {info['token']}"}, body=body)


def _page(info: dict) -> tuple[int, dict, bytes]:
    return _request("/", headers={"Cookie": f"sessionid={info['session']}"})


def _stats(info: dict) -> tuple[int, dict, bytes]:
    return _api(info, f"/api/v1/projects/{info['project']}/stats")


def _assert_unavailable(answer: tuple[int, dict, bytes], *, page: bool) -> None:
    status, headers, body = answer
    assert status == 503, body[:300]
    assert headers["Retry-After"] == "5"
    if page:
        assert headers["Content-Type"].startswith("text/html")
        assert b"Sift is unavailable for a moment" in body
    else:
        assert json.loads(body) == UNAVAILABLE


def _assert_all_ok(info: dict, n: int = 6) -> None:
    # Several of each, so that every gunicorn worker's persistent connection is exercised.
    for _ in range(n):
        assert _stats(info)[0] == 200
        assert _page(info)[0] == 200


def test_a_database_stop_and_restart_under_a_running_server(cluster, server):
    _assert_all_ok(server)  # every worker now holds a connection that the stop kills
    _while_down_every_answer_is_a_503_and_the_first_after_it_works(cluster, server)
    _a_restart_under_traffic_gives_only_200s_and_503s_and_loses_no_label(cluster, server)
    _after_an_idle_restart_the_first_requests_work(cluster, server)


def _while_down_every_answer_is_a_503_and_the_first_after_it_works(cluster: Cluster, server: dict) -> None:
    cluster.ctl("stop", "-m", "fast")
    try:
        for _ in range(4):
            _assert_unavailable(_stats(server), page=False)
            _assert_unavailable(_page(server), page=True)
        status, headers, body = _request("/healthz")
        assert (status, headers["Retry-After"]) == (503, "5")
        assert json.loads(body) == {**UNAVAILABLE, "ok": False, "database": "unreachable", "broker": "ok"}
    finally:
        cluster.ctl("start")

    _assert_all_ok(server)
    assert _request("/healthz")[0] == 200


def _a_restart_under_traffic_gives_only_200s_and_503s_and_loses_no_label(
    cluster: Cluster, server: dict
) -> None:
    reads: list[int] = []
    posts: list[tuple[int, dict, int]] = []  # item, body, status
    stop = threading.Event()

    def traffic() -> None:
        for item in server["items"]:
            if stop.is_set():
                return
            reads.append(_stats(server)[0])
            reads.append(_page(server)[0])
            body = {"label": "positive", "client_id": str(uuid.uuid4())}
            posts.append((item, body, _api(server, f"/api/v1/items/{item}/annotations", body)[0]))

    worker = threading.Thread(target=traffic, daemon=True)
    worker.start()
    time.sleep(1)
    cluster.ctl("restart", "-m", "fast")
    time.sleep(2)
    stop.set()
    worker.join(60)

    assert set(reads) <= {200, 503}, sorted(set(reads))
    assert {status for _, _, status in posts} <= {201, 503}
    # An annotation answered 503 may or may not have been saved; its client_id settles it:
    # 200 when it was, 201 when it was not, and never a second copy.
    for item, body, status in posts:
        if status == 503:
            assert _api(server, f"/api/v1/items/{item}/annotations", body)[0] in {200, 201}
    assert json.loads(_stats(server)[2])["annotations"] == len(posts)
    _assert_all_ok(server, n=2)


def _after_an_idle_restart_the_first_requests_work(cluster: Cluster, server: dict) -> None:
    # No request fails while the database is away, so nothing has discarded the workers'
    # persistent connections: without CONN_HEALTH_CHECKS the first request of each worker
    # would run on a dead connection and fail.
    _assert_all_ok(server)
    cluster.ctl("restart", "-m", "fast")
    _assert_all_ok(server)
