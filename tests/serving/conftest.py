import pytest

from labeling import services as labeling_services
from learners import services
from learners.models import Job, ModelVersion
from serving import engine, monitoring
from tests.factories import add_member, api_client, csv_bytes, make_project

POSITIVE = ["great", "lovely", "wonderful", "excellent", "happy", "superb", "kind", "fast"]
NEGATIVE = ["terrible", "awful", "rude", "dreadful", "sad", "slow", "broken", "dirty"]


def review_rows(n: int, start: int = 0) -> list[dict]:
    rows = []
    for i in range(start, start + n):
        positive = i % 2 == 0
        words = POSITIVE if positive else NEGATIVE
        text = f"{words[i % 8]} {words[(i // 2) % 8]} service, visit {i}"
        rows.append({"id": f"r{i}", "text": text, "label": "positive" if positive else "negative"})
    return rows


@pytest.fixture(autouse=True)
def _fresh_process_state():
    """Loaded models and caches are per process: each test starts as a new process would."""
    engine.forget()
    monitoring._reference.clear()
    yield
    engine.forget()


def retrain(project) -> ModelVersion:
    job = services.start_retrain(project, enqueue=False)
    services.run_retrain(job)
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED, job.error
    return ModelVersion.objects.get(pk=job.result["model"])


@pytest.fixture
def served(owner, annotator):
    """A project with 160 labeled reviews (40% test) and an active model."""
    project = make_project(owner, name="Served", test_fraction=0.4, test_target=0, seed=4)
    add_member(project, annotator)
    labeling_services.import_items(project, owner, csv_bytes(review_rows(160)), "rows.csv")
    model = retrain(project)
    assert ModelVersion.objects.get(pk=model.pk).is_active
    return project


@pytest.fixture
def service_key(served, owner):
    response = api_client(owner).post(
        f"/api/v1/projects/{served.pk}/service-tokens", {"name": "bot"}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()["token"]


def service_client(key: str):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def predict(client, project, texts, **extra):
    return client.post(f"/api/v1/projects/{project.pk}/predict", {"texts": texts}, format="json", **extra)
