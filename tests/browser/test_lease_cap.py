"""The lease cap on the labeling page: when the annotator already holds SIFT_MAX_LEASES items
(the one on screen, prefetched ones, labels on their way), `next` answers 409. The page keeps
labeling what it holds and asks again later; it never says "nothing left" or "offline"."""

import pytest
from django.test import override_settings
from playwright.sync_api import expect

from labeling.models import Annotation
from tests.factories import add_member, import_rows, make_project, make_review_rows

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@override_settings(SIFT_MAX_LEASES=1)
def test_a_409_from_next_keeps_the_page_labeling(login, owner, annotator):
    project = make_project(owner, name="Capped reviews")
    add_member(project, annotator)
    import_rows(project, make_review_rows(50))
    page = login(annotator)
    page.goto(f"/projects/{project.slug}/annotate")
    seen = []
    for _ in range(4):
        page.wait_for_function(
            "prev => document.getElementById('item-card').dataset.state === 'item'"
            " && document.getElementById('item-id').textContent !== prev",
            arg=seen[-1] if seen else None,
        )
        seen.append(page.text_content("#item-id"))
        page.keyboard.press("1")
    expect(page.locator("#item-text")).not_to_contain_text("Nothing left")
    expect(page.locator("#item-card")).not_to_have_attribute("data-state", "offline")
    expect(page.locator("#conn-text")).to_have_text("All labels saved", timeout=15_000)
    assert len(set(seen)) == 4
    saved = Annotation.objects.filter(user=annotator).values_list("item__external_id", flat=True)
    assert sorted(saved) == sorted(seen)
