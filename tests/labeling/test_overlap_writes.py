"""Overlap is enforced where labels are written: POST /api/v1/items/{id}/annotations refuses a
vote an item has no place for, and GET /next caps how many items one annotator holds."""

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.db import close_old_connections, connection
from django.utils import timezone

from labeling.models import Annotation, Lease
from labeling.overlap import check_room
from tests.factories import add_member, api_client, import_rows, make_project, make_review_rows, make_user


def _team(owner, *, overlap: int = 1, n: int = 4):
    project = make_project(owner, name="Writes", overlap=overlap, test_fraction=0.0, test_target=0)
    if n:
        import_rows(project, make_review_rows(n))
    users = [make_user(name) for name in ("bob", "dora", "erin")]
    for user in users:
        add_member(project, user)
    return project, users


def _next(user, project, exclude: tuple[int, ...] = ()):
    query = "&".join(f"exclude={pk}" for pk in exclude)
    return api_client(user).get(f"/api/v1/projects/{project.pk}/next" + (f"?{query}" if query else ""))


def _label(user, item_id: int, label: str | None = "positive"):
    return api_client(user).post(f"/api/v1/items/{item_id}/annotations", {"label": label}, format="json")


def test_a_label_on_an_item_another_annotator_labeled_is_a_409_at_overlap_1(owner):
    project, (bob, dora, _) = _team(owner)
    item = project.items.first()
    assert _label(bob, item.pk).status_code == 201

    response = _label(dora, item.pk, "negative")

    assert response.status_code == 409
    assert response.json()["error"] == (
        f"Item {item.pk} already has its 1 label from other annotators and needs no more. "
        "Ask for the next item."
    )
    assert list(Annotation.objects.filter(item=item).values_list("user__username", flat=True)) == ["bob"]
    item.refresh_from_db()
    assert (item.label.name, item.label_count, item.conflict) == ("positive", 1, False)


def test_the_overlap_th_annotator_is_accepted_and_the_next_one_refused(owner):
    project, (bob, dora, erin) = _team(owner, overlap=2)
    item = project.items.first()
    assert _label(bob, item.pk).status_code == 201
    assert _label(dora, item.pk, "negative").status_code == 201

    response = _label(erin, item.pk)

    assert response.status_code == 409
    assert "already has its 2 labels from other annotators" in response.json()["error"]
    assert Annotation.objects.filter(item=item).count() == 2


def test_an_annotator_may_still_correct_and_withdraw_their_own_label(owner):
    project, (bob, dora, _) = _team(owner)
    item = project.items.first()
    _label(bob, item.pk)
    assert _label(dora, item.pk).status_code == 409

    assert _label(bob, item.pk, "negative").status_code == 201  # a correction
    assert _label(bob, item.pk, None).status_code == 201  # an undo frees the place
    assert _label(dora, item.pk, "negative").status_code == 201

    item.refresh_from_db()
    assert (item.label.name, item.label_count) == ("negative", 1)


def test_an_expired_lease_cannot_add_a_label_once_the_item_went_to_someone_else(owner, settings):
    project, (bob, dora, _) = _team(owner, n=1)
    item = project.items.get()
    assert _next(bob, project).json()["item"]["id"] == item.pk
    Lease.objects.filter(user=bob).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _next(dora, project).json()["item"]["id"] == item.pk  # the place is dora's now

    late = _label(bob, item.pk)

    assert late.status_code == 409
    assert late.json()["error"].startswith(f"Item {item.pk} is now held by another annotator")
    assert not Annotation.objects.filter(item=item).exists()
    assert _label(dora, item.pk).status_code == 201
    assert _label(bob, item.pk).status_code == 409  # and after dora labeled it, for the other reason
    assert Annotation.objects.filter(item=item).count() == 1


def test_an_expired_lease_still_counts_when_nobody_took_the_item(owner):
    project, (bob, _, _) = _team(owner, n=1)
    item = project.items.get()
    _next(bob, project)
    Lease.objects.filter(user=bob).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert _label(bob, item.pk).status_code == 201


def test_a_retried_submit_of_an_accepted_label_is_still_answered_200(owner):
    project, (bob, dora, _) = _team(owner)
    item = project.items.first()
    body = {"label": "positive", "client_id": "6f1f7f56-1111-4c3b-9d7c-3a1e8c6f0001"}
    assert (
        api_client(bob).post(f"/api/v1/items/{item.pk}/annotations", body, format="json").status_code == 201
    )
    _label(bob, item.pk, None)
    assert _label(dora, item.pk).status_code == 201  # bob's place went to dora

    again = api_client(bob).post(f"/api/v1/items/{item.pk}/annotations", body, format="json")

    assert again.status_code == 200  # the same annotation as before, not a new vote


def test_an_imported_label_takes_no_place(owner):
    project, (bob, dora, _) = _team(owner, n=0)
    import_rows(project, [{"id": "x", "text": "fine", "label": "positive"}])
    item = project.items.get()

    assert _label(bob, item.pk, "negative").status_code == 201  # a review of the import
    assert _label(dora, item.pk, "negative").status_code == 409


def test_an_admin_adjudicates_an_item_whose_places_are_full(owner):
    project, (bob, dora, _) = _team(owner, overlap=2)
    item = project.items.first()
    _label(bob, item.pk, "positive")
    _label(dora, item.pk, "negative")

    response = api_client(owner).post(
        f"/api/v1/items/{item.pk}/adjudicate", {"label": "negative"}, format="json"
    )

    assert response.status_code == 201
    item.refresh_from_db()
    assert (item.label.name, item.label_origin, item.conflict) == ("negative", "adjudication", False)


@pytest.mark.django_db(transaction=True)
def test_two_annotators_posting_on_the_last_place_at_once_get_one_201_and_one_409():
    project, (bob, dora, _) = _team(make_user("alice", staff=True))
    item = project.items.first()
    check = check_room

    def slow_check(*args: object) -> None:
        # Widen the race: without the item's row lock both requests would pass the check
        # during this pause, before either inserts.
        check(*args)
        time.sleep(0.5)

    barrier = threading.Barrier(2)
    statuses: dict[str, int] = {}

    def post(user) -> None:
        close_old_connections()
        try:
            barrier.wait()
            statuses[user.username] = _label(user, item.pk).status_code
        finally:
            connection.close()

    with mock.patch("labeling.services.check_room", slow_check):
        threads = [threading.Thread(target=post, args=(user,)) for user in (bob, dora)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

    assert sorted(statuses.values()) == [201, 409]
    assert Annotation.objects.filter(item=item).count() == 1


@pytest.fixture
def capped(settings):
    settings.SIFT_MAX_LEASES = 3


def test_next_with_exclude_stops_at_the_lease_cap_with_a_409(owner, capped):
    project, (bob, dora, _) = _team(owner, n=10)
    held = [_next(bob, project, exclude=()).json()["item"]["id"]]
    for _ in range(2):
        held.append(_next(bob, project, exclude=tuple(held)).json()["item"]["id"])

    refused = _next(bob, project, exclude=tuple(held))

    assert refused.status_code == 409
    assert refused.json() == {
        "error": "You hold 3 items already, the most one annotator may hold at once: label or skip one "
        "of them (or ask again without excluding them) before taking another.",
        "held": held,
    }
    assert Lease.objects.filter(user=bob).count() == 3
    assert _next(dora, project).status_code == 200  # the team is not starved


def test_at_the_cap_next_without_exclude_serves_a_held_item_again(owner, capped):
    project, (bob, _, _) = _team(owner, n=10)
    held = []
    for _ in range(3):
        held.append(_next(bob, project, exclude=tuple(held)).json()["item"]["id"])

    again = _next(bob, project)

    assert again.status_code == 200
    assert again.json()["item"]["id"] == held[0]


def test_labeling_or_skipping_a_held_item_frees_a_place_under_the_cap(owner, capped):
    project, (bob, _, _) = _team(owner, n=10)
    held = []
    for _ in range(3):
        held.append(_next(bob, project, exclude=tuple(held)).json()["item"]["id"])
    assert _label(bob, held[0]).status_code == 201
    api_client(bob).post(f"/api/v1/items/{held[1]}/skip", {}, format="json")

    assert _next(bob, project, exclude=tuple(held)).status_code == 200
    assert (
        _next(bob, project, exclude=(*held, *Lease.objects.values_list("item_id", flat=True))).status_code
        == 200
    )
    assert (
        _next(bob, project, exclude=tuple(Lease.objects.values_list("item_id", flat=True))).status_code == 409
    )


def test_expired_leases_do_not_count_toward_the_cap(owner, capped):
    project, (bob, _, _) = _team(owner, n=10)
    held = []
    for _ in range(3):
        held.append(_next(bob, project, exclude=tuple(held)).json()["item"]["id"])
    Lease.objects.filter(user=bob).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert _next(bob, project, exclude=tuple(held)).status_code == 200


def test_the_cap_is_per_project(owner, capped):
    project, (bob, _, _) = _team(owner, n=10)
    other = make_project(owner, name="Other", test_fraction=0.0, test_target=0)
    import_rows(other, make_review_rows(3))
    add_member(other, bob)
    held = []
    for _ in range(3):
        held.append(_next(bob, project, exclude=tuple(held)).json()["item"]["id"])

    assert _next(bob, other).status_code == 200


def test_a_lease_cap_below_one_is_refused_at_start():
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "SECRET_KEY": "test-only", "SIFT_MAX_LEASES": "0"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "SIFT_MAX_LEASES must be 1 or more." in result.stderr
