"""The Serving page in a real browser: live traffic, drift, labels, tokens and settings,
screenshot at a laptop's and a tablet's width (test-artifacts/screenshots/serving-*.png)."""

import numpy as np
import pytest
from playwright.sync_api import expect

from labeling import services as labeling_services
from labeling.models import Item, Split
from serving import engine, services
from serving.models import ServingSettings
from tests.browser.conftest import ARTIFACTS
from tests.factories import add_member, csv_bytes, make_project
from tests.serving.conftest import retrain, review_rows

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_serving_page_shows_traffic_drift_and_tokens(login, owner, annotator):
    engine.forget()
    project = make_project(owner, name="Reviews", test_fraction=0.4, test_target=0, seed=4, retrain_every=0)
    add_member(project, annotator)
    labeling_services.import_items(project, owner, csv_bytes(review_rows(160)), "rows.csv")
    retrain(project)
    ServingSettings.objects.create(project=project, ood_action="flag", confidence_threshold=0.6)
    tests = list(Item.objects.filter(project=project, split=Split.TEST).values_list("text", flat=True))
    services.predict(project, tests[:40], "shop")
    rng = np.random.default_rng(2)
    odd = ["zebra", "quantum", "xylophone", "marmalade", "great", "visit"]
    services.predict(project, [" ".join(rng.choice(odd, 6)) for _ in range(80)] + ["", "#### 1234"], "shop")

    page = login(owner)
    page.goto(f"/projects/{project.slug}/serving")
    expect(page.locator("#drift h2")).to_contain_text("drifted")
    expect(page.locator("#alerts")).to_contain_text("Inputs have drifted")
    expect(page.locator("#labels")).to_contain_text("positive")
    page.fill("#id_name", "support bot")
    page.click("#tokens button[type=submit]")
    expect(page.locator("#new-key")).to_contain_text("svc_")
    shots = ARTIFACTS / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "serving-1366.png"), full_page=True)
    page.set_viewport_size({"width": 768, "height": 1024})
    page.goto(f"/projects/{project.slug}/serving")
    page.screenshot(path=str(shots / "serving-768.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 768
    engine.forget()
