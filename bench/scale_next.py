"""16 annotators at full speed on a 1,000,000-item project: /next + annotate, server side.

    python bench/scale_next.py --size 1000000       # make bench-next

It (re)creates its own PostgreSQL database (default bench_next), migrates it, generates
the banking77 pool (bench/scale_pool.py, COPY, counters kept as an import keeps them) and
a queue of 2,000 ranked pool items (what a retrain writes; no model is trained here), and
turns autovacuum off on its tables, so that the first phase runs exactly as a bulk load
leaves the planner: with no statistics of the new rows. Then, for each gunicorn layout
(--layouts, e.g. sync:3 and gthread:2x4), `--annotators` clients each GET /next and POST its
label `--pairs` times with no pause, once without statistics and once after ANALYZE.

Measured per phase: server-side time of each request (gunicorn's access log, %(D)s:
from the request read to the response written), p50/p95/p99 per kind; CPU seconds of
gunicorn (master and workers) and of this database's PostgreSQL backends from /proc,
divided by the pairs served; the database connections opened (backends seen); idle RSS of
one web worker before the load; the machine's load average. The client runs in this
process and is not counted. Results: bench/results/next-<size>.json and .md.
"""

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

ENV_DEFAULTS = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/bench_next",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/4",
    "SIFT_QUEUE": "bench-next",
    "SECRET_KEY": "bench-next-only",
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "SIFT_ARTIFACT_DIR": str(ROOT / "var" / "bench-next" / "artifacts"),
    # The annotators label at full speed on purpose: the API's per-user throttle must not cap them.
    "SIFT_API_USER_RATE": "1000000/min",
    "OMP_NUM_THREADS": "1",
}
for _name, _value in ENV_DEFAULTS.items():
    os.environ.setdefault(_name, _value)


def _recreate_database() -> None:
    """Drop and create the benchmark's database: no statistics survive from an earlier run."""
    import psycopg

    url = os.environ["DATABASE_URL"]
    name = url.rsplit("/", 1)[1]
    if not name.startswith("bench"):
        raise SystemExit(f"needs a PostgreSQL database of its own named bench*, got {name}")
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


import django  # noqa: E402 - after the environment above

django.setup()

import scale_pool  # noqa: E402
import scale_procs  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402
from scale_load import LoadClient, _percentile  # noqa: E402

from labeling import services as labeling_services  # noqa: E402
from labeling.models import Item, Membership, Project, QueueEntry, Ranking, Split  # noqa: E402

SOURCE = ROOT.parent / "shared" / "datasets" / "banking77" / "train.csv"
TABLES = ("labeling_item", "labeling_annotation", "labeling_queueentry", "labeling_lease", "labeling_skip")
WARM_UP = 2
ACCESS = re.compile(r"^(GET|POST) (\S+) (\d{3}) (\d+)$")


def main() -> None:
    args = parse_args()
    _recreate_database()  # Django has not connected yet
    call_command("migrate", verbosity=0)
    out_dir = ROOT / "var" / "bench-next"
    result: dict = {"size": args.size, "command": " ".join(["python", *sys.argv]), "machine": machine()}
    owner = get_user_model().objects.create_user("bench-owner", is_staff=True, is_superuser=True)
    names = scale_pool.label_names(SOURCE)
    project = scale_pool.create_project(owner, names, args.seed, 0.2, f"next-{args.size}")
    with connection.cursor() as cursor:
        for table in TABLES:  # the first phase must see the tables as a bulk load leaves them
            cursor.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    print(f"generating {args.size:,} items ...", flush=True)
    pool = scale_pool.generate(SOURCE, args.size, args.labels, args.test_labels, args.seed, 0.2)
    print("inserting with COPY ...", flush=True)
    started = time.monotonic()
    scale_pool.insert(project, owner, pool, analyze=False)
    result["pool"] = {**pool.stats, "insert_seconds": round(time.monotonic() - started, 1)}
    project.test_target = args.test_target  # a share of /next serves test items, as mid-project
    project.save(update_fields=["test_target"])
    make_queue(project, args.queue)
    annotators = make_annotators(project, args.annotators)
    label_of = {pool.external_id(i): pool.labels[i] for i in range(len(pool.texts))}.__getitem__
    result["phases"] = []
    for statistics in ("none", "fresh"):
        if statistics == "fresh":
            started = time.monotonic()
            with connection.cursor() as cursor:
                for table in TABLES:
                    cursor.execute(f"ANALYZE {table}")
            result["analyze_seconds"] = round(time.monotonic() - started, 2)
        for layout in args.layouts.split(","):
            scale_pool.reset_human_labels(project)
            print(f"phase: statistics {statistics}, gunicorn {layout} ...", flush=True)
            log_dir = out_dir / f"{statistics}-{layout}"
            phase = run_phase(project, annotators, label_of, layout, args.pairs, log_dir, args.phase_timeout)
            phase["statistics"] = statistics
            result["phases"].append(phase)
            print(json.dumps(summary_line(phase)), flush=True)
            write_results(result, args.out)
    write_results(result, args.out)


def make_queue(project: Project, size: int) -> None:
    """A ranking of `size` unlabeled pool items, as a retrain writes one, made active."""
    with transaction.atomic():
        ranking = Ranking.objects.create(project=project, size=size, summary={"bench": "random priorities"})
        picks = (
            Item.objects.filter(project=project, split=Split.POOL, label__isnull=True)
            .order_by("rand_key")
            .values_list("pk", flat=True)[:size]
        )
        QueueEntry.objects.bulk_create(
            (
                QueueEntry(
                    ranking=ranking, item_id=pk, priority=float(size - i), strategy="margin", score=0.5
                )
                for i, pk in enumerate(picks)
            ),
            batch_size=2000,
        )
        Project.objects.filter(pk=project.pk).update(active_ranking=ranking)
    project.refresh_from_db()


def make_annotators(project: Project, n: int) -> list[str]:
    tokens = []
    for i in range(n):
        user = get_user_model().objects.create_user(f"bench-annotator-{i}")
        labeling_services.add_member(project, user, Membership.Role.ANNOTATOR)
        tokens.append(Token.objects.create(user=user).key)
    return tokens


def start_web(layout: str, port: int, log_dir: Path) -> scale_procs.Service:
    kind, _, shape = layout.partition(":")
    workers, _, threads = shape.partition("x")
    command = [
        sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
        "--workers", workers, "--worker-class", kind, "--timeout", "120",
        "--access-logfile", str(log_dir / "access.log"), "--access-logformat", "%(m)s %(U)s %(s)s %(D)s",
    ]  # fmt: skip
    if threads:
        command += ["--threads", threads]
    return scale_procs.start("gunicorn", command, dict(os.environ), log_dir / "gunicorn.log")


def run_phase(
    project: Project, tokens: list[str], label_of, layout: str, pairs: int, log_dir: Path, timeout: float
) -> dict:
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / "access.log").unlink(missing_ok=True)
    port = scale_procs.free_port()
    web = start_web(layout, port, log_dir)
    database = connection.settings_dict["NAME"]
    try:
        web.wait_for(b"Booting worker", 60)
        time.sleep(3)  # the workers import the app
        workers = scale_procs.descendants(web.pid)
        idle_rss = [scale_procs.read_status(pid).get("VmRSS", 0) // 1024 for pid in workers]
        sampler = scale_procs.Sampler({"gunicorn": web.pid}, database=database)
        backends_before = set(scale_procs.backends(database))
        clients = [LoadClient(port, token, project.pk, label_of) for token in tokens]
        with sampler:
            for client in clients:
                client.start()
            # Warm-up: every client's first WARM_UP pairs (connections, first imports) are not counted.
            _wait(clients, WARM_UP, timeout)
            mark = len(_lines(log_dir / "access.log"))
            before_web, before_db = scale_procs.tree_cpu(web.pid), sampler.read_backends()
            load0 = scale_procs.load_average()
            started = time.monotonic()
            _wait(clients, WARM_UP + pairs, timeout)
            for client in clients:
                client.stop()
            wall = time.monotonic() - started
            after_web = scale_procs.tree_cpu(web.pid)
            after_db = sampler.read_backends()
        load1 = scale_procs.load_average()
        busy_rss = [scale_procs.read_status(pid).get("VmRSS", 0) // 1024 for pid in workers]
    finally:
        web.stop()
    served = access_times(_lines(log_dir / "access.log")[mark:])
    n_pairs = len(served["annotate"])
    requests = [r for c in clients for r in c.requests if r.at >= started]
    return {
        "layout": layout,
        "annotators": len(tokens),
        "pairs": n_pairs,
        "wall_seconds": round(wall, 1),
        "pairs_per_second": round(n_pairs / wall, 1),
        "server_ms": {op: percentiles(ms) for op, ms in served.items()},
        "client_ms": {
            op: percentiles([r.seconds * 1000 for r in requests if r.op == op and r.status in (200, 201)])
            for op in ("next", "annotate")
        },
        "errors": sum(r.status == 0 or r.status >= 400 for r in requests),
        "no_item": sum(r.status == 204 for r in requests),
        "cpu_ms_per_pair": {
            "web": round((after_web - before_web) * 1000 / max(n_pairs, 1), 1),
            "database": round((after_db - before_db) * 1000 / max(n_pairs, 1), 1),
        },
        "database_connections_opened": len(set(sampler.db_cpu) - backends_before),
        "web_worker_rss_mb": {"idle": idle_rss, "after_load": busy_rss},
        "load_average": [load0, load1],
    }


def _wait(clients: list[LoadClient], pairs: int, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while any(_pairs(c) < pairs for c in clients) and time.monotonic() < deadline:
        time.sleep(0.05)


def _pairs(client: LoadClient) -> int:
    return sum(r.op == "annotate" for r in client.requests)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def access_times(lines: list[str]) -> dict[str, list[float]]:
    """Server-side milliseconds per request kind, from access log lines (%(D)s is microseconds)."""
    out: dict[str, list[float]] = {"next": [], "annotate": []}
    for line in lines:
        match = ACCESS.match(line.strip())
        if not match or match.group(3)[0] != "2":
            continue
        method, url, _, micros = match.groups()
        if method == "GET" and url.endswith("/next"):
            out["next"].append(int(micros) / 1000)
        elif method == "POST" and url.endswith("/annotations"):
            out["annotate"].append(int(micros) / 1000)
    return out


def percentiles(ms: list[float]) -> dict:
    ms = sorted(ms)
    return {"count": len(ms), **{f"p{p}": round(_percentile(ms, p), 1) for p in (50, 95, 99)}}


def summary_line(phase: dict) -> dict:
    return {
        "statistics": phase["statistics"],
        "layout": phase["layout"],
        "pairs": phase["pairs"],
        "next_p95": phase["server_ms"]["next"]["p95"],
        "annotate_p95": phase["server_ms"]["annotate"]["p95"],
        "cpu_ms_per_pair": phase["cpu_ms_per_pair"],
        "load": phase["load_average"],
    }


def machine() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "postgresql": version,
        "conn_max_age": settings.DATABASES["default"]["CONN_MAX_AGE"],
        "git": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip(),
    }


def write_results(result: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    base = out / f"next-{result['size']}"
    base.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# /next + annotate at {result['size']:,} items",
        "",
        f"`{result['command']}`, {result['machine']}",
        "",
        "| statistics | gunicorn | pairs | pairs/s | next p50 / p95 ms | annotate p50 / p95 ms "
        "| CPU ms per pair, web + db | connections opened | idle web worker RSS MB | load average |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in result.get("phases", []):
        nxt, ann = p["server_ms"]["next"], p["server_ms"]["annotate"]
        lines.append(
            f"| {p['statistics']} | {p['layout']} | {p['pairs']} | {p['pairs_per_second']} "
            f"| {nxt['p50']} / {nxt['p95']} | {ann['p50']} / {ann['p95']} "
            f"| {p['cpu_ms_per_pair']['web']} + {p['cpu_ms_per_pair']['database']} "
            f"| {p['database_connections_opened']} | {', '.join(map(str, p['web_worker_rss_mb']['idle']))} "
            f"| {p['load_average'][0]}–{p['load_average'][1]} |"
        )
    base.with_suffix(".md").write_text("\n".join(lines) + "\n")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=1_000_000, help="items in the generated pool")
    parser.add_argument("--labels", type=int, default=10_000, help="labeled pool items")
    parser.add_argument("--test-labels", type=int, default=2_000, help="labeled test items")
    parser.add_argument("--test-target", type=int, default=5_000, help="keeps /next serving test items")
    parser.add_argument("--queue", type=int, default=2_000, help="ranked pool items in the active queue")
    parser.add_argument("--annotators", type=int, default=16)
    parser.add_argument("--pairs", type=int, default=25, help="next + annotate pairs per annotator")
    parser.add_argument(
        "--layouts", default="sync:3,gthread:2x4", help="gunicorn worker class:count[xthreads]"
    )
    parser.add_argument("--phase-timeout", type=float, default=300, help="stop a phase after this long (s)")
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    return parser.parse_args()


if __name__ == "__main__":
    main()
