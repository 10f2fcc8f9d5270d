"""Serving benchmark: the prediction API against calling the model directly, in one run.

    python bench/serving.py            # make bench-serving

Imports banking77's train.csv (77 intents, 10,003 labeled texts) into a project, retrains
the way Sift does (learners.services.run_retrain: TF-IDF word + char n-grams, calibrated
logistic regression) and serves the active model. Then, on a warm process, with texts from
banking77's test.csv that the model never saw:

- one text per request: p50/p95 of the whole request through Django's WSGI stack in this
  process (service-token authentication, throttle, input checks, the filtering model, the
  model, the prediction log's insert into PostgreSQL, JSON), no network;
- batches of 100: texts per second;
- cache hits: the same text again, p95;
- the model called directly (`siftml.training.predict_proba`) on the same texts, one by one
  and in batches of 100: the ratio API / direct is the API's overhead.

It needs its own PostgreSQL database (default postgres://postgres@127.0.0.1:5432/bench_serving),
whose tables it empties at the start and the end. Results: bench/results/serving.json and .md.
"""

import argparse
import csv
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

ENV_DEFAULTS = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/bench_serving",
    "SECRET_KEY": "bench-serving-only",
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "SIFT_ARTIFACT_DIR": str(ROOT / "var" / "bench-serving" / "artifacts"),
    # The retrain's k-fold cross-validation runs in a job of its own and is not served: skip it.
    "SIFT_CV_FOLDS": "0",
    # Jobs run inline here; the import's scoring job has no worker to go to and needs none.
    "CELERY_BROKER_URL": "memory://",
}
for _name, _value in ENV_DEFAULTS.items():
    os.environ.setdefault(_name, _value)

import django  # noqa: E402 - after the environment above

django.setup()

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from labeling import services as labeling_services  # noqa: E402
from learners import services  # noqa: E402
from learners.models import Job  # noqa: E402
from serving import engine  # noqa: E402
from serving.models import PredictionLog, ServiceToken  # noqa: E402
from siftml import training  # noqa: E402

DATA = ROOT.parent / "shared" / "datasets" / "banking77"
RESULTS = ROOT / "bench" / "results"


def truncate_all() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND (tablename LIKE 'labeling_%%' "
            "OR tablename LIKE 'learners_%%' OR tablename LIKE 'serving_%%')"
        )
        tables = [row[0] for row in cursor.fetchall()]
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    get_user_model().objects.filter(username__startswith="bench-").delete()


def read(name: str) -> list[dict]:
    with open(DATA / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def quantiles(ms: list[float]) -> dict:
    a = np.asarray(ms)
    return {
        "n": len(a),
        "p50": round(float(np.percentile(a, 50)), 3),
        "p95": round(float(np.percentile(a, 95)), 3),
    }


def timed(call, repeat_args) -> list[float]:
    out = []
    for args in repeat_args:
        started = time.perf_counter()
        call(args)
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--singles", type=int, default=500, help="one-text requests to time")
    parser.add_argument("--batches", type=int, default=20, help="requests of 100 texts to time")
    parser.add_argument("--hits", type=int, default=300, help="cache-hit requests to time")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument(
        "--train-limit", type=int, default=0, help="import only the first N training texts (0: all)"
    )
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    truncate_all()
    result: dict = {
        "command": " ".join(["python", *sys.argv]),
        "machine": machine(),
        "train_limit": args.train_limit,
    }
    try:
        run(args, result)
    finally:
        truncate_all()
        shutil.rmtree(settings.ARTIFACT_DIR, ignore_errors=True)
    # Other work on the machine moves every figure: say how busy it was while measuring.
    result["machine"]["load_average_at_end"] = os.getloadavg()[0]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "serving.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "serving.md").write_text(report(result))
    print(report(result))


def run(args, result: dict) -> None:
    train, test = read("train.csv"), read("test.csv")
    if args.train_limit:  # every k-th row: train.csv is sorted by label, keep all 77 of them
        train = train[:: max(1, len(train) // args.train_limit)][: args.train_limit]
    owner = get_user_model().objects.create_user("bench-owner", is_staff=True)
    names = sorted({r["label"] for r in train})
    project = labeling_services.create_project(
        owner, "bench serving", names, test_fraction=0.2, seed=7, retrain_every=0
    )
    rows = "".join(
        f'"{i}","{r["text"].replace(chr(34), chr(34) * 2)}","{r["label"]}"\n' for i, r in enumerate(train)
    )
    started = time.perf_counter()
    labeling_services.import_items(project, owner, ("id,text,label\n" + rows).encode(), "train.csv")
    result["import_seconds"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    job = services.start_retrain(project, owner, enqueue=False)
    services.run_retrain(job)
    job.refresh_from_db()
    if job.state != Job.State.SUCCEEDED:
        raise SystemExit(f"retrain failed: {job.error}")
    result["retrain_seconds"] = round(time.perf_counter() - started, 1)
    model = engine.loaded_model(project.pk)
    result["model"] = {
        "labels": len(model.classes),
        "algorithm": project.model_versions.get(is_active=True).algorithm,
        "train_size": project.model_versions.get(is_active=True).train_size,
    }
    _, key = ServiceToken.issue(project, "bench", owner)
    client = Client(HTTP_AUTHORIZATION=f"Token {key}", HTTP_HOST="127.0.0.1")
    url = f"/api/v1/projects/{project.pk}/predict"
    texts = [r["text"] for r in test]
    need = args.warmup + args.singles + 100 * args.batches
    if need > len(texts):
        raise SystemExit(f"banking77's test.csv has {len(texts)} texts; the run needs {need}")
    warm, singles = texts[: args.warmup], texts[args.warmup : args.warmup + args.singles]
    batch_texts = texts[args.warmup + args.singles : need]
    batches = [batch_texts[i : i + 100] for i in range(0, len(batch_texts), 100)]

    def post(body: list[str]) -> None:
        response = client.post(url, {"texts": body}, content_type="application/json")
        if response.status_code != 200:
            raise SystemExit(f"predict answered {response.status_code}: {response.content[:300]}")

    def direct(body: list[str]) -> None:
        training.predict_proba(model.pipeline, body)

    for text in warm:  # warm both paths: imports, caches of the allocator, the connection
        post([text])
        direct([text])
    api_single = timed(post, [[t] for t in singles])
    direct_single = timed(direct, [[t] for t in singles])
    engine.cache_for(project.pk).clear()
    api_batch = timed(post, batches)
    direct_batch = timed(direct, batches)
    hit = singles[0]
    post([hit])
    api_hit = timed(post, [[hit]] * args.hits)
    hit_queries = queries_per_request(post, [hit])
    # The same cache hits reading token, active model and settings from PostgreSQL each time,
    # as before serving/recent.py: the ratio is what keeping them per process saves.
    with override_settings(SIFT_SERVING_STATE_TTL=0):
        api_hit_reads = timed(post, [[hit]] * args.hits)
        hit_queries_reads = queries_per_request(post, [hit])
    answers = PredictionLog.objects.filter(project=project)
    logged_single = list(answers.filter(batch_size=1, cached=False).values_list("latency_ms", flat=True))
    result["api"] = {
        "one_text_ms": quantiles(api_single),
        "batch_100_ms": quantiles(api_batch),
        "batch_100_texts_per_second": round(100 * len(api_batch) / (sum(api_batch) / 1000), 1),
        "cache_hit_ms": quantiles(api_hit),
        "cache_hit_queries": hit_queries,
        "cache_hit_reading_state_each_time_ms": quantiles(api_hit_reads),
        "cache_hit_reading_state_each_time_queries": hit_queries_reads,
        "predict_service_one_text_ms": quantiles(logged_single),
        "logged_rows": answers.count(),
    }
    result["direct"] = {
        "one_text_ms": quantiles(direct_single),
        "batch_100_ms": quantiles(direct_batch),
        "batch_100_texts_per_second": round(100 * len(direct_batch) / (sum(direct_batch) / 1000), 1),
    }
    result["ratio_api_over_direct"] = {
        "one_text_p95": round(
            result["api"]["one_text_ms"]["p95"] / result["direct"]["one_text_ms"]["p95"], 2
        ),
        "cache_hit_p50_state_read_each_time_over_kept": round(
            result["api"]["cache_hit_reading_state_each_time_ms"]["p50"]
            / result["api"]["cache_hit_ms"]["p50"],
            2,
        ),
        "batch_100_p50": round(
            result["api"]["batch_100_ms"]["p50"] / result["direct"]["batch_100_ms"]["p50"], 2
        ),
    }
    result["targets"] = {
        "one_text_p95_ms_at_most_20": result["api"]["one_text_ms"]["p95"] <= 20,
        "batch_texts_per_second_at_least_2000": result["api"]["batch_100_texts_per_second"] >= 2000,
        "cache_hit_p95_ms_at_most_2": result["api"]["cache_hit_ms"]["p95"] <= 2,
    }


def queries_per_request(post, body: list[str]) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        post(body)
    return [q["sql"][:80] for q in captured.captured_queries]


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "scikit_learn": sklearn.__version__,
        "postgres": postgres,
        "load_average_at_start": os.getloadavg()[0],
    }


def report(r: dict) -> str:
    api, direct, ratio, m = r["api"], r["direct"], r["ratio_api_over_direct"], r["machine"]
    reads = api["cache_hit_reading_state_each_time_ms"]
    subset = f", {r['train_limit']} texts spread over it" if r.get("train_limit") else ""
    one, one_direct, logged = api["one_text_ms"], direct["one_text_ms"], api["predict_service_one_text_ms"]
    lines = [
        "# Serving benchmark",
        "",
        f"`{r['command']}` on {m['cores']} cores ({m['cpu']}), PostgreSQL "
        f"{m['postgres']}, load average {m['load_average_at_start']:.1f} at the start, "
        f"{m.get('load_average_at_end', float('nan')):.1f} at the end.",
        f"Model: {r['model']['algorithm']}, {r['model']['labels']} labels, "
        f"{r['model']['train_size']} training labels (banking77 train.csv{subset}; "
        f"retrain {r['retrain_seconds']} s) "
        "Texts: banking77 test.csv.",
        "",
        "| | API (whole request, in process) | model called directly | ratio |",
        "| --- | --- | --- | --- |",
        f"| one text, p50 / p95 | {one['p50']} / {one['p95']} ms | "
        f"{one_direct['p50']} / {one_direct['p95']} ms | {ratio['one_text_p95']} (p95) |",
        f"| batches of 100, texts/s | {api['batch_100_texts_per_second']} | "
        f"{direct['batch_100_texts_per_second']} | {ratio['batch_100_p50']} (p50 time) |",
        f"| cache hit, p50 / p95 ({len(api['cache_hit_queries'])} SQL queries) | "
        f"{api['cache_hit_ms']['p50']} / "
        f"{api['cache_hit_ms']['p95']} ms | | |",
        f"| cache hit reading token, model id, settings each time (SIFT_SERVING_STATE_TTL=0; "
        f"{len(api['cache_hit_reading_state_each_time_queries'])} SQL queries), p50 / p95 | "
        f"{reads['p50']} / {reads['p95']} ms"
        f" | | {ratio['cache_hit_p50_state_read_each_time_over_kept']} (p50, vs kept) |",
        f"| one text, time inside services.predict (logged) p50 / p95 | {logged['p50']} / "
        f"{logged['p95']} ms | | |",
        "",
        "Targets: " + ", ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in r["targets"].items()) + ".",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
