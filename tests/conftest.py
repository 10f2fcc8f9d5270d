import pytest
from django.core.cache import cache

from tests.factories import add_member, import_rows, make_project, make_review_rows, make_user


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.ARTIFACT_DIR = tmp_path / "artifacts"
    settings.SIFT_UPLOAD_DIR = tmp_path / "uploads"
    settings.SIFT_PREDICTIONS_DIR = tmp_path / "predictions"
    cache.clear()  # API throttle counters live in the cache: each test starts with none


@pytest.fixture
def owner(db):
    """A site admin: creates projects, imports, retrains, exports."""
    return make_user("alice", staff=True)


@pytest.fixture
def annotator(db):
    return make_user("bob")


@pytest.fixture
def outsider(db):
    """Logged in, but a member of no project."""
    return make_user("charlie")


@pytest.fixture
def project(owner, annotator):
    project = make_project(owner)
    add_member(project, annotator)
    return project


@pytest.fixture
def items(project):
    """40 unlabeled review items."""
    import_rows(project, make_review_rows(40))
    return list(project.items.order_by("pk"))
