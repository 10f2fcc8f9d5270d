"""A 1,000,000-row CSV through the web upload, imported by a real worker: rows/s and memory.

    make bench-import            # or: DATABASE_URL=postgres://.../bench_import \
                                 #     CELERY_BROKER_URL=redis://127.0.0.1:6379/3 python bench/import_scale.py

The production shape started by hand: gunicorn (2 workers) and a Celery worker (prefork, 1
child) on PostgreSQL (its own database, emptied first) and Redis. The file is banking77's
training texts resampled with small edits (bench/scale_pool.py; generated at run time, never
stored), 1% of the rows labeled. It is uploaded with curl through POST
/api/v1/projects/{id}/imports, which answers 202 with an import job; the job is polled through
GET /api/v1/jobs/{id} until it ends. Measured: the upload's seconds, the job's seconds, rows/s
end to end (upload start to job end), and the peak resident memory of the web and the worker
processes (each process's VmRSS sampled every 0.2 s and its VmHWM, children included).

Baseline in the same run: `manage.py import_items` of the same file (the same import without
HTTP and the job) and, to show what COPY buys, the same import of the first 100,000 rows with
bulk_create instead of COPY. With --hostile, also the 200 MB upload and the 100,000-column
file of bench/hostile_upload.py. Writes bench/results/import-<rows>.json.
"""

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-import-only")
import django  # noqa: E402

django.setup()  # bench.scale_pool's text edits live beside Django models

from bench import hostile_upload  # noqa: E402
from bench.scale_pool import edit, read_source  # noqa: E402
from bench.scale_procs import Sampler, free_port, load_average, start_gunicorn, start_worker  # noqa: E402

SOURCE = ROOT.parent / "shared" / "datasets" / "banking77" / "train.csv"
PY = sys.executable
TARGET_ROWS_PER_SECOND = 50_000


def write_file(path: Path, rows: int, seed: int, labeled_share: float = 0.01) -> dict:
    started = time.monotonic()
    texts, labels = read_source(SOURCE)
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["id", "text", "label"])
        for i in range(rows):
            p = rng.randrange(len(texts))
            label = labels[p] if rng.random() < labeled_share else ""
            writer.writerow([f"gen-{i:07d}", edit(texts[p], rng), label])
    return {
        "rows": rows,
        "mb": round(path.stat().st_size / 2**20, 1),
        "labels": sorted(set(labels)),
        "generate_seconds": round(time.monotonic() - started, 1),
    }


def manage(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done


def shell(env: dict, code: str) -> str:
    return manage(env, "shell", "-c", code).stdout.strip().splitlines()[-1]


def setup(env: dict, labels: list[str]) -> tuple[str, dict[str, int]]:
    """Migrate, empty every table, and make a user, a token and the benchmark's projects."""
    manage(env, "migrate", "--noinput")
    manage(env, "flush", "--noinput")
    code = (
        "import json; from django.contrib.auth import get_user_model;"
        "from rest_framework.authtoken.models import Token; from labeling import services;"
        "u = get_user_model().objects.create_user('bench-import', is_staff=True);"
        f"labels = {labels!r};"
        "ids = {slug: services.create_project(u, slug, labels, slug=slug, seed=7, retrain_every=0).pk "
        "for slug in ('web', 'command', 'copy', 'bulk', 'hostile')};"
        "print(json.dumps({'token': Token.objects.create(user=u).key, 'ids': ids}))"
    )
    made = json.loads(shell(env, code))
    return made["token"], made["ids"]


def request(port: int, token: str, path: str) -> dict:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Token {token}"}
    )
    with urllib.request.urlopen(req, timeout=30) as response:
        return json.loads(response.read())


def upload(port: int, token: str, project_id: int, path: Path) -> tuple[int, dict, float]:
    """curl streams the file from disk; returns (status, body, seconds)."""
    started = time.monotonic()
    done = subprocess.run(
        [
            "curl", "-s", "-o", "-", "-w", "\n%{http_code}", "-H", f"Authorization: Token {token}",
            "-F", f"file=@{path}", f"http://127.0.0.1:{port}/api/v1/projects/{project_id}/imports",
        ],
        capture_output=True,
        text=True,
    )  # fmt: skip
    seconds = time.monotonic() - started
    body, _, code = done.stdout.rpartition("\n")
    try:
        parsed = json.loads(body)
    except json.JSONDecodeError:
        parsed = {"raw": body[:300]}
    return int(code or 0), parsed, seconds


def wait_job(port: int, token: str, job_id: int, limit: float = 1800) -> tuple[dict, list]:
    deadline, seen = time.monotonic() + limit, []
    while time.monotonic() < deadline:
        job = request(port, token, f"/api/v1/jobs/{job_id}")
        seen.append((round(time.monotonic(), 2), job["progress"], job["message"]))
        if job["state"] in ("succeeded", "failed"):
            return job, seen
        time.sleep(0.5)
    raise SystemExit(f"job {job_id} did not end within {limit} s")


def peaks_mb(sampler: Sampler) -> dict[str, float]:
    """The largest resident set of any one process of each role (web, worker), in MB."""
    out: dict[str, float] = {}
    for name, kb in {**sampler.peak_rss_kb, **sampler.hwm_kb}.items():
        role = name.split()[0]
        out[role] = max(out.get(role, 0.0), round(kb / 1024, 1))
    return out


def web_import(port, token, project_id, path, rows, sampler) -> dict:
    status, body, upload_seconds = upload(port, token, project_id, path)
    if status != 202:
        raise SystemExit(f"the upload answered {status}, not 202: {body}")
    started = time.monotonic() - upload_seconds
    job, seen = wait_job(port, token, body["job"]["id"])
    total = time.monotonic() - started
    if job["state"] != "succeeded" or job["result"]["imported"] != rows:
        raise SystemExit(f"the import job did not import {rows} rows: {job}")
    first_write = next((t for t, _, m in seen if m.startswith("Writing items")), None)
    return {
        "status": status,
        "upload_seconds": round(upload_seconds, 1),
        "job_seconds": round(total - upload_seconds, 1),
        "check_seconds_about": round(first_write - started - upload_seconds, 1) if first_write else None,
        "total_seconds": round(total, 1),
        "rows_per_second": round(rows / total),
        "result": job["result"],
        "progress_reports_seen": len({(p, m) for _, p, m in seen}),
        "peak_rss_mb": peaks_mb(sampler),
    }


def command_import(env: dict, path: Path, rows: int) -> dict:
    started = time.monotonic()
    done = manage(env, "import_items", "command", str(path))
    seconds = time.monotonic() - started
    return {
        "seconds": round(seconds, 1),
        "rows_per_second": round(rows / seconds),
        "out": done.stdout.strip(),
    }


def copy_vs_bulk(env: dict, path: Path, rows: int) -> dict:
    """The same first `rows` rows imported in-process with COPY, then with bulk_create."""
    code = (
        "import itertools, json, time; from labeling import services;"
        "from labeling.models import Project;"
        f"head = b''.join(itertools.islice(open({str(path)!r}, 'rb'), {rows + 1}));"
        "out = {};"
        "t = time.monotonic(); services.import_items(Project.objects.get(slug='copy'), None, head, 'h.csv');"
        "out['copy_seconds'] = round(time.monotonic() - t, 2);"
        "services.uses_copy = lambda: False;"
        "t = time.monotonic(); services.import_items(Project.objects.get(slug='bulk'), None, head, 'h.csv');"
        "out['bulk_create_seconds'] = round(time.monotonic() - t, 2);"
        "print(json.dumps(out))"
    )
    out = json.loads(shell(env, code))
    out["rows"] = rows
    out["copy_speedup"] = round(out["bulk_create_seconds"] / out["copy_seconds"], 2)
    return out


def hostile(port, token, project_id, work: Path, sampler) -> dict:
    """bench/hostile_upload.py's two files: 100,000 columns (a fast 400) and 200 MB (a job)."""
    wide, big = work / "wide.csv", work / "big.csv"
    hostile_upload.write_wide(wide, 100_000)
    hostile_upload.write_csv(big, 100_000, 2_000)
    status, body, seconds = upload(port, token, project_id, wide)
    out = {
        "wide_100000_columns": {"status": status, "seconds": round(seconds, 2), "error": body.get("error")}
    }
    started = time.monotonic()
    status, body, seconds = upload(port, token, project_id, big)
    big_out = {
        "mb": round(big.stat().st_size / 2**20, 1),
        "status": status,
        "upload_seconds": round(seconds, 1),
    }
    if status == 202:
        job, _ = wait_job(port, token, body["job"]["id"])
        big_out.update(state=job["state"], total_seconds=round(time.monotonic() - started, 1))
        big_out["result"] = job["result"]
    else:
        big_out["body"] = body
    big_out["peak_rss_mb"] = peaks_mb(sampler)
    out["upload_200mb"] = big_out
    wide.unlink(missing_ok=True)
    big.unlink(missing_ok=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--hostile", action="store_true", help="also the 200 MB and 100,000-column files")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("set DATABASE_URL to a PostgreSQL database of its own (it is emptied)")
    work = Path(tempfile.mkdtemp(prefix="bench-import-"))
    env = {
        **os.environ,
        "SECRET_KEY": "bench-import-only",
        "SIFT_DATA_DIR": str(work / "data"),
        "SIFT_QUEUE": f"bench-import-{uuid.uuid4().hex[:6]}",
        "SIFT_API_USER_RATE": "100000/min",
        "LOG_LEVEL": "WARNING",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    path = work / "items.csv"
    results: dict = {"load_average_at_start": load_average(), "file": write_file(path, args.rows, args.seed)}
    token, ids = setup(env, results["file"].pop("labels"))
    port = free_port()
    logs = work / "logs"
    web = start_gunicorn(port, env, logs, workers=2)
    worker = start_worker(0, env, env["SIFT_QUEUE"], logs)
    try:
        web.wait_for(b"Booting worker", 60)
        worker.wait_for(b"ready.", 90)
        with Sampler({"web": web.pid, "worker": worker.pid}) as sampler:
            results["web"] = web_import(port, token, ids["web"], path, args.rows, sampler)
        if args.hostile:
            with Sampler({"web": web.pid, "worker": worker.pid}) as sampler:
                results["hostile"] = hostile(port, token, ids["hostile"], work, sampler)
    finally:
        web.stop(grace=20)
        worker.stop(grace=20)
    results["command"] = command_import(env, path, args.rows)
    results["copy_vs_bulk_create"] = copy_vs_bulk(env, path, min(args.rows, 100_000))
    results["end_to_end_vs_command"] = round(
        results["web"]["rows_per_second"] / results["command"]["rows_per_second"], 2
    )
    results["target_rows_per_second"] = TARGET_ROWS_PER_SECOND
    results["meets_target"] = results["web"]["rows_per_second"] >= TARGET_ROWS_PER_SECOND
    results["machine"] = {"cores": os.cpu_count(), "python": sys.version.split()[0]}
    results["load_average_at_end"] = load_average()  # other work on the machine slows every figure
    manage(env, "flush", "--noinput")
    shutil.rmtree(work, ignore_errors=True)
    out = ROOT / "bench" / "results" / f"import-{args.rows}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    json.dump(results, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
