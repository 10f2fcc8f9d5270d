"""Through the admin's own pages, a superuser cannot break what the services protect."""

import pytest
from django.test import Client

from labeling.models import Annotation, Item
from learners.models import Job, ModelVersion
from tests.factories import import_rows, make_review_rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(owner) -> Client:
    client = Client()
    client.force_login(owner)
    return client


def _project_form(project, **changes) -> dict:
    """The change form's own fields plus empty inline management forms, with `changes` applied."""
    data = {
        "name": project.name,
        "slug": project.slug,
        "guidelines": project.guidelines,
        "test_fraction": project.test_fraction,
        "test_target": project.test_target,
        "seed": project.seed,
        "retrain_every": project.retrain_every,
        "overlap": project.overlap,
        "cold_start_min_per_label": project.cold_start_min_per_label,
        "suggestion_threshold": project.suggestion_threshold,
        "suggestion_withhold_share": project.suggestion_withhold_share,
        "promotion_tolerance": project.promotion_tolerance,
        "strategy_weights": "{}",
        "created_by": project.created_by_id,
    }
    for prefix in ("labels", "memberships"):
        data |= {f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0}
    return data | changes


def test_a_projects_seed_and_test_fraction_do_not_change_once_it_has_items(admin_client, project, items):
    seed, fraction = project.seed, project.test_fraction
    url = f"/admin/labeling/project/{project.pk}/change/"
    page = admin_client.get(url)
    assert "decide which items are held out" in page.content.decode()

    response = admin_client.post(
        url, _project_form(project, seed=seed + 1, test_fraction=0.5, guidelines="Be kind")
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    project.refresh_from_db()
    assert (project.seed, project.test_fraction) == (seed, fraction)
    assert project.guidelines == "Be kind"  # the safe edit went through


def test_an_items_split_hash_text_and_label_do_not_change(admin_client, project, items):
    item = items[0]
    other = project.labels.first()
    flipped = "pool" if item.split == "test" else "test"
    url = f"/admin/labeling/item/{item.pk}/change/"
    response = admin_client.post(
        url,
        {
            "split": flipped,
            "content_hash": "0" * 64,
            "text": "changed",
            "label": other.pk,
            "label_count": 5,
            "meta": '{"note": "checked"}',
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    fresh = Item.objects.get(pk=item.pk)
    assert (fresh.split, fresh.content_hash, fresh.text) == (item.split, item.content_hash, item.text)
    assert (fresh.label_id, fresh.label_count) == (item.label_id, item.label_count)
    assert fresh.meta == {"note": "checked"}


def test_annotations_cannot_be_added_changed_or_deleted(admin_client, project, owner, annotator):
    import_rows(project, make_review_rows(4, labeled=1))
    annotation = Annotation.objects.get()
    label = annotation.label
    other = project.labels.exclude(pk=label.pk).first()
    item = annotation.item

    add = admin_client.post(
        "/admin/labeling/annotation/add/", {"item": item.pk, "label": other.pk, "user": annotator.pk}
    )
    change = admin_client.post(f"/admin/labeling/annotation/{annotation.pk}/change/", {"label": other.pk})
    delete = admin_client.post(f"/admin/labeling/annotation/{annotation.pk}/delete/", {"post": "yes"})

    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    assert list(Annotation.objects.values_list("pk", "label_id")) == [(annotation.pk, label.pk)]
    page = admin_client.get(f"/admin/labeling/annotation/{annotation.pk}/change/")
    assert page.status_code == 200  # still there to look at
    assert "labeling page or through the API" in page.content.decode()


def test_a_model_versions_activation_hash_artifact_and_metrics_do_not_change(admin_client, project):
    version = ModelVersion.objects.create(
        project=project, algorithm="x", artifact="a.joblib", sha256="a" * 64, metrics={"macro_f1": 0.5}
    )
    url = f"/admin/learners/modelversion/{version.pk}/change/"
    response = admin_client.post(
        url,
        {"is_active": "on", "sha256": "b" * 64, "artifact": "../../etc/passwd", "metrics": '{"macro_f1": 1}'},
    )

    assert response.status_code == 403
    version.refresh_from_db()
    assert (version.is_active, version.sha256, version.artifact) == (False, "a" * 64, "a.joblib")
    assert version.metrics == {"macro_f1": 0.5}
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "activate job" in page.content.decode()


def test_jobs_are_read_only(admin_client, project):
    job = Job.objects.create(project=project, kind=Job.Kind.choices[0][0])
    response = admin_client.post(
        f"/admin/learners/job/{job.pk}/change/", {"state": "succeeded", "progress": 1}
    )
    add = admin_client.post("/admin/learners/job/add/", {"project": project.pk, "kind": job.kind})

    assert (response.status_code, add.status_code) == (403, 403)
    job.refresh_from_db()
    assert (job.state, job.progress) == (Job.State.QUEUED, 0.0)
    assert Job.objects.count() == 1
