"""Every page at a laptop's width (1366 px) and a tablet's (768 px): screenshots into
test-artifacts/screenshots/ to look at, and no page wider than the window at 768 px (no
horizontal scrolling; a wide table scrolls inside its own box)."""

import re

import pytest
from playwright.sync_api import Page, expect

from labeling import services
from labeling.models import Item, Split
from learners import services as learner_services
from learners import simulation_jobs
from learners.models import Job, ModelVersion
from learners.serializers import SimulationSerializer
from tests.browser.conftest import ARTIFACTS
from tests.factories import add_member, csv_bytes, make_project, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = ARTIFACTS / "screenshots"
WIDTHS = {"1366": {"width": 1366, "height": 900}, "768": {"width": 768, "height": 1024}}
POSITIVE = ["great", "lovely", "wonderful", "excellent", "happy", "superb", "kind", "fast"]
NEGATIVE = ["terrible", "awful", "rude", "dreadful", "sad", "slow", "broken", "dirty"]
GUIDELINES = "Label the overall sentiment.\n\nSarcasm counts as negative.\nMixed: the conclusion decides."


def _rows(start: int, n: int, labeled: bool) -> list[dict]:
    rows = []
    for i in range(start, start + n):
        words = POSITIVE if i % 2 == 0 else NEGATIVE
        text = f"The {words[i % 8]} dinner and {words[(i // 2) % 8]} service on visit {i}; we would say so."
        row = {"id": f"review-2026-{i:05d}", "text": text, "source": ["web", "app", "mail"][i % 3]}
        if labeled:
            row["label"] = "positive" if i % 2 == 0 else "negative"
        rows.append(row)
    return rows


def _showcase(owner, annotator):
    """A project with something on every page: votes that disagree, a flag, models, versions, a simulation."""
    project = make_project(
        owner, name="Restaurant reviews", guidelines=GUIDELINES, test_fraction=0.3, seed=5, retrain_every=0
    )
    add_member(project, annotator)
    dora = make_user("dora")
    add_member(project, dora)
    services.import_items(
        project, owner, csv_bytes(_rows(0, 160, True), ["id", "text", "label", "source"]), "a.csv"
    )
    services.import_items(project, owner, csv_bytes(_rows(200, 60, False), ["id", "text", "source"]), "b.csv")
    labels = {label.name: label for label in project.labels.all()}
    unlabeled = list(project.items.filter(label__isnull=True, split=Split.POOL).order_by("pk")[:8])
    project.overlap = 2
    project.save()
    for i, item in enumerate(unlabeled[:6]):
        services.save_annotation(item, annotator, labels["positive"])
        services.save_annotation(item, dora, labels["negative" if i % 2 else "positive"])
    services.skip_item(unlabeled[7], annotator, flag=True, comment="Two reviews in one text")
    services.create_dataset_version(project, owner, note="first")
    learner_services.run_retrain(learner_services.start_retrain(project, enqueue=False))
    services.create_dataset_version(project, owner, note="after the votes")
    form = SimulationSerializer(
        data={"strategies": ["random", "margin"], "seeds": 1, "batch": 10, "budget": 40}
    )
    assert form.is_valid(), form.errors
    simulation_jobs.run_simulation(simulation_jobs.start_simulation(project, owner, form.validated_data))
    return project


def _pages(project) -> dict[str, str]:
    slug = project.slug
    model = ModelVersion.objects.filter(project=project, is_active=True).first()
    retrain = Job.objects.filter(project=project, kind=Job.Kind.RETRAIN).first()
    simulate = Job.objects.filter(project=project, kind=Job.Kind.SIMULATE).first()
    item = Item.objects.filter(project=project, label__isnull=False).first()
    return {
        "projects": "/",
        "project-new": "/projects/new",
        "project": f"/projects/{slug}/",
        "annotate": f"/projects/{slug}/annotate",
        "agreement": f"/projects/{slug}/agreement",
        "conflicts": f"/projects/{slug}/adjudicate",
        "flags": f"/projects/{slug}/flags",
        "annotators": f"/projects/{slug}/annotators",
        "models": f"/projects/{slug}/models/",
        "model": f"/models/{model.pk}/",
        "quality": f"/projects/{slug}/quality/",
        "versions": f"/projects/{slug}/versions/",
        "version-diff": f"/projects/{slug}/versions/1/diff/2/",
        "job-retrain": f"/jobs/{retrain.pk}/",
        "job-simulate": f"/jobs/{simulate.pk}/",
        "item": f"/projects/{slug}/items/{item.pk}/",
        "account": "/account/",
    }


def _overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the window (0: no horizontal scrolling)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def _visit(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("load")
    if "/annotate" in url:
        # A function, not an expression: Playwright evaluates a bare expression with eval(), which
        # the pages' content security policy forbids.
        page.wait_for_function("() => document.getElementById('item-card').dataset.state !== 'loading'")
    page.wait_for_timeout(250)  # the project page's model card and the job page fill from the API


def test_every_page_fits_a_tablet_and_is_screenshot_at_both_widths(login, owner, annotator):
    project = _showcase(owner, annotator)
    pages = _pages(project)
    SHOTS.mkdir(parents=True, exist_ok=True)
    too_wide = {}
    for width, viewport in WIDTHS.items():
        for who, user in (("admin", owner), ("annotator", annotator)):
            page = login(user, viewport=viewport)
            for name, url in pages.items():
                response = page.goto(url)
                if response.status == 403:
                    continue
                _visit(page, url)
                page.screenshot(path=str(SHOTS / f"{name}-{who}-{width}.png"), full_page=True)
                if width == "768" and _overflow(page) > 0:
                    too_wide[f"{name} ({who})"] = _overflow(page)
            page.context.close()
    assert not too_wide, f"wider than 768 px: {too_wide}"


def test_tablet_tab_bar_shows_every_tab_and_the_model_card_shows_a_model_job(login, owner, annotator):
    project = _showcase(owner, annotator)
    page = login(owner, viewport=WIDTHS["768"])
    page.goto(f"/projects/{project.slug}/")
    for tab in page.locator("nav.tabs a").all():
        box = tab.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 768, tab.text_content()
    # The latest job is the simulation; the model card names the latest model job instead
    # (the retrain's cross-validation, an evaluate job).
    latest = Job.objects.filter(project=project, kind__in=["retrain", "score", "evaluate"]).first()
    expect(page.locator("#job-summary")).to_contain_text(f"job {latest.pk}:")
    expect(page.locator("#job-summary")).to_contain_text(re.compile(r"(Retrain|Scoring|Evaluation) job"))
    expect(page.locator("#job-summary")).not_to_contain_text(re.compile("simulat", re.IGNORECASE))
