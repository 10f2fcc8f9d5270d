"""Tokens can be revoked, sessions expire, passwords go through Django's validators, CSRF holds."""

from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from tests.factories import api_client


def test_a_revoked_token_stops_working_at_once(project, annotator):
    client = api_client(annotator)
    assert client.get("/api/v1/projects").status_code == 200

    response = client.post("/api/v1/auth/token/revoke")

    assert response.status_code == 200
    assert response.json() == {"revoked": True}
    assert not Token.objects.filter(user=annotator).exists()
    assert client.get("/api/v1/projects").status_code == 401


def test_revoking_needs_a_logged_in_caller(db):
    assert api_client().post("/api/v1/auth/token/revoke").status_code == 401


def test_the_account_page_replaces_and_revokes_the_token(client, annotator):
    old = api_client(annotator)  # creates a token
    client.force_login(annotator)

    page = client.post("/account/", {"action": "create"})
    new_key = Token.objects.get(user=annotator).key
    assert new_key in page.content.decode()  # shown once, right after creation
    assert old.get("/api/v1/projects").status_code == 401
    assert new_key not in client.get("/account/").content.decode()

    response = client.post("/account/", {"action": "revoke"})
    assert response.status_code == 302
    assert not Token.objects.filter(user=annotator).exists()


def test_a_session_expires_after_session_cookie_age(client, annotator, project):
    client.force_login(annotator)
    assert client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE
    assert client.get(f"/projects/{project.slug}/annotate").status_code == 200

    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))

    page = client.get(f"/projects/{project.slug}/annotate")
    assert page.status_code == 302
    assert page["Location"].startswith("/accounts/login/")
    assert client.get(f"/api/v1/projects/{project.pk}/next").status_code == 401


def test_a_weak_password_is_refused_by_djangos_validators(client, annotator):
    client.force_login(annotator)
    response = client.post(
        "/accounts/password_change/",
        {"old_password": "pw-for-tests-1", "new_password1": "12345678", "new_password2": "12345678"},
    )
    assert response.status_code == 200
    assert "too common" in response.content.decode() or "entirely numeric" in response.content.decode()
    annotator.refresh_from_db()
    assert annotator.check_password("pw-for-tests-1")


def test_a_good_password_is_accepted(client, annotator):
    client.force_login(annotator)
    new = "correct horse battery staple 42"
    response = client.post(
        "/accounts/password_change/",
        {"old_password": "pw-for-tests-1", "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    annotator.refresh_from_db()
    assert annotator.check_password(new)


def test_page_forms_and_session_api_calls_need_the_csrf_token(owner, project, items):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    form = client.post(f"/projects/{project.slug}/settings", {"overlap": 3})
    assert form.status_code == 403
    api = client.post(
        f"/api/v1/items/{items[0].pk}/annotations", {"label": "positive"}, content_type="application/json"
    )
    assert api.status_code == 403
    assert "CSRF" in api.json()["error"]
    project.refresh_from_db()
    assert project.overlap == 1
    assert not items[0].annotations.exists()
