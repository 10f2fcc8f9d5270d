"""The job page of a batch prediction job keeps its download link after the page's script
redraws the result box, and the link downloads the file in the signed-in browser."""

from playwright.sync_api import expect

from labeling import services
from learners import jobs
from learners import services as learner_services
from learners.models import Job
from serving import batch
from tests.factories import csv_bytes, make_project
from tests.serving.conftest import review_rows


def test_a_succeeded_predict_job_page_links_its_file(login, owner):
    project = make_project(owner, name="Batch", test_fraction=0.4, test_target=0, seed=4, retrain_every=0)
    services.import_items(project, owner, csv_bytes(review_rows(80)), "rows.csv")
    fresh = [{"id": r["id"], "text": r["text"]} for r in review_rows(6, start=300)]
    services.import_items(project, owner, csv_bytes(fresh, ["id", "text"]), "fresh.csv")
    retrain = learner_services.start_retrain(project, enqueue=False)
    learner_services.run_retrain(retrain)
    n = project.items.filter(split="pool", label__isnull=True).count()
    job = jobs.start_job(
        project,
        Job.Kind.PREDICT,
        user=owner,
        params={"source": "unlabeled", "format": "csv", "rows": n},
        enqueue=False,
    )
    batch.run_batch(job)
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED, job.error

    page = login(owner)
    page.goto(f"/jobs/{job.pk}/")
    expect(page.locator("#job-progress")).to_contain_text("100% done")  # the script has redrawn it
    link = page.locator("#predictions-download")
    expect(link).to_have_attribute("href", f"/api/v1/jobs/{job.pk}/predictions")
    with page.expect_download() as download:
        link.click()
    with open(download.value.path(), encoding="utf-8") as saved:
        text = saved.read()
    assert text.startswith("id,text,outcome,label,confidence,reason,meta\n")
    assert len(text.strip().splitlines()) == n + 1
