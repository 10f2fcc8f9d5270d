"""load_demo prints the address `make run` serves (SIFT_PORT), and none it cannot know."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from labeling import demo
from labeling.management.commands import load_demo
from tests.factories import make_demo_archive, make_demo_tweets

User = get_user_model()


@pytest.fixture(autouse=True)
def archive(tmp_path, monkeypatch):
    """A network-free stand-in for the demo archive."""
    path = make_demo_archive(tmp_path / demo.ARCHIVE, make_demo_tweets(20))
    monkeypatch.setattr(demo, "fetch_archive", lambda cache_dir: path)


def _load_demo() -> str:
    out = io.StringIO()
    call_command("load_demo", "--labeled", "4", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize("port", ["8141", "8000", "65535"])
def test_load_demo_prints_the_port_make_run_serves(monkeypatch, port):
    monkeypatch.setenv("SIFT_PORT", port)

    out = _load_demo()

    assert f"Sift is at http://127.0.0.1:{port} — log in as:" in out
    assert "admin      password: sift-admin-demo" in out


@pytest.mark.django_db
def test_load_demo_without_sift_port_names_no_address(monkeypatch):
    # Typed in a second terminal: the port of the `make run` beside it is not known here.
    monkeypatch.delenv("SIFT_PORT", raising=False)

    out = _load_demo()

    assert "127.0.0.1" not in out
    assert "Log in (at the address `make run` printed) as:" in out
    assert "annotator  password: sift-annotator-demo" in out


@pytest.mark.django_db
@pytest.mark.parametrize("port", ["abc", "0", "65536", "80 80", "-1", "8000.5"])
def test_load_demo_refuses_a_bad_sift_port_before_writing_anything(monkeypatch, port):
    monkeypatch.setenv("SIFT_PORT", port)

    with pytest.raises(CommandError, match=r"SIFT_PORT must be a port number from 1 to 65535"):
        _load_demo()

    assert not User.objects.exists()
    assert not load_demo.Project.objects.exists()
