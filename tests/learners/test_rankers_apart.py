"""A retrain on workers fits its rankers in a task of their own, beside the classifier.

Whichever of the two fits ends last goes on; the queue is the one a retrain that fits
everything in one task writes (same items, order, rankers and scores).
"""

from unittest import mock

import numpy as np
import pytest

from labeling.models import Project
from learners import services
from learners.models import Job, ScoreChunk
from siftml import scoring, training
from tests.factories import import_rows, make_review_rows

ALL_RANKERS = {n: 1.0 for n in ("margin", "entropy", "least_confidence", "error", "novelty", "random")}


def test_rankers_fitted_without_the_model_score_as_those_fitted_with_it():
    rows = make_review_rows(120, labeled=120)
    texts, labels = [r["text"] for r in rows[:80]], [r["label"] for r in rows[:80]]
    names = sorted(set(labels))
    # Every fifth label wrong: the production model makes mistakes for the error model to learn.
    labels = [names[(names.index(y) + 1) % len(names)] if i % 5 == 0 else y for i, y in enumerate(labels)]
    unlabeled = [r["text"] for r in rows[80:]]
    model = training.fit_pipeline(texts, labels, random_state=3)
    together = scoring.prepare_rankers(
        texts, labels, unlabeled, names, ALL_RANKERS, model=model, random_state=3
    )
    apart = scoring.prepare_rankers(
        texts, labels, unlabeled, names, ALL_RANKERS, random_state=3, fit_model=False
    )
    assert apart.model is None
    joined = apart.with_model(model)
    assert joined.features is model.named_steps["features"]

    ids = np.arange(len(unlabeled)) + 1000
    expected, _ = together.score(unlabeled, ids)
    got, _ = joined.score(unlabeled, ids)
    assert set(got) == set(ALL_RANKERS)
    for name in ALL_RANKERS:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    # The error model learned from the same mistakes: it is not the margin fallback.
    assert joined.rankers["error"].model_ is not None
    assert joined.rankers["error"].n_mistakes_ == together.rankers["error"].n_mistakes_


def _queue(project) -> list[tuple]:
    project.refresh_from_db()
    return list(
        project.active_ranking.entries.order_by("-priority").values_list("item_id", "strategy", "score")
    )


def _worker_job(project) -> Job:
    """A retrain as a worker runs it (not inline), started by hand in the test."""
    job = services.start_retrain(project, enqueue=False)
    Job.objects.filter(pk=job.pk).update(params={**job.params, "inline": False})
    job.refresh_from_db()
    return job


def _score_chunks(job, group) -> None:
    for signature in group.call_args.args[0]:
        services.score_chunk(Job.objects.get(pk=job.pk), *signature.args[1:])


@pytest.fixture
def labeled_project(project):
    Project.objects.filter(pk=project.pk).update(strategy_weights=ALL_RANKERS)
    project.refresh_from_db()
    import_rows(project, make_review_rows(90, labeled=45))
    return project


@pytest.mark.parametrize("rankers_first", [False, True], ids=["model first", "rankers first"])
def test_a_pool_of_several_chunks_fits_the_rankers_apart_and_writes_the_same_queue(
    labeled_project, settings, rankers_first
):
    project = labeled_project
    settings.SIFT_SCORE_CHUNK_SIZE = 10
    inline = services.start_retrain(project, enqueue=False)  # everything in one task
    with mock.patch("learners.services.group") as group:
        services.run_retrain(inline)
        _score_chunks(inline, group)
    inline.refresh_from_db()
    assert inline.state == Job.State.SUCCEEDED, inline.error
    assert "rankers_apart" not in inline.params
    expected = _queue(project)

    job = _worker_job(project)
    sent = []
    real_signature = services.current_app.signature

    def send(signature_name, args):
        sent.append(signature_name)
        if signature_name != "learners.tasks.fit_rankers":
            return real_signature(signature_name, args=args)
        task = mock.Mock()
        if rankers_first:  # the other worker is done before this one fitted the classifier
            task.apply_async.side_effect = lambda: services.fit_rankers(Job.objects.get(pk=args[0]))
        return task

    with (
        mock.patch("learners.services.current_app.signature", side_effect=send) as signature,
        mock.patch("learners.services.group") as group,
    ):
        services.run_retrain(job)
        if not rankers_first:
            job.refresh_from_db()
            assert job.state == Job.State.RUNNING
            assert job.params["fitted"] == ["model"]
            assert not job.params.get("bundle")  # nothing is ranked before the rankers are in
            services.fit_rankers(Job.objects.get(pk=job.pk))
        assert signature.call_args_list[0].args == ("learners.tasks.fit_rankers",)
        _score_chunks(job, group)

    job.refresh_from_db()
    assert sent[0] == "learners.tasks.fit_rankers"
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.params["fitted"] == ["model", "rankers"]
    assert "rankers_apart_file" not in job.params
    assert _queue(project) == expected
    phases = job.result["phase_seconds"]
    assert {"fit", "ranker fit:error", "ranker fit:novelty", "mixing", "queue write", "swap"} <= set(phases)
    assert not ScoreChunk.objects.exists()
    # Only the served rankers' bundle and models remain: the apart file was removed.
    leftovers = list((settings.ARTIFACT_DIR / str(project.pk)).glob("rankers-apart-*"))
    assert leftovers == []


def test_a_failing_rankers_task_fails_the_retrain_and_keeps_the_old_queue(labeled_project, settings):
    project = labeled_project
    inline = services.start_retrain(project, enqueue=False)
    services.run_retrain(inline)
    project.refresh_from_db()
    old_ranking = project.active_ranking_id
    settings.SIFT_SCORE_CHUNK_SIZE = 10

    job = _worker_job(project)
    with mock.patch("learners.services.current_app.signature") as signature:
        services.run_retrain(job)
    signature.assert_called_once_with("learners.tasks.fit_rankers", args=(job.pk,))
    with mock.patch("learners.ranking.prepare_rankers", side_effect=MemoryError("no room")):
        services.fit_rankers(Job.objects.get(pk=job.pk))

    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert "MemoryError: no room" in job.error
    project.refresh_from_db()
    assert project.active_ranking_id == old_ranking
    assert list((settings.ARTIFACT_DIR / str(project.pk)).glob("rankers-apart-*")) == []


def test_a_small_pool_and_an_inline_retrain_fit_everything_in_one_task(labeled_project):
    job = _worker_job(labeled_project)  # the pool fits in one chunk of the default size
    with mock.patch("learners.services.current_app.signature") as signature:
        services.run_retrain(job)
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED, job.error
    signature.assert_not_called()
    assert "rankers_apart" not in job.params
