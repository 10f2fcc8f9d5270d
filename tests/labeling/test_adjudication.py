"""Conflicts go to admins, who decide; flagged items wait for an admin; skipped items return."""

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling import adjudication, services
from labeling.exports import iter_dataset_rows
from labeling.models import Annotation, Origin, Skip
from labeling.queue import serve_next_item
from tests.factories import add_member, api_client, import_rows, make_project, make_review_rows, make_user


@pytest.fixture
def team(owner, annotator):
    """A pool-only project with overlap 2, two annotators, and six items."""
    project = make_project(owner, name="Team", overlap=2, test_fraction=0.0, test_target=0)
    add_member(project, annotator)
    dora = make_user("dora")
    add_member(project, dora)
    import_rows(project, make_review_rows(6))
    return project, annotator, dora


def _labels(project):
    return {label.name: label for label in project.labels.all()}


def test_disagreeing_annotators_put_the_item_in_the_conflicts_queue(team):
    project, bob, dora = team
    item = project.items.order_by("pk").first()
    labels = _labels(project)
    services.save_annotation(item, bob, labels["positive"])
    item.refresh_from_db()
    assert not item.conflict
    services.save_annotation(item, dora, labels["negative"])
    item.refresh_from_db()

    assert item.conflict
    conflicts = adjudication.list_conflicts(project)
    assert [c.item for c in conflicts] == [item]
    assert {(v.username, v.label) for v in conflicts[0].votes} == {("bob", "positive"), ("dora", "negative")}


def test_agreeing_annotators_make_no_conflict_and_a_withdrawn_vote_ends_one(team):
    project, bob, dora = team
    first, second = project.items.order_by("pk")[:2]
    labels = _labels(project)
    services.save_annotation(first, bob, labels["positive"])
    services.save_annotation(first, dora, labels["positive"])
    services.save_annotation(second, bob, labels["positive"])
    services.save_annotation(second, dora, labels["negative"])
    assert adjudication.count_conflicts(project) == 1
    services.save_annotation(second, dora, None)  # dora takes her label back
    assert adjudication.count_conflicts(project) == 0


def test_an_admin_decision_resolves_the_conflict_and_wins_in_dataset_versions(team, owner):
    project, bob, dora = team
    item = project.items.order_by("pk").first()
    labels = _labels(project)
    services.save_annotation(item, bob, labels["positive"])
    services.save_annotation(item, dora, labels["negative"])

    response = api_client(owner).post(
        f"/api/v1/items/{item.pk}/adjudicate", {"label": "negative"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["label"] == "negative"
    assert response.json()["conflict"] is False
    item.refresh_from_db()
    assert (item.label.name, item.label_origin, item.conflict) == ("negative", Origin.ADJUDICATION, False)
    assert Annotation.objects.filter(item=item, origin=Origin.ADJUDICATION, user=owner).count() == 1
    # Nothing was overwritten: both annotators' labels are still there.
    assert Annotation.objects.filter(item=item, origin=Origin.HUMAN).count() == 2
    version = services.create_dataset_version(project, owner)
    row = next(r for r in iter_dataset_rows(project, version.max_annotation_id) if r.item_pk == item.pk)
    assert row.label == "negative"
    assert adjudication.list_conflicts(project) == []


def test_the_conflicts_api_lists_items_with_their_votes(team, owner):
    project, bob, dora = team
    item = project.items.order_by("pk").first()
    labels = _labels(project)
    services.save_annotation(item, bob, labels["positive"])
    services.save_annotation(item, dora, labels["negative"])
    body = api_client(owner).get(f"/api/v1/projects/{project.pk}/conflicts").json()
    assert body["count"] == 1
    assert body["items"][0]["item"]["id"] == item.pk
    assert sorted(v["annotator"] for v in body["items"][0]["votes"]) == ["bob", "dora"]


@pytest.mark.parametrize(
    ("body", "message"), [({"label": "maybe"}, "not one of"), ({"label": None}, "Choose")]
)
def test_adjudication_refuses_a_bad_label_and_writes_nothing(team, owner, body, message):
    project, *_ = team
    item = project.items.order_by("pk").first()
    before = Annotation.objects.count()
    response = api_client(owner).post(f"/api/v1/items/{item.pk}/adjudicate", body, format="json")
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert Annotation.objects.count() == before


def test_a_flagged_item_is_served_to_nobody_until_an_admin_resolves_it(owner, annotator):
    project = make_project(owner, name="Flags", test_fraction=0.0, test_target=0)
    add_member(project, annotator)
    other = make_user("dora")
    add_member(project, other)
    import_rows(project, [{"id": "odd", "text": "¿que?"}])
    item = project.items.get()

    served = serve_next_item(project, annotator)
    api_client(annotator).post(
        f"/api/v1/items/{served.item.pk}/skip", {"flag": True, "comment": "not English"}, format="json"
    )
    assert serve_next_item(project, other) is None
    flagged = adjudication.list_open_flags(project)
    assert [(r.item, [f.comment for f in r.flags]) for r in flagged] == [(item, ["not English"])]

    response = api_client(owner).post(
        f"/api/v1/items/{item.pk}/flags/resolve", {"label": None}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {"item": item.pk, "closed": 1, "label": None}
    assert serve_next_item(project, other).item == item  # back in the queue
    flag = Skip.objects.get(item=item)
    assert flag.resolved_by == owner
    assert flag.resolved_at is not None


def test_resolving_a_flag_with_a_label_adjudicates_the_item(owner, annotator, items, project):
    item = items[0]
    services.skip_item(item, annotator, flag=True, comment="two reviews in one")
    response = api_client(owner).post(
        f"/api/v1/items/{item.pk}/flags/resolve", {"label": "positive"}, format="json"
    )
    assert response.status_code == 200
    item.refresh_from_db()
    assert (item.label.name, item.label_origin) == ("positive", Origin.ADJUDICATION)
    assert adjudication.count_open_flags(project) == 0


def test_resolving_an_item_without_open_flags_is_refused_and_writes_nothing(owner, items):
    item = items[0]
    before = Annotation.objects.count()
    response = api_client(owner).post(
        f"/api/v1/items/{item.pk}/flags/resolve", {"label": "positive"}, format="json"
    )
    assert response.status_code == 400
    assert "no open flag" in response.json()["error"]
    assert Annotation.objects.count() == before


def test_adjudicating_a_flagged_item_closes_its_flags(owner, annotator, items, project):
    services.skip_item(items[0], annotator, flag=True, comment="?")
    adjudication.adjudicate_item(items[0], owner, project.labels.first())
    assert adjudication.count_open_flags(project) == 0


def test_a_skipped_item_goes_to_someone_else_now_and_returns_to_the_skipper_later(owner, annotator):
    project = make_project(owner, name="Skips", test_fraction=0.0, test_target=0)
    add_member(project, annotator)
    other = make_user("dora")
    add_member(project, other)
    import_rows(project, [{"id": "hard", "text": "a hard one"}])
    item = project.items.get()
    services.skip_item(serve_next_item(project, annotator).item, annotator)

    assert serve_next_item(project, annotator) is None  # not straight back to the skipper
    assert serve_next_item(project, other).item == item  # but to another annotator
    services.skip_item(item, other)
    Skip.objects.update(created_at=timezone.now() - timedelta(hours=1))
    assert serve_next_item(project, annotator).item == item  # and later back to the first


def test_the_conflicts_and_flags_pages_decide_items(client, team, owner):
    project, bob, dora = team
    first, second = project.items.order_by("pk")[:2]
    labels = _labels(project)
    services.save_annotation(first, bob, labels["positive"])
    services.save_annotation(first, dora, labels["negative"])
    services.skip_item(second, bob, flag=True, comment="spam?")
    client.force_login(owner)

    page = client.get(f"/projects/{project.slug}/adjudicate")
    assert page.status_code == 200
    assert first.text in page.content.decode()
    response = client.post(f"/projects/{project.slug}/adjudicate", {"item": first.pk, "label": "positive"})
    assert response.status_code == 302
    first.refresh_from_db()
    assert (first.label.name, first.conflict) == ("positive", False)

    page = client.get(f"/projects/{project.slug}/flags")
    assert "spam?" in page.content.decode()
    response = client.post(f"/projects/{project.slug}/flags", {"item": second.pk, "label": ""})
    assert response.status_code == 302
    assert adjudication.count_open_flags(project) == 0


@pytest.mark.parametrize(
    "data", [{"item": "abc", "label": "positive"}, {"item": "1", "label": "maybe"}, {"label": "positive"}]
)
def test_the_conflicts_page_refuses_bad_input_with_400_and_writes_nothing(client, team, owner, data):
    project, *_ = team
    client.force_login(owner)
    before = Annotation.objects.count()
    response = client.post(f"/projects/{project.slug}/adjudicate", data)
    assert response.status_code == 400
    assert Annotation.objects.count() == before


def test_flags_and_conflicts_are_listed_in_the_django_admin(client, owner, annotator, project, items):
    services.skip_item(items[0], annotator, flag=True, comment="needs a look")
    client.force_login(owner)
    flags = client.get("/admin/labeling/skip/?resolved_at__isempty=1")
    assert flags.status_code == 200
    assert "needs a look" in flags.content.decode()
    assert client.get("/admin/labeling/item/?conflict__exact=1").status_code == 200
