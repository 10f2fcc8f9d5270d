"""One loop for simulation and production (issue 15, item 6).

A production retrain (a real project, its import, the retrain job, the queue it writes) and a
simulated round on the same items and seed pick the same items in the same order: the
simulator's numbers come from the loop a project runs.
"""

import numpy as np
import pytest

from labeling.models import Item, Split
from learners import ranking, services
from learners.models import ModelVersion
from siftml import scoring, simulation, training
from tests.factories import import_rows, make_review_rows


def _production_round(project) -> list[int]:
    job = services.start_retrain(project, None, enqueue=False)
    services.run_retrain(job)
    project.refresh_from_db()
    entries = project.active_ranking.entries.order_by("-priority").values_list("item_id", flat=True)
    return list(entries)


def _simulated_round(project, labeled_pks: list[int]) -> list[int]:
    pool = list(Item.objects.filter(project=project, split=Split.POOL).order_by("pk"))
    data = simulation.Dataset(
        [i.text for i in pool],
        np.asarray([i.label.name if i.label_id else "" for i in pool], dtype=object),
        [],
        np.asarray([], dtype=object),
        pool_ids=np.asarray([i.pk for i in pool]),
        pool_rand_keys=np.asarray([i.rand_key for i in pool]),
        names=list(project.labels.values_list("name", flat=True)),
    )
    position = {item.pk: k for k, item in enumerate(pool)}
    labeled = [position[pk] for pk in labeled_pks]
    loop = simulation.Loop(plan=ranking.queue_plan(), min_per_label=project.cold_start_min_per_label)
    seed = project.seed % 2**31
    rankers = simulation.retrain_round(
        data,
        labeled,
        len(labeled),
        dict(scoring.DEFAULT_WEIGHTS),
        training.params_for_pool(len(pool)),
        loop,
        seed,
        data.rand_keys(seed),
    )
    return [pick.item_id for pick in simulation.queue_round(rankers, data, labeled, loop)]


@pytest.mark.parametrize("queue_size", [2_000, 25])
def test_a_simulated_round_picks_what_the_production_retrain_queues(project, settings, queue_size):
    settings.SIFT_QUEUE_SIZE = queue_size
    settings.SIFT_BATCH_SIZE = 10
    import_rows(project, make_review_rows(160, labeled=70))
    labeled = list(
        Item.objects.filter(project=project, split=Split.POOL, label__isnull=False)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    production = _production_round(project)
    assert ModelVersion.objects.get(project=project).is_active
    assert len(production) == min(queue_size, ranking.rankable_items(project).count())
    assert _simulated_round(project, labeled) == production


def test_the_simulator_and_production_share_the_queue_plan_and_the_gate(settings):
    settings.SIFT_QUEUE_SIZE, settings.SIFT_BATCH_SIZE = 300, 15
    plan = ranking.queue_plan()
    assert plan == scoring.QueuePlan(300, 15)
    assert ranking.candidate_count() == plan.candidates == int(300 * 1.25) + 50
    assert not hasattr(simulation, "_query")  # the simulator's own queue building is gone
