"""The item page and GET /api/v1/items/{id} and /similar: what each role sees and may do."""

import numpy as np
import pytest
from django.urls import reverse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

from labeling import services
from labeling.models import Annotation, Item, Origin
from tests.factories import api_client, csv_bytes

ADMIN_ONLY = {"split", "label", "label_origin", "conflict", "predicted_label", "confidence", "priority"}
ADMIN_ONLY |= {"reason", "open_flags", "skips", "annotations", "disputed", "predictions", "queue"}


def _url(item, tail: str = "") -> str:
    return f"/api/v1/items/{item.pk}{tail}"


@pytest.mark.parametrize(
    ("role", "item", "status", "sees_admin_fields"),
    [
        ("owner", "r0", 200, True),
        ("owner", "r5", 200, True),
        ("annotator", "r0", 200, False),  # bob labeled it
        ("annotator", "r5", 404, None),  # bob never labeled it
        ("dora", "r0", 200, False),
        ("dora", "r1", 404, None),
        ("outsider", "r0", 404, None),
    ],
)
def test_who_sees_what_of_an_item(
    project, owner, annotator, outsider, model_view, role, item, status, sees_admin_fields
):
    user = {"owner": owner, "annotator": annotator, "outsider": outsider, "dora": model_view["dora"]}[role]
    target = model_view["items"][item]
    response = api_client(user).get(_url(target))
    assert response.status_code == status
    similar = api_client(user).get(_url(target, "/similar"))
    assert similar.status_code == status
    if status != 200:
        return
    body = response.json()
    assert body["text"] == target.text
    assert (set(body) >= ADMIN_ONLY) is sees_admin_fields
    if not sees_admin_fields:
        assert ADMIN_ONLY.isdisjoint(body)
        assert {entry["user"] for entry in body["history"]} == {user.username}
        assert all("predicted_label" not in entry for entry in body["history"])
        assert all(ADMIN_ONLY.isdisjoint(row) for row in similar.json()["neighbours"])


def test_anonymous_callers_are_turned_away(client, project, model_view):
    item = model_view["items"]["r0"]
    assert api_client().get(_url(item)).status_code in (401, 403)
    page = client.get(reverse("labeling:item-detail", args=[project.slug, item.pk]))
    assert page.status_code == 302


def test_admin_sees_history_predictions_and_queue_place(project, owner, model_view):
    r0 = api_client(owner).get(_url(model_view["items"]["r0"])).json()
    assert [(h["user"], h["label"], h["origin"]) for h in r0["history"]] == [
        ("bob", "positive", "human"),
        ("dora", "negative", "human"),
    ]
    assert r0["label"] == "negative"
    assert r0["disputed"] is True
    assert r0["predictions"] == [
        {
            "ranking": project.active_ranking_id,
            "model_ref": "m1",
            "active": True,
            "source": "labeled",
            "label": "positive",
            "confidence": 0.9,
        }
    ]
    assert r0["queue"] is None
    r7 = api_client(owner).get(_url(model_view["items"]["r7"])).json()
    # Queued at priorities r5 0.9, r7 0.7, r6 0.5: r7 is second.
    assert r7["queue"] == {
        "position": 2,
        "priority": 0.7,
        "strategy": "uncertainty",
        "score": 0.7,
        "reason": "unsure",
    }
    assert r7["predictions"][0]["source"] == "queue"
    assert r7["predictions"][0]["label"] == "negative"


def test_neighbours_are_the_tfidf_cosine_of_scikit_learn(project, owner, browse):
    items = list(Item.objects.filter(project=project).order_by("pk"))
    texts = [i.text for i in items]
    # The same weighting as siftml/similarity.py: sublinear tf, smooth idf, l2 rows.
    matrix = TfidfVectorizer(sublinear_tf=True, token_pattern=r"(?u)\b\w\w+\b").fit_transform(texts)
    target = browse["items"]["r1"]
    row = [i.pk for i in items].index(target.pk)
    expected = cosine_similarity(matrix[row], matrix).ravel()
    expected[row] = 0
    order = [items[i].external_id for i in np.argsort(-expected, kind="stable") if expected[i] > 0]
    body = api_client(owner).get(_url(target, "/similar"), {"k": 5}).json()
    assert [n["external_id"] for n in body["neighbours"]] == order[:5]
    by_id = {i.external_id: expected[k] for k, i in enumerate(items)}
    for n in body["neighbours"]:
        assert n["similarity"] == pytest.approx(by_id[n["external_id"]], abs=1e-4)
    # An item imported afterwards joins the index on the next request.
    services.import_items(
        project, owner, csv_bytes([{"id": "twin", "text": target.text}], ["id", "text"]), "twin.csv"
    )
    again = api_client(owner).get(_url(target, "/similar"), {"k": 1}).json()["neighbours"]
    assert [(n["external_id"], n["similarity"]) for n in again] == [("twin", 1.0)]


@pytest.mark.parametrize("k", ["0", "51", "x", "-1"])
def test_a_bad_k_is_a_400(project, owner, browse, k):
    response = api_client(owner).get(_url(browse["items"]["r0"], "/similar"), {"k": k})
    assert response.status_code == 400
    assert response.json()["fields"]["k"]


def test_annotators_neighbours_are_only_items_they_labeled(project, annotator, browse):
    body = api_client(annotator).get(_url(browse["items"]["r1"], "/similar"), {"k": 10}).json()
    assert {n["external_id"] for n in body["neighbours"]} <= {"r0", "r2"}
    assert all("your_label" in n for n in body["neighbours"])


def test_item_page_relabel_by_role(client, project, owner, annotator, model_view):
    r0 = model_view["items"]["r0"]
    url = reverse("labeling:item-detail", args=[project.slug, r0.pk])
    relabel = reverse("labeling:item-relabel", args=[project.slug, r0.pk])
    client.force_login(owner)
    page = client.get(url)
    html = page.content.decode()
    assert page.status_code == 200
    assert "More like this" in html
    assert "The models&#x27; view" in html or "The models' view" in html
    assert client.post(relabel, {"label": "positive"}).status_code == 302
    r0.refresh_from_db()
    assert (r0.label.name, r0.label_origin) == ("positive", Origin.ADJUDICATION)
    assert client.post(relabel, {"label": "nonsense"}).status_code == 302
    assert Annotation.objects.filter(item=r0).count() == 3  # the bad label changed nothing

    client.force_login(annotator)
    html = client.get(url).content.decode()
    assert "Your annotations" in html
    assert "Split" not in html
    assert "models&#x27; view" not in html
    client.post(relabel, {"label": "negative"})
    latest = Annotation.objects.filter(item=r0).latest("pk")
    assert (latest.user, latest.label.name, latest.origin) == (annotator, "negative", Origin.HUMAN)
    r5 = model_view["items"]["r5"]
    assert client.get(reverse("labeling:item-detail", args=[project.slug, r5.pk])).status_code == 404
    assert (
        client.post(
            reverse("labeling:item-relabel", args=[project.slug, r5.pk]), {"label": "negative"}
        ).status_code
        == 404
    )
    assert not Annotation.objects.filter(item=r5).exists()
