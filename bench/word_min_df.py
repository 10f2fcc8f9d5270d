"""The word n-gram cut-off of large pools (`word_min_df`): vocabulary, fit CPU and macro-F1.

    OMP_NUM_THREADS=1 .venv/bin/python bench/word_min_df.py

Fits the large-pool pipeline (word n-grams, calibrated logistic regression) on banking77's
train.csv with every n-gram kept (1) and with those of one training text left out (2),
and scores each on banking77's test.csv. CPU seconds (`time.process_time`) of the fit.
"""

import csv
import sys
import time
from pathlib import Path

from sklearn.metrics import f1_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from siftml import training  # noqa: E402

DATA = ROOT.parent / "shared" / "datasets" / "banking77"


def main() -> None:
    train, test = _read("train.csv"), _read("test.csv")
    for min_df in (1, 2):
        params = {**training.params_for_pool(training.LARGE_POOL), "word_min_df": min_df}
        started = time.process_time()
        model = training.fit_pipeline([r["text"] for r in train], [r["label"] for r in train], params)
        cpu = time.process_time() - started
        predicted = model.predict([r["text"] for r in test])
        word = model.named_steps["features"].transformer_list[0][1]
        f1 = f1_score([r["label"] for r in test], predicted, average="macro")
        print(f"word_min_df {min_df}: vocabulary {len(word.vocabulary_):,}, fit {cpu:.1f} CPU s, "
              f"macro-F1 {f1:.4f}", flush=True)  # fmt: skip


def _read(name: str) -> list[dict]:
    with open(DATA / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


if __name__ == "__main__":
    main()
