"""bench/make_datasets.py: the split every benchmark (Sift's and small-text's) runs on."""

import csv
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "make_datasets.py"
TRAIN = [
    ("I lost my card", "lost_or_stolen_card"),
    ("Someone used my card, not me", "compromised_card"),
    ('My phone was stolen,\n"help"', "lost_or_stolen_phone"),
    ("When will my card arrive?", "card_arrival"),
    ("What is the exchange rate?", "exchange_rate"),
]
TEST = [("Card stolen yesterday", "lost_or_stolen_card"), ("Top up failed", "top_up_failed")]


def write(path: Path, rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(rows)


def read(path: Path) -> list[tuple[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return [(r["text"], r["label"]) for r in csv.DictReader(f)]


def run(source: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--source", str(source), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_writes_both_datasets_deterministically(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    write(source / "train.csv", TRAIN)
    write(source / "test.csv", TEST)

    first = run(source, tmp_path / "a")
    second = run(source, tmp_path / "b")
    assert second.returncode == 0, second.stderr

    assert first.returncode == 0, first.stderr
    assert "security 3/5 = 60.0%" in first.stdout
    assert read(tmp_path / "a" / "banking77" / "pool.csv") == TRAIN
    assert read(tmp_path / "a" / "banking77" / "test.csv") == TEST
    # rare10: its 10 intents only; the rare one keeps 1% of the pool (at least one row) there,
    # all of its rows in the test split.
    assert read(tmp_path / "a" / "banking77-rare10" / "pool.csv") == [TRAIN[0], TRAIN[3], TRAIN[4]]
    assert read(tmp_path / "a" / "banking77-rare10" / "test.csv") == TEST
    assert read(tmp_path / "a" / "banking77-security" / "pool.csv") == [
        (TRAIN[0][0], "security"),
        (TRAIN[1][0], "security"),
        (TRAIN[2][0], "security"),
        (TRAIN[3][0], "other"),
        (TRAIN[4][0], "other"),
    ]
    assert read(tmp_path / "a" / "banking77-security" / "test.csv") == [
        (TEST[0][0], "security"),
        (TEST[1][0], "other"),
    ]
    for name in ("banking77/pool.csv", "banking77/test.csv", "banking77-security/pool.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_refuses_a_source_without_the_security_intents(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    write(source / "train.csv", TRAIN[3:])
    write(source / "test.csv", TEST)

    result = run(source, tmp_path / "out")

    assert result.returncode != 0
    assert "has no rows for compromised_card, lost_or_stolen_card, lost_or_stolen_phone" in result.stderr
    assert not (tmp_path / "out").exists()
