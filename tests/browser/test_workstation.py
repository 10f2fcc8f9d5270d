"""The labeling page in a real browser: keyboard labeling, undo, skip, flag, corrections,
suggestions after a retrain, offline safety, a second annotator, and the agreement page.

Latency: the page records, per keypress, the time from the key event to the next item
being rendered and painted (window.siftTimings). Two regimes are measured and written to
test-artifacts/latency.json: "reading", where the annotator spends at least one /next
round trip on each item (every human does: the prefetch has arrived), which must stay
under 100 ms; and "back to back", keys pressed the moment an item appears, which shows
what happens when the prefetch cannot keep up (reported, not asserted).
"""

import json
import statistics

import pytest
from playwright.sync_api import Page, expect

from labeling import services
from labeling.models import Annotation, Origin, Skip
from learners import services as learner_services
from learners.models import Job
from tests.browser.conftest import ARTIFACTS, DESKTOP, TABLET, screenshot
from tests.factories import NEGATIVE, POSITIVE, add_member, api_client, csv_bytes, make_project, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GUIDELINES = """Label the overall sentiment of the review.

• Sarcasm counts as negative.
• Mixed reviews: choose the sentiment of the conclusion.
• Not a restaurant review at all? Flag it (F)."""
DETAILS = [
    "",
    " The table by the window was lovely, although we waited twenty minutes for the menu.",
    " Would we come back? The desserts alone make that an easy question.",
]


def _rows(n: int, labeled: int) -> list[dict]:
    rows = []
    for i in range(n):
        positive = i % 2 == 0
        words = POSITIVE if positive else NEGATIVE
        row = {
            "id": f"rev-{i:03d}",
            "text": f"{words[i % len(words)].capitalize()}, visit {i}.{DETAILS[i % 3]}",
        }
        if i < labeled:
            row["label"] = "positive" if positive else "negative"
        row["city"] = ["Lyon", "Porto", "Ghent"][i % 3]
        rows.append(row)
    return rows


def _key_for(text: str) -> str:
    return "1" if any(word.capitalize() in text for word in POSITIVE) else "2"


def _wait_for_item(page: Page, previous: str | None = None) -> str:
    page.wait_for_function(
        "prev => { const card = document.getElementById('item-card');"
        " return card.dataset.state === 'item' && document.getElementById('item-id').textContent !== prev; }",
        arg=previous,
    )
    return page.text_content("#item-id")


def _press(page: Page, key: str) -> str:
    """Press `key` on the current item and wait for the next one; return the new item's id."""
    before = page.text_content("#item-id")
    page.keyboard.press(key)
    return _wait_for_item(page, before)


def _read(page: Page) -> None:
    """Take the time a reader takes: at least until the next item is prefetched."""
    page.wait_for_selector('#workbench:not([data-prefetched="0"])')


def _label(page: Page, opposite: bool = False, read: bool = True) -> tuple[str, str]:
    """Label the item on screen by its text (or the opposite); return (item id, label)."""
    if read:
        _read(page)
    item_id = page.text_content("#item-id")
    key = _key_for(page.text_content("#item-text"))
    if opposite:
        key = "2" if key == "1" else "1"
    _press(page, key)
    return item_id, "positive" if key == "1" else "negative"


def _wait_saved(page: Page) -> None:
    expect(page.locator("#conn-text")).to_have_text("All labels saved", timeout=20_000)


def _live_labels(project, user) -> dict[str, str | None]:
    """external id -> the user's latest label (None: withdrawn), from the database."""
    latest: dict[str, str | None] = {}
    rows = Annotation.objects.filter(item__project=project, user=user, origin=Origin.HUMAN).order_by("pk")
    for external_id, label in rows.values_list("item__external_id", "label__name"):
        latest[external_id] = label
    return latest


def test_two_annotators_label_with_the_keyboard_and_agreement_shows(login, owner, annotator):
    project = make_project(
        owner,
        name="Restaurant reviews",
        guidelines=GUIDELINES,
        test_fraction=0.2,
        suggestion_withhold_share=0.0,
    )
    add_member(project, annotator)
    dora = make_user("dora")
    add_member(project, dora)
    # Labeled rows make the first retrain possible.
    services.import_items(
        project, owner, csv_bytes(_rows(90, labeled=24), ["id", "text", "label", "city"]), "r.csv"
    )

    # The admin asks for two annotators per item, on the project page.
    admin = login(owner)
    admin.goto(f"/projects/{project.slug}/")
    admin.fill("#id_overlap", "2")
    admin.click("#settings button[type=submit]")
    expect(admin.locator(".messages")).to_contain_text("Settings saved.")
    project.refresh_from_db()
    assert project.overlap == 2

    # bob labels ten items with the keyboard.
    bob = login(annotator)
    bob.goto(f"/projects/{project.slug}/annotate")
    _wait_for_item(bob)
    given = dict(_label(bob) for _ in range(10))

    # Undo: the last label is withdrawn and its item comes back; label it again.
    last_id = list(given)[-1]
    bob.keyboard.press("z")
    expect(bob.locator("#item-id")).to_have_text(last_id)
    expect(bob.locator("#banner")).to_contain_text("withdrawn")
    item_id, label = _label(bob)
    assert item_id == last_id
    given[item_id] = label

    # Skip one, flag one with a comment.
    _read(bob)
    skipped = bob.text_content("#item-id")
    _press(bob, "s")
    flagged = bob.text_content("#item-id")
    bob.keyboard.press("f")
    bob.fill("#flag-comment", "Not a restaurant review")
    bob.keyboard.press("Enter")
    _wait_for_item(bob, flagged)
    _wait_saved(bob)

    # The label counts, through the API and in the database.
    progress = api_client(annotator).get(f"/api/v1/projects/{project.pk}/progress").json()
    assert progress["mine"] == 10
    assert progress["today"] == 10
    assert {k: v for k, v in _live_labels(project, annotator).items() if v} == given
    assert Skip.objects.get(user=annotator, flagged=False).item.external_id == skipped
    flag = Skip.objects.get(user=annotator, flagged=True)
    assert (flag.item.external_id, flag.comment) == (flagged, "Not a restaurant review")
    history = api_client(annotator).get(f"/api/v1/projects/{project.pk}/history?limit=20").json()["history"]
    assert {h["item"]["external_id"]: h["label"] for h in history} == given

    # An admin retrains (the job runs inline here; a real worker is proven elsewhere);
    # items served from now on come from the model's ranking, with its suggestion.
    job = learner_services.start_retrain(project, owner, enqueue=False)
    learner_services.run_retrain(job)
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED, job.error
    for _ in range(8):
        if bob.is_visible("#suggestion"):
            break
        item_id, label = _label(bob)
        given[item_id] = label
    expect(bob.locator("#suggestion")).to_be_visible()
    expect(bob.locator("#why")).to_contain_text("Checks the model")
    expect(bob.locator("#why")).to_contain_text("The model ")  # how sure it is, in words
    suggested = bob.text_content("#sugg-name")
    accepted_id = bob.text_content("#item-id")
    _wait_saved(bob)
    screenshot(bob, "annotate-desktop")
    bob.set_viewport_size(TABLET)
    screenshot(bob, "annotate-tablet")
    bob.set_viewport_size(DESKTOP)
    _read(bob)
    _press(bob, "Enter")
    given[accepted_id] = suggested
    _wait_saved(bob)
    accepted = Annotation.objects.filter(user=annotator, item__external_id=accepted_id).latest("pk")
    assert accepted.label.name == suggested
    assert accepted.suggested_label.name == suggested

    # Change a past label from the history panel: a new annotation, nothing overwritten.
    first = bob.locator("#history .history-row").first
    changed_id = accepted_id
    first.click()
    expect(bob.locator("#banner")).to_contain_text(f"Changing your label for {changed_id}")
    other = "2" if suggested == "positive" else "1"
    bob.keyboard.press(other)
    given[changed_id] = "positive" if other == "1" else "negative"
    expect(bob.locator("#history .h-label").first).to_have_text(given[changed_id])
    expect(bob.locator("#banner")).to_be_hidden()
    _wait_saved(bob)
    assert _live_labels(project, annotator)[changed_id] == given[changed_id]
    assert Annotation.objects.filter(user=annotator, item__external_id=changed_id).count() == 2

    # Offline: the label stays in the browser and is sent, once, when the server is back.
    before = Annotation.objects.filter(user=annotator).count()
    bob.context.set_offline(True)
    item_id, label = _label(bob)
    given[item_id] = label
    expect(bob.locator("#conn")).to_have_attribute("data-state", "bad", timeout=10_000)
    expect(bob.locator("#conn-text")).to_contain_text("kept in this browser")
    assert Annotation.objects.filter(user=annotator).count() == before
    bob.context.set_offline(False)
    _wait_saved(bob)
    assert Annotation.objects.filter(user=annotator).count() == before + 1
    assert _live_labels(project, annotator)[item_id] == label

    reading = bob.evaluate("window.siftTimings")

    # dora, the second annotator, is served bob's items as second opinions; she disagrees
    # with him on every third.
    second = login(dora)
    second.goto(f"/projects/{project.slug}/annotate")
    _wait_for_item(second)
    expect(second.locator("#why")).to_contain_text("Second opinion")
    for i in range(9):
        _label(second, opposite=i % 3 == 0, read=False)
    _wait_saved(second)
    back_to_back = second.evaluate("window.siftTimings")
    shared = set(_live_labels(project, dora)) & set(_live_labels(project, annotator))
    assert len(shared) >= 8

    # The admin sees the agreement between them.
    admin.goto(f"/projects/{project.slug}/agreement")
    expect(admin.locator("#pairs")).to_contain_text("bob")
    expect(admin.locator("#pairs")).to_contain_text("dora")
    expect(admin.locator("#alpha b")).not_to_have_text("—")
    screenshot(admin, "agreement-desktop")
    admin.set_viewport_size(TABLET)
    screenshot(admin, "agreement-tablet")
    admin.set_viewport_size(DESKTOP)
    admin.goto(f"/projects/{project.slug}/adjudicate")
    expect(admin.locator(".review").first).to_be_visible()
    screenshot(admin, "conflicts-desktop")
    admin.goto(f"/projects/{project.slug}/annotators")
    expect(admin.locator("#annotator-table")).to_contain_text("dora")
    screenshot(admin, "annotators-desktop")
    admin.goto(f"/projects/{project.slug}/")
    screenshot(admin, "project-desktop")

    report = {"reading": _summary(reading), "back_to_back": _summary(back_to_back)}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "latency.json").write_text(json.dumps(report, indent=2))
    for regime, figures in report.items():
        print(
            f"\n{regime}: keypress to next item painted, median {figures['median_ms']} ms, "
            f"p95 {figures['p95_ms']} ms over {figures['keypresses']} keypresses"
        )
    assert report["reading"]["keypresses"] >= 15
    assert report["reading"]["median_ms"] < 100, report


def _summary(timings: list[float]) -> dict:
    ordered = sorted(timings)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "keypresses": len(ordered),
        "median_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(p95, 1),
        "all_ms": [round(t, 1) for t in ordered],
    }
