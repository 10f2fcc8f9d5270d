"""The live ranking: no test item in any fit, chunks scored in parallel, new items slotted in."""

import math
from unittest import mock

import pytest

from labeling import services as labeling_services
from labeling.models import Annotation, Origin, QueueEntry, Split
from learners import ranking, services
from learners.models import Job, ScoreChunk
from siftml import scoring
from tests.factories import import_rows, make_review_rows


def _run(project) -> Job:
    job = services.start_retrain(project, enqueue=False)
    services.run_retrain(job)
    job.refresh_from_db()
    return job


def _rows(n: int, labeled: int, prefix: str = "r") -> list[dict]:
    return [{**row, "id": f"{prefix}{row['id']}"} for row in make_review_rows(n, labeled=labeled)]


@pytest.mark.parametrize("n_labeled", [1, 40], ids=["cold start", "with a model"])
def test_no_test_item_reaches_any_fit(project, n_labeled):
    rows = [
        {**r, "text": f"{r['text']} token{i}"} for i, r in enumerate(make_review_rows(80, labeled=n_labeled))
    ]
    import_rows(project, rows)
    test_texts = set(project.items.filter(split=Split.TEST).values_list("text", flat=True))
    seen = {}
    real = scoring.prepare_rankers

    def spy(texts, labels, unlabeled_sample, *args, **kwargs):
        seen.update(texts=list(texts), sample=list(unlabeled_sample))
        return real(texts, labels, unlabeled_sample, *args, **kwargs)

    with mock.patch.object(scoring, "prepare_rankers", spy):
        assert _run(project).state == Job.State.SUCCEEDED

    # Classifier, vectorizer, error model and novelty model are all fitted from these.
    assert test_texts
    assert seen["sample"]
    assert not test_texts & set(seen["texts"])
    assert not test_texts & set(seen["sample"])
    project.refresh_from_db()
    queued = project.active_ranking.entries.values_list("item__split", flat=True)
    assert set(queued) == {Split.POOL}


def test_a_large_pool_is_scored_in_chunks_and_swapped_in_by_the_last_one(
    project, settings, django_capture_on_commit_callbacks
):
    import_rows(project, _rows(60, labeled=30))
    first = _run(project)
    settings.SIFT_SCORE_CHUNK_SIZE = 10
    project.refresh_from_db()
    old_ranking = project.active_ranking_id
    import_rows(project, _rows(20, labeled=20, prefix="x"))

    with mock.patch("learners.services.group") as group, django_capture_on_commit_callbacks(execute=True):
        job = services.start_retrain(project, enqueue=False)
        services.run_retrain(job)
    job.refresh_from_db()
    assert first.state == Job.State.SUCCEEDED
    assert job.state == Job.State.RUNNING
    chunks = job.params["chunks"]
    # The project's random seed decides how many of the 30 unlabeled items land in the pool.
    assert chunks == math.ceil(ranking.rankable_items(project).count() / 10) >= 2
    # Until every chunk is in, annotators are served from the old ranking.
    project.refresh_from_db()
    assert project.active_ranking_id == old_ranking

    signatures = group.call_args.args[0]
    for signature in reversed(signatures):  # any order
        services.score_chunk(job, *signature.args[1:])
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED, job.error
    project.refresh_from_db()
    assert project.active_ranking_id != old_ranking
    rankable = ranking.rankable_items(project).count()
    assert project.active_ranking.entries.count() == rankable
    assert not ScoreChunk.objects.exists()


def test_a_failing_chunk_fails_the_job_and_keeps_the_old_ranking(
    project, settings, django_capture_on_commit_callbacks
):
    import_rows(project, _rows(60, labeled=30))
    _run(project)
    settings.SIFT_SCORE_CHUNK_SIZE = 10
    project.refresh_from_db()
    old_ranking = project.active_ranking_id
    with mock.patch("learners.services.group") as group, django_capture_on_commit_callbacks(execute=True):
        job = services.start_retrain(project, enqueue=False)
        services.run_retrain(job)
    job.refresh_from_db()
    job.params["bundle"]["sha256"] = "0" * 64  # the ranker file no longer matches
    Job.objects.filter(pk=job.pk).update(params=job.params)
    services.score_chunk(job, *group.call_args.args[0][0].args[1:])

    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert "ArtifactMismatch" in job.error
    project.refresh_from_db()
    assert project.active_ranking_id == old_ranking


def test_items_imported_after_a_retrain_are_ranked_on_arrival(project, django_capture_on_commit_callbacks):
    import_rows(project, _rows(60, labeled=30))
    _run(project)
    project.refresh_from_db()
    before = project.active_ranking.entries.count()
    with (
        mock.patch("learners.jobs.current_app.send_task") as send,
        django_capture_on_commit_callbacks(execute=True),
    ):
        import_rows(
            project, [{"id": "n1", "text": "great service but rude staff"}, {"id": "n2", "text": "loved it"}]
        )
    job = Job.objects.get(kind=Job.Kind.SCORE)
    send.assert_called_once_with("learners.tasks.score_new_items", args=[job.pk])

    services.score_new_items(job)
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED
    new_pool = project.items.filter(external_id__in=["n1", "n2"], split=Split.POOL)
    entries = QueueEntry.objects.filter(ranking=project.active_ranking, item__in=new_pool)
    assert entries.count() == new_pool.count() == job.result["placed"]
    assert project.active_ranking.entries.count() == before + new_pool.count()
    assert all(e.reason and e.strategy in ("margin", "error", "novelty") for e in entries)


def test_labels_that_arrive_during_a_retrain_start_the_next_one_when_it_ends(
    project, annotator, django_capture_on_commit_callbacks
):
    project.retrain_every = 5
    project.save()
    import_rows(project, _rows(60, labeled=30))
    label = project.labels.first()
    real_bounds = ranking.chunk_bounds

    def label_meanwhile(*args, **kwargs):
        for item in project.items.filter(label__isnull=True)[:5]:
            labeling_services.save_annotation(item, annotator, label)
        assert services.maybe_start_retrain(project.pk) is None  # one is running
        return real_bounds(*args, **kwargs)

    with (
        mock.patch("learners.jobs.current_app.send_task") as send,
        mock.patch.object(ranking, "chunk_bounds", label_meanwhile),
        django_capture_on_commit_callbacks(execute=True),
    ):
        job = services.start_retrain(project, enqueue=False)
        services.run_retrain(job)
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED
    follow_up = Job.objects.get(kind=Job.Kind.RETRAIN, state=Job.State.QUEUED)
    assert follow_up.params["trigger"] == "auto"
    send.assert_called_once_with("learners.tasks.retrain", args=[follow_up.pk])


def test_adaptive_mix_weights_follow_where_the_model_was_wrong(project, annotator):
    project.adaptive_mix = True
    project.save()
    import_rows(project, _rows(40, labeled=0))
    positive, negative = project.labels.all()
    items = list(project.items.all()[:20])
    for i, item in enumerate(items):
        strategy = "novelty" if i < 10 else "margin"
        # The model guessed "positive" every time; novelty's picks were all negative.
        Annotation.objects.create(
            item=item,
            user=annotator,
            label=negative if i < 10 else positive,
            origin=Origin.HUMAN,
            strategy=strategy,
            predicted_label=positive,
        )
    weights, origin = ranking.choose_weights(project)
    assert origin.startswith("adaptive")
    assert weights["novelty"] > weights["error"] > weights["margin"]


def test_the_adaptive_mix_learns_only_from_labels_given_without_a_suggestion(project, annotator):
    project.adaptive_mix = True
    project.save()
    import_rows(project, _rows(40, labeled=0))
    positive, negative = project.labels.all()
    items = list(project.items.all()[:30])
    for i, item in enumerate(items):
        # 0-9: margin, withheld, the model right; 10-29: margin with "positive" on screen,
        # the annotator disagreeing: a reward only if anchoring did not matter.
        Annotation.objects.create(
            item=item,
            user=annotator,
            label=positive if i < 10 else negative,
            origin=Origin.HUMAN,
            strategy="margin",
            predicted_label=positive,
            suggested_label=None if i < 10 else positive,
        )
    assert ranking._bandit_rewards(project) == {"margin": (0, 10)}
    weights, _ = ranking.choose_weights(project)
    # No win in 10 withheld pulls: margin's posterior is Beta(1, 11), below the untried arms'.
    assert weights["margin"] < min(weights["error"], weights["novelty"], weights["entropy"])


def test_the_pool_is_cut_into_chunks_of_equal_size(project):
    import_rows(project, _rows(120, labeled=0))
    ids = list(ranking.rankable_items(project).order_by("pk").values_list("pk", flat=True))
    size = 10 if len(ids) % 10 else 11  # cutting every `size` items would leave a short last chunk
    assert len(ids) % size

    bounds = ranking.chunk_bounds(project, size)

    sizes = [sum(first <= pk <= last for pk in ids) for first, last in bounds]
    assert sum(sizes) == len(ids)  # every rankable item is in exactly one chunk
    assert len(bounds) == -(-len(ids) // size)
    assert max(sizes) <= size
    assert max(sizes) - min(sizes) <= 1  # no short last chunk leaves a worker idle


def test_the_replaced_ranking_stays_until_the_next_swap(project):
    from labeling.models import Ranking

    import_rows(project, _rows(60, labeled=30))
    rankings = []
    for _ in range(3):
        _run(project)
        project.refresh_from_db()
        rankings.append(project.active_ranking_id)
    # A request that read the pointer just before a swap still finds the queue it read.
    assert set(Ranking.objects.filter(project=project).values_list("pk", flat=True)) == set(rankings[1:])


@pytest.mark.parametrize("size", [7, 10, 50])
def test_chunk_bounds_numbered_by_the_database_match_reading_every_id(project, size):
    # Labeled rows leave gaps in the ids of the rankable items.
    import_rows(project, _rows(120, labeled=40))
    ids = list(ranking.rankable_items(project).order_by("pk").values_list("pk", flat=True))
    n_chunks = math.ceil(len(ids) / size)
    starts = {k * len(ids) // n_chunks for k in range(n_chunks)}
    cuts = [pk for i, pk in enumerate(ids) if i in starts]  # the former loop over every id
    expected = list(zip(cuts, [*[c - 1 for c in cuts[1:]], ids[-1]], strict=True))

    assert ranking.chunk_bounds(project, size) == expected
