"""Turn the simulator's summary.csv files into the README's label-efficiency table.

    python bench/labels_report.py --budget 5000 bench/results/labels-banking77-*/summary.csv

Labels to target: the median over seeds, where a seed that never reached the target
counts as more than the budget (so with 3 seeds, 2 that reached give a true median).
"vs random" divides by random's median; when random's median is past the budget, the
ratio is an upper bound ("<"). "vs best single" divides by the best single ranker's.

The second table pairs every strategy with plain margin seed by seed (same split, same
cold start): the mean difference in labels to target (a seed either misses counts as
the budget, so the difference is a bound there) and in the area under the learning
curve (the mean macro-F1 over the rounds), each with a BCa bootstrap interval over seeds
(siftml/intervals.py). An interval that holds 0 is seed noise, and says so.
"""

import argparse
import csv
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from siftml import intervals

BASELINE = "margin"
# Below this many paired seeds a bootstrap interval says nothing: no verdict is given.
MIN_SEEDS = 3

MIXES = ("mix", "adaptive")


def read(paths: list[Path]) -> dict[str, dict[int, dict]]:
    runs: dict[str, dict[int, dict]] = defaultdict(dict)
    for path in paths:
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                runs[row["strategy"]][int(row["seed"])] = row
    return runs


def median_labels(rows: dict[int, dict]) -> float:
    values = sorted(float(r["labels_to_target"] or math.inf) for r in rows.values())
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


def ratio(labels: float, baseline: float, budget: int) -> str:
    if math.isinf(labels):
        return "-"
    if math.isinf(baseline):
        return f"< {labels / budget:.2f}x"
    return f"{labels / baseline:.2f}x"


def table(runs: dict[str, dict[int, dict]], budget: int) -> str:
    medians = {s: median_labels(rows) for s, rows in runs.items()}
    # A weighted mix ("margin:0.9+novelty:0.1") is no single ranker either.
    singles = {s: m for s, m in medians.items() if s not in MIXES and s != "random" and ":" not in s}
    best = min(singles, key=singles.get) if singles else None
    lines = [
        "| strategy | labels to target (median) | per seed | vs random | vs best single"
        " | mean F1 | final F1 |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    order = sorted(runs, key=lambda s: (s != "random", medians[s], s))
    for strategy in order:
        rows = runs[strategy]
        labels = medians[strategy]
        per_seed = ", ".join(rows[seed]["labels_to_target"] or f">{budget}" for seed in sorted(rows))
        mean_f1 = sum(float(r["mean_f1"]) for r in rows.values()) / len(rows)
        final_f1 = sum(float(r["final_f1"]) for r in rows.values()) / len(rows)
        vs_random = ratio(labels, medians["random"], budget) if "random" in medians else "-"
        vs_best = ratio(labels, medians[best], budget) if best and strategy != "random" else "-"
        shown = f">{budget}" if math.isinf(labels) else f"{labels:.0f}"
        name = f"**{strategy}** (best single)" if strategy == best else strategy
        lines.append(
            f"| {name} | {shown} | {per_seed} | {vs_random} | {vs_best} | {mean_f1:.3f} | {final_f1:.3f} |"
        )
    full = sorted({float(r["full_f1"]) for rows in runs.values() for r in rows.values()})
    lines.append("")
    lines.append(f"Full-pool macro-F1 per seed: {', '.join(f'{f:.3f}' for f in full)}.")
    return "\n".join(lines)


def paired(runs: dict[str, dict[int, dict]], budget: int, baseline: str = BASELINE) -> str:
    """Each strategy minus `baseline` on the seeds both ran: labels to target and AULC."""
    if baseline not in runs:
        return f"(no {baseline} runs to pair with)"
    lines = [
        f"| strategy | seeds | labels to target − {baseline} (mean, 95% BCa) | per seed"
        f" | AULC − {baseline} (mean, 95% BCa) | verdict |",
        "| --- | ---: | --- | --- | --- | --- |",
    ]
    for strategy in sorted(s for s in runs if s != baseline):
        seeds = sorted(set(runs[strategy]) & set(runs[baseline]))
        if not seeds:
            continue
        labels = np.array(
            [_labels(runs[strategy][k], budget) - _labels(runs[baseline][k], budget) for k in seeds], float
        )
        aulc = np.array(
            [float(runs[strategy][k]["mean_f1"]) - float(runs[baseline][k]["mean_f1"]) for k in seeds]
        )
        label_ci, aulc_ci = _interval(labels), _interval(aulc)
        verdict = _verdict(label_ci, aulc_ci, len(seeds))
        lines.append(
            f"| {strategy} | {len(seeds)} | {labels.mean():+.0f} [{label_ci[0]:+.0f}, {label_ci[1]:+.0f}]"
            f" | {', '.join(f'{d:+.0f}' for d in labels)}"
            f" | {aulc.mean():+.4f} [{aulc_ci[0]:+.4f}, {aulc_ci[1]:+.4f}] | {verdict} |"
        )
    return "\n".join(lines)


def _labels(row: dict, budget: int) -> float:
    return float(row["labels_to_target"]) if row["labels_to_target"] else float(budget)


def _interval(values: np.ndarray) -> tuple[float, float]:
    low, high = intervals.bca_interval(_mean, (values,))
    return float(low[0]), float(high[0])


def _mean(values: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(values, axis=axis)[None]


def _verdict(label_ci: tuple[float, float], aulc_ci: tuple[float, float], n_seeds: int) -> str:
    if n_seeds < MIN_SEEDS:
        return f"{n_seeds} seed(s): too few to tell"
    better = label_ci[1] < 0 or aulc_ci[0] > 0
    worse = label_ci[0] > 0 or aulc_ci[1] < 0
    if better and worse:
        return "mixed: one measure better, the other worse"
    return "better" if better else "worse" if worse else "within seed noise"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("summaries", nargs="+", type=Path)
    parser.add_argument("--budget", type=int, required=True)
    args = parser.parse_args()
    runs = read(args.summaries)
    print(table(runs, args.budget))
    print()
    print(paired(runs, args.budget))


if __name__ == "__main__":
    main()
