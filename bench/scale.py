"""Scale benchmark: retrain on 10,000 labels and rescore a generated pool by every ranker.

    python bench/scale.py --size 100000            # then --size 1000000

For each run it starts real Celery workers (`celery -A config worker --pool prefork
--concurrency 1`, one process per worker) on PostgreSQL and Redis, starts a retrain the way
the API does (`learners.services.start_retrain`), and times the job from the call to
SUCCEEDED, phase by phase, from the job's own progress messages (polled every 50 ms).
Runs: 1 worker, 2 workers, and 2 workers while an annotator hammers the API through
gunicorn (latency during the rescore against an idle baseline). The pool is generated at
run time from banking77's train.csv (`--pool edits|suffix|unique`, bench/scale_pool.py) and
COPYed in. Results go to bench/results/scale-<size>-<pool>-<labels>[-<tag>].json and .md.

It needs its own PostgreSQL database (default postgres://postgres@127.0.0.1:5432/bench_scale,
created beforehand with `createdb`), whose tables it empties at the start and, unless
--keep-data, at the end.
"""

import argparse
import itertools
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

ENV_DEFAULTS = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/bench_scale",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/11",
    "SIFT_QUEUE": "bench-scale",
    "SECRET_KEY": "bench-scale-only",
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "SIFT_ARTIFACT_DIR": str(ROOT / "var" / "bench-scale" / "artifacts"),
    # Its annotators label at full speed on purpose: the API's per-user throttle must not cap them.
    "SIFT_API_USER_RATE": "1000000/min",
}
for _name, _value in ENV_DEFAULTS.items():
    os.environ.setdefault(_name, _value)

import django  # noqa: E402 - after the environment above

django.setup()

import scale_pool  # noqa: E402
import scale_procs  # noqa: E402
import scale_report  # noqa: E402
import sklearn  # noqa: E402
import threadpoolctl  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402
from scale_load import LoadClient, latency_report  # noqa: E402

from config.celery import app  # noqa: E402
from labeling import services as labeling_services  # noqa: E402
from labeling.models import Membership, Project, Ranking  # noqa: E402
from learners import ranking, services  # noqa: E402
from learners.models import Job, ModelVersion  # noqa: E402

SOURCE = ROOT.parent / "shared" / "datasets" / "banking77" / "train.csv"
POLL = 0.05
# The job's progress messages, in order, and the phase each one starts.
PHASES = [
    ("queued", "Waiting for a worker"),
    ("dataset", "Fixing a dataset version"),
    ("fit", "Fitting on "),
    ("evaluate", "Evaluating on "),
    ("rankers", "Fitting the rankers"),
    ("chunks", "Ranking "),
    ("chunks", "Scored "),
    ("write", "Writing the new queue"),
]


def main() -> None:
    args = parse_args()
    check_database()
    call_command("migrate", verbosity=0)
    log_dir = ROOT / "var" / "bench-scale" / f"logs-{args.size}"
    shutil.rmtree(log_dir, ignore_errors=True)
    result: dict = {
        "size": args.size,
        "tag": args.tag,
        "pool_kind": args.pool,
        "labels": args.labels,
        "command": " ".join(["python", *sys.argv]),
        "machine": machine(),
    }
    try:
        scale_pool.truncate_all()
        owner, annotator, token = make_users()
        names = scale_pool.label_names(SOURCE)
        project = scale_pool.create_project(owner, names, args.seed, 0.2, f"scale-{args.size}")
        labeling_services.add_member(project, annotator, Membership.Role.ANNOTATOR)
        print(f"generating {args.size:,} items ...", flush=True)
        pool = scale_pool.generate(
            SOURCE, args.size, args.labels, args.test_labels, args.seed, 0.2, kind=args.pool
        )
        print(f"inserting with COPY ... ({pool.stats})", flush=True)
        pool.stats["insert_seconds"] = round(scale_pool.insert(project, owner, pool), 2)
        pool.stats["insert_method"] = "PostgreSQL COPY through psycopg (the CSV import is bypassed)"
        pool.stats["import_parity"] = scale_pool.check_import_parity(project, owner, pool)
        result["pool"] = pool.stats
        print(
            f"inserted in {pool.stats['insert_seconds']} s; parity {pool.stats['import_parity']}", flush=True
        )
        index = {pool.external_id(i): pool.labels[i] for i in range(len(pool.texts))}
        result["runs"] = []
        for spec in args.runs.split(","):
            workers, with_load = int(spec.split("+")[0]), spec.endswith("+load")
            print(f"run: {workers} worker(s){' under load' if with_load else ''} ...", flush=True)
            run = run_once(project, owner, token, index.__getitem__, workers, with_load, log_dir, args)
            result["runs"].append(run)
            print(json.dumps({k: run[k] for k in ("workers", "load", "state", "wall_seconds")}), flush=True)
            write_results(result, args.out)
    finally:
        if not args.keep_data:
            scale_pool.truncate_all()
        shutil.rmtree(settings.ARTIFACT_DIR, ignore_errors=True)
    write_results(result, args.out)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=100_000, help="items in the generated pool")
    parser.add_argument(
        "--pool",
        choices=scale_pool.KINDS,
        default="edits",
        help="how the pool is generated from banking77 (bench/scale_pool.py)",
    )
    parser.add_argument("--labels", type=int, default=10_000, help="labeled pool items (the training set)")
    parser.add_argument("--test-labels", type=int, default=2_000, help="labeled test items (the evaluation)")
    parser.add_argument(
        "--runs", default="1,2,2+load", help="worker counts to time, '+load' adds the annotator"
    )
    parser.add_argument("--idle-seconds", type=float, default=20.0, help="load baseline before the retrain")
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument("--timeout", type=float, default=3600.0, help="give up on a job after this long")
    parser.add_argument("--keep-data", action="store_true", help="leave the generated pool in the database")
    parser.add_argument(
        "--worker-threads",
        type=int,
        default=0,
        help="OMP/OpenBLAS threads per worker process (0: the libraries' default, one per core)",
    )
    parser.add_argument("--tag", default="", help="suffix of the result files (scale-<size>-<tag>)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    return parser.parse_args()


def check_database() -> None:
    db = connection.settings_dict
    if not db["ENGINE"].endswith("postgresql") or not str(db["NAME"]).startswith("bench"):
        # The benchmark empties every table of its database: never point it at a real one.
        raise SystemExit(
            f"needs a PostgreSQL database of its own named bench*, got {db['ENGINE']} {db['NAME']}"
        )


def make_users():
    users = get_user_model().objects
    owner = users.create_user("bench-owner", is_staff=True, is_superuser=True)
    annotator = users.create_user("bench-annotator")
    return owner, annotator, Token.objects.create(user=annotator).key


def worker_env(threads: int = 0) -> dict:
    env = {**os.environ, "SIFT_ARTIFACT_DIR": str(settings.ARTIFACT_DIR)}
    if threads:
        env |= dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"), str(threads))
    return env


def purge_queue() -> None:
    with app.connection_for_write() as conn:
        try:
            conn.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)
        except Exception as exc:  # a queue that never existed: nothing to purge
            print(f"(queue purge: {exc})", flush=True)


def run_once(project, owner, token, label_of, n_workers, with_load, log_dir, args) -> dict:
    scale_pool.reset_human_labels(project)
    purge_queue()
    run_dir = log_dir / f"{n_workers}w{'-load' if with_load else ''}"
    workers, web, client = [], None, None
    run: dict = {
        "workers": n_workers,
        "load": with_load,
        "worker_layout": "separate processes, prefork -c 1",
        "worker_threads": args.worker_threads or "library default",
    }
    try:
        for i in range(n_workers):
            env = worker_env(args.worker_threads)
            workers.append(scale_procs.start_worker(i + 1, env, settings.CELERY_TASK_DEFAULT_QUEUE, run_dir))
        for worker in workers:
            worker.wait_for(b"ready.", 120)
        roots = {w.name: w.pid for w in workers}
        with scale_procs.Sampler(roots, database=connection.settings_dict["NAME"]) as sampler:
            if with_load:
                web, client, idle = start_load(project, token, label_of, run_dir, args.idle_seconds)
                client.pause()
                scale_pool.reset_human_labels(project)  # every run trains on the same labels
            timeline = time_job(project, owner, sampler, client, args.timeout)
            if client is not None:
                time.sleep(5)  # keep asking a little after the swap, too
                client.stop()
                run["latency"] = latency_report(client.requests, idle, timeline)
            run["memory_mb"] = {k: round(v / 1024) for k, v in sampler.hwm_kb.items()}
            run["polled_rss_mb"] = {k: round(v / 1024) for k, v in sampler.peak_rss_kb.items()}
            run["worker_cpu_seconds"] = {k: round(v, 1) for k, v in sampler.cpu.items()}
    finally:
        if web is not None:
            web.stop()
        for worker in workers:
            worker.stop()
    run.update(timeline["summary"])
    run["uptime_after"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    run["tasks"] = scale_procs.task_times(workers)
    return run


def start_load(project, token, label_of, run_dir, idle_seconds):
    port = scale_procs.free_port()
    web = scale_procs.start_gunicorn(port, worker_env(), run_dir)
    web.wait_for(b"Booting worker", 60)
    client = LoadClient(port, token, project.pk, label_of)
    client.start()
    deadline = time.monotonic() + 60
    while not any(r.status == 200 for r in client.requests):
        if time.monotonic() > deadline:
            raise RuntimeError("the web server never answered /next with 200")
        time.sleep(0.1)
    started = time.monotonic() + 1.0  # skip the first requests (process warm-up)
    time.sleep(idle_seconds + 1.0)
    return web, client, (started, time.monotonic())


def time_job(project, owner, sampler, client, timeout) -> dict:
    """Start a retrain and follow it to its end; phases from the job's progress messages."""
    old_model = (
        ModelVersion.objects.filter(project=project, is_active=True).values_list("pk", flat=True).first()
    )
    old_ranking = Project.objects.get(pk=project.pk).active_ranking_id
    busy0, total0 = scale_procs.machine_cpu()
    load0 = scale_procs.load_average()
    t0 = time.monotonic()
    job = services.start_retrain(project, owner, trigger="benchmark")
    marks = [("queued", t0, sampler.cpu_by_worker())]
    swap_at, resumed_at = None, None
    while True:
        state, message, params = Job.objects.filter(pk=job.pk).values_list("state", "message", "params").get()
        now = time.monotonic()
        phase = phase_of(message, params)
        if swap_at is None and phase != marks[-1][0] and state == Job.State.RUNNING:
            marks.append((phase, now, sampler.cpu_by_worker()))
        if client is not None and resumed_at is None and "watermark" in params:
            client.resume()  # the training labels are fixed now; annotate away
            resumed_at = now
        if (
            swap_at is None
            and Project.objects.filter(pk=project.pk).values_list("active_ranking_id", flat=True).get()
            != old_ranking
        ):
            swap_at = now
            marks.append(("cleanup", now, sampler.cpu_by_worker()))
        if state in (Job.State.SUCCEEDED, Job.State.FAILED) or now - t0 > timeout:
            break
        time.sleep(POLL)
    end = time.monotonic()
    marks.append(("end", end, sampler.cpu_by_worker()))
    busy1, total1 = scale_procs.machine_cpu()
    job.refresh_from_db()
    return {
        "t0": t0, "end": end, "swap_at": swap_at, "resumed_at": resumed_at, "old_model": old_model,
        "new_model": ModelVersion.objects.filter(job=job).values_list("pk", flat=True).first(),
        "marks": marks,
        "summary": job_summary(job, marks, end - t0, busy1 - busy0, total1 - total0, load0, sampler),
    }  # fmt: skip


def phase_of(message: str, params: dict) -> str:
    phase = "queued"
    for name, prefix in PHASES:
        if message.startswith(prefix):
            phase = name
    if params.get("merging") and phase == "chunks":
        phase = "merge"  # the last chunk is in; its worker merges the candidates
    return phase


def job_summary(job, marks, wall, machine_busy, machine_total, load0, sampler) -> dict:
    phases: dict[str, dict] = {}
    for (name, at, cpu), (_, next_at, next_cpu) in itertools.pairwise(marks):
        used = {k: next_cpu[k] - cpu[k] for k in cpu}
        workers = {k: v for k, v in used.items() if k != "postgres"}
        entry = phases.setdefault(
            name,
            dict.fromkeys(
                ("seconds", "worker_cpu_seconds", "postgres_cpu_seconds", "cpu_bound_seconds"), 0.0
            ),
        )
        entry["seconds"] = round(entry["seconds"] + next_at - at, 2)
        entry["worker_cpu_seconds"] = round(entry["worker_cpu_seconds"] + sum(workers.values()), 2)
        entry["postgres_cpu_seconds"] = round(entry["postgres_cpu_seconds"] + used["postgres"], 2)
        entry["cpu_bound_seconds"] = round(
            entry["cpu_bound_seconds"] + cpu_bound(workers, used["postgres"]), 2
        )
        entry["peak_rss_mb"] = max(
            entry.get("peak_rss_mb", 0), round(sampler.peak_between(at, next_at) / 1024)
        )
    model = ModelVersion.objects.filter(job=job).first()
    ranking_id = (job.result or {}).get("ranking")
    return {
        "state": job.state,
        "error": job.error,
        "wall_seconds": round(wall, 2),
        "cpu_bound_seconds": round(sum(p["cpu_bound_seconds"] for p in phases.values()), 1),
        "phases": phases,
        # The job's own clock, phase by phase (fit, each ranker's fit and scoring, mixing,
        # queue write, swap); scoring phases are summed over chunks and workers.
        "phase_seconds": (job.result or {}).get("phase_seconds", {}),
        "chunks": job.params.get("chunks"),
        "chunk_size": settings.SIFT_SCORE_CHUNK_SIZE,
        "model": {
            "train_size": model.train_size if model else None,
            "test_size": model.test_size if model else None,
            "training_seconds": round(model.training_seconds, 2)
            if model and model.training_seconds
            else None,
            "macro_f1": (model.metrics or {}).get("macro_f1") if model else None,
        },
        "ranking": _ranking_summary(ranking_id),
        "machine": {
            "cores": os.cpu_count(),
            "load_average_at_start": load0,
            "busy_cpu_seconds": round(machine_busy, 1),
            "capacity_cpu_seconds": round(machine_total, 1),
        },
    }


def cpu_bound(workers: dict[str, float], postgres: float) -> float:
    """An estimate of a phase's wall time on an idle machine with these cores.

    The larger of: the busiest worker's CPU seconds plus its share of the database's
    (it waits for its queries), and all the CPU the phase used spread over every core.
    It ignores disk and network waits, and it counts the CPU that BLAS/OpenMP threads
    burn spinning while they wait for a core, which a loaded machine inflates.
    """
    active = [v for v in workers.values() if v > 0.05] or [0.0]
    busiest = max(active) + postgres / len(active)
    return max(busiest, (sum(workers.values()) + postgres) / (os.cpu_count() or 1))


def _ranking_summary(ranking_id: int | None) -> dict:
    found = Ranking.objects.filter(pk=ranking_id).values("size", "summary").first()
    return {"size": found["size"], "counts": found["summary"].get("counts")} if found else {}


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "?")  # fmt: skip
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
        cursor.execute("SHOW shared_buffers")
        shared_buffers = cursor.fetchone()[0]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(int(mem) / 1024 / 1024, 1),
        "python": platform.python_version(),
        "scikit_learn": sklearn.__version__,
        "postgres": postgres,
        "postgres_shared_buffers": shared_buffers,
        "chunk_size": settings.SIFT_SCORE_CHUNK_SIZE,
        "text_batch": ranking.TEXT_BATCH,
        "queue_size": settings.SIFT_QUEUE_SIZE,
        "load_average_before": scale_procs.load_average(),
        # Other engineers' processes share the cores: the load of the whole run, as uptime says it.
        "uptime_before": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
        # BLAS / OpenMP threads per process: with 2 workers on 2 cores they compete.
        "threads": {i["internal_api"]: i["num_threads"] for i in threadpoolctl.threadpool_info()},
    }


def write_results(result: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    name = f"scale-{result['size']}-{result['pool_kind']}-{result['labels']}"
    stem = out / f"{name}{'-' + result['tag'] if result['tag'] else ''}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    stem.with_suffix(".md").write_text(scale_report.markdown(result))


if __name__ == "__main__":
    main()
