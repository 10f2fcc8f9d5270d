"""The prediction API as a client uses it: service tokens and their scope, answers, every
refusal reason, the abstain rule, the batch limit, the cache and its invalidation, the log."""

import pytest
from rest_framework.test import APIClient

from learners import lifecycle
from learners.models import ModelVersion
from serving.models import PredictionLog, ServiceToken, ServingSettings
from tests.factories import add_member, api_client, make_project
from tests.serving.conftest import predict, retrain, service_client

GOOD = "great lovely service, visit 999"


def test_a_service_token_is_shown_once_and_stored_only_as_a_hash(served, owner, service_key):
    token = ServiceToken.objects.get(project=served)
    assert service_key.startswith("svc_")
    assert service_key not in (token.key_hash, token.prefix)
    listed = api_client(owner).get(f"/api/v1/projects/{served.pk}/service-tokens").json()
    assert [t["name"] for t in listed] == ["bot"]
    assert "token" not in listed[0]


def test_a_service_token_predicts_with_model_and_dataset_version(served, service_key):
    response = predict(service_client(service_key), served, [GOOD, "awful rude service, visit 998"])
    assert response.status_code == 200, response.content
    body = response.json()
    active = ModelVersion.objects.get(project=served, is_active=True)
    assert body["model"] == str(active.pk)
    assert body["dataset_version"] == active.dataset_version.number
    first, second = body["predictions"]
    assert (first["outcome"], first["label"]) == ("label", "positive")
    assert second["label"] == "negative"
    assert first["confidence"] == first["top_k"][0]["probability"] >= 0.5
    assert [t["label"] for t in first["top_k"]] == ["positive", "negative"]
    assert first["model"] == str(active.pk)
    assert first["prediction_id"] != second["prediction_id"]


def test_a_service_token_can_only_predict_and_send_feedback(served, service_key):
    client = service_client(service_key)
    for url in (
        f"/api/v1/projects/{served.pk}/items",
        f"/api/v1/projects/{served.pk}",
        f"/api/v1/projects/{served.pk}/monitoring",
        f"/api/v1/projects/{served.pk}/service-tokens",
    ):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "can only predict and send feedback" in response.json()["error"]


def test_a_service_token_reaches_only_its_own_project(served, owner, service_key):
    other = make_project(owner, name="Other")
    assert predict(service_client(service_key), other, [GOOD]).status_code == 404


def test_a_revoked_token_is_refused(served, owner, service_key):
    token = ServiceToken.objects.get(project=served)
    response = api_client(owner).delete(f"/api/v1/projects/{served.pk}/service-tokens/{token.pk}")
    assert response.status_code == 204
    response = predict(service_client(service_key), served, [GOOD])
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]


def test_only_project_admins_manage_tokens_and_predict_with_their_own_token(served, owner, annotator):
    url = f"/api/v1/projects/{served.pk}/service-tokens"
    assert api_client(annotator).post(url, {"name": "x"}, format="json").status_code == 403
    assert api_client(owner).post(url, {"name": ""}, format="json").status_code == 400
    assert predict(api_client(annotator), served, [GOOD]).status_code == 403
    assert predict(APIClient(), served, [GOOD]).status_code == 401
    assert predict(api_client(owner), served, [GOOD]).status_code == 200


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (42, "not_a_string"),
        (None, "not_a_string"),
        (["great"], "not_a_string"),
        ("", "empty"),
        ("   \n\t", "empty"),
        ("great " * 2000, "too_long"),
        ("#### $$$$ 1234 5678 !!!!", "not_text"),
        ("\x00\x01\x02PK\x03\x04binary", "not_text"),
        ("zebra quantum xylophone marmalade", "out_of_distribution"),
    ],
)
def test_each_refusal_reason(served, service_key, value, reason):
    response = predict(service_client(service_key), served, [value, GOOD])
    assert response.status_code == 200, response.content
    refused, answered = response.json()["predictions"]
    assert (refused["outcome"], refused["reason"], refused["label"]) == ("refused", reason, None)
    assert refused["reason_text"]
    assert refused["top_k"] == []
    assert answered["outcome"] == "label"  # one bad text does not spoil the batch
    log = PredictionLog.objects.get(pk=refused["prediction_id"])
    assert (log.outcome, log.reason) == ("refused", reason)
    # An unfamiliar text is kept for feedback; what the input checks refused is not.
    assert log.text == (value if reason == "out_of_distribution" else "")


def test_out_of_distribution_can_be_flagged_instead_of_refused(served, service_key):
    ServingSettings.objects.create(project=served, ood_action="flag", confidence_threshold=0.0)
    (answer,) = predict(service_client(service_key), served, ["zebra quantum xylophone great"]).json()[
        "predictions"
    ]
    assert answer["outcome"] == "label"
    assert answer["flags"] == ["out_of_distribution"]
    assert answer["unknown_word_rate"] == 0.75
    assert PredictionLog.objects.get(pk=answer["prediction_id"]).flagged


def test_below_the_confidence_threshold_the_answer_is_abstain_with_the_best_guess(served, service_key):
    client = service_client(service_key)
    (confident,) = predict(client, served, [GOOD]).json()["predictions"]
    ServingSettings.objects.create(project=served, confidence_threshold=confident["confidence"] + 1e-6)
    (answer,) = predict(client, served, [GOOD]).json()["predictions"]
    assert (answer["outcome"], answer["label"], answer["confidence"]) == ("abstain", None, None)
    assert answer["best_guess"] == {"label": "positive", "confidence": confident["confidence"]}
    config = ServingSettings.objects.get(project=served)
    config.confidence_threshold = confident["confidence"]
    config.save()
    (answer,) = predict(client, served, [GOOD]).json()["predictions"]
    assert answer["outcome"] == "label"  # at the threshold the label is given


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"texts": "great"}, "a list of strings"),
        ({"text": ["great"]}, "a list of strings"),
        ({"texts": []}, "at least one text"),
        ({"texts": ["great"] * 6}, "At most 5 texts"),
    ],
)
def test_a_bad_batch_is_a_400_and_logs_nothing(served, service_key, settings, body, message):
    settings.SIFT_PREDICT_MAX_BATCH = 5
    response = service_client(service_key).post(f"/api/v1/projects/{served.pk}/predict", body, format="json")
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not PredictionLog.objects.exists()


def test_no_active_model_is_a_409(owner):
    project = make_project(owner, name="Empty")
    response = predict(api_client(owner), project, [GOOD])
    assert response.status_code == 409
    assert "no active model" in response.json()["error"]


def test_a_tampered_model_file_is_not_served(served, owner, settings):
    active = ModelVersion.objects.get(project=served, is_active=True)
    path = settings.ARTIFACT_DIR / active.artifact
    path.write_bytes(path.read_bytes() + b"tampered")
    response = predict(api_client(owner), served, [GOOD])
    assert response.status_code == 409
    assert "sha256" in response.json()["error"]


def test_repeated_texts_are_answered_from_the_cache_until_another_model_is_activated(
    served, owner, service_key
):
    client = service_client(service_key)
    first = predict(client, served, [GOOD]).json()["predictions"][0]
    again = predict(client, served, [GOOD]).json()["predictions"][0]
    assert (first["cached"], again["cached"]) == (False, True)
    assert again["top_k"] == first["top_k"]

    old = ModelVersion.objects.get(project=served, is_active=True)
    new = retrain(served)
    if not ModelVersion.objects.get(pk=new.pk).is_active:
        lifecycle.run_activation(lifecycle.start_activation(new, owner, enqueue=False))
    assert ModelVersion.objects.get(project=served, is_active=True).pk == new.pk != old.pk
    after = predict(client, served, [GOOD]).json()["predictions"][0]
    assert (after["model"], after["cached"]) == (str(new.pk), False)
    assert predict(client, served, [GOOD]).json()["predictions"][0]["cached"] is True


def test_the_cache_keeps_only_its_size(served, service_key, settings):
    settings.SIFT_PREDICT_CACHE_SIZE = 2
    client = service_client(service_key)
    texts = [f"great lovely service, visit {i}" for i in range(3)]
    predict(client, served, texts)  # the third pushes the first out
    assert predict(client, served, [texts[0]]).json()["predictions"][0]["cached"] is False
    assert predict(client, served, [texts[2]]).json()["predictions"][0]["cached"] is True


def test_every_prediction_is_logged_with_its_model_and_inputs(served, service_key):
    answers = predict(
        service_client(service_key), served, [GOOD, "", "lovely"], HTTP_X_CLIENT_KEY="c-1"
    ).json()
    rows = {str(r.pk): r for r in PredictionLog.objects.all()}
    assert len(rows) == 3
    for answer in answers["predictions"]:
        row = rows[answer["prediction_id"]]
        assert row.model_ref == answers["model"]
        assert row.dataset_version == answers["dataset_version"]
        assert row.client_key == "c-1"
        assert row.batch_size == 3
        assert row.latency_ms > 0
        assert row.weight == 1
    assert len({r.request_id for r in rows.values()}) == 1
    good = rows[answers["predictions"][0]["prediction_id"]]
    assert (good.text, good.text_length, good.label) == (GOOD, len(GOOD), "positive")


def test_above_the_log_rate_a_share_is_logged_with_weights(served, service_key, settings):
    settings.SIFT_PREDICTION_LOG_RATE = 10
    settings.SIFT_PREDICTION_LOG_SAMPLE = 0.25
    client = service_client(service_key)
    predict(client, served, [f"great visit {i}" for i in range(10)])
    assert PredictionLog.objects.filter(weight=1).count() == 10
    predict(client, served, [f"lovely visit {i}" for i in range(400)])
    sampled = PredictionLog.objects.filter(weight=4)
    assert 60 <= sampled.count() <= 140  # 100 expected; binomial sd 8.7


def test_the_throttle_counts_per_service_token(served, owner, service_key, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK}
    from rest_framework.settings import api_settings

    rates = dict(api_settings.DEFAULT_THROTTLE_RATES)
    api_settings.DEFAULT_THROTTLE_RATES["service"] = "2/min"
    try:
        client = service_client(service_key)
        assert [predict(client, served, [GOOD]).status_code for _ in range(3)] == [200, 200, 429]
        assert predict(api_client(owner), served, [GOOD]).status_code == 200  # another bucket
    finally:
        api_settings.DEFAULT_THROTTLE_RATES.clear()
        api_settings.DEFAULT_THROTTLE_RATES.update(rates)


def test_an_annotator_of_another_project_cannot_use_its_admin_token_here(served, outsider, owner):
    other = make_project(owner, name="Theirs")
    add_member(other, outsider, "admin")
    assert predict(api_client(outsider), served, [GOOD]).status_code == 404
