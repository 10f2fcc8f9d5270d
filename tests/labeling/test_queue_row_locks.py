"""On PostgreSQL, GET /next skips item rows another connection holds locked (SELECT ... FOR UPDATE
SKIP LOCKED) instead of waiting for them: one annotator being handed an item never stalls the rest."""

import threading
import time

import pytest
from django.db import connection, transaction

from labeling.models import Item, Lease
from tests.factories import add_member, api_client, import_rows, make_project, make_review_rows, make_user

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks and SKIP LOCKED need PostgreSQL"
)

# How long the other connection keeps its locks: far longer than a served request may take.
HOLD_SECONDS = 20


class RowLocker(threading.Thread):
    """Holds FOR UPDATE locks on some item rows, in a transaction of its own connection."""

    def __init__(self, item_ids: list[int]):
        super().__init__(daemon=True)
        self.item_ids = item_ids
        self.locked = threading.Event()
        self.release = threading.Event()

    def run(self) -> None:
        try:
            with transaction.atomic():
                list(Item.objects.select_for_update().filter(pk__in=self.item_ids))
                self.locked.set()
                self.release.wait(HOLD_SECONDS)
        finally:
            connection.close()  # this thread's own connection

    def __enter__(self) -> "RowLocker":
        self.start()
        assert self.locked.wait(10), "the locking connection never got its locks"
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.join(10)


@pytest.fixture
def team(transactional_db):
    owner = make_user("alice", staff=True)
    project = make_project(owner, name="Locks", test_fraction=0.0, test_target=0)
    import_rows(project, make_review_rows(5))
    bob = make_user("bob")
    add_member(project, bob)
    return project, bob


def _timed_next(user, project):
    started = time.monotonic()
    response = api_client(user).get(f"/api/v1/projects/{project.pk}/next")
    return response, time.monotonic() - started


def test_next_skips_past_rows_another_connection_holds_locked(team):
    project, bob = team
    ids = list(project.items.order_by("pk").values_list("pk", flat=True))
    # Each item in turn is the only free one, so that in some round the queue's random
    # order meets locked rows before the free one.
    for free in ids:
        with RowLocker([pk for pk in ids if pk != free]):
            response, seconds = _timed_next(bob, project)
        assert response.status_code == 200
        assert response.json()["item"]["id"] == free
        assert seconds < 5, f"GET /next waited {seconds:.1f} s on a locked row"
        Lease.objects.filter(user=bob).delete()


def test_next_answers_204_at_once_when_every_free_row_is_locked(team):
    project, bob = team
    ids = list(project.items.values_list("pk", flat=True))

    with RowLocker(ids):
        response, seconds = _timed_next(bob, project)

    assert response.status_code == 204
    assert seconds < 5, f"GET /next waited {seconds:.1f} s on locked rows"
