"""Write the benchmark datasets into bench/data/ (gitignored), from ../shared/datasets at run time.

- banking77/{pool,test}.csv: train.csv and test.csv as they are (77 intents).
- banking77-security/{pool,test}.csv: the same texts, binary and imbalanced: "security" for
  the intents in SECURITY_INTENTS, "other" for the rest (about 4% positive).
- banking77-rare10/{pool,test}.csv: the 10 intents of RARE10_INTENTS; in the pool the
  first of them keeps only its first rows, 1% of the pool (the cold start must find it);
  the test split keeps all its rows, so missing it costs macro-F1.

Columns text,label; rows in the source order; nothing random, so every run writes the same
bytes. Standard library only: Sift's venv and the small-text venv both run it.
"""

import argparse
import csv
from pathlib import Path

BENCH = Path(__file__).resolve().parent
DEFAULT_SOURCE = BENCH.parent.parent / "shared" / "datasets" / "banking77"
SECURITY_INTENTS = frozenset({"lost_or_stolen_card", "lost_or_stolen_phone", "compromised_card"})
# The rare one first. Ten intents that share banking words but not one topic.
RARE10_INTENTS = (
    "lost_or_stolen_card",
    "card_arrival",
    "exchange_rate",
    "top_up_failed",
    "transfer_not_received_by_recipient",
    "pin_blocked",
    "cash_withdrawal_charge",
    "apple_pay_or_google_pay",
    "age_limit",
    "request_refund",
)
RARE_SHARE = 0.01


def read_rows(path: Path) -> list[tuple[str, str]]:
    # A csv reader, not lines: one banking77 text holds a quoted line break.
    with open(path, newline="", encoding="utf-8") as f:
        return [(row["text"], row["label"]) for row in csv.DictReader(f)]


def write_rows(path: Path, rows: list[tuple[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["text", "label"])
        writer.writerows(rows)


def to_security(rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(text, "security" if label in SECURITY_INTENTS else "other") for text, label in rows]


def to_rare10(rows: list[tuple[str, str]], pool: bool) -> list[tuple[str, str]]:
    kept = [(text, label) for text, label in rows if label in RARE10_INTENTS]
    if not pool:
        return kept
    common = sum(label != RARE10_INTENTS[0] for _, label in kept)
    n_rare = max(1, round(RARE_SHARE * common / (1 - RARE_SHARE)))
    rare = [row for row in kept if row[1] == RARE10_INTENTS[0]][:n_rare]
    return [row for row in kept if row[1] != RARE10_INTENTS[0] or row in rare]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source", type=Path, default=DEFAULT_SOURCE, help="Folder with train.csv, test.csv."
    )
    parser.add_argument("--out", type=Path, default=BENCH / "data")
    args = parser.parse_args()
    splits = {"pool": read_rows(args.source / "train.csv"), "test": read_rows(args.source / "test.csv")}
    missing = SECURITY_INTENTS - {label for _, label in splits["pool"]}
    if missing:
        raise SystemExit(f"{args.source / 'train.csv'} has no rows for {', '.join(sorted(missing))}.")
    for split, rows in splits.items():
        write_rows(args.out / "banking77" / f"{split}.csv", rows)
        binary = to_security(rows)
        write_rows(args.out / "banking77-security" / f"{split}.csv", binary)
        rare10 = to_rare10(rows, pool=split == "pool")
        write_rows(args.out / "banking77-rare10" / f"{split}.csv", rare10)
        n_rare = sum(label == RARE10_INTENTS[0] for _, label in rare10)
        print(
            f"{split}: rare10 {len(rare10)} rows, {RARE10_INTENTS[0]} {n_rare} = {n_rare / len(rare10):.1%}"
        )
        positives = sum(label == "security" for _, label in binary)
        print(
            f"{split}: {len(rows)} rows, {len({label for _, label in rows})} intents; "
            f"security {positives}/{len(rows)} = {positives / len(rows):.1%}"
        )
    print(
        f"Wrote {args.out / 'banking77'}, {args.out / 'banking77-security'}, {args.out / 'banking77-rare10'}."
    )


if __name__ == "__main__":
    main()
