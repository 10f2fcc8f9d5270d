"""Items-browser benchmark: pages, search, "more like this" and a bulk label at 1,000,000 items.

    python bench/browse.py --size 1000000 --labels 50000     # make bench-browse

Generates the pool the scale benchmark uses (banking77 texts with small edits, COPYed in
as an import would write it: bench/scale_pool.py), 50,000 of them labeled, then writes an
active ranking of the real shape: 10,000 queue entries with guesses and confidences, the
model's guess for every labeled pool item (ItemPrediction; a fifth of them disagree with the
label), and some disputed items. Every timing is one request through Django's test client
to the real API view (URL routing, token auth, middleware, query, serialization), so it is
the server's time without the network. Baseline in the same run: the same page read
with OFFSET at half depth, which is what keyset pages avoid.

Its own PostgreSQL database (default bench_browse, created by the make target); its tables
are emptied at the start and, unless --keep-data, at the end.
"""

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

ENV_DEFAULTS = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/bench_browse",
    "SECRET_KEY": "bench-browse-only",
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "SIFT_API_USER_RATE": "1000000/min",
    "SIFT_ARTIFACT_DIR": str(ROOT / "var" / "bench-browse" / "artifacts"),
}
for _name, _value in ENV_DEFAULTS.items():
    os.environ.setdefault(_name, _value)

import django  # noqa: E402 - after the environment above

django.setup()

import numpy as np  # noqa: E402
import scale_pool  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from labeling.models import Item, ItemPrediction, QueueEntry, Ranking, Split  # noqa: E402

SOURCE = ROOT.parent / "shared" / "datasets" / "banking77" / "train.csv"
RESULTS = ROOT / "bench" / "results"


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def summary(values: list[float]) -> dict:
    ms = [v * 1000 for v in values]
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 1), "p95_ms": round(p95(ms), 1)}


def setup(size: int, labels: int, seed: int) -> tuple:
    scale_pool.truncate_all()
    owner = get_user_model().objects.create_user("bench-browse-admin", password="x", is_staff=True)
    names = scale_pool.label_names(SOURCE)
    n_test = labels // 10
    pool = scale_pool.generate(SOURCE, size, labels - n_test, n_test, seed, 0.2)
    project = scale_pool.create_project(owner, names, seed, 0.2, "browse-bench")
    seconds = scale_pool.insert(project, owner, pool)
    print(f"inserted {size:,} items ({labels:,} labeled) in {seconds:.1f} s", flush=True)
    rng = np.random.default_rng(seed)
    label_ids = list(project.labels.values_list("pk", flat=True))
    ranking = Ranking.objects.create(project=project, model_ref="bench", size=10_000)
    unlabeled = list(
        Item.objects.filter(project=project, split=Split.POOL, label=None).values_list("pk", flat=True)[
            :200_000
        ]
    )
    queued = rng.choice(unlabeled, size=10_000, replace=False)
    QueueEntry.objects.bulk_create(
        (
            QueueEntry(
                ranking=ranking,
                item_id=int(pk),
                priority=float(10_000 - i),
                strategy="margin",
                score=float(rng.random()),
                suggested_label_id=int(rng.choice(label_ids)),
                confidence=float(rng.random()),
                reason="The model is torn between two labels.",
            )
            for i, pk in enumerate(queued)
        ),
        batch_size=5000,
    )
    labeled = list(
        Item.objects.filter(project=project, split=Split.POOL, label__isnull=False).values_list(
            "pk", "label_id"
        )
    )
    ItemPrediction.objects.bulk_create(
        (
            ItemPrediction(
                ranking=ranking,
                item_id=pk,
                label_id=label_id if rng.random() > 0.2 else int(rng.choice(label_ids)),
                confidence=float(rng.random()),
            )
            for pk, label_id in labeled
        ),
        batch_size=5000,
    )
    disputed = [pk for pk, _ in labeled[:: max(1, len(labeled) // 1000)]]
    Item.objects.filter(pk__in=disputed).update(disputed=True)
    project.active_ranking = ranking
    project.save()
    with connection.cursor() as cursor:
        for table in (
            "labeling_item",
            "labeling_queueentry",
            "labeling_itemprediction",
            "labeling_annotation",
        ):
            cursor.execute(f"ANALYZE {table}")
    token, _ = Token.objects.get_or_create(user=owner)
    return project, owner, token.key, pool, names, [int(pk) for pk in unlabeled]


def timed_get(client: Client, url: str, params: dict, auth: str) -> tuple[float, dict]:
    started = time.perf_counter()
    response = client.get(url, params, HTTP_AUTHORIZATION=f"Token {auth}")
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, (url, params, response.content[:300])
    return elapsed, response.json()


def bench_pages(client, project, auth, names, reps: int) -> dict:
    url = f"/api/v1/projects/{project.pk}/items"
    views = {
        "no filter, id": {},
        "pool unlabeled, priority": {"split": "pool", "state": "unlabeled", "sort": "priority"},
        "labeled, recent": {"state": "labeled", "sort": "recent"},
        "one label, length": {"label": names[3], "sort": "length"},
        "model disagrees, recent": {"disagrees": "on", "sort": "recent"},
        "annotators disagree": {"disputed": "on"},
        "predicted + confidence, priority": {"predicted": names[5], "conf_max": "0.5", "sort": "priority"},
    }
    out = {}
    for name, params in views.items():
        times = []
        for _ in range(reps):
            # The first page and three pages on through the cursors.
            elapsed, body = timed_get(client, url, params, auth)
            times.append(elapsed)
            for _ in range(3):
                if not body["next"]:
                    break
                elapsed, body = timed_get(client, url, {**params, "cursor": body["next"]}, auth)
                times.append(elapsed)
        out[name] = summary(times)
        print(f"page {name}: {out[name]}", flush=True)
    return out


def bench_offset_baseline(project, reps: int) -> dict:
    """The same 50 rows at half depth, read with OFFSET (what keyset pages avoid)."""
    n = Item.objects.filter(project=project).count()
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        list(Item.objects.filter(project=project).order_by("-id")[n // 2 : n // 2 + 50].values_list("pk"))
        times.append(time.perf_counter() - started)
    return summary(times)


def bench_search(client, project, auth, pool, reps: int, rng: random.Random) -> dict:
    url = f"/api/v1/projects/{project.pk}/items"
    words = [w for w in " ".join(pool.texts[:20_000]).lower().split() if w.isalpha() and len(w) > 3]
    one, two, phrase = [], [], []
    for _ in range(reps):
        one.append(timed_get(client, url, {"q": rng.choice(words)}, auth)[0])
        two.append(timed_get(client, url, {"q": f"{rng.choice(words)} {rng.choice(words)}"}, auth)[0])
        text = rng.choice(pool.texts).split()
        phrase.append(timed_get(client, url, {"phrase": " ".join(text[:2])}, auth)[0])
    out = {"one word": summary(one), "two words": summary(two), "phrase": summary(phrase)}
    out["all"] = summary(one + two + phrase)
    print(f"search: {out}", flush=True)
    return out


def bench_similar(client, project, auth, reps: int, rng: random.Random) -> dict:
    ids = list(Item.objects.filter(project=project).values_list("pk", flat=True)[::1000])
    first, _ = timed_get(client, f"/api/v1/items/{ids[0]}/similar", {}, auth)
    times = [timed_get(client, f"/api/v1/items/{rng.choice(ids)}/similar", {}, auth)[0] for _ in range(reps)]
    out = {"first call (builds the index) s": round(first, 1), **summary(times)}
    print(f"similar: {out}", flush=True)
    return out


def bench_bulk_label(client, project, auth, unlabeled: list[int], names: list[str]) -> dict:
    ids = unlabeled[-10_000:]
    started = time.perf_counter()
    response = client.post(
        f"/api/v1/projects/{project.pk}/items/bulk",
        json.dumps({"action": "label", "ids": ids, "label": names[0]}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {auth}",
    )
    label_seconds = time.perf_counter() - started
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    started = time.perf_counter()
    revert = client.post(
        f"/api/v1/bulk-actions/{body['bulk_action']}/revert", HTTP_AUTHORIZATION=f"Token {auth}"
    )
    revert_seconds = time.perf_counter() - started
    assert revert.status_code == 200, revert.content[:300]
    out = {
        "changed": body["changed"],
        "label_s": round(label_seconds, 2),
        "revert_s": round(revert_seconds, 2),
        "withdrawn": revert.json()["withdrawn"],
    }
    print(f"bulk label: {out}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--labels", type=int, default=50_000)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--keep-data", action="store_true")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    rng = random.Random(args.seed)
    project, _owner, auth, pool, names, unlabeled = setup(args.size, args.labels, args.seed)
    client = Client(HTTP_HOST="localhost")
    result = {
        "size": args.size,
        "labels": args.labels,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "pages": bench_pages(client, project, auth, names, args.reps),
        "offset_baseline_half_depth": bench_offset_baseline(project, max(3, args.reps // 4)),
        "search": bench_search(client, project, auth, pool, args.reps, rng),
        "similar": bench_similar(client, project, auth, args.reps, rng),
        "bulk_label_10000": bench_bulk_label(client, project, auth, unlabeled, names),
    }
    keyset = result["pages"]["no filter, id"]["p95_ms"]
    result["offset_over_keyset_p95"] = round(result["offset_baseline_half_depth"]["p95_ms"] / keyset, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"browse-{args.size}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}", flush=True)
    if not args.keep_data:
        scale_pool.truncate_all()


if __name__ == "__main__":
    main()
