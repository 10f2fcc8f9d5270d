"""A canary share routes a fixed set of clients (by a hash of their key) to a candidate model;
rollback and promotion are one call each, and every switch is recorded."""

import pytest

from learners import lifecycle
from learners.models import ModelVersion
from serving import services
from serving.models import ServingSwitch
from tests.factories import api_client
from tests.serving.conftest import predict, retrain, service_client

GOOD = "great lovely service, visit 999"


@pytest.fixture
def candidate(served):
    retrain(served)
    return ModelVersion.objects.filter(project=served, is_active=False).order_by("-created_at").first()


def canary_url(project) -> str:
    return f"/api/v1/projects/{project.pk}/canary"


@pytest.mark.parametrize("share", [0.1, 0.3, 0.5])
def test_assignment_is_close_to_its_share(share):
    n = 4000
    inside = sum(services.in_canary(7, f"client-{i}", share) for i in range(n))
    sd = (n * share * (1 - share)) ** 0.5
    assert abs(inside - n * share) < 4 * sd  # a binomial draw: 4 standard deviations
    # A larger share keeps every client of the smaller one (clients do not flip back and forth).
    assert all(
        services.in_canary(7, f"client-{i}", 0.6)
        for i in range(200)
        if services.in_canary(7, f"client-{i}", share)
    )


def test_one_client_sees_one_model(served, owner, service_key, candidate):
    active = ModelVersion.objects.get(project=served, is_active=True)
    response = api_client(owner).put(
        canary_url(served), {"model": str(candidate.pk), "share": 0.5}, format="json"
    )
    assert response.status_code == 200, response.content
    client = service_client(service_key)
    seen = {}
    for i in range(30):
        key = f"shop-{i}"
        models = {
            predict(client, served, [GOOD], HTTP_X_CLIENT_KEY=key).json()["predictions"][0]["model"]
            for _ in range(2)
        }
        assert len(models) == 1  # the same client, the same model
        seen[key] = models.pop()
        expected = str(candidate.pk) if services.in_canary(served.pk, key, 0.5) else str(active.pk)
        assert seen[key] == expected
    assert set(seen.values()) == {str(active.pk), str(candidate.pk)}


def test_rollback_and_promotion_are_recorded(served, owner, service_key, candidate):
    admin = api_client(owner)
    admin.put(canary_url(served), {"model": str(candidate.pk), "share": 1.0}, format="json")
    client = service_client(service_key)
    assert predict(client, served, [GOOD]).json()["predictions"][0]["model"] == str(candidate.pk)
    state = admin.put(canary_url(served), {"model": None, "share": 0}, format="json").json()
    assert (state["model"], state["share"]) == (None, 0.0)
    active = ModelVersion.objects.get(project=served, is_active=True)
    assert predict(client, served, [GOOD]).json()["predictions"][0]["model"] == str(active.pk)

    admin.put(canary_url(served), {"model": str(candidate.pk), "share": 0.2}, format="json")
    lifecycle.run_activation(lifecycle.start_activation(candidate, owner, enqueue=False))  # the promotion
    state = admin.get(canary_url(served)).json()
    assert state["model"] is None  # promoted: no longer a canary
    kinds = [(s["kind"], s["model"]) for s in state["switches"]]
    assert kinds[:4] == [  # newest first; the retrains' own activations come before these
        ("activated", str(candidate.pk)),
        ("canary", str(candidate.pk)),
        ("rollback", None),
        ("canary", str(candidate.pk)),
    ]
    assert state["switches"][1]["share"] == 0.2
    assert state["switches"][1]["user"] == owner.username
    assert predict(client, served, [GOOD]).json()["predictions"][0]["model"] == str(candidate.pk)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": "00000000-0000-0000-0000-000000000000", "share": 0.5}, "No such model"),
        ({"share": 0.5}, "model"),
        ({"model": None, "share": 1.5}, "share"),
    ],
)
def test_a_bad_canary_is_a_400_and_changes_nothing(served, owner, body, message):
    before = ServingSwitch.objects.count()  # the fixture's own activation
    response = api_client(owner).put(canary_url(served), body, format="json")
    assert response.status_code == 400
    assert message in response.content.decode()
    assert ServingSwitch.objects.count() == before
    assert api_client(owner).get(canary_url(served)).json()["model"] is None


def test_the_active_model_cannot_be_the_canary(served, owner, annotator):
    active = ModelVersion.objects.get(project=served, is_active=True)
    response = api_client(owner).put(
        canary_url(served), {"model": str(active.pk), "share": 0.5}, format="json"
    )
    assert response.status_code == 400
    assert api_client(annotator).get(canary_url(served)).status_code == 403
