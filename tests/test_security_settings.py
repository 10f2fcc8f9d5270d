"""Production settings: `check --deploy` is clean with the documented HTTPS environment,
HTTPS is on by default once Sift answers to a real host name, and every page carries a CSP."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "SECRET_KEY": "k3y-for-the-deploy-check-only-" + "x9Q2vL7pR4tW8zM1nB6cF3hJ5kD0sG",
    "ALLOWED_HOSTS": "sift.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://sift.example.org",
    "SIFT_BEHIND_PROXY": "1",
    "SIFT_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SIFT_HSTS_PRELOAD": "1",
}
SHOWN = [
    "SIFT_HTTPS",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_PROXY_SSL_HEADER",
]


def _run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SIFT_", "DEBUG", "ALLOWED_HOSTS"))}
    clean.update(SIFT_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings", **env)
    clean.pop("DATABASE_URL", None)
    clean.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # browser tests set it; a deployment never does
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def _settings(tmp_path: Path, **env: str) -> dict:
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        f"print(json.dumps({{n: getattr(s, n, None) for n in {SHOWN!r}}}))"
    )
    result = _run(["-c", code], tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_check_deploy_is_clean_with_the_documented_production_env(tmp_path):
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], tmp_path, **PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_without_debug_a_real_host_name_turns_https_on(tmp_path):
    values = _settings(tmp_path, **PRODUCTION)

    assert values == {
        "SIFT_HTTPS": True,
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 365 * 24 * 3600,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
    }


@pytest.mark.parametrize(
    "env",
    [
        {"SECRET_KEY": "local", "ALLOWED_HOSTS": "127.0.0.1,localhost"},  # a local run, no DEBUG
        {"DEBUG": "1", "ALLOWED_HOSTS": "sift.example.org"},
        {**PRODUCTION, "SIFT_HTTPS": "0"},  # plain HTTP on purpose
    ],
    ids=["loopback only", "debug", "switched off"],
)
def test_plain_http_runs_keep_https_off(tmp_path, env):
    values = _settings(tmp_path, **env)

    assert values["SECURE_SSL_REDIRECT"] is values["SESSION_COOKIE_SECURE"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0


def test_pages_carry_csp_and_browser_headers(client, owner):
    client.force_login(owner)
    response = client.get("/")

    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_https_redirect_and_the_proxy_header(client, settings, db):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600

    plain = client.get("/accounts/login/")
    proxied = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")

    assert plain.status_code == 301
    assert plain["Location"] == "https://testserver/accounts/login/"
    assert proxied.status_code == 200
    assert proxied["Strict-Transport-Security"] == "max-age=3600"
    assert client.get("/healthz").status_code == 200  # exempt, for health checks over HTTP
