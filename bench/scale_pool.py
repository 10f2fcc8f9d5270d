"""The generated pool of the scale benchmark, from banking77's texts, in one of three kinds.

- `edits`: each copy with one to three small random edits (dropped, swapped or repeated
  words, typos): many exact and near-duplicates.
- `suffix`: each copy verbatim plus ` #<row>` (issue 12's pool): every text distinct, but
  each is a near-duplicate of the other copies of its source (about 100 per source at 1M).
- `unique`: each copy keeps about half of its words in order, the others replaced by words
  drawn from banking77's vocabulary, plus ` #<row>`: no two items are near-duplicates.

Generated at run time (never stored in the repository), inserted with PostgreSQL COPY,
and written the way `labeling.services.import_items` writes an import: the same
external ids, content hashes, splits and random keys from `labeling.splits`, labeled rows
with `label_origin="import"`, `label_count=1` and one `Annotation(origin="import")` each.
`check_import_parity` proves that on a sample by running the real import beside it.
"""

import csv
import io
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from labeling import counters, services, splits
from labeling.models import Annotation, ImportBatch, Item, Lease, Origin, Project, Skip, Split

LETTERS = "abcdefghijklmnopqrstuvwxyz"
WEIGHTS = {n: 1.0 for n in ("margin", "entropy", "least_confidence", "error", "novelty", "random")}


@dataclass
class Pool:
    """What was generated: every row's text, source label, split and whether it is labeled."""

    texts: list[str]
    labels: list[str]
    splits: list[str]
    labeled: np.ndarray  # bool per row
    seconds: float = 0.0
    stats: dict = field(default_factory=dict)

    def external_id(self, i: int) -> str:
        return f"gen-{i:07d}"


def read_source(path: Path) -> tuple[list[str], list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [r["label"] for r in rows]


def edit(text: str, rng: random.Random) -> str:
    """One to three small edits: drop, swap or repeat a word, or a typo inside one."""
    words = text.split()
    for _ in range(rng.choice((1, 1, 2, 2, 3))):
        if len(words) < 2:
            break
        i = rng.randrange(len(words))
        op = rng.random()
        if op < 0.25:
            del words[i]
        elif op < 0.5:
            j = min(i + 1, len(words) - 1)
            words[i], words[j] = words[j], words[i]
        elif op < 0.65:
            words.insert(i, words[i])
        else:
            words[i] = _typo(words[i], rng)
    return " ".join(words)


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 2:
        return word
    k = rng.randrange(len(word))
    kind = rng.random()
    if kind < 1 / 3:
        return word[:k] + rng.choice(LETTERS) + word[k + 1 :]
    if kind < 2 / 3:
        return word[:k] + word[k + 1 :]
    return word[:k] + rng.choice(LETTERS) + word[k:]


def mixed(text: str, vocabulary: list[str], rng: random.Random) -> str:
    """Keep each word with probability 1/2, else put a random vocabulary word in its place."""
    return " ".join(w if rng.random() < 0.5 else rng.choice(vocabulary) for w in text.split())


KINDS = ("edits", "suffix", "unique")


def generate(
    source: Path,
    size: int,
    n_pool_labels: int,
    n_test_labels: int,
    seed: int,
    test_fraction: float,
    kind: str = "edits",
) -> Pool:
    """Resample the source texts (see the module's kinds); pick the labeled rows at random
    within each split."""
    started = time.monotonic()
    texts, labels = read_source(source)
    rng = random.Random(seed)
    picks = [rng.randrange(len(texts)) for _ in range(size)]
    if kind == "edits":
        out_texts = [edit(texts[p], rng) for p in picks]
    elif kind == "suffix":
        out_texts = [f"{texts[p]} #{i}" for i, p in enumerate(picks)]
    elif kind == "unique":
        vocabulary = sorted({w for t in texts for w in t.split()})
        out_texts = [f"{mixed(texts[p], vocabulary, rng)} #{i}" for i, p in enumerate(picks)]
    else:
        raise ValueError(f"unknown pool kind {kind!r}; one of {', '.join(KINDS)}")
    out_labels = [labels[p] for p in picks]
    out_splits = [splits.assign_split(seed, splits.content_hash(t), test_fraction) for t in out_texts]
    labeled = np.zeros(size, dtype=bool)
    for split, n in ((Split.POOL, n_pool_labels), (Split.TEST, n_test_labels)):
        candidates = [i for i, s in enumerate(out_splits) if s == split]
        if n > len(candidates):
            raise SystemExit(f"asked for {n} labeled {split} items but only {len(candidates)} exist")
        labeled[rng.sample(candidates, n)] = True
    pool = Pool(out_texts, out_labels, out_splits, labeled, seconds=time.monotonic() - started)
    pool.stats = {
        "items": size,
        "kind": kind,
        "distinct_texts": len(set(out_texts)),
        "source_rows": len(texts),
        "pool": sum(s == Split.POOL for s in out_splits),
        "test": sum(s == Split.TEST for s in out_splits),
        "labeled_pool": n_pool_labels,
        "labeled_test": n_test_labels,
        "generate_seconds": round(pool.seconds, 2),
    }
    return pool


def create_project(owner, label_names: list[str], seed: int, test_fraction: float, slug: str) -> Project:
    # retrain_every=0: the benchmark's own annotations must not start retrains of their own.
    return services.create_project(
        owner,
        f"Scale benchmark ({slug})",
        label_names,
        slug=slug,
        seed=seed,
        test_fraction=test_fraction,
        retrain_every=0,
        strategy_weights=WEIGHTS,
    )


def insert(project: Project, owner, pool: Pool, analyze: bool = True) -> float:
    """COPY the items in, then one import annotation per labeled item; return the seconds.

    `analyze=False` leaves the planner without statistics of the new rows (bench/scale_next.py).
    """
    started = time.monotonic()
    label_ids = dict(project.labels.values_list("name", "pk"))
    now = datetime.now(UTC)
    columns = (
        "project_id, external_id, text, meta, content_hash, split, rand_key, "
        "label_origin, label_count, conflict, disputed, last_labeled_at, created_at, "
        "import_batch_id, label_id, origin"
    )
    with transaction.atomic():
        batch = ImportBatch.objects.create(
            project=project,
            created_by=owner,
            file_name=f"generated-{len(pool.texts)}.csv",
            sha256="",
            rows=len(pool.texts),
            pool=pool.stats["pool"],
            test=pool.stats["test"],
            labeled=int(pool.labeled.sum()),
        )
        with connection.cursor() as cursor:
            raw = cursor.cursor  # psycopg 3: COPY is on the driver's cursor
            with raw.copy(f"COPY labeling_item ({columns}) FROM STDIN") as copy:
                for i, text in enumerate(pool.texts):
                    copy.write_row(_item_row(project, batch.pk, pool, i, text, label_ids, now))
            # Exactly what an import writes for a labeled row: one annotation by the importer.
            cursor.execute(
                "INSERT INTO labeling_annotation "
                "(item_id, user_id, label_id, origin, model_ref, strategy, created_at) "
                "SELECT id, %s, label_id, %s, '', '', %s FROM labeling_item "
                "WHERE project_id = %s AND label_id IS NOT NULL ORDER BY id",
                [owner.pk, Origin.IMPORT, now, project.pk],
            )
        # The one counters call an import makes (labeling.services._insert_rows), for all rows.
        counters.record_items(
            project.pk,
            (
                (pool.splits[i], label_ids[pool.labels[i]] if pool.labeled[i] else None)
                for i in range(len(pool.texts))
            ),
        )
    if not analyze:
        return time.monotonic() - started
    with connection.cursor() as cursor:
        # A real import is followed by autovacuum's ANALYZE within a minute; do it now so the
        # first queries do not run on an empty table's statistics.
        cursor.execute("ANALYZE labeling_item")
        cursor.execute("ANALYZE labeling_annotation")
    return time.monotonic() - started


def _item_row(project, batch_id, pool: Pool, i: int, text: str, label_ids: dict, now) -> tuple:
    external_id = pool.external_id(i)
    digest = splits.content_hash(text)
    label_id = label_ids[pool.labels[i]] if pool.labeled[i] else None
    return (
        project.pk,
        external_id,
        text,
        "{}",
        digest,
        pool.splits[i],
        splits.random_key(project.seed, digest + external_id),
        Origin.IMPORT if label_id else "",
        1 if label_id else 0,
        False,
        False,
        now if label_id else None,
        now,
        batch_id,
        label_id,
        Origin.IMPORT,
    )


class _Rollback(Exception):
    pass


def check_import_parity(project: Project, owner, pool: Pool, n: int = 500) -> dict:
    """Import the first `n` generated rows with the real import into a scratch project with
    the same seed, compare them with the COPYed rows, and roll the scratch project back."""
    rows = [
        {
            "id": pool.external_id(i),
            "text": pool.texts[i],
            "label": pool.labels[i] if pool.labeled[i] else "",
        }
        for i in range(min(n, len(pool.texts)))
    ]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["id", "text", "label"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    fields = (
        "external_id",
        "content_hash",
        "split",
        "rand_key",
        "label__name",
        "label_origin",
        "label_count",
    )
    copied = {
        r[0]: r
        for r in Item.objects.filter(project=project, external_id__in=[r["id"] for r in rows]).values_list(
            *fields
        )
    }
    label_names = list(project.labels.values_list("name", flat=True))
    result: dict = {}
    try:
        with transaction.atomic():
            scratch = services.create_project(
                owner,
                "parity",
                label_names,
                seed=project.seed,
                test_fraction=project.test_fraction,
                retrain_every=0,
            )
            services.import_items(scratch, owner, out.getvalue().encode(), "parity.csv")
            imported = {r[0]: r for r in Item.objects.filter(project=scratch).values_list(*fields)}
            annotations = Annotation.objects.filter(item__project=scratch)
            result = {
                "rows": len(rows),
                "identical_items": sum(imported[k] == copied.get(k) for k in imported),
                "import_annotations": annotations.filter(origin=Origin.IMPORT).count(),
                "copied_annotations": Annotation.objects.filter(
                    item__project=project, item__external_id__in=list(imported), origin=Origin.IMPORT
                ).count(),
            }
            raise _Rollback
    except _Rollback:
        pass
    if (
        result["identical_items"] != result["rows"]
        or result["import_annotations"] != result["copied_annotations"]
    ):
        raise SystemExit(f"the COPY path differs from labeling.services.import_items: {result}")
    return result


def truncate_all() -> None:
    """Empty every table of the benchmark database (the schema stays, migrated)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND (tablename LIKE 'labeling_%%' OR tablename LIKE 'learners_%%' "
            "OR tablename = 'authtoken_token')"
        )
        tables = [row[0] for row in cursor.fetchall()]
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    get_user_model().objects.filter(username__startswith="bench-").delete()


def label_names(source: Path) -> list[str]:
    return sorted(set(read_source(source)[1]))


def reset_human_labels(project: Project) -> int:
    """Undo what the load client labeled, so that every run trains on the same labels.

    Annotations are append-only in Sift; this benchmark database is the one place where
    deleting them is right: each run must start from the same 10,000 labels.
    """
    with transaction.atomic():
        human = Annotation.objects.filter(item__project=project).exclude(origin=Origin.IMPORT)
        item_ids = list(human.values_list("item_id", flat=True).distinct())
        human.delete()
        Item.objects.filter(pk__in=item_ids).update(
            label=None, label_origin="", label_count=0, disputed=False, last_labeled_at=None
        )
        Lease.objects.filter(item__project=project).delete()
        Skip.objects.filter(item__project=project).delete()
    counters.rebuild(project)  # the deletes above bypassed the services
    return len(item_ids)
