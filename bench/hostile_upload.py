"""Send large and hostile files to a real gunicorn worker and to `manage.py import_items`;
record status, time and peak memory (VmHWM) of each process. Issue 11.

    DATABASE_URL=postgres://... .venv/bin/python bench/hostile_upload.py --rows 100000 --row-bytes 2000

Writes bench/results/hostile-upload.json. Needs curl.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")


def write_csv(path: Path, rows: int, row_bytes: int) -> None:
    sentence = "and the staff were quick to help with every small question we had "
    filler = (sentence * (row_bytes // len(sentence) + 1))[:row_bytes]
    with path.open("w", encoding="utf-8") as f:
        f.write("id,text,source\n")
        for i in range(rows):
            f.write(f"r{i},review number {i}: {filler},web\n")


def write_wide(path: Path, columns: int) -> None:
    header = "text," + ",".join(f"c{i}" for i in range(columns - 1))
    path.write_text(f"{header}\nhello{',' * (columns - 1)}\n", encoding="utf-8")


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def setup(env: dict) -> str:
    """Migrate, and make a user, a token and a project; return the token."""
    assert manage(env, "migrate", "--noinput").returncode == 0
    code = (
        "from django.contrib.auth import get_user_model; from rest_framework.authtoken.models import Token;"
        "from labeling import services; from labeling.models import Project;"
        "Project.objects.filter(slug__startswith='hostile').delete();"
        "u, _ = get_user_model().objects.get_or_create(username='bench-hostile');"
        "services.create_project(u, 'hostile', ['a', 'b'], slug='hostile');"
        "services.create_project(u, 'hostile cli', ['a', 'b'], slug='hostile-cli');"
        "print(Token.objects.get_or_create(user=u)[0].key)"
    )
    result = manage(env, "shell", "-c", code)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def post(port: int, token: str, project_id: int, path: Path) -> dict:
    started = time.perf_counter()
    result = subprocess.run(
        [
            "curl",
            "-s",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
            "-H",
            f"Authorization: Token {token}",
            "-F",
            f"file=@{path}",
            f"http://127.0.0.1:{port}/api/v1/projects/{project_id}/imports",
        ],
        capture_output=True,
        text=True,
    )
    body, _, code = result.stdout.rpartition("\n")
    return {"status": int(code or 0), "seconds": round(time.perf_counter() - started, 1), "body": body[:300]}


def project_id(env: dict, slug: str) -> int:
    result = manage(
        env,
        "shell",
        "-c",
        f"from labeling.models import Project; print(Project.objects.get(slug='{slug}').pk)",
    )
    return int(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--row-bytes", type=int, default=2_000, help="text length of each row")
    parser.add_argument("--port", type=int, default=8170)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hostile-"))
    env = {
        **os.environ,
        "SECRET_KEY": "bench-hostile-only",
        "SIFT_DATA_DIR": str(work),
        "LOG_LEVEL": "WARNING",
    }
    token = setup(env)
    big, wide = work / "big.csv", work / "wide.csv"
    write_csv(big, args.rows, args.row_bytes)
    write_wide(wide, 100_000)
    results: dict = {"rows": args.rows, "big_mb": round(big.stat().st_size / 2**20, 1)}

    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{args.port}",
            "--workers",
            "1",
            "--timeout",
            "900",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(8)
        worker = int(subprocess.check_output(["pgrep", "-P", str(server.pid)]).split()[0])
        results["web_rss_mb_before"] = round(peak_rss_mb(worker), 1)
        pk = project_id(env, "hostile")
        results["web_wide_100000_columns"] = post(args.port, token, pk, wide)
        results["web_big"] = post(args.port, token, pk, big)
        results["web_rss_mb_peak"] = round(peak_rss_mb(worker), 1)
    finally:
        server.terminate()
        server.wait(30)
    timed = subprocess.run(
        ["/usr/bin/time", "-v", PY, "manage.py", "import_items", "hostile-cli", str(big)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    peak = next(line for line in timed.stderr.splitlines() if "Maximum resident" in line)
    elapsed = next(line for line in timed.stderr.splitlines() if "Elapsed (wall" in line)
    results["command"] = {
        "exit": timed.returncode,
        "out": timed.stdout.strip()[-200:],
        "peak_rss_mb": round(int(peak.split()[-1]) / 1024, 1),
        "wall": elapsed.split()[-1],
    }
    for path in (big, wide):
        path.unlink(missing_ok=True)
    out = ROOT / "bench" / "results" / "hostile-upload.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    json.dump(results, sys.stdout, indent=2)


if __name__ == "__main__":
    main()
