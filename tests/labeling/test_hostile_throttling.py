"""Logins lock out after repeated failures (django-axes); the API answers 429 past its rates."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import api_client, make_user

PASSWORD = "correct-Horse-battery-9"


@pytest.fixture
def carol(db):
    return make_user("carol", password=PASSWORD)


def _login(client: Client, password: str, address: str = "10.0.0.1"):
    return client.post(reverse("login"), {"username": "carol", "password": password}, REMOTE_ADDR=address)


def test_the_right_password_is_refused_while_locked_out(carol, settings):
    settings.AXES_FAILURE_LIMIT = 3
    client = Client()
    for _ in range(2):
        assert _login(client, "wrong").status_code == 200  # the form again, with its error
    locked = _login(client, "wrong")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()

    response = _login(client, PASSWORD)

    assert response.status_code == 429
    assert "After 3 wrong passwords" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_lockout_is_per_username_and_address(carol, settings):
    settings.AXES_FAILURE_LIMIT = 2
    for _ in range(2):
        _login(Client(), "wrong", address="10.0.0.1")

    elsewhere = Client()
    response = _login(elsewhere, PASSWORD, address="10.0.0.2")

    assert response.status_code == 302
    assert elsewhere.session["_auth_user_id"] == str(carol.pk)


def test_a_success_before_the_limit_resets_the_count(carol, settings):
    settings.AXES_FAILURE_LIMIT = 3
    _login(Client(), "wrong")
    _login(Client(), "wrong")
    assert _login(Client(), PASSWORD).status_code == 302
    _login(Client(), "wrong")
    _login(Client(), "wrong")

    assert _login(Client(), PASSWORD).status_code == 302


def _rates(settings, **rates: str) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


def test_api_user_gets_429_with_retry_after_past_the_rate(project, owner, settings):
    _rates(settings, user="5/min")
    client = api_client(owner)
    codes = [client.get("/api/v1/projects").status_code for _ in range(7)]

    assert codes == [200] * 5 + [429] * 2
    response = client.get("/api/v1/projects")
    assert response.status_code == 429
    assert response.json()["error"].startswith("Request was throttled.")
    assert 0 < int(response["Retry-After"]) <= 60


def test_api_rate_is_per_user(project, owner, annotator, settings):
    _rates(settings, user="2/min")
    for _ in range(3):
        api_client(owner).get("/api/v1/projects")

    assert api_client(annotator).get("/api/v1/projects").status_code == 200


def test_bad_tokens_are_throttled_by_address(db, settings):
    _rates(settings, bad_token="3/min")
    client = api_client()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    codes = [client.get("/api/v1/projects").status_code for _ in range(5)]

    assert codes == [401] * 3 + [429] * 2
    assert "Retry-After" in client.get("/api/v1/projects")


def test_anonymous_requests_are_throttled(db, settings):
    # The schema is the one endpoint open without credentials (others answer 401 first).
    _rates(settings, anon="2/min")
    codes = [api_client().get("/api/v1/schema").status_code for _ in range(4)]

    assert codes == [200, 200, 429, 429]
