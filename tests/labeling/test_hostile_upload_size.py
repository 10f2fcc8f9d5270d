"""An upload over SIFT_MAX_UPLOAD_BYTES is a clear 413, decided from its Content-Length."""

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from labeling.models import ImportBatch
from tests.factories import api_client, csv_bytes, make_review_rows


def _big_file() -> SimpleUploadedFile:
    return SimpleUploadedFile("big.csv", csv_bytes(make_review_rows(2_000)))


def test_api_upload_over_the_limit_is_a_413_json(project, owner, settings):
    settings.SIFT_MAX_UPLOAD_BYTES = 10_000
    url = f"/api/v1/projects/{project.pk}/imports"
    response = api_client(owner).post(url, {"file": _big_file()}, format="multipart")

    assert response.status_code == 413
    assert response.json() == {
        "error": "The file is larger than the upload limit of 9.8\xa0KB; nothing was imported. "
        "Split it into smaller files, or import it on the server with `manage.py import_items`."
    }
    assert project.items.count() == 0
    assert not ImportBatch.objects.exists()


def test_page_upload_over_the_limit_is_a_413_page(client, project, owner, settings):
    settings.SIFT_MAX_UPLOAD_BYTES = 10_000
    client.force_login(owner)
    response = client.post(reverse("learners:project-import", args=[project.slug]), {"file": _big_file()})

    assert response.status_code == 413
    assert "larger than the upload limit" in response.content.decode()
    assert f'href="/projects/{project.slug}/"' in response.content.decode()
    assert project.items.count() == 0


def test_the_limit_is_decided_before_the_body_is_read(client, project, owner):
    # The header claims 1 GB over a 10-byte body: Django's test payload raises if anyone
    # tries to read past what is there, so a 413 here means nothing read the body.
    client.force_login(owner)
    url = reverse("learners:project-import", args=[project.slug])
    response = client.generic(
        "POST", url, b"0123456789", content_type="multipart/form-data; boundary=x", CONTENT_LENGTH=str(2**30)
    )

    assert response.status_code == 413
    assert project.items.count() == 0


def test_an_upload_under_the_limit_imports(project, owner, settings):
    settings.SIFT_MAX_UPLOAD_BYTES = 1_000_000
    url = f"/api/v1/projects/{project.pk}/imports"
    response = api_client(owner).post(url, {"file": _big_file()}, format="multipart")

    assert response.status_code == 201
    assert project.items.count() == 2_000
