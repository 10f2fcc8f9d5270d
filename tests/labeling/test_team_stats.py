"""Agreement, per-annotator statistics and trust in suggestions, computed from annotations."""

import pytest
from sklearn.metrics import cohen_kappa_score

from labeling import services, team_stats
from labeling.models import Annotation, Lease
from tests.factories import add_member, api_client, import_rows, make_project, make_review_rows, make_user

# Three annotators over eight items; None = did not label it.
VOTES = {
    "bob": ["p", "p", "n", "n", "p", "n", "p", "p"],
    "dora": ["p", "n", "n", "n", "p", "n", "n", "p"],
    "erin": ["p", "p", "n", None, "p", "p", None, None],
}
NAMES = {"p": "positive", "n": "negative"}


@pytest.fixture
def team(owner):
    project = make_project(owner, name="Team", overlap=3, test_fraction=0.0, test_target=0)
    import_rows(project, make_review_rows(8))
    items = list(project.items.order_by("pk"))
    labels = {label.name: label for label in project.labels.all()}
    users = {}
    for name, votes in VOTES.items():
        users[name] = make_user(name)
        add_member(project, users[name])
        for item, vote in zip(items, votes, strict=True):
            if vote is not None:
                services.save_annotation(item, users[name], labels[NAMES[vote]], duration_ms=4000)
    return project, users, items, labels


def test_pairwise_kappa_matches_scikit_learn(team):
    project, *_ = team
    report = team_stats.get_agreement_report(project)
    pair = next(p for p in report["pairs"] if p["annotators"] == ["bob", "dora"])
    assert pair["items"] == 8
    assert pair["agreement"] == pytest.approx(6 / 8)
    assert pair["cohen_kappa"] == pytest.approx(cohen_kappa_score(VOTES["bob"], VOTES["dora"]), abs=1e-4)
    erin = next(p for p in report["pairs"] if p["annotators"] == ["bob", "erin"])
    both = [i for i, v in enumerate(VOTES["erin"]) if v is not None]
    assert erin["items"] == len(both)
    expected = cohen_kappa_score([VOTES["bob"][i] for i in both], [VOTES["erin"][i] for i in both])
    assert erin["cohen_kappa"] == pytest.approx(expected, abs=1e-4)


def test_project_agreement_uses_every_item_with_two_or_more_labels(team):
    project, *_ = team
    report = team_stats.get_agreement_report(project)
    assert report["items_compared"] == 8
    assert report["annotators"] == 3
    assert -1 <= report["krippendorff_alpha"] <= 1
    assert report["fleiss_kappa"]["raters_per_item"] == 3
    assert report["fleiss_kappa"]["items"] == 5
    assert {row["label"] for row in report["labels"]} == {"positive", "negative"}
    assert report["open_conflicts"] == 3  # items 2, 6 and 7 have disagreeing labels


def test_a_withdrawn_or_corrected_label_counts_as_the_latest_vote(team):
    project, users, items, labels = team
    services.save_annotation(items[1], users["dora"], labels["positive"])  # dora corrects item 2
    services.save_annotation(items[6], users["dora"], None)  # and withdraws item 7
    pair = next(
        p for p in team_stats.get_agreement_report(project)["pairs"] if p["annotators"] == ["bob", "dora"]
    )
    assert (pair["items"], pair["agreement"]) == (7, pytest.approx(7 / 7))
    dora = next(row for row in team_stats.get_annotator_stats(project) if row["username"] == "dora")
    assert (dora["items"], dora["today"]) == (7, 7)  # a correction is not a second item


def test_an_annotator_sees_only_their_own_pairs(team):
    project, users, *_ = team
    body = api_client(users["erin"]).get(f"/api/v1/projects/{project.pk}/agreement").json()
    assert all("erin" in p["annotators"] for p in body["pairs"])
    assert len(body["pairs"]) == 2
    assert "krippendorff_alpha" in body


def test_annotator_stats_measure_speed_and_agreement(team, owner):
    project, _, items, labels = team
    services.save_annotation(items[1], owner, labels["negative"], origin="adjudication")
    body = api_client(owner).get(f"/api/v1/projects/{project.pk}/annotator-stats").json()
    rows = {row["username"]: row for row in body["annotators"]}

    assert set(rows) == {"bob", "dora", "erin"}  # the adjudicating admin is no annotator
    bob = rows["bob"]
    assert (bob["items"], bob["today"]) == (8, 8)
    assert bob["median_seconds"] == 4.0
    assert bob["items_per_hour"] == 900.0
    # bob vs dora on 8 items (6 agree) and vs erin on 5 items (4 agree): 10 of 13 pairs.
    assert bob["agreement_with_others"] == {"n": 13, "share": pytest.approx(10 / 13, abs=1e-4)}
    assert rows["bob"]["agreement_with_adjudication"] == {"n": 1, "share": 0.0}
    assert rows["dora"]["agreement_with_adjudication"] == {"n": 1, "share": 1.0}


def test_a_long_pause_counts_as_five_minutes(owner, annotator, project, items):
    label = project.labels.first()
    services.save_annotation(items[0], annotator, label, duration_ms=60 * 60 * 1000)
    services.save_annotation(items[1], annotator, label, duration_ms=60 * 1000)
    row = team_stats.get_annotator_stats(project)[0]
    assert row["median_seconds"] == 180.0  # median of 300 s (capped) and 60 s
    assert row["items_per_hour"] == 20.0


def _label_with_suggestion(item, user, suggested, label):
    """Label `item` as if it had been served with `suggested` on screen."""
    Lease.objects.create(
        item=item, user=user, expires_at=item.created_at, suggested_label=suggested, suggestion_confidence=0.9
    )
    return services.save_annotation(item, user, label)[0]


def test_suggestion_acceptance_and_overruled_acceptances(owner):
    project = make_project(owner, name="Trust", overlap=2, test_fraction=0.0, test_target=0)
    import_rows(project, make_review_rows(5))
    items = list(project.items.order_by("pk"))
    pos, neg = project.labels.order_by("position")
    bob, dora = make_user("bob"), make_user("dora")

    _label_with_suggestion(items[0], bob, pos, pos)  # accepted, upheld
    _label_with_suggestion(items[1], bob, pos, pos)  # accepted, then overruled by adjudication
    services.save_annotation(items[1], owner, neg, origin="adjudication")
    _label_with_suggestion(items[2], bob, pos, neg)  # rejected
    _label_with_suggestion(items[3], bob, pos, pos)  # accepted, then bob corrects himself
    services.save_annotation(items[3], bob, neg)
    _label_with_suggestion(items[4], bob, pos, pos)  # accepted, then outvoted (a tie goes to the latest)
    services.save_annotation(items[4], dora, neg)

    stats = api_client(owner).get(f"/api/v1/projects/{project.pk}/annotator-stats").json()["suggestions"]
    assert stats == {"shown": 5, "accepted": 4, "acceptance_rate": 0.8, "overruled": 2, "overruled_rate": 0.5}
    assert Annotation.objects.filter(suggested_label__isnull=False).count() == 5


def test_the_agreement_page_shows_the_figures(client, team, owner):
    project, *_ = team
    client.force_login(owner)
    html = client.get(f"/projects/{project.slug}/agreement").content.decode()
    assert "Krippendorff" in html
    assert "bob" in html
    assert "dora" in html


def test_the_agreement_page_explains_how_to_start_without_overlap(client, owner, project):
    client.force_login(owner)
    html = client.get(f"/projects/{project.slug}/agreement").content.decode()
    assert "No item has two annotators yet" in html
    assert "raise <b>overlap</b>" in html


def test_the_annotators_page_lists_everyone(client, team, owner):
    project, *_ = team
    client.force_login(owner)
    html = client.get(f"/projects/{project.slug}/annotators").content.decode()
    assert all(name in html for name in VOTES)
