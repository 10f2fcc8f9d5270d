"""A retrain records how long each of its phases took, in the job's result and the ranking."""

import numpy as np

from learners import ranking, services
from learners.models import Job
from siftml import scoring
from tests.factories import import_rows, make_review_rows


def test_retrain_result_holds_the_seconds_of_every_phase(project):
    import_rows(project, make_review_rows(60, labeled=30))
    job = services.start_retrain(project, None, enqueue=False)
    services.run_retrain(job)
    job.refresh_from_db()

    assert job.state == Job.State.SUCCEEDED, job.message
    phases = job.result["phase_seconds"]
    rankers = project.__class__.objects.get(pk=project.pk).active_ranking.summary["weights"]
    expected = {"fit", "features", "probabilities", "mixing features", "mixing", "queue write", "swap"}
    expected |= {f"ranker:{name}" for name in rankers} | {f"ranker fit:{name}" for name in rankers}
    assert expected <= set(phases)
    assert all(isinstance(v, float) and v >= 0 for v in phases.values())
    assert phases["fit"] > 0
    assert phases["mixing"] > 0


def test_phase_seconds_travel_with_a_chunk_scored_by_another_worker():
    candidates = scoring.Candidates(keep=3)
    candidates.add("margin", np.array([1, 2]), np.array([0.5, 0.4]))
    candidates.seconds = {"features": 1.5, "ranker:margin": 0.25}
    merged = scoring.Candidates(keep=3, seconds={"features": 1.0})
    merged.merge(ranking.decode_candidates(ranking.encode_candidates(candidates), 3))
    assert merged.seconds == {"features": 2.5, "ranker:margin": 0.25}
    assert merged.ids["margin"].tolist() == [1, 2]
