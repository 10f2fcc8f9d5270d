"""The counters the hot paths read stay equal to a recount after every write path.

Each test writes through what users touch (the HTTP API, the import, the commands), then
recounts from the rows (`manage.py check_counters`) and compares with what the stats,
the progress and the queue's test-set check report.
"""

import io
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from labeling import counters, queue, services
from labeling.models import Item, LabelTally, Split
from learners import services as learner_services
from learners.models import Job
from tests.factories import (
    add_member,
    api_client,
    csv_bytes,
    import_rows,
    make_project,
    make_review_rows,
    make_user,
)


def _check(project) -> dict:
    """Recount through the command (it fails when any counter is off) and return the API's stats."""
    out = io.StringIO()
    call_command("check_counters", project.slug, stdout=out)
    assert f"{project.slug}: counters match the rows." in out.getvalue()
    return api_client(project.created_by).get(f"/api/v1/projects/{project.pk}/stats").json()


def _recounted_stats(project) -> dict:
    items = Item.objects.filter(project=project)
    return {
        "items": items.count(),
        "pool": items.filter(split=Split.POOL).count(),
        "test": items.filter(split=Split.TEST).count(),
        "labeled_pool": items.filter(split=Split.POOL, label__isnull=False).count(),
        "labeled_test": items.filter(split=Split.TEST, label__isnull=False).count(),
    }


def _annotate(client, item, label, **extra):
    body = {"label": label, "client_id": str(uuid.uuid4()), **extra}
    return client.post(f"/api/v1/items/{item.pk}/annotations", body, format="json")


@pytest.fixture
def team(owner, annotator):
    project = make_project(owner, name="Counted", overlap=2, test_fraction=0.3)
    add_member(project, annotator)
    dora = make_user("dora")
    add_member(project, dora)
    return project, annotator, dora


def test_a_new_project_has_zero_rows_for_each_split_and_label(project):
    rows = LabelTally.objects.filter(project=project)
    assert rows.count() == 2 * (1 + project.labels.count())
    assert not rows.exclude(items=0, annotations=0).exists()
    assert _check(project)["items"] == 0


def test_import_through_the_api_counts_items_and_imported_labels(project, owner):
    data = csv_bytes(make_review_rows(30, labeled=12), ["id", "text", "label"])
    response = api_client(owner).post(
        f"/api/v1/projects/{project.pk}/imports",
        {"file": SimpleUploadedFile("a.csv", data)},
        format="multipart",
    )
    assert response.status_code == 201
    stats = _check(project)
    assert {k: stats[k] for k in _recounted_stats(project)} == _recounted_stats(project)
    assert stats["items"] == 30
    assert stats["labeled_pool"] + stats["labeled_test"] == 12
    assert stats["annotations"] == 12
    assert sum(n["pool"] + n["test"] for n in stats["per_label"].values()) == 12
    assert counters.labels_given(project) == 12


def test_a_rejected_import_leaves_the_counters_as_they_were(project, owner):
    import_rows(project, make_review_rows(5, labeled=2))
    before = counters.stored(project)
    bad = csv_bytes([{"id": "new", "text": "fine", "label": "positive"}, {"id": "r1", "text": "taken id"}])
    response = api_client(owner).post(
        f"/api/v1/projects/{project.pk}/imports",
        {"file": SimpleUploadedFile("b.csv", bad)},
        format="multipart",
    )
    assert response.status_code == 400
    assert counters.stored(project) == before
    _check(project)


def test_annotate_relabel_undo_and_a_second_opinion_keep_the_counters(team):
    project, bob, dora = team
    import_rows(project, make_review_rows(20))
    bob_client, dora_client = api_client(bob), api_client(dora)
    first, second = project.items.order_by("pk")[:2]
    assert _annotate(bob_client, first, "positive").status_code == 201
    _check(project)
    assert _annotate(bob_client, first, "negative").status_code == 201  # relabel
    _check(project)
    assert _annotate(dora_client, first, "positive").status_code == 201  # a tie: the latest wins
    _check(project)
    assert _annotate(dora_client, first, None).status_code == 201  # undo
    stats = _check(project)
    first.refresh_from_db()
    assert first.label.name == "negative"
    assert _annotate(bob_client, second, "positive").status_code == 201
    assert _annotate(bob_client, second, None).status_code == 201  # the item is unlabeled again
    stats = _check(project)
    assert {k: stats[k] for k in _recounted_stats(project)} == _recounted_stats(project)
    assert stats["annotations"] == 6  # the undos are annotations too
    assert counters.labels_given(project) == 4  # but not labels


def test_a_retried_submit_is_counted_once(project, annotator, items):
    client = api_client(annotator)
    body = {"label": "positive", "client_id": str(uuid.uuid4())}
    for _ in range(2):
        client.post(f"/api/v1/items/{items[0].pk}/annotations", body, format="json")
    assert _check(project)["annotations"] == 1


def test_a_refused_label_changes_no_counter(team):
    project, bob, dora = team
    project.overlap = 1
    project.save(update_fields=["overlap"])
    import_rows(project, make_review_rows(4))
    item = project.items.order_by("pk").first()
    assert _annotate(api_client(bob), item, "positive").status_code == 201
    before = counters.stored(project)
    assert _annotate(api_client(dora), item, "negative").status_code == 409  # no room left
    assert counters.stored(project) == before
    _check(project)


def test_adjudication_and_resolving_a_flag_keep_the_counters(team, owner):
    project, bob, dora = team
    import_rows(project, make_review_rows(6))
    first, second = project.items.order_by("pk")[:2]
    _annotate(api_client(bob), first, "positive")
    _annotate(api_client(dora), first, "negative")
    admin = api_client(owner)
    response = admin.post(f"/api/v1/items/{first.pk}/adjudicate", {"label": "negative"}, format="json")
    assert response.status_code == 201
    _check(project)
    api_client(bob).post(f"/api/v1/items/{second.pk}/skip", {"flag": True}, format="json")
    response = admin.post(f"/api/v1/items/{second.pk}/flags/resolve", {"label": "positive"}, format="json")
    assert response.status_code == 200
    stats = _check(project)
    assert {k: stats[k] for k in _recounted_stats(project)} == _recounted_stats(project)


def test_progress_and_the_test_set_check_read_the_counters(project, owner, annotator):
    project.test_fraction, project.test_target = 0.5, 3
    project.save(update_fields=["test_fraction", "test_target"])
    import_rows(project, make_review_rows(40))
    test_items = list(project.items.filter(split=Split.TEST).order_by("pk"))
    assert len(test_items) > 3
    client = api_client(owner)
    for item in test_items[:2]:
        _annotate(client, item, "positive")
    assert queue._needs_test_labels(project)
    _annotate(client, test_items[2], "negative")
    assert not queue._needs_test_labels(project)
    progress = client.get(f"/api/v1/projects/{project.pk}/progress").json()
    assert progress["test_labeled"] == 3
    assert progress["test_total"] == len(test_items)
    assert progress["pool_total"] == 40 - len(test_items)
    _check(project)


def test_labels_since_the_last_retrain_start_from_the_retrains_count(project, annotator):
    import_rows(project, make_review_rows(20, labeled=4))
    assert learner_services.count_labels_since_last_retrain(project) == 4
    client = api_client(annotator)
    unlabeled = list(project.items.filter(label__isnull=True).order_by("pk"))
    _annotate(client, unlabeled[0], "positive")
    watermark = services.get_label_watermark(project)
    Job.objects.create(
        project=project,
        kind=Job.Kind.RETRAIN,
        params={
            "watermark": watermark,
            "labels_at_watermark": learner_services.labels_up_to(project, watermark),
        },
    )
    assert learner_services.count_labels_since_last_retrain(project) == 0
    _annotate(client, unlabeled[1], "negative")
    _annotate(client, unlabeled[2], "negative")
    _annotate(client, unlabeled[2], None)  # an undo is not a label
    assert learner_services.count_labels_since_last_retrain(project) == 2


def test_the_command_reports_counters_that_are_off_and_fixes_them(project, items):
    label = project.labels.first()
    Item.objects.filter(pk=items[0].pk).update(label=label, label_count=1)  # bypasses the services
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 project"):
        call_command("check_counters", stdout=out)
    assert "recounted 1 / 0" in out.getvalue()
    call_command("check_counters", project.slug, "--fix", stdout=io.StringIO())
    _check(project)
    with pytest.raises(CommandError, match="no project 'nope'"):
        call_command("check_counters", "nope")


def test_a_bulk_label_and_its_revert_keep_the_counters(team):
    project, bob, _dora = team
    import_rows(project, make_review_rows(20, labeled=6))
    ids = list(project.items.order_by("pk").values_list("pk", flat=True))
    # Bob's vote on one item first: the admin's bulk vote makes it a tie the bulk vote wins.
    assert _annotate(api_client(bob), project.items.get(pk=ids[10]), "negative").status_code == 201
    owner_client = api_client(project.created_by)
    bulk = f"/api/v1/projects/{project.pk}/items/bulk"
    body = {"action": "label", "ids": ids, "label": "positive", "include_test": True}
    response = owner_client.post(bulk, body, format="json")
    assert response.status_code == 200
    stats = _check(project)
    assert stats["annotations"] == 1 + 6 + response.json()["changed"]
    assert {k: stats[k] for k in _recounted_stats(project)} == _recounted_stats(project)
    revert = owner_client.post(f"/api/v1/bulk-actions/{response.json()['bulk_action']}/revert")
    assert revert.status_code == 200
    assert revert.json()["withdrawn"] == response.json()["changed"]
    stats = _check(project)
    assert {k: stats[k] for k in _recounted_stats(project)} == _recounted_stats(project)
