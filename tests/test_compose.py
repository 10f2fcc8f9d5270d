"""docker-compose.yml describes the production shape: postgres, redis, a migrate step, gunicorn, two
Celery workers (retrains and simulations on their own queues) and beat, each restarted when it dies.

With Debian's `docker-compose` (v1) on PATH (CI installs it), the file is validated by
`docker-compose config`, which needs no Docker engine, and the checks below run on its
resolved output; without it they run on the file as PyYAML reads it.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKER_COMPOSE = shutil.which("docker-compose")


def _run_config(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "ALLOWED_HOSTS"}}
    return subprocess.run(
        [DOCKER_COMPOSE, "-f", str(COMPOSE_FILE), "config"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def compose() -> dict:
    if DOCKER_COMPOSE is None:
        return yaml.safe_load(COMPOSE_FILE.read_text())
    result = _run_config(SECRET_KEY="compose-test-key")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def _command(service: dict) -> str:
    command = service["command"]
    return command if isinstance(command, str) else " ".join(command)


def _mounts(service: dict) -> dict[str, str]:
    """Mount target -> source, for the short ("src:dst[:mode]") and long volume syntax."""
    mounts = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume["source"], volume["target"]
        mounts[target] = source
    return mounts


@pytest.mark.skipif(DOCKER_COMPOSE is None, reason="docker-compose is not installed (CI installs it)")
def test_docker_compose_refuses_the_file_without_a_secret_key():
    result = _run_config()
    assert result.returncode != 0
    assert "set SECRET_KEY" in result.stderr


LONG_RUNNING = ("db", "redis", "web", "worker", "worker-simulate", "beat")
SIFT_SERVICES = ("web", "worker", "worker-simulate", "beat")


def test_compose_has_the_production_services(compose):
    assert set(compose["services"]) == {*LONG_RUNNING, "migrate"}
    assert compose["services"]["db"]["image"].startswith("postgres:")
    assert compose["services"]["redis"]["image"].startswith("redis:")


def test_web_runs_gunicorn_and_the_workers_and_beat_run_celery(compose):
    services = compose["services"]
    web = _command(services["web"])
    assert web.startswith("gunicorn config.wsgi")
    assert "--workers 3 --worker-class sync" in web
    assert "--graceful-timeout" in web
    assert (
        _command(services["worker"])
        == "celery -A config worker --queues sift --concurrency 2 --loglevel INFO"
    )
    assert (
        _command(services["worker-simulate"])
        == "celery -A config worker --queues sift-simulate --concurrency 1 --loglevel INFO"
    )
    assert (
        _command(services["beat"])
        == "celery -A config beat --loglevel INFO --schedule /data/celerybeat-schedule"
    )
    assert _command(services["migrate"]) == "python manage.py migrate --noinput"


def test_the_dockerfile_serves_like_the_web_service():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert '"--workers", "3", "--worker-class", "sync"' in dockerfile
    assert '"--graceful-timeout"' in dockerfile


def test_sift_services_use_postgres_redis_and_the_shared_data_folder(compose):
    for name in (*SIFT_SERVICES, "migrate"):
        env = compose["services"][name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://"), name
        assert env["CELERY_BROKER_URL"].startswith("redis://"), name
        assert env["SIFT_DATA_DIR"] == "/data", name


def test_the_database_and_the_data_folder_live_on_named_volumes(compose):
    services = compose["services"]
    db_volume = _mounts(services["db"])["/var/lib/postgresql/data"]
    data_volume = _mounts(services["web"])["/data"]
    # The workers write model artifacts that the web process reads, and beat keeps its
    # schedule there: one volume for all.
    for name in SIFT_SERVICES:
        assert _mounts(services[name])["/data"] == data_volume, name
    assert {db_volume, data_volume} <= set(compose["volumes"])


def test_web_and_workers_share_the_upload_volume(compose):
    # An upload too large to import in its request is saved by web and read by the worker
    # that runs its import job (SIFT_UPLOAD_DIR, /data/uploads by default).
    services = compose["services"]
    uploads = _mounts(services["web"])["/data/uploads"]
    assert uploads in compose["volumes"]
    for name in ("worker", "worker-simulate"):
        assert _mounts(services[name])["/data/uploads"] == uploads, name


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_every_long_running_service_restarts_and_has_a_health_check(compose, name):
    service = compose["services"][name]
    assert service["restart"] == "unless-stopped"
    test = service["healthcheck"]["test"]
    assert test[0] in {"CMD", "CMD-SHELL"}
    assert len(test) > 1


def test_the_migration_runs_once_and_is_not_restarted(compose):
    assert compose["services"]["migrate"]["restart"] == "no"


def test_the_health_checks_ask_the_right_things(compose):
    services = compose["services"]
    web = " ".join(services["web"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/healthz" in web
    # The check's Host header must be allowed whatever ALLOWED_HOSTS the .env sets.
    assert "127.0.0.1" in services["web"]["environment"]["ALLOWED_HOSTS"].split(",")
    for name in ("worker", "worker-simulate"):
        assert "celery -A config inspect ping" in " ".join(services[name]["healthcheck"]["test"]), name
    assert "/data/celerybeat-schedule" in " ".join(services["beat"]["healthcheck"]["test"])


@pytest.mark.parametrize("name", SIFT_SERVICES)
def test_sift_services_start_after_a_healthy_db_and_redis_and_the_finished_migration(compose, name):
    depends = compose["services"][name]["depends_on"]
    assert depends["db"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"
    assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_the_migration_waits_for_a_healthy_db_and_redis(compose):
    migrate_depends = compose["services"]["migrate"]["depends_on"]
    assert migrate_depends["db"]["condition"] == "service_healthy"
    assert migrate_depends["redis"]["condition"] == "service_healthy"


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) for each instruction, with continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_the_image_is_built_from_an_exact_python_tag():
    froms = [args for op, args in _dockerfile_instructions() if op == "FROM"]
    assert len(froms) == 1
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", froms[0]), froms[0]


def test_the_image_runs_as_a_non_root_user_who_owns_the_data_folder():
    instructions = _dockerfile_instructions()
    users = [args for op, args in instructions if op == "USER"]
    assert users
    assert users[-1] not in {"root", "0"}
    runs = " ".join(args for op, args in instructions if op == "RUN")
    assert f"useradd --create-home --uid 1000 {users[-1]}" in runs
    assert f"chown {users[-1]}:{users[-1]} /data" in runs
    # Everything after the last USER runs as that user, the server included.
    ops = [op for op, _ in instructions]
    last_user = max(i for i, op in enumerate(ops) if op == "USER")
    assert ops.index("CMD") > last_user


def test_the_image_checks_its_own_health_on_healthz():
    checks = [args for op, args in _dockerfile_instructions() if op == "HEALTHCHECK"]
    assert len(checks) == 1
    assert "CMD" in checks[0]
    assert "http://127.0.0.1:8000/healthz" in checks[0]


def test_the_one_off_migration_does_not_inherit_the_web_health_check(compose):
    check = compose["services"]["migrate"]["healthcheck"]
    # `disable: true` as written; docker-compose config resolves it to `test: [NONE]`.
    assert check.get("disable") is True or check.get("test") == ["NONE"], check


@pytest.mark.parametrize(("name", "pattern"), [("db", r"postgres:15\.\d+"), ("redis", r"redis:7\.\d+\.\d+")])
def test_service_images_are_pinned_to_exact_tags(compose, name, pattern):
    image = compose["services"][name]["image"]
    assert re.fullmatch(pattern, image), image


@pytest.mark.parametrize(
    "pattern", [".env*", "tests/", "bench/", "var/", ".venv", ".git", "*.sqlite3", "staticfiles/"]
)
def test_the_build_context_leaves_out_secrets_tests_and_local_data(pattern):
    lines = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert pattern in lines
