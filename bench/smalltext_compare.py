"""small-text's query strategies on Sift's split and Sift's model: the table beside Sift's own.

Runs in its own environment (bench/.venv-smalltext, `make bench-smalltext`), never Sift's.
The model is Sift's production pipeline, imported from the repository root
(siftml.training: no Django): the same TF-IDF word + char features and the same
LogisticRegression, refitted from scratch on the labeled pool every round, features
included, exactly as `manage.py simulate` does. small-text reaches it through its own
extension point, a `Classifier` over a `TextDataset` of raw pool texts, so no feature is
ever fitted on the unlabeled pool or on a test text. The embedding strategies get the
fitted pipeline's TF-IDF rows as their "embeddings".

The numbers come from the same code as Sift's simulator: `training.evaluate` for the
test macro-F1, `simulation.Run` for labels to target / mean F1 / final F1, and
`simulation.summarize` for the medians.

Differences from Sift's simulator (also written into the Markdown table):
- start: small-text's `random_initialization_balanced`, as many labels as Sift's cold start
  used for that seed, the same number of each label. It picks with the pool's true labels,
  an oracle Sift does not have: Sift's cold start stops once novelty picks have found 2
  examples of every label, while this start hands small-text size / labels of each (10
  "security" of 20 on the binary set, where Sift's 20 cold-start picks found a few).
  `random_initialization_stratified` cannot stand in: at the same size it gives the rare
  label 1 example, too few for Sift's pipeline (2 per label, training.MIN_LABELS_PER_CLASS);
- the curve starts at that initial size, not at 0 (Sift's curve also has its cold-start
  points, which weigh on its mean F1);
- query_seconds counts, like Sift's, every fit of the classifier plus the query, but not
  the computation of the cold-start size.

Results are written after every run, and a run already in the CSV is skipped, so a long
benchmark can be stopped and resumed with the same command.
"""

import argparse
import csv
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

# small-text 1.4.1 (its newest release) still reads `np.lib.index_tricks.IndexExpression`
# in TextDatasetView.x, a module numpy 2.0 made private; the pinned numpy is 2.x, as in
# Sift. Its one use is an isinstance check against the type of `np.s_`: give it that.
if "index_tricks" not in vars(np.lib):
    np.lib.index_tricks = types.SimpleNamespace(IndexExpression=type(np.s_))

from small_text import (  # noqa: E402
    BreakingTies,
    ContrastiveActiveLearning,
    DiscriminativeActiveLearning,
    LeastConfidence,
    PoolBasedActiveLearner,
    PredictionEntropy,
    RandomSampling,
    TextDataset,
    random_initialization_balanced,
)
from small_text.classifiers import Classifier  # noqa: E402
from small_text.classifiers.classification import EmbeddingMixin  # noqa: E402
from small_text.classifiers.factories import AbstractClassifierFactory  # noqa: E402

from siftml import curves, evaluation, simulation, training  # noqa: E402

SUMMARY_COLUMNS = ["strategy", "seed", "full_f1", "labels_to_target", "mean_f1", "final_f1", "query_seconds"]


class SiftPipelineClassifier(Classifier, EmbeddingMixin):
    """small-text's view of Sift's model: `training.fit_pipeline` on the labeled texts.

    small-text works with label ids 0..n-1; `label_names[id]` is the label Sift's pipeline
    sees, so the model is fitted on the same strings as in Sift's simulator.
    """

    def __init__(self, label_names: np.ndarray, random_state: int) -> None:
        self.label_names = label_names
        self.random_state = random_state
        self.model = None

    def fit(self, train_set, weights=None):
        if weights is not None:
            raise ValueError("Sift's pipeline is fitted without sample weights.")
        self.model = training.fit_pipeline(
            train_set.x, self.label_names[train_set.y], random_state=self.random_state
        )
        return self

    def predict_proba(self, data_set) -> np.ndarray:
        """Probabilities in small-text's column order (label id); labels never seen get 0."""
        proba = training.predict_proba(self.model, data_set.x)
        full = np.zeros((proba.shape[0], len(self.label_names)))
        full[:, np.searchsorted(self.label_names, self.model.classes_)] = proba
        return full

    def predict(self, data_set, return_proba: bool = False):
        proba = self.predict_proba(data_set)
        return (proba.argmax(axis=1), proba) if return_proba else proba.argmax(axis=1)

    def embed(self, data_set, return_proba: bool = False, pbar=None, **kwargs):
        """The fitted pipeline's TF-IDF rows (sparse): features of the labeled pool only."""
        X = self.model.named_steps["features"].transform(list(data_set.x))
        return (X, self.predict_proba(data_set)) if return_proba else X


class SiftPipelineFactory(AbstractClassifierFactory):
    def __init__(self, label_names: np.ndarray, random_state: int) -> None:
        self.label_names = label_names
        self.random_state = random_state

    def new(self) -> SiftPipelineClassifier:
        return SiftPipelineClassifier(self.label_names, self.random_state)


def _dal(seed: int):
    # DAL's discriminator (labeled vs unlabeled pool) is the same pipeline, like Sift's
    # novelty ranker's; small-text relabels the pool 0 (labeled) / 1 (unlabeled).
    names = np.array(["labeled", "unlabeled"], dtype=object)
    return DiscriminativeActiveLearning(SiftPipelineFactory(names, seed), num_iterations=5, pbar=None)


# name -> (build the strategy for a seed, what it is)
STRATEGIES: dict[str, tuple[Callable[[int], object], str]] = {
    "random": (lambda seed: RandomSampling(), "RandomSampling"),
    "least_confidence": (lambda seed: LeastConfidence(), "LeastConfidence"),
    "entropy": (lambda seed: PredictionEntropy(), "PredictionEntropy"),
    "breaking_ties": (lambda seed: BreakingTies(), "BreakingTies (margin)"),
    "contrastive": (
        lambda seed: ContrastiveActiveLearning(k=10, pbar=None),
        "ContrastiveActiveLearning (k=10) on the TF-IDF rows",
    ),
    "discriminative": (_dal, "DiscriminativeActiveLearning (5 iterations, Sift's pipeline as discriminator)"),
}
DEFAULT_STRATEGIES = "random,breaking_ties,entropy,least_confidence,contrastive,discriminative"
# small-text strategies that cannot run on this model, and why (checked with small-text 1.4.1).
SKIPPED = {
    "EmbeddingKMeans, LightweightCoreset, GreedyCoreset": (
        "need a dense embedding matrix: on the sparse TF-IDF rows they fail (np.matmul with a "
        "sparse matrix, np.mean giving an np.matrix that normalize() rejects, np.amin on a "
        "sparse distance block); densifying 10,003 x 20-30k TF-IDF columns is gigabytes, and "
        "any dense projection would no longer be Sift's features"
    ),
    "BALD": "needs Monte Carlo dropout (predict_proba(dropout_sampling=...)): torch models only",
    "SEALS, AnchorSubsampling": "pool subsampling wrappers that need hnswlib and dense embeddings",
    "CategoryVectorInconsistencyAndRanking": "multi-label only",
}


def read_labeled(path: Path) -> tuple[list[str], np.ndarray]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], np.asarray([r["label"] for r in rows], dtype=object)


def macro_f1(model, data: simulation.Dataset) -> float:
    """Macro-F1 on the whole test set (the simulator now reads only its report part)."""
    proba = training.predict_proba(model, data.test_texts)
    return evaluation.point_metrics(data.test_labels, proba, model.classes_)["macro_f1"]


def sift_cold_start_size(data: simulation.Dataset, batch: int, budget: int, seed: int) -> int:
    """How many labels Sift's simulator spends in its cold start for this seed."""
    run = simulation.Run("mix", seed, 0.0, 0.95)
    loop = simulation.Loop(retrain_every=batch)
    return simulation.replay(run, data, budget, None, loop, until_warm=True)


def run_strategy(
    name: str,
    data: simulation.Dataset,
    y_ids: np.ndarray,
    label_names: np.ndarray,
    initial: np.ndarray,
    seed: int,
    full_f1: float,
    batch: int,
    budget: int,
    target: float,
    progress: Callable[[str], None],
) -> simulation.Run:
    np.random.seed(seed)  # small-text draws from numpy's global generator (random, k-means, coresets)
    pool = TextDataset(data.pool_texts, y_ids, target_labels=np.arange(len(label_names)))
    learner = PoolBasedActiveLearner(SiftPipelineFactory(label_names, seed), STRATEGIES[name][0](seed), pool)
    run = simulation.Run(name, seed, full_f1, target)
    started = time.monotonic()
    learner.initialize_data(initial, y_ids[initial])
    run.query_seconds += time.monotonic() - started
    run.curve.append((len(learner.indices_labeled), macro_f1(learner.classifier.model, data)))
    while len(learner.indices_labeled) < budget:
        size = min(batch, budget - len(learner.indices_labeled))
        started = time.monotonic()
        picked = learner.query(num_samples=size)
        learner.update(y_ids[picked])  # the oracle; update() refits the classifier
        run.query_seconds += time.monotonic() - started
        run.curve.append((len(learner.indices_labeled), macro_f1(learner.classifier.model, data)))
        n, f1 = run.curve[-1]
        progress(f"{name} seed {seed}: {n} labels, macro-F1 {f1:.3f}")
    return run


def load_done(out: Path, dataset: str, target: float) -> list[simulation.Run]:
    summary, curves_file = out / f"smalltext-{dataset}.csv", out / f"smalltext-{dataset}-curves.csv"
    if not summary.exists() or not curves_file.exists():
        return []
    points: dict[tuple[str, int], list[tuple[int, float]]] = {}
    with open(curves_file, newline="") as f:
        for row in csv.DictReader(f):
            points.setdefault((row["strategy"], int(row["seed"])), []).append(
                (int(row["labels"]), float(row["macro_f1"]))
            )
    runs = []
    with open(summary, newline="") as f:
        for row in csv.DictReader(f):
            key = (row["strategy"], int(row["seed"]))
            runs.append(
                simulation.Run(
                    key[0], key[1], float(row["full_f1"]), target, points[key], float(row["query_seconds"])
                )
            )
    return runs


def write_results(runs: list[simulation.Run], out: Path, dataset: str, target: float, notes: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / f"smalltext-{dataset}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(run.summary() for run in runs)
    with open(out / f"smalltext-{dataset}-curves.csv", "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["strategy", "seed", "labels", "macro_f1"])
        for run in runs:
            writer.writerows((run.strategy, run.seed, n, round(f1, 4)) for n, f1 in run.curve)
    (out / f"smalltext-{dataset}-curves.png").write_bytes(curves.plot_curves(runs, target, fmt="png"))
    (out / f"smalltext-{dataset}.md").write_text(markdown(runs, dataset, target, notes))


def markdown(runs: list[simulation.Run], dataset: str, target: float, notes: dict) -> str:
    rows = simulation.summarize(runs)
    baseline = next((r["labels_to_target"] for r in rows if r["strategy"] == "random"), None)
    init = ", ".join(f"seed {s}: {n}" for s, n in sorted(notes["init_sizes"].items()))
    full = ", ".join(f"seed {r.seed}: {r.full_f1:.4f}" for r in runs if r.strategy == runs[0].strategy)
    lines = [
        f"# small-text {notes['version']} on {dataset}",
        "",
        f"Pool {notes['pool']} items, test {notes['test']}, {notes['labels']} labels; "
        f"batch {notes['batch']}, budget {notes['budget']}, "
        f"target {target:.0%} of the full-pool macro-F1 ({full}).",
        f"Initial set: `random_initialization_balanced` (chosen with the true labels), "
        f"as many labels as Sift's cold start ({init}).",
        "Model: Sift's `siftml.training` pipeline refitted on the labeled pool every round.",
        "",
        f"Command: `{notes['command']}`",
        "",
        "| strategy | small-text class | labels to target (median) | vs random | reached "
        "| per seed | mean F1 | final F1 | query s (mean) |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        labels = r["labels_to_target"]
        ratio = f"{labels / baseline:.2f}x" if labels and baseline else "-"
        shown = f"{labels:g}" if labels is not None else "-"
        lines.append(
            f"| {r['strategy']} | {STRATEGIES[r['strategy']][1]} | {shown} | {ratio} | {r['reached']} "
            f"| {per_seed(runs, r['strategy'], notes['budget'])} "
            f"| {r['mean_f1']:.3f} | {r['final_f1']:.3f} | {r['query_seconds']:.0f} |"
        )
    lines += [
        "",
        "Labels to target: the median over seeds, shown only when every seed reached the target "
        "(as in Sift's simulator); per seed lists them in seed order, `>budget` for never. Mean F1 "
        "is over this curve, which starts at the initial set; Sift's curve also holds its "
        "cold-start points. Query seconds (every fit plus the query) swing 2-3x between runs "
        "of the same work on this shared 2-core machine.",
        "",
        "Not run:",
        "",
        *[f"- {names}: {why}." for names, why in SKIPPED.items()],
        "",
    ]
    return "\n".join(lines)


def per_seed(runs: list[simulation.Run], strategy: str, budget: int) -> str:
    mine = sorted((r for r in runs if r.strategy == strategy), key=lambda r: r.seed)
    return ", ".join(str(r.labels_to_target) if r.labels_to_target else f">{budget}" for r in mine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", help="A folder name under --data, holding pool.csv and test.csv.")
    parser.add_argument("--data", type=Path, default=BENCH / "data")
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    parser.add_argument("--strategies", default=DEFAULT_STRATEGIES, help=f"From: {', '.join(STRATEGIES)}.")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument(
        "--init-size", type=int, help="Labels in the initial set (default: what Sift's cold start used)."
    )
    args = parser.parse_args()
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise SystemExit(f"Unknown strategies {unknown}; choose from {', '.join(STRATEGIES)}.")
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.batch < 1 or args.budget < args.batch or not 0 < args.target <= 1:
        raise SystemExit("Need --batch >= 1, --budget >= --batch and 0 < --target <= 1.")

    import small_text

    pool_texts, pool_labels = read_labeled(args.data / args.dataset / "pool.csv")
    test_texts, test_labels = read_labeled(args.data / args.dataset / "test.csv")
    data = simulation.Dataset(pool_texts, pool_labels, test_texts, test_labels)
    label_names = np.asarray(data.label_names, dtype=object)  # sorted: searchsorted relies on it
    y_ids = np.searchsorted(label_names, pool_labels)

    def say(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    runs = load_done(args.out, args.dataset, args.target)
    done = {(r.strategy, r.seed) for r in runs}
    notes = {
        "version": small_text.__version__,
        "pool": len(pool_texts),
        "test": len(test_texts),
        "labels": len(label_names),
        "batch": args.batch,
        "budget": args.budget,
        "init_sizes": {r.seed: r.curve[0][0] for r in runs},
        "command": "python bench/smalltext_compare.py " + " ".join(sys.argv[1:]),
    }
    say(
        f"small-text {small_text.__version__}; {args.dataset}: pool {len(pool_texts)}, test {len(test_texts)}"
    )
    for seed in seeds:
        todo = [s for s in strategies if (s, seed) not in done]
        if not todo:
            continue
        full_f1 = macro_f1(training.fit_pipeline(data.pool_texts, data.pool_labels, random_state=seed), data)
        size = (
            args.init_size
            or notes["init_sizes"].get(seed)
            or sift_cold_start_size(data, args.batch, args.budget, seed)
        )
        notes["init_sizes"][seed] = size
        if size < training.MIN_LABELS_PER_CLASS * len(label_names):
            raise SystemExit(
                f"An initial set of {size} gives some of the {len(label_names)} labels fewer than "
                f"{training.MIN_LABELS_PER_CLASS} examples; Sift's pipeline cannot fit on it."
            )
        np.random.seed(seed)
        initial = random_initialization_balanced(y_ids, n_samples=size)
        say(f"seed {seed}: full-pool macro-F1 {full_f1:.4f}; initial set {size} labels")
        for name in todo:
            run = run_strategy(
                name,
                data,
                y_ids,
                label_names,
                initial,
                seed,
                full_f1,
                args.batch,
                args.budget,
                args.target,
                say,
            )
            runs.append(run)
            write_results(runs, args.out, args.dataset, args.target, notes)
            say(f"{name} seed {seed}: labels to target {run.labels_to_target}, {run.query_seconds:.0f} s")
    if runs:
        write_results(runs, args.out, args.dataset, args.target, notes)
        print(markdown(runs, args.dataset, args.target, notes))


if __name__ == "__main__":
    main()
