"""POST /api/v1/items/{id}/annotations: what is written, what is refused, and the label it resolves to."""

import threading
import uuid

import pytest
from django.db import close_old_connections, connection

from labeling import services
from labeling.models import Annotation, Lease, Origin
from labeling.queue import serve_next_item
from tests.factories import add_member, api_client, import_rows, make_project, make_user


def _post(user, item, body: dict):
    return api_client(user).post(f"/api/v1/items/{item.pk}/annotations", body, format="json")


@pytest.fixture
def item(items):
    return items[0]


@pytest.fixture
def carol(project):
    # Tests with several annotators on one item need the places for them.
    project.overlap = 3
    project.save(update_fields=["overlap"])
    user = make_user("carol")
    add_member(project, user)
    return user


@pytest.fixture
def dave(project):
    user = make_user("dave")
    add_member(project, user)
    return user


def test_a_label_is_saved_with_who_how_long_and_the_resolved_item_label(item, annotator):
    response = _post(annotator, item, {"label": "positive", "duration_ms": 1234})

    assert response.status_code == 201
    body = response.json()
    annotation = Annotation.objects.get()
    assert body["id"] == annotation.pk
    assert body["item"] == item.pk
    assert body["label"] == "positive"
    assert (annotation.user, annotation.label.name, annotation.origin) == (
        annotator,
        "positive",
        Origin.HUMAN,
    )
    assert annotation.duration_ms == 1234
    item.refresh_from_db()
    assert item.label.name == "positive"
    assert item.label_origin == Origin.HUMAN
    assert item.label_count == 1


def test_a_label_releases_the_lease_and_records_what_was_suggested(project, items, annotator):
    served = serve_next_item(project, annotator)
    assert Lease.objects.filter(item=served.item, user=annotator).exists()

    assert _post(annotator, served.item, {"label": "negative"}).status_code == 201
    assert not Lease.objects.exists()
    annotation = Annotation.objects.get()
    assert annotation.model_ref == served.model_ref
    assert annotation.suggested_label == served.suggested_label


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"label": "maybe"}, "label: 'maybe' is not one of this project's labels (positive, negative)."),
        (
            {"label": "Positive"},
            "label: 'Positive' is not one of this project's labels (positive, negative).",
        ),
        ({"label": ""}, "label: This field may not be blank."),
        ({}, "label: This field is required."),
        ({"label": "positive", "duration_ms": -1}, "duration_ms: Ensure this value is greater than or equal"),
        (
            {"label": "positive", "duration_ms": 24 * 3600 * 1000 + 1},
            "duration_ms: Ensure this value is less than or equal to 86400000.",
        ),
        ({"label": "positive", "duration_ms": "soon"}, "duration_ms: A valid integer is required."),
        ({"label": "positive", "client_id": "not-a-uuid"}, "client_id: Must be a valid UUID."),
    ],
)
def test_bad_input_is_refused_with_a_clear_error_and_nothing_written(item, annotator, body, message):
    response = _post(annotator, item, body)

    assert response.status_code == 400
    assert response.json()["error"].startswith(message)
    assert not Annotation.objects.exists()
    item.refresh_from_db()
    assert item.label is None
    assert item.label_count == 0


def test_a_label_of_another_project_is_refused(owner, item, annotator):
    make_project(owner, name="Other", labels=("spam", "ham"))
    response = _post(annotator, item, {"label": "spam"})

    assert response.status_code == 400
    assert "'spam' is not one of this project's labels (positive, negative)" in response.json()["error"]
    assert not Annotation.objects.exists()


@pytest.mark.parametrize("duration_ms", [0, 24 * 3600 * 1000])
def test_duration_bounds_are_inclusive(item, annotator, duration_ms):
    assert _post(annotator, item, {"label": "positive", "duration_ms": duration_ms}).status_code == 201
    assert Annotation.objects.get().duration_ms == duration_ms


def test_a_null_label_withdraws_the_users_vote_and_keeps_the_record(item, annotator):
    _post(annotator, item, {"label": "positive"})
    response = _post(annotator, item, {"label": None})

    assert response.status_code == 201
    assert response.json()["label"] is None
    item.refresh_from_db()
    assert item.label is None
    assert item.label_count == 0
    assert list(Annotation.objects.order_by("pk").values_list("label__name", flat=True)) == ["positive", None]


def test_a_null_label_withdraws_only_the_callers_vote(item, annotator, carol):
    _post(annotator, item, {"label": "positive"})
    _post(carol, item, {"label": "negative"})
    _post(carol, item, {"label": None})

    item.refresh_from_db()
    assert item.label.name == "positive"
    assert item.label_count == 1


def test_a_repeated_client_id_creates_one_annotation(item, annotator):
    client_id = str(uuid.uuid4())
    first = _post(annotator, item, {"label": "positive", "client_id": client_id})
    again = _post(annotator, item, {"label": "negative", "client_id": client_id})

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["label"] == "positive"
    assert Annotation.objects.count() == 1
    item.refresh_from_db()
    assert item.label.name == "positive"


def test_the_same_client_id_from_two_users_makes_two_annotations(item, annotator, carol):
    client_id = str(uuid.uuid4())
    assert _post(annotator, item, {"label": "positive", "client_id": client_id}).status_code == 201
    assert _post(carol, item, {"label": "positive", "client_id": client_id}).status_code == 201
    assert Annotation.objects.count() == 2


def test_a_client_id_reused_for_another_item_is_refused(items, annotator):
    client_id = str(uuid.uuid4())
    _post(annotator, items[0], {"label": "positive", "client_id": client_id})
    response = _post(annotator, items[1], {"label": "negative", "client_id": client_id})

    assert response.status_code == 409
    assert response.json()["error"] == (
        f"client_id {client_id} was already used for a label of item {items[0].pk}."
    )
    assert Annotation.objects.count() == 1
    items[1].refresh_from_db()
    assert items[1].label is None


@pytest.mark.django_db(transaction=True)
def test_a_double_submit_at_the_same_moment_creates_one_annotation():
    owner = make_user("alice", staff=True)
    project = make_project(owner)
    import_rows(project, [{"id": "a", "text": "great"}])
    item = project.items.get()
    user = make_user("bob")
    add_member(project, user)
    label = project.labels.get(name="positive")
    client_id = uuid.uuid4()
    created: list[bool] = []
    errors: list[Exception] = []
    barrier = threading.Barrier(4)

    def submit():
        close_old_connections()
        try:
            barrier.wait()
            created.append(services.save_annotation(item, user, label, client_id=client_id)[1])
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(created) == [False, False, False, True]
    assert Annotation.objects.count() == 1


def test_several_annotators_resolve_by_majority_with_the_count_of_live_votes(item, annotator, carol, dave):
    _post(annotator, item, {"label": "positive"})
    _post(carol, item, {"label": "negative"})
    _post(dave, item, {"label": "positive"})
    item.refresh_from_db()
    assert (item.label.name, item.label_count) == ("positive", 3)

    _post(dave, item, {"label": "negative"})  # dave changes his mind
    item.refresh_from_db()
    assert (item.label.name, item.label_count) == ("negative", 3)

    _post(carol, item, {"label": None})  # carol withdraws: one each, the newest vote wins
    item.refresh_from_db()
    assert (item.label.name, item.label_count) == ("negative", 2)

    _post(annotator, item, {"label": "positive"})  # bob repeats his vote: now it is the newest
    item.refresh_from_db()
    assert (item.label.name, item.label_count) == ("positive", 2)
    assert Annotation.objects.filter(item=item).count() == 6


def test_a_human_label_and_an_imported_label_count_as_two_voters(project, annotator):
    import_rows(project, [{"id": "x", "text": "fine", "label": "positive"}])
    item = project.items.get()
    _post(annotator, item, {"label": "negative"})

    item.refresh_from_db()
    assert (item.label.name, item.label_origin, item.label_count) == ("negative", Origin.HUMAN, 2)


def test_stats_follow_the_resolved_labels(project, items, annotator):
    _post(annotator, items[0], {"label": "positive"})
    _post(annotator, items[1], {"label": "positive"})
    _post(annotator, items[1], {"label": None})

    stats = api_client(annotator).get(f"/api/v1/projects/{project.pk}/stats").json()
    assert stats["labeled_pool"] + stats["labeled_test"] == 1
    assert stats["annotations"] == 3
    split = items[0].split
    assert stats["per_label"] == {
        "positive": {"pool": int(split == "pool"), "test": int(split == "test")},
        "negative": {"pool": 0, "test": 0},
    }


def test_taking_back_a_label_you_do_not_hold_is_refused_and_writes_nothing(project, items, annotator):
    from labeling.models import Annotation
    from tests.factories import api_client

    item = items[0]
    response = api_client(annotator).post(
        f"/api/v1/items/{item.pk}/annotations", {"label": None}, format="json"
    )
    assert response.status_code == 400
    assert "no label on item" in response.json()["error"]
    assert not Annotation.objects.filter(item=item).exists()
