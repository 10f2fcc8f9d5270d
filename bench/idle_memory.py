"""Resident memory of an idle web worker and an idle Celery worker, just after start.

    python bench/idle_memory.py        # with DATABASE_URL / CELERY_BROKER_URL of a database to use

Starts `gunicorn config.wsgi --workers 1` and `celery -A config worker --concurrency 1`
(bench/scale_procs.py, each in its own process group, stopped by id), waits until both are
ready and 8 s more, and prints VmRSS of every process from /proc.
"""

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import scale_procs  # noqa: E402


def main() -> None:
    env = {
        "SECRET_KEY": "bench-idle-memory",
        "SIFT_QUEUE": "bench-idle-memory",
        "OMP_NUM_THREADS": "1",
        **os.environ,
    }
    log_dir = ROOT / "var" / "bench-idle-memory"
    worker = scale_procs.start_worker(1, env, env["SIFT_QUEUE"], log_dir)
    web = scale_procs.start_gunicorn(scale_procs.free_port(), env, log_dir, workers=1)
    try:
        worker.wait_for(b"ready.", 120)
        web.wait_for(b"Booting worker", 60)
        time.sleep(8)
        result = {}
        for name, service in (("celery", worker), ("gunicorn", web)):
            pids = [service.pid, *scale_procs.descendants(service.pid)]
            result[name] = [scale_procs.read_status(pid).get("VmRSS", 0) // 1024 for pid in pids]
        print(json.dumps({"rss_mb (main, children...)": result}))
    finally:
        worker.stop()
        web.stop()


if __name__ == "__main__":
    main()
