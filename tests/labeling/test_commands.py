"""The management commands users run: add_user (users, roles, tokens) and load_demo."""

import io
import re
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.authtoken.models import Token

from labeling import demo
from labeling.management.commands import load_demo
from labeling.models import Annotation, ImportBatch, Item, Membership, Project
from tests.factories import make_demo_archive, make_demo_tweets, make_project

User = get_user_model()


def add_user(*args: str) -> tuple[str, str]:
    """Run add_user; return (stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    call_command("add_user", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def last_line(text: str) -> str:
    return text.rstrip("\n").splitlines()[-1]


def get_projects(token: str):
    return Client().get("/api/v1/projects", HTTP_AUTHORIZATION=f"Token {token}")


# add_user


@pytest.mark.django_db
def test_add_user_creates_an_admin_and_prints_a_working_token_last():
    out, err = add_user("ann", "--role", "admin")

    user = User.objects.get(username="ann")
    assert user.is_staff
    assert user.is_superuser
    assert not user.has_usable_password()  # API token only until a password is set
    token = last_line(out)
    assert token == Token.objects.get(user=user).key
    assert "Created admin ann" in err
    response = get_projects(token)
    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.django_db
def test_add_user_creates_an_annotator_who_is_not_staff():
    out, _ = add_user("ann", "--role", "annotator")

    user = User.objects.get(username="ann")
    assert not user.is_staff
    assert not user.is_superuser
    assert get_projects(last_line(out)).status_code == 200


@pytest.mark.parametrize(("role", "membership"), [("admin", "admin"), ("annotator", "annotator")])
def test_add_user_with_projects_makes_them_members_with_the_matching_role(owner, role, membership):
    first = make_project(owner, name="First")
    second = make_project(owner, name="Second")
    make_project(owner, name="Third")
    out, err = add_user("ann", "--role", role, "--project", first.slug, "--project", second.slug)

    user = User.objects.get(username="ann")
    roles = dict(Membership.objects.filter(user=user).values_list("project__slug", "role"))
    assert roles == {first.slug: membership, second.slug: membership}
    assert f"member of: {first.slug}, {second.slug}" in err
    listed = get_projects(last_line(out)).json()
    expected = 3 if role == "admin" else 2  # staff see every project
    assert len(listed) == expected


def test_rerunning_add_user_updates_the_role_and_keeps_the_token(project):
    first, _ = add_user("ann", "--role", "admin", "--project", project.slug, "--password", "a-Long-pass-1234")
    again, err = add_user("ann", "--role", "annotator", "--project", project.slug)

    assert last_line(again) == last_line(first)
    assert "Updated annotator ann" in err
    user = User.objects.get(username="ann")
    assert not user.is_staff
    assert Membership.objects.get(user=user, project=project).role == Membership.Role.ANNOTATOR
    assert user.check_password("a-Long-pass-1234")  # kept: no --password this time
    assert User.objects.filter(username="ann").count() == 1
    assert Token.objects.filter(user=user).count() == 1


@pytest.mark.django_db
def test_add_user_sets_a_password_that_logs_in():
    add_user("ann", "--role", "annotator", "--password", "correct-Horse-battery-9")
    assert Client().login(username="ann", password="correct-Horse-battery-9")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1", "This password is too short. It must contain at least 8 characters."),
        ("password", "This password is too common."),
        ("8675309123", "This password is entirely numeric."),
        ("annabelle-smith", "The password is too similar to the username."),
    ],
)
def test_a_weak_password_is_refused_and_nothing_is_created(password, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        add_user("annabelle-smith", "--role", "admin", "--password", password)

    assert not User.objects.filter(username="annabelle-smith").exists()
    assert not Token.objects.exists()


def test_a_weak_password_leaves_an_existing_user_unchanged(project):
    add_user("ann", "--role", "annotator", "--password", "a-Long-pass-1234")
    with pytest.raises(CommandError, match="too short"):
        add_user("ann", "--role", "admin", "--password", "short1", "--project", project.slug)

    user = User.objects.get(username="ann")
    assert not user.is_staff
    assert user.check_password("a-Long-pass-1234")
    assert not Membership.objects.filter(user=user).exists()


def test_an_unknown_project_is_refused_and_nothing_is_created(project):
    with pytest.raises(CommandError, match=re.escape("No such project: missing, nope.")):
        add_user(
            "ann", "--role", "admin", "--project", project.slug, "--project", "nope", "--project", "missing"
        )

    assert not User.objects.filter(username="ann").exists()
    assert not Token.objects.exists()
    assert not Membership.objects.filter(user__username="ann").exists()


@pytest.mark.django_db
def test_add_user_requires_a_known_role():
    with pytest.raises(CommandError, match="--role"):
        add_user("ann")
    with pytest.raises(CommandError, match="invalid choice: 'owner'"):
        add_user("ann", "--role", "owner")
    assert not User.objects.exists()


# load_demo

TWEETS = [*make_demo_tweets(30), ("101", 2.1, "I &lt;3 this &amp; that &quot;so much&quot;")]
RATED = [t for t in TWEETS if t[1] != 0]  # neutral tweets are left out


@pytest.fixture
def archive(tmp_path, monkeypatch):
    """A small archive shaped like vaderSentiment's, served by a network-free fetch_archive.

    Returns the cache folders fetch_archive was called with.
    """
    # Lines without text are not tweets and are skipped.
    path = make_demo_archive(
        tmp_path / "cache" / demo.ARCHIVE, TWEETS, extra_lines=("102\t1.0", "103\t-1\t  ")
    )
    calls: list[Path] = []

    def fetch(cache_dir: Path) -> Path:
        calls.append(cache_dir)
        return path

    monkeypatch.setattr(demo, "fetch_archive", fetch)
    return calls


def _load_demo(*args: str) -> str:
    out = io.StringIO()
    call_command("load_demo", *args, stdout=out)
    return out.getvalue()


def _counts() -> dict:
    models = [User, Project, Item, Annotation, ImportBatch, Membership]
    return {model.__name__: model.objects.count() for model in models}


@pytest.mark.django_db
def test_load_demo_creates_the_users_the_project_and_the_labeled_tweets(archive):
    out = _load_demo("--labeled", "10")

    assert archive == [settings.DATA_DIR / "demo"]
    admin, annotator = User.objects.get(username="admin"), User.objects.get(username="annotator")
    assert admin.is_staff
    assert not annotator.is_staff
    project = Project.objects.get(slug=load_demo.SLUG)
    assert [label.name for label in project.labels.all()] == ["positive", "negative"]
    roles = dict(project.memberships.values_list("user__username", "role"))
    assert roles == {"admin": "admin", "annotator": "annotator"}
    assert project.items.count() == len(RATED)
    assert project.items.filter(label__isnull=False).count() == 10
    scores = {f"tweet-{tid}": score for tid, score, _ in RATED}
    for item in project.items.filter(label__isnull=False):
        assert item.label.name == ("positive" if scores[item.external_id] > 0 else "negative")
    assert f"Demo project: {len(RATED)} tweets (10 already labeled)." in out
    for name, password in load_demo.LOGINS.items():
        assert f"{name:<10} password: {password}" in out
        assert Client().login(username=name, password=password)


@pytest.mark.django_db
def test_load_demo_unescapes_html_entities(archive):
    _load_demo()
    item = Item.objects.get(external_id="tweet-101")
    assert item.text == 'I <3 this & that "so much"'


@pytest.mark.django_db
def test_load_demo_labels_every_tweet_when_asked_for_more_than_there_are(archive):
    _load_demo()  # the default asks for 120 labeled tweets; this archive has fewer
    assert Item.objects.count() == len(RATED)
    assert not Item.objects.filter(label__isnull=True).exists()


@pytest.mark.django_db
def test_load_demo_twice_adds_nothing_the_second_time(archive):
    _load_demo("--labeled", "10")
    before = _counts()
    out = _load_demo("--labeled", "10")

    assert _counts() == before
    assert len(archive) == 1  # the archive is not even fetched again
    assert "Demo project" not in out
    assert "sift-admin-demo" in out


@pytest.mark.django_db
def test_a_failed_demo_import_leaves_no_half_made_project_and_the_next_run_loads_it(archive):
    with (
        mock.patch("labeling.services.import_items", side_effect=RuntimeError("disk full")),
        pytest.raises(RuntimeError),
    ):
        _load_demo()
    assert not Project.objects.exists()

    _load_demo()
    assert Project.objects.get().items.count() == len(RATED)


@pytest.mark.django_db
def test_load_demo_refuses_a_negative_labeled_count(archive):
    with pytest.raises(CommandError, match="--labeled cannot be negative"):
        _load_demo("--labeled", "-1")
    assert not Project.objects.exists()


REAL_ARCHIVE = Path(settings.DATA_DIR) / "demo" / demo.ARCHIVE


@pytest.mark.skipif(not REAL_ARCHIVE.exists(), reason="the real demo archive is not cached here")
def test_the_real_archive_holds_the_4200_rated_tweets():
    tweets = demo.read_tweets(REAL_ARCHIVE)
    assert len(tweets) == 4200
    assert sum(score > 0 for _, score, _ in tweets) == 2897
    assert sum(score < 0 for _, score, _ in tweets) == 1299
    assert not any("&amp;" in text for _, _, text in tweets)
