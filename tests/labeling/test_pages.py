"""The HTML pages: what each user sees, user data always escaped, and the project and member forms."""

import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from labeling import services
from labeling.models import Membership, Project
from learners.models import Job
from tests.factories import add_member, csv_bytes, import_rows, make_project, make_user

ROOT = Path(__file__).resolve().parents[2]
XSS = "<script>alert('x')</script>"


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_login_page_renders_and_pages_send_anonymous_users_to_it(project):
    assert Client().get(reverse("login")).status_code == 200
    response = Client().get(reverse("labeling:project-detail", args=[project.slug]))
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next=/projects/{project.slug}/"


def test_a_site_admin_sees_the_new_project_button_and_an_annotator_does_not(owner, annotator, project):
    assert "New project" in logged_in(owner).get("/").content.decode()
    page = logged_in(annotator).get("/").content.decode()
    assert "New project" not in page
    assert project.name in page


def test_the_project_page_shows_admin_tools_only_to_admins(owner, annotator, project):
    url = reverse("labeling:project-detail", args=[project.slug])
    admin_only = ["Import items", "Download CSV", "Retrain now", 'name="username"']

    admin_page = logged_in(owner).get(url).content.decode()
    assert all(marker in admin_page for marker in admin_only)
    annotator_page = logged_in(annotator).get(url).content.decode()
    assert not any(marker in annotator_page for marker in admin_only)
    assert "Start labeling" in annotator_page


def test_the_project_page_shows_the_counts(owner, project):
    import_rows(project, [{"id": "a", "text": "good", "label": "positive"}, {"id": "b", "text": "bad"}])
    response = logged_in(owner).get(reverse("labeling:project-detail", args=[project.slug]))
    stats = response.context["stats"]
    assert stats["items"] == 2
    assert stats["labeled_pool"] + stats["labeled_test"] == 1
    assert f"<b>{stats['items']}</b><span>items</span>" in response.content.decode()


def test_the_annotate_page_has_a_button_and_key_per_label_and_skip(annotator, project):
    page = logged_in(annotator).get(reverse("labeling:annotate", args=[project.slug])).content.decode()
    assert 'data-label="positive" data-key="1"' in page
    assert 'data-label="negative" data-key="2"' in page
    assert 'id="skip"' in page
    assert f'data-project="{project.pk}"' in page
    assert "js/annotate.js" in page


def test_models_and_job_pages_show_jobs_and_their_errors(annotator, project):
    job = Job.objects.create(
        project=project, kind=Job.Kind.RETRAIN, state=Job.State.FAILED, error=f"ValueError: {XSS}"
    )
    models_page = logged_in(annotator).get(reverse("learners:project-models", args=[project.slug]))
    assert "No model yet." in models_page.content.decode()
    assert "Retrain now" not in models_page.content.decode()
    job_page = logged_in(annotator).get(reverse("learners:job-detail", args=[job.pk])).content.decode()
    assert "ValueError: &lt;script&gt;" in job_page
    assert XSS not in job_page


@pytest.fixture
def hostile(owner, annotator):
    """A project whose every user-controlled string is markup."""
    project = services.create_project(
        owner, f"Name {XSS}", [f"pos {XSS}"[:100], 'say "hi"'], guidelines=f"Rules {XSS}"
    )
    add_member(project, annotator)
    data = csv_bytes([{"id": f"id-{XSS}", "text": f"text {XSS}", "note": f"meta {XSS}"}])
    services.import_items(project, owner, data, f"file-{XSS}.csv")
    Job.objects.create(project=project, kind=Job.Kind.RETRAIN, message=f"msg {XSS}")
    return project


def test_user_data_is_escaped_on_every_page(hostile, owner, annotator):
    job = Job.objects.get(project=hostile)
    urls = [
        "/",
        reverse("labeling:project-detail", args=[hostile.slug]),
        reverse("labeling:annotate", args=[hostile.slug]),
        reverse("learners:project-models", args=[hostile.slug]),
        reverse("learners:job-detail", args=[job.pk]),
    ]
    for user in (owner, annotator):
        client = logged_in(user)
        for url in urls:
            page = client.get(url).content.decode()
            assert "<script>alert" not in page, url
    detail = logged_in(owner).get(urls[1]).content.decode()
    assert "Name &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in detail
    assert "file-&lt;script&gt;" in detail  # the import's file name
    annotate = logged_in(annotator).get(urls[2]).content.decode()
    assert 'data-label="say &quot;hi&quot;"' in annotate
    assert "Rules &lt;script&gt;" in annotate


def test_the_import_error_table_escapes_the_files_content(owner, project):
    bad = csv_bytes([{"id": "1", "text": "fine", "label": XSS}, {"id": "2", "text": " ", "label": ""}])
    response = logged_in(owner).post(
        reverse("learners:project-import", args=[project.slug]),
        {"file": SimpleUploadedFile(f"{XSS}.csv", bad)},
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "<script>alert" not in page
    assert "2 rows have problems; nothing was imported." in page
    assert (
        "<tr><td>row 2</td><td>label &quot;&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&quot; is not one"
        in page
    )
    assert "<tr><td>row 3</td><td>" in page
    assert project.items.count() == 0


SINKS = re.compile(r"\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|\beval\(|new Function\(")


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "static" / "js").glob("*.js")))
def test_page_scripts_never_build_html_from_strings(script):
    source = (ROOT / "static" / "js" / script).read_text()
    assert not SINKS.findall(source)


def test_the_annotate_script_sets_item_text_and_metadata_as_text():
    source = (ROOT / "static" / "js" / "annotate.js").read_text()
    assert "ui.text.textContent = data.item.text;" in source
    assert "ui.itemId.textContent = data.item.external_id;" in source
    assert "ui.suggName.textContent = suggestion.label;" in source
    assert 'Sift.el("div", { class: "meta-row" })' in source
    sift = (ROOT / "static" / "js" / "sift.js").read_text()
    assert "node.textContent = text;" in sift  # Sift.el sets text, never markup


# The project form.


def _create(client, **overrides):
    data = {"name": "Tickets", "labels": "bug\nquestion", "test_fraction": "0.2", "retrain_every": "50"}
    data.update(overrides)
    return client.post(reverse("labeling:project-create"), data)


def test_the_create_form_makes_a_project_with_keyed_labels_and_its_creator_as_admin(owner):
    response = _create(logged_in(owner), labels="bug\n  question  \n\nfeature\n", guidelines="Be kind.")

    project = Project.objects.get(name="Tickets")
    assert response.status_code == 302
    assert response.url == reverse("labeling:project-detail", args=[project.slug])
    assert [(label.name, label.key) for label in project.labels.all()] == [
        ("bug", "1"),
        ("question", "2"),
        ("feature", "3"),
    ]
    assert project.guidelines == "Be kind."
    assert project.memberships.get().role == Membership.Role.ADMIN
    assert project.memberships.get().user == owner


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"labels": "only-one"}, "A project needs at least two labels."),
        ({"labels": "\n  \n"}, "This field is required."),
        ({"labels": "bug\nbug\nidea\nidea\nfix"}, "Labels repeat: bug, idea."),
        ({"labels": "bug\n" + "x" * 101}, "Label names are at most 100 characters."),
        ({"name": ""}, "This field is required."),
        ({"test_fraction": "0.95"}, "Ensure this value is less than or equal to 0.9."),
        ({"test_fraction": "-0.1"}, "Ensure this value is greater than or equal to 0.0."),
    ],
)
def test_the_create_form_shows_errors_and_creates_nothing(owner, overrides, message):
    response = _create(logged_in(owner), **overrides)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Project.objects.exists()


def test_two_project_names_with_one_slug_get_distinct_slugs(owner):
    client = logged_in(owner)
    _create(client)
    _create(client, name="Tickets!")
    assert sorted(Project.objects.values_list("slug", flat=True)) == ["tickets", "tickets-2"]


# The members form.


def _add_member(client, project, **data):
    return client.post(reverse("labeling:project-add-member", args=[project.slug]), data, follow=True)


def test_the_members_form_adds_a_member_with_the_role(owner, project):
    carol = make_user("carol")
    response = _add_member(logged_in(owner), project, username="carol", role="admin")

    assert response.redirect_chain == [(reverse("labeling:project-detail", args=[project.slug]), 302)]
    assert "carol is now a member (admin)." in response.content.decode()
    assert project.memberships.get(user=carol).role == Membership.Role.ADMIN
    assert logged_in(carol).get(reverse("labeling:project-detail", args=[project.slug])).status_code == 200


def test_the_members_form_changes_the_role_of_an_existing_member(owner, annotator, project):
    _add_member(logged_in(owner), project, username=annotator.username, role="admin")
    assert project.memberships.get(user=annotator).role == Membership.Role.ADMIN
    assert project.memberships.filter(user=annotator).count() == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"username": "nobody", "role": "annotator"}, "There is no active user &#x27;nobody&#x27;."),
        ({"username": "carol", "role": "owner"}, "Select a valid choice. owner is not one of the available"),
        ({"username": "", "role": "annotator"}, "This field is required."),
    ],
)
def test_the_members_form_shows_errors_and_adds_nobody(owner, project, data, message):
    make_user("carol")
    before = set(project.memberships.values_list("user__username", "role"))
    response = _add_member(logged_in(owner), project, **data)

    assert message in response.content.decode()
    assert set(project.memberships.values_list("user__username", "role")) == before


def test_the_members_form_refuses_an_inactive_user(owner, project):
    carol = make_user("carol")
    carol.is_active = False
    carol.save()
    _add_member(logged_in(owner), project, username="carol", role="annotator")
    assert not project.memberships.filter(user=carol).exists()


def test_another_project_is_not_shown_on_the_page_of_a_project_admin(owner):
    manager = make_user("erin")
    mine = make_project(owner, name="Mine")
    add_member(mine, manager, Membership.Role.ADMIN)
    theirs = make_project(owner, name="Theirs")

    client = logged_in(manager)
    assert "Theirs" not in client.get("/").content.decode()
    assert client.get(reverse("labeling:project-detail", args=[theirs.slug])).status_code == 404
