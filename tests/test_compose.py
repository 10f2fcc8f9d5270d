"""docker-compose.yml describes the production shape: postgres, redis, a migrate step, gunicorn, celery.

With Debian's `docker-compose` (v1) on PATH (CI installs it), the file is validated by
`docker-compose config`, which needs no Docker engine, and the checks below run on its
resolved output; without it they run on the file as PyYAML reads it.
"""

import os
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


def test_compose_has_the_production_services(compose):
    assert set(compose["services"]) == {"db", "redis", "migrate", "web", "worker"}
    assert compose["services"]["db"]["image"].startswith("postgres:")
    assert compose["services"]["redis"]["image"].startswith("redis:")


def test_web_runs_gunicorn_and_the_worker_runs_celery(compose):
    services = compose["services"]
    assert _command(services["web"]).startswith("gunicorn config.wsgi")
    assert _command(services["worker"]).startswith("celery -A config worker")
    assert _command(services["migrate"]) == "python manage.py migrate --noinput"


def test_web_and_worker_use_postgres_redis_and_the_shared_data_folder(compose):
    for name in ("web", "worker", "migrate"):
        env = compose["services"][name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://"), name
        assert env["CELERY_BROKER_URL"].startswith("redis://"), name
        assert env["SIFT_DATA_DIR"] == "/data", name


def test_the_database_and_the_data_folder_live_on_named_volumes(compose):
    services = compose["services"]
    db_volume = _mounts(services["db"])["/var/lib/postgresql/data"]
    data_volume = _mounts(services["web"])["/data"]
    # The worker writes model artifacts that the web process reads: one volume for both.
    assert _mounts(services["worker"])["/data"] == data_volume
    assert {db_volume, data_volume} <= set(compose["volumes"])


def test_web_and_worker_start_after_the_migration_finished(compose):
    for name in ("web", "worker"):
        depends = compose["services"][name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
    migrate_depends = compose["services"]["migrate"]["depends_on"]
    assert migrate_depends["db"]["condition"] == "service_healthy"
    assert migrate_depends["redis"]["condition"] == "service_healthy"
