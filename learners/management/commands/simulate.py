import csv
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from labeling.importing import ImportRejected, parse_upload
from siftml import curves, scoring, simulation, training

SUMMARY_COLUMNS = ["strategy", "seed", "full_f1", "labels_to_target", "mean_f1", "final_f1", "query_seconds"]


class Command(BaseCommand):
    help = "Replay a labeled CSV/JSONL file with an oracle: how many labels does each strategy need?"

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path, help="Labeled items: columns text and label.")
        parser.add_argument(
            "--strategies", default="random,margin,entropy,least_confidence,error,novelty,mix"
        )
        parser.add_argument("--seeds", type=int, default=3)
        parser.add_argument("--first-seed", type=int, default=0, help="Seeds run from here (to split runs).")
        parser.add_argument(
            "--batch", type=int, default=50, help="Labels between two retrains (a project's retrain_every)."
        )
        parser.add_argument(
            "--lag", type=int, default=0, help="Labels given from the old queue while a retrain runs."
        )
        parser.add_argument("--queue-size", type=int, default=settings.SIFT_QUEUE_SIZE)
        parser.add_argument(
            "--mix-batch", type=int, default=settings.SIFT_BATCH_SIZE, help="SIFT_BATCH_SIZE."
        )
        parser.add_argument(
            "--tolerance", type=float, default=0.02, help="The promotion gate's tolerance (a project's)."
        )
        parser.add_argument("--budget", type=int, default=2000)
        parser.add_argument("--target", type=float, default=0.95, help="Share of the full-pool macro-F1.")
        parser.add_argument(
            "--test-file", type=Path, help="Held-out labeled items (default: a random split)."
        )
        parser.add_argument("--test-fraction", type=float, default=0.2, help="By hash, as on import.")
        parser.add_argument("--out", type=Path, help="Folder for summary.csv, curves.csv and curves.png.")
        parser.add_argument(
            "--uncalibrated",
            action="store_true",
            help="Fit without the sigmoid calibration (to measure what it changes); names each strategy "
            "'<strategy> uncalibrated' in the output.",
        )

    @staticmethod
    def _params(options: dict, pool_size: int) -> dict:
        params = training.params_for_pool(pool_size)
        return {**params, "calibration": None} if options["uncalibrated"] else params

    def handle(self, *args, **options) -> None:
        strategies = [s.strip() for s in options["strategies"].split(",") if s.strip()]
        try:
            for strategy in strategies:
                simulation.strategy_weights(strategy)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if options["batch"] < 1 or options["budget"] < options["batch"] or not 0 < options["target"] <= 1:
            raise CommandError("Need --batch >= 1, --budget >= --batch and 0 < --target <= 1.")
        if (
            not 0 <= options["lag"] < options["batch"]
            or options["queue_size"] < 1
            or options["mix_batch"] < 1
        ):
            raise CommandError("Need 0 <= --lag < --batch, --queue-size >= 1 and --mix-batch >= 1.")
        loop = simulation.Loop(
            plan=scoring.QueuePlan(options["queue_size"], options["mix_batch"]),
            lag=options["lag"],
            tolerance=options["tolerance"],
        )
        data = self._data(options)
        self.stderr.write(
            f"pool {len(data.pool_texts)} items, test {len(data.test_texts)}, "
            f"{len(data.label_names)} labels; strategies: {', '.join(strategies)}"
        )
        runs = simulation.simulate(
            data,
            strategies,
            list(range(options["first_seed"], options["first_seed"] + options["seeds"])),
            options["batch"],
            options["budget"],
            options["target"],
            params=self._params(options, len(data.pool_texts)),
            progress=self._progress,
            loop=loop,
        )
        if options["uncalibrated"]:  # its own name in the tables, paired with the calibrated runs
            for run in runs:
                run.strategy += " uncalibrated"
        self._print(runs, options["target"])
        if options["out"]:
            self._write(runs, options["out"], options["target"])

    def _data(self, options) -> simulation.Dataset:
        texts, labels = _read_labeled(options["file"])
        if options["test_file"]:
            test_texts, test_labels = _read_labeled(options["test_file"])
            return simulation.Dataset(
                texts, np.asarray(labels, dtype=object), test_texts, np.asarray(test_labels, dtype=object)
            )
        return simulation.Dataset.split(texts, labels, options["test_fraction"], seed=0)

    def _progress(self, message: str, done: float) -> None:
        width = 30
        bar = "#" * int(done * width)
        self.stderr.write(f"\r[{bar:<{width}}] {done:4.0%} {message:<40}", ending="")
        if done >= 1:
            self.stderr.write("")

    def _print(self, runs, target: float) -> None:
        rows = simulation.summarize(runs)
        baseline = next((r["labels_to_target"] for r in rows if r["strategy"] == "random"), None)
        self.stdout.write(f"\nLabels to reach {target:.0%} of full-pool macro-F1 (median over seeds):")
        self.stdout.write(
            f"{'strategy':<18}{'labels':>8}{'vs random':>11}{'reached':>9}{'mean F1':>9}"
            f"{'final F1':>10}{'query s':>9}"
        )
        for r in rows:
            labels = r["labels_to_target"]
            ratio = f"{labels / baseline:.2f}x" if labels and baseline else "-"
            self.stdout.write(
                f"{r['strategy']:<18}{labels if labels is not None else '-':>8}{ratio:>11}{r['reached']:>9}"
                f"{r['mean_f1']:>9.3f}{r['final_f1']:>10.3f}{r['query_seconds']:>9.1f}"
            )

    def _write(self, runs, out: Path, target: float) -> None:
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "summary.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=SUMMARY_COLUMNS)
            writer.writeheader()
            writer.writerows(run.summary() for run in runs)
        with open(out / "curves.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["strategy", "seed", "labels", "macro_f1"])
            for run in runs:
                writer.writerows((run.strategy, run.seed, n, round(f1, 4)) for n, f1 in run.curve)
        (out / "curves.png").write_bytes(curves.plot_curves(runs, target, fmt="png"))
        self.stderr.write(f"Wrote {out / 'summary.csv'}, {out / 'curves.csv'} and {out / 'curves.png'}.")


def _read_labeled(path: Path) -> tuple[list[str], list[str]]:
    try:
        rows = parse_upload(path.read_bytes(), path.name, None)
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
    except ImportRejected as exc:
        lines = [f"  row {row['row']}: {row['error']}" for row in exc.rows]
        raise CommandError("\n".join([f"{path.name}: {exc.message}", *lines])) from None
    unlabeled = [row.line for row in rows if row.label is None]
    if unlabeled:
        raise CommandError(f"{path.name}: every row needs a label; rows {unlabeled[:10]} have none.")
    if len({row.label for row in rows}) < 2:
        raise CommandError(f"{path.name}: needs at least two different labels.")
    return [row.text for row in rows], [row.label for row in rows]
