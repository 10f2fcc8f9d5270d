import pytest
from labeling import services
from tests.browser.conftest import screenshot, TABLET
from tests.factories import import_rows, make_review_rows

@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_smoke(login, owner, annotator, project):
    project.guidelines = "Label the overall sentiment of the review.\n\n• Sarcasm counts as negative.\n• Mixed reviews: choose the sentiment of the conclusion.\n• Not a review at all? Flag it (F)."
    project.save()
    rows = make_review_rows(60, labeled=20)
    for i, r in enumerate(rows):
        r["text"] = r["text"] + (" — the staff were friendly but the wait for a table was far too long, and the dessert menu was limited." if i % 3 == 0 else "")
    import_rows(project, rows)
    page = login(annotator)
    page.goto(f"/projects/{project.slug}/annotate")
    page.wait_for_selector("#item-card[data-state=item]")
    for k in "1212":
        page.keyboard.press(k)
        page.wait_for_timeout(150)
    page.wait_for_selector("#conn-text:has-text('All labels saved')")
    screenshot(page, "tmp-annotate")
    page.set_viewport_size(TABLET)
    screenshot(page, "tmp-annotate-tablet")
    print(page.evaluate("window.siftTimings"))
