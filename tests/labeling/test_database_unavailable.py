"""A database error is a 503 that says "try again": JSON on the API and /healthz, a plain page
elsewhere, never Django's 500 traceback page. The errors are forced here; tests/test_database_restart.py
restarts a real PostgreSQL under a running server."""

from unittest import mock

import pytest
from django.db import InterfaceError, OperationalError
from django.test import Client

from tests.factories import api_client

UNAVAILABLE = {"error": "the database is unavailable; try again in a few seconds"}


def _assert_api_503(response) -> None:
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json() == UNAVAILABLE
    assert response["Retry-After"] == "5"


def _assert_page_503(response) -> None:
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert response["Retry-After"] == "5"
    body = response.content.decode()
    assert "Sift is unavailable for a moment" in body
    assert "Traceback" not in body
    assert "OperationalError" not in body


@pytest.mark.parametrize(
    "error",
    [OperationalError("the database system is shutting down"), InterfaceError("connection already closed")],
)
def test_an_api_view_hit_by_a_database_error_answers_json_503(project, annotator, error):
    with mock.patch("labeling.services.get_project_stats", side_effect=error):
        response = api_client(annotator).get(f"/api/v1/projects/{project.pk}/stats")
    _assert_api_503(response)


def test_the_api_answers_503_even_with_debug_on(project, annotator, settings):
    settings.DEBUG = True
    with mock.patch("labeling.api.get_item_for_user", side_effect=OperationalError("no connection")):
        response = api_client(annotator).post(
            "/api/v1/items/1/annotations", {"label": "positive"}, format="json"
        )
    _assert_api_503(response)


def test_a_page_hit_by_a_database_error_is_the_plain_503_page(project, annotator, client):
    client.force_login(annotator)
    with mock.patch("labeling.services.get_project_stats", side_effect=OperationalError("server closed")):
        response = client.get("/")
    _assert_page_503(response)


def test_a_database_error_outside_any_view_is_a_503_too(project, annotator):
    # The session is saved by middleware after the view returned: handler500 sees that error.
    client = Client(raise_request_exception=False)
    client.force_login(annotator)
    with mock.patch(
        "django.contrib.sessions.middleware.SessionMiddleware.process_response",
        side_effect=OperationalError("server closed the connection unexpectedly"),
    ):
        page = client.get("/")
        api = client.get(f"/api/v1/projects/{project.pk}/stats")
    _assert_page_503(page)
    _assert_api_503(api)


def test_any_other_uncaught_error_is_a_plain_500_page_without_a_traceback(project, annotator):
    client = Client(raise_request_exception=False)
    client.force_login(annotator)
    with mock.patch("labeling.services.get_project_stats", side_effect=RuntimeError("a bug")):
        response = client.get("/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong on the server" in body
    assert "a bug" not in body
    assert "Traceback" not in body


def test_healthz_checks_the_database(db, client):
    assert client.get("/healthz").json() == {"ok": True, "database": "ok", "broker": "ok"}
    broken = mock.MagicMock()
    broken.cursor.side_effect = OperationalError("connection refused")
    with mock.patch("config.health.connection", broken):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {**UNAVAILABLE, "ok": False, "database": "unreachable", "broker": "ok"}
