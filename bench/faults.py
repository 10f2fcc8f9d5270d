"""Fault benchmark: the production shape under a labeling team, one fault after another.

    python bench/faults.py [--quick] [--pg-cluster 15/sift-faults]

It starts a redis-server of its own (port 6390), gunicorn with 4 workers, a prefork Celery
worker and beat on PostgreSQL (default postgres://postgres@127.0.0.1:5440/bench_faults,
whose tables it empties first), imports banking77's train.csv as a project with overlap 2,
and lets simulated annotators (threads: GET next, POST the label, again) label through the
HTTP API. Faults, one after another: none (the team alone, retrain_every 200), Redis
stopped for 30 s, Redis restarted while a retrain runs, the worker SIGKILLed at progress
~0.1, PostgreSQL restarted (3 s down; only with --pg-cluster, the cluster serving
DATABASE_URL), the artifact folder unwritable. For each: the status codes annotators got,
labels lost (201s missing from the database), double assignments, retrains failed, and
the time to recovery. Results: bench/results/faults.json and faults.md.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

ENV_DEFAULTS = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5440/bench_faults",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6390/0",
    "SECRET_KEY": "bench-faults-only",
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "SIFT_DATA_DIR": str(ROOT / "var" / "bench-faults"),
    "SIFT_ARTIFACT_DIR": str(ROOT / "var" / "bench-faults" / "artifacts"),
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
}
for _name, _value in ENV_DEFAULTS.items():
    os.environ.setdefault(_name, _value)

import django  # noqa: E402 - after the environment above

django.setup()

import faults_report  # noqa: E402
import scale_procs  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from faults_stack import (  # noqa: E402
    Annotator,
    PostgresCluster,
    Stack,
    add_user,
    api,
    make_project,
    set_writable,
)

from labeling.models import Annotation  # noqa: E402
from learners.models import Job  # noqa: E402

RETRAIN = Job.Kind.RETRAIN
ENDED = (Job.State.SUCCEEDED, Job.State.FAILED)


class Bench:
    """One project, its owner and annotators' tokens, the stack, and how to measure a phase."""

    def __init__(self, args: argparse.Namespace, stack: Stack):
        self.args, self.stack = args, stack
        self.project, self.truth, self.owner_token = make_project(args)
        self.tokens = [
            add_user(f"annotator{i}", "annotator", self.project.slug) for i in range(args.annotators)
        ]

    def label_of(self, external_id: str) -> str:
        return self.truth[external_id]

    def team(self, n: int) -> list[Annotator]:
        return [
            Annotator(self.stack.web_port, token, self.project.pk, self.label_of, username=f"annotator{i}")
            for i, token in enumerate(self.tokens[:n])
        ]

    def call(self, method: str, path: str) -> tuple[int, dict]:
        return api(self.stack.web_port, method, path, self.owner_token)

    def retrain_now(self) -> int | None:
        """Start a retrain (or take the one already active); None if the queue is down."""
        status, body = self.call("POST", f"/api/v1/projects/{self.project.pk}/retrain")
        return body["job"]["id"] if status in (202, 409) else None

    def active_retrains(self):
        return Job.objects.filter(project=self.project, kind=RETRAIN, state__in=Job.ACTIVE_STATES)

    def wait_job(self, job_id: int, timeout: float, **condition) -> Job | None:
        condition = condition or {"state__in": ENDED}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = Job.objects.filter(pk=job_id, **condition).first()
            if job is not None:
                return job
            time.sleep(0.2)
        return None

    def wait_retry(self, job: Job, timeout: float) -> Job | None:
        """The retrain that took a failed one's place, once it ended.

        The sweeper retries a silent retrain (params retry_of); a retrain started meanwhile
        (an annotation's automatic one fails the silent job first) replaces it instead.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            later = Job.objects.filter(project=self.project, kind=RETRAIN, pk__gt=job.pk).order_by("pk")
            if (retry := later.first()) is not None:
                return self.wait_job(retry.pk, deadline - time.monotonic())
            time.sleep(0.5)
        return None

    def recovered(self, since: float, timeout: float = 600) -> float | None:
        """Seconds from `since` until a worker runs a retrain asked for after it (the loop works)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job_id = self.retrain_now()  # a new one, or the one already queued or running
            if job_id and self.wait_job(job_id, deadline - time.monotonic(), started_at__isnull=False):
                return round(time.monotonic() - since, 1)
            time.sleep(1)
        return None


def labeling(bench: Bench, n: int, seconds: float, fault=None, warm: float = 10) -> dict:
    """n annotators label for `seconds`; `fault()` runs after `warm` s and returns its notes."""
    clients = bench.team(n)
    started = time.monotonic()
    for client in clients:
        client.start()
    notes, window = {}, None
    if fault is not None:
        time.sleep(warm)
        fault_start = time.monotonic()
        notes = fault() or {}
        window = (fault_start, time.monotonic())
    time.sleep(max(0.0, seconds - (time.monotonic() - started)))
    for client in clients:
        client.stop()
    return {**measure(bench, clients, started, window), **notes}


def measure(bench: Bench, clients: list[Annotator], started: float, window) -> dict:
    requests = [r for c in clients for r in c.requests]
    statuses = {op: dict(Counter(r.status for r in requests if r.op == op)) for op in ("next", "annotate")}
    saved = set(
        Annotation.objects.filter(
            item__project=bench.project, user__username__startswith="annotator"
        ).values_list("user__username", "item_id")
    )
    acked = [(c.username, item) for c in clients for item in c.acked]
    result = {
        "annotators": len(clients),
        "seconds": round(time.monotonic() - started, 1),
        "statuses": statuses,
        "labels_acked": len(acked),
        "labels_lost": sum((who, item) not in saved for who, item in acked),
    }
    if window is not None:
        during = [r for r in requests if window[0] <= r.at <= window[1]]
        result["statuses_during_fault"] = dict(Counter(f"{r.op} {r.status}" for r in during))
        errors_after = [r.at for r in requests if r.at > window[1] and (r.status >= 500 or r.status == 0)]
        result["errors_after_fault_s"] = round(max(errors_after) - window[1], 1) if errors_after else 0.0
    return result


def retrains_since(bench: Bench, since_id: int) -> dict:
    jobs = Job.objects.filter(project=bench.project, kind=RETRAIN, pk__gt=since_id)
    return {
        "retrains": dict(Counter(jobs.values_list("state", flat=True))),
        "retrain_errors": sorted(
            {e[:200] for e in jobs.filter(state=Job.State.FAILED).values_list("error", flat=True)}
        ),
    }


def last_job_id() -> int:
    return Job.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def double_assigned(bench: Bench) -> int:
    """Items labeled by more people than the project's overlap allows."""
    per_item = Counter(
        Annotation.objects.filter(item__project=bench.project, user__username__startswith="annotator")
        .values_list("item_id", "user_id")
        .distinct()
        .values_list("item_id", flat=True)
    )
    return sum(n > bench.project.overlap for n in per_item.values())


def phase_team(bench: Bench) -> dict:
    first = last_job_id()
    result = labeling(bench, bench.args.annotators, bench.args.team_seconds)
    # The retrains the team started end after it stops; each one counts.
    return {**result, **settled(bench, first), "double_assigned": double_assigned(bench)}


def phase_redis_down(bench: Bench) -> dict:
    first, marks = last_job_id(), {}

    def fault() -> dict:
        bench.stack.stop_redis()
        time.sleep(bench.args.redis_down_seconds)
        bench.stack.start_redis()
        marks["back"] = time.monotonic()
        return {}

    result = labeling(bench, bench.args.fault_annotators, bench.args.redis_down_seconds + 40, fault)
    return {**result, "recovery_s": bench.recovered(marks["back"]), **settled(bench, first)}


def phase_redis_restart_mid_task(bench: Bench) -> dict:
    first = last_job_id()

    def fault() -> dict:
        job_id = running_retrain(bench)
        bench.stack.stop_redis()
        bench.stack.start_redis()
        back = time.monotonic()
        job = bench.wait_job(job_id, 900)
        if job is not None and job.state == Job.State.FAILED:
            job = bench.wait_retry(job, 900)
        ended = job.state if job else "did not end"
        return {"worker_alive": bench.stack.worker_alive(), "job": ended, "recovery_s": since(back, job)}

    result = labeling(bench, bench.args.fault_annotators, 20, fault)
    return {**result, **settled(bench, first)}


def phase_worker_killed(bench: Bench) -> dict:
    first = last_job_id()

    def fault() -> dict:
        job_id = running_retrain(bench, progress=0.1)
        bench.stack.kill_worker()
        killed = time.monotonic()
        bench.stack.start_worker()  # what a restart policy does
        failed = bench.wait_job(job_id, 900, state=Job.State.FAILED)
        noticed = round(time.monotonic() - killed, 1) if failed else None
        retry = bench.wait_retry(failed, 900) if failed else None
        how = "retry" if retry and retry.params.get("retry_of") == job_id else "replacement"
        return {
            "noticed_after_s": noticed,
            "error": failed.error[:200] if failed else "not failed",
            "retry": f"{how} {retry.state}" if retry else "none",
            "recovery_s": since(killed, retry),
        }

    result = labeling(bench, bench.args.fault_annotators, 20, fault)
    return {**result, **settled(bench, first)}


def phase_postgres_restart(bench: Bench) -> dict:
    cluster = PostgresCluster(*bench.args.pg_cluster.split("/"))
    first, marks = last_job_id(), {}

    def fault() -> dict:
        cluster.restart(3)
        connection.close()  # this script's own connection died with the server
        marks["back"] = time.monotonic()
        return {}

    result = labeling(bench, bench.args.fault_annotators, 40, fault)
    return {**result, "recovery_s": bench.recovered(marks["back"]), **settled(bench, first)}


def phase_artifacts_unwritable(bench: Bench) -> dict:
    folder = Path(settings.ARTIFACT_DIR)
    settle(bench)
    first, marks = last_job_id(), {}

    def fault() -> dict:
        set_writable(folder, False)
        try:
            job_id = bench.retrain_now()
            job = bench.wait_job(job_id, 900) if job_id else None
            bench.stack.kill_worker()
            bench.stack.start_worker()  # a restart with the folder still unwritable
            refused = wait_exit(bench.stack.worker, 120)
        finally:
            set_writable(folder, True)
        marks["back"] = time.monotonic()
        if refused:
            bench.stack.start_worker(wait=True)
        return {
            "job": job.state if job else "none",
            "error": job.error[:200] if job else "",
            "worker_refused_to_start": refused,
        }

    result = labeling(bench, bench.args.fault_annotators, 20, fault)
    return {**result, "recovery_s": bench.recovered(marks["back"]), **settled(bench, first)}


def settle(bench: Bench, timeout: float = 300) -> None:
    """Wait for the active retrains to end, so that each phase counts its own."""
    deadline = time.monotonic() + timeout
    while bench.active_retrains().exists() and time.monotonic() < deadline:
        time.sleep(1)


def settled(bench: Bench, first: int) -> dict:
    settle(bench)
    return retrains_since(bench, first)


def running_retrain(bench: Bench, progress: float = 0.0) -> int:
    """A retrain that is running (at `progress` or beyond): the active one, or a new one."""
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        job_id = bench.retrain_now()
        if job_id and bench.wait_job(job_id, 600, state=Job.State.RUNNING, progress__gte=progress):
            return job_id
        time.sleep(1)
    raise RuntimeError("no retrain got running")


def since(start: float, job: Job | None) -> float | None:
    return round(time.monotonic() - start, 1) if job and job.state == Job.State.SUCCEEDED else None


def wait_exit(service: scale_procs.Service, seconds: float) -> bool:
    try:
        service.process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:  # still running: it did not refuse
        return False
    return True


PHASES = [
    ("team", "labeling team alone (overlap 2)", phase_team),
    ("redis-down", "Redis stopped while labeling", phase_redis_down),
    ("redis-restart", "Redis restarted while a retrain runs", phase_redis_restart_mid_task),
    ("worker-killed", "worker SIGKILLed at progress 0.1", phase_worker_killed),
    ("postgres-restart", "PostgreSQL restarted (3 s down)", phase_postgres_restart),
    ("artifacts-unwritable", "artifact folder unwritable", phase_artifacts_unwritable),
]


def main() -> None:
    args = parse_args()
    check_database()
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    Path(settings.ARTIFACT_DIR).mkdir(parents=True, exist_ok=True)
    folder = ROOT / "var" / "bench-faults" / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    stack = Stack(dict(os.environ), folder, args.redis_port, scale_procs.free_port())
    results = []
    try:
        stack.start()  # first: importing labeled rows already sends a retrain
        bench = Bench(args, stack)
        for name, title, phase in PHASES:
            if (name == "postgres-restart" and not args.pg_cluster) or name not in args.only:
                continue
            print(f"== {title}", flush=True)
            started = time.monotonic()
            result = {"fault": name, "title": title, **phase(bench)}
            result["phase_seconds"] = round(time.monotonic() - started, 1)
            print(json.dumps(result), flush=True)
            results.append(result)
            # After every phase: a run cut short still leaves what it measured.
            faults_report.write(results, faults_report.run_info(args, settings), args.out)
    finally:
        stack.stop()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="8 annotators x 60 s, shorter outages.")
    parser.add_argument("--pg-cluster", default="", help="VERSION/NAME of the cluster behind DATABASE_URL.")
    parser.add_argument("--redis-port", type=int, default=6390)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    names = [name for name, _, _ in PHASES]
    parser.add_argument("--only", default=",".join(names), help=f"Some of: {','.join(names)}.")
    args = parser.parse_args()
    args.only = args.only.split(",")
    if unknown := set(args.only) - set(names):
        parser.error(f"no such fault: {', '.join(sorted(unknown))}")
    args.annotators, args.team_seconds = (8, 60) if args.quick else (32, 180)
    args.fault_annotators = 4 if args.quick else 8
    args.redis_down_seconds = 10 if args.quick else 30
    args.retrain_every = 50 if args.quick else 200
    return args


def check_database() -> None:
    db = connection.settings_dict
    if not db["ENGINE"].endswith("postgresql") or not str(db["NAME"]).startswith("bench"):
        # The benchmark empties every table of its database: never point it at a real one.
        raise SystemExit(f"needs a PostgreSQL database of its own named bench*, got {db['NAME']}")


if __name__ == "__main__":
    main()
