"""The pages' smaller truths: favicon, the new-project form (test fraction, annotators), a
test target a small project can reach, guidelines in paragraphs, the admin's plurals, and a
simulation headline that says how uncertain it is."""

from django.contrib.staticfiles import finders

from labeling.models import Membership, Project
from labeling.templatetags.sift_format import uncertainty
from learners.models import Job
from tests.factories import import_rows, make_project, make_review_rows, make_user


def test_every_page_names_an_icon_and_favicon_ico_leads_to_it(client, owner):
    client.force_login(owner)
    page = client.get("/").content.decode()
    assert 'rel="icon" href="/static/favicon.svg"' in page
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == "/static/favicon.svg"
    assert finders.find("favicon.svg")


def test_new_project_form_explains_the_test_fraction_and_offers_annotators(client, owner, annotator):
    client.force_login(owner)
    page = client.get("/projects/new").content.decode()
    assert "kept apart as the test set" in page
    assert f'value="{annotator.pk}"' in page
    assert f'value="{owner.pk}"' not in page  # the creator is an admin already
    dora = make_user("dora")
    response = client.post(
        "/projects/new",
        {
            "name": "Reviews",
            "labels": "pos\nneg",
            "test_fraction": "0.2",
            "retrain_every": "50",
            "annotators": [annotator.pk, dora.pk],
        },
    )
    project = Project.objects.get(name="Reviews")
    assert response.status_code == 302
    roles = dict(project.memberships.values_list("user__username", "role"))
    assert roles == {
        "alice": Membership.Role.ADMIN,
        "bob": Membership.Role.ANNOTATOR,
        "dora": Membership.Role.ANNOTATOR,
    }


def test_an_unknown_annotator_refuses_the_form_and_creates_nothing(client, owner):
    client.force_login(owner)
    response = client.post(
        "/projects/new",
        {
            "name": "Ghosts",
            "labels": "pos\nneg",
            "test_fraction": "0.2",
            "retrain_every": "50",
            "annotators": [9999],
        },
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Project.objects.filter(name="Ghosts").exists()


def test_a_small_project_is_told_it_labels_all_its_test_items(client, owner):
    project = make_project(owner, name="Small", test_fraction=0.3, seed=3)
    assert project.test_target == 100
    import_rows(project, make_review_rows(60))
    client.force_login(owner)
    page = client.get(f"/projects/{project.slug}/").content.decode()
    n_test = project.items.filter(split="test").count()
    assert n_test < 100
    assert f"all {n_test}: fewer test items than the target of 100" in page
    assert "about 100 judge a model" in page  # the setting's help says what the target means


def test_guidelines_keep_their_paragraphs_and_stay_escaped(client, owner, annotator):
    project = make_project(
        owner, name="Rules", guidelines="Be <b>kind</b>.\n\nSarcasm is negative.\nSo is irony."
    )
    Membership.objects.create(project=project, user=annotator, role=Membership.Role.ANNOTATOR)
    client.force_login(annotator)
    page = client.get(f"/projects/{project.slug}/").content.decode()
    assert "<p>Be &lt;b&gt;kind&lt;/b&gt;.</p>" in page
    assert "<p>Sarcasm is negative.<br>So is irony.</p>" in page


def test_the_admin_says_import_batches(client, owner):
    client.force_login(owner)
    page = client.get("/admin/labeling/").content.decode()
    assert "Import batches" in page
    assert "batchs" not in page


def test_uncertainty_is_the_worst_case_95_percent_half_width():
    assert uncertainty(32) == "±0.17"
    assert uncertainty(400) == "±0.05"
    assert uncertainty(0) == "—"


def test_a_simulation_headline_says_how_uncertain_it_is(client, owner):
    project = make_project(owner, name="Sim")
    result = {"test": 32, "pool": 200, "budget": 100, "table": []}
    params = {"target": 0.95, "batch": 10, "seeds": 2}
    job = Job.objects.create(
        project=project,
        kind=Job.Kind.SIMULATE,
        state=Job.State.SUCCEEDED,
        params=params,
        result=result,
        message="margin reached 95% of the full-data macro-F1 after 40 labels; random needed 50 (0.80x).",
    )
    client.force_login(owner)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "measured on 32 labeled test items" in page
    assert "off by ±0.17 or more (95%)" in page
    assert "or another seed" in page
