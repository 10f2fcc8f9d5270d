"""A label is never lost and never counted twice, whatever happens to the network or the session."""

import pytest
from django.contrib.sessions.models import Session
from playwright.sync_api import Route, expect

from labeling.models import Annotation
from tests.browser.conftest import PASSWORD
from tests.factories import import_rows, make_review_rows

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _open(login, user, project):
    page = login(user)
    page.goto(f"/projects/{project.slug}/annotate")
    expect(page.locator("#item-card")).to_have_attribute("data-state", "item")
    return page


def test_a_label_whose_response_is_lost_is_sent_again_and_counted_once(login, annotator, project):
    import_rows(project, make_review_rows(10))
    page = _open(login, annotator, project)
    lost = []

    def lose_the_first_response(route: Route) -> None:
        if not lost:
            route.fetch()  # the server receives it and saves the annotation...
            lost.append(route.request.post_data_json)
            route.abort()  # ...but the page never hears back
        else:
            route.continue_()

    page.route("**/api/v1/items/*/annotations", lose_the_first_response)
    item_id = page.text_content("#item-id")
    page.keyboard.press("1")
    expect(page.locator("#conn-text")).to_have_text("All labels saved", timeout=20_000)

    assert len(lost) == 1
    rows = Annotation.objects.filter(user=annotator, item__external_id=item_id)
    assert rows.count() == 1
    assert str(rows.get().client_id) == lost[0]["client_id"]


def test_labels_made_after_the_session_expired_are_sent_after_logging_in_again(
    login, annotator, project, live_server
):
    import_rows(project, make_review_rows(10))
    page = _open(login, annotator, project)
    Session.objects.all().delete()  # the session expires while the annotator works

    item_id = page.text_content("#item-id")
    page.keyboard.press("2")
    expect(page.locator("#conn-text")).to_contain_text("Signed out", timeout=10_000)
    expect(page.locator("#conn-text")).to_contain_text("1 change kept")
    assert not Annotation.objects.filter(user=annotator).exists()

    other_tab = page.context.new_page()
    other_tab.goto(f"{live_server.url}/accounts/login/")
    other_tab.fill("#id_username", annotator.username)
    other_tab.fill("#id_password", PASSWORD)
    other_tab.click("button[type=submit]")
    other_tab.wait_for_url(f"{live_server.url}/")

    expect(page.locator("#conn-text")).to_have_text("All labels saved", timeout=30_000)
    saved = Annotation.objects.get(user=annotator)
    assert (saved.item.external_id, saved.label.name) == (item_id, "negative")


def test_a_reload_sends_labels_left_in_the_browser(login, annotator, project):
    import_rows(project, make_review_rows(10))
    page = _open(login, annotator, project)
    page.route("**/api/v1/items/*/annotations", lambda route: route.abort())
    item_id = page.text_content("#item-id")
    page.keyboard.press("1")
    expect(page.locator("#conn")).to_have_attribute("data-state", "bad", timeout=10_000)
    page.unroute("**/api/v1/items/*/annotations")

    page.reload()  # the outbox is in localStorage: the new page sends what the old one kept

    expect(page.locator("#conn-text")).to_have_text("All labels saved", timeout=20_000)
    assert Annotation.objects.get(user=annotator).item.external_id == item_id
    expect(page.locator("#history .h-label").first).to_have_text("positive")
