"""CPU seconds of the queue's near-duplicate mixing (siftml.mixing.mix_queue), on its own.

    .venv/bin/python bench/scale_mixing.py [--reference]

Three rankers x 2,560 candidates each (a 2,000-entry queue's candidates, see
learners.ranking.candidate_count), batch 20, threshold 0.9, on two pools: one where each
text comes in runs of 40 near-identical copies in every ranker's list (a resampled pool,
the case of issue 12) and one with no duplicates. CPU seconds (time.process_time), the
figure a loaded machine disturbs least. --reference also times the rule as first written
(one sparse product per candidate, tests/learners/test_mixing_pinned.py) and checks both
give the same queue; it takes minutes on the duplicate pool.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from siftml import mixing  # noqa: E402

WEIGHTS = {"margin": 0.7, "error": 0.1, "novelty": 0.2}
COPIES, TEXTS, VOCABULARY = 40, 200, 20_000


def pool(copies: int, seed: int = 1) -> tuple[dict, sp.csr_matrix, dict[int, int]]:
    """Sparse TF-IDF-like rows; `copies` near-identical rows per text, adjacent in each list."""
    rng = np.random.default_rng(seed)
    n = TEXTS * COPIES
    bases = sp.random(n // copies, VOCABULARY, density=0.002, random_state=3, format="csr")
    noise = sp.random(n, VOCABULARY, density=0.0002, random_state=4, format="csr")
    features = normalize(sp.csr_matrix(bases[np.repeat(np.arange(n // copies), copies)] + 0.05 * noise))
    per_ranker = 2_560 // copies
    ranked = {
        name: (
            rng.permutation(n // copies)[:per_ranker].repeat(copies) * copies
            + np.tile(np.arange(copies), per_ranker),
            np.linspace(1, 0, per_ranker * copies),
        )
        for name in WEIGHTS
    }
    return ranked, features, {i: i for i in range(n)}


def cpu_seconds(mix, ranked, features, rows) -> tuple[float, list]:
    started = time.process_time()
    picks = mix(ranked, WEIGHTS, 2_000, 20, features, rows)
    return time.process_time() - started, picks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reference", action="store_true", help="also time the per-candidate rule")
    args = parser.parse_args()
    for label, copies in (("runs of 40 near-duplicates", COPIES), ("no duplicates", 1)):
        ranked, features, rows = pool(copies)
        seconds, picks = cpu_seconds(mixing.mix_queue, ranked, features, rows)
        line = f"{label}: mix_queue {seconds:.2f} CPU-s, {len(picks)} picks"
        if args.reference:
            sys.path.insert(0, str(ROOT / "tests" / "learners"))
            from test_mixing_pinned import reference_mix

            before, expected = cpu_seconds(reference_mix, ranked, features, rows)
            line += f"; per-candidate rule {before:.2f} CPU-s, same queue: {picks == expected}"
        print(line)


if __name__ == "__main__":
    main()
