"""Overlap: each item goes to `overlap` different annotators, started items are finished first."""

from labeling import services
from labeling.models import Lease
from labeling.queue import OVERLAP_REASON, serve_next_item
from tests.factories import add_member, import_rows, make_project, make_review_rows, make_user


def _team(owner, overlap=2, n=10):
    project = make_project(owner, name="Overlap", overlap=overlap, test_fraction=0.0, test_target=0)
    import_rows(project, make_review_rows(n))
    users = [make_user(name) for name in ("bob", "dora", "erin")]
    for user in users:
        add_member(project, user)
    return project, users


def test_a_started_item_goes_to_the_next_annotator_as_a_second_opinion(owner):
    project, (bob, dora, _) = _team(owner)
    first = serve_next_item(project, bob).item
    services.save_annotation(first, bob, project.labels.first())

    served = serve_next_item(project, dora)

    assert served.item == first
    assert served.strategy == "overlap"
    assert served.reason == OVERLAP_REASON.format(n=2)
    assert served.suggested_label is None  # a second opinion stays independent


def test_no_item_gets_more_than_overlap_annotators_nor_one_twice(owner):
    project, users = _team(owner, overlap=2, n=6)
    label = project.labels.first()
    labeled_by: dict[int, list[str]] = {}
    for _ in range(20):
        for user in users:
            served = serve_next_item(project, user)
            if served is not None:
                services.save_annotation(served.item, user, label)
                labeled_by.setdefault(served.item.pk, []).append(user.username)
    assert len(labeled_by) == 6
    assert all(len(names) == 2 and len(set(names)) == 2 for names in labeled_by.values())


def test_a_live_lease_counts_toward_the_overlap(owner):
    project, (bob, dora, erin) = _team(owner, overlap=2, n=1)
    item = project.items.get()
    services.save_annotation(serve_next_item(project, bob).item, bob, project.labels.first())
    assert serve_next_item(project, dora).item == item  # dora holds the second place
    assert serve_next_item(project, erin) is None
    Lease.objects.filter(user=dora).delete()  # as if her lease had expired
    assert serve_next_item(project, erin).item == item
