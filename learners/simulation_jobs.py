"""Simulation jobs: replay a project's own labels with an oracle, as a background job."""

from pathlib import Path

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, OuterRef, Subquery

from labeling.exports import iter_dataset_rows
from labeling.models import Annotation, Item, Origin, Project, Split
from labeling.services import get_label_watermark
from learners import artifacts, jobs
from learners.jobs import report
from learners.models import Job
from learners.runner import Outcome, run_job

# numpy, scikit-learn and matplotlib (siftml.simulation, curves, training) are imported by
# the functions that run a simulation in a worker: a page that starts one needs none.

SIMULATION_DEFAULTS = {
    "strategies": ["random", "margin", "error", "novelty", "mix"],
    "seeds": 2,
    "batch": 20,
    "budget": 1000,
    "target": 0.95,
}
MIN_SIMULATION_TEST = 20


def start_simulation(project: Project, user: AbstractBaseUser | None, params: dict) -> Job:
    """Queue a simulation of the strategies on the project's own labeled data (its own queue)."""
    return jobs.start_job(project, Job.Kind.SIMULATE, user=user, params={**SIMULATION_DEFAULTS, **params})


def run_simulation(job: Job) -> None:
    """Replay the project's labeled pool with an oracle, judged on its labeled test items."""
    run_job(job, _run_simulation)


def _run_simulation(job: Job) -> Outcome:
    from learners import ranking
    from siftml import curves, simulation

    report(job, message="Reading the labels.")
    data = _simulation_data(job.project)
    p = job.params
    budget = min(p["budget"], len(data.pool_texts))
    project = job.project
    loop = simulation.Loop(
        plan=ranking.queue_plan(),
        tolerance=project.promotion_tolerance,
        min_per_label=project.cold_start_min_per_label,
    )
    runs = simulation.simulate(
        data,
        p["strategies"],
        list(range(p["seeds"])),
        p["batch"],
        budget,
        p["target"],
        progress=lambda message, done: report(job, progress=0.02 + 0.9 * done, message=message),
        loop=loop,
    )
    path = Path(str(job.project_id)) / f"simulation-{job.pk}.svg"
    # Recorded before the write, so that a failed job's half-written plot is removed.
    report(job, params={**p, "plot": str(path)})
    artifacts.write_bytes(path, curves.plot_curves(runs, p["target"]))
    result = {
        "table": simulation.summarize(runs),
        "runs": [r.summary() for r in runs],
        "plot": str(path),
        "pool": len(data.pool_texts),
        "test": len(data.test_texts),
        "budget": budget,
        "selection": pool_selection(job.project),
        "replay_warning": REPLAY_WARNING,
    }
    return Outcome(_simulation_verdict(result["table"], p["target"]), result)


# Below this share of labels picked at random, the replayed pool is mostly what active
# learning chose, and the page says the comparison is flattered.
RANDOM_SHARE_WARNING = 0.5
REPLAY_WARNING = (
    "This replays labels that active learning already selected: the pool holds the items the "
    "rankers found informative, so every strategy, random included, looks better here than it "
    "would on a fresh pool, and the gap between strategies shrinks. Only the part of the pool "
    "picked at random is an unbiased sample."
)


def pool_selection(project: Project) -> dict:
    """How the labeled pool items were chosen: by the strategy of each item's first human label.

    "random" counts items served at random (the random ranker, or beyond the queue); "ranked"
    items a ranker chose; "imported" items whose label came with the import (chosen by whoever
    made the file); "unknown" items labeled without being served. Only the random part is a
    uniform sample of the pool.
    """
    first = Annotation.objects.filter(item=OuterRef("pk"), origin=Origin.HUMAN).order_by("pk")
    items = Item.objects.filter(project=project, split=Split.POOL, label__isnull=False).annotate(
        first_strategy=Subquery(first.values("strategy")[:1])
    )
    counts = {"random": 0, "ranked": 0, "imported": 0, "unknown": 0}
    for origin, strategy, n in (
        items.values_list("label_origin", "first_strategy")
        .annotate(n=Count("pk"))
        .values_list("label_origin", "first_strategy", "n")
    ):
        if origin == Origin.IMPORT or strategy is None:
            counts["imported"] += n
        elif strategy == "random":
            counts["random"] += n
        elif strategy:
            counts["ranked"] += n
        else:  # labeled without being served (no lease): nothing says how it was chosen
            counts["unknown"] += n
    total = sum(counts.values())
    return {**counts, "total": total, "random_share": counts["random"] / total if total else 0.0}


def _simulation_data(project: Project) -> "simulation.Dataset":  # noqa: F821 (imported below)
    import numpy as np

    from siftml import simulation, training

    rows = list(iter_dataset_rows(project, get_label_watermark(project)))
    pool = [r for r in rows if r.split == Split.POOL]
    test = [r for r in rows if r.split == Split.TEST]
    if len(test) < MIN_SIMULATION_TEST:
        raise ValueError(
            f"A simulation needs at least {MIN_SIMULATION_TEST} labeled test items to judge the "
            f"strategies; this project has {len(test)}."
        )
    training.check_trainable([r.label for r in pool])
    return simulation.Dataset(
        [r.text for r in pool],
        np.asarray([r.label for r in pool], dtype=object),
        [r.text for r in test],
        np.asarray([r.label for r in test], dtype=object),
    )


def _simulation_verdict(table: list[dict], target: float) -> str:
    baseline = next((r["labels_to_target"] for r in table if r["strategy"] == "random"), None)
    reached = [r for r in table if r["labels_to_target"] is not None]
    if not reached:
        return f"No strategy reached {target:.0%} of the full-data macro-F1 within the budget."
    best = min(reached, key=lambda r: r["labels_to_target"])
    if baseline is None:
        return f"{best['strategy']} reached the target first, after {best['labels_to_target']:.0f} labels."
    return (
        f"{best['strategy']} reached {target:.0%} of the full-data macro-F1 after "
        f"{best['labels_to_target']:.0f} labels; random needed {baseline:.0f} "
        f"({best['labels_to_target'] / baseline:.2f}x)."
    )
