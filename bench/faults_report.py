"""bench/faults.py's results: faults.json (every figure) and faults.md (the table)."""

import json
import os
import platform
from argparse import Namespace
from pathlib import Path

import scale_procs


def run_info(args: Namespace, settings) -> dict:
    command = "python bench/faults.py" + (" --quick" if args.quick else "")
    if args.pg_cluster:
        command += f" --pg-cluster {args.pg_cluster}"
    return {
        "command": command,
        "mode": "quick" if args.quick else "full",
        "annotators": args.annotators,
        "team_seconds": args.team_seconds,
        "retrain_every": args.retrain_every,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_at_end": scale_procs.load_average(),
        "settings": {
            name: getattr(settings, name)
            for name in (
                "SIFT_SWEEP_SECONDS",
                "SIFT_HEARTBEAT_SECONDS",
                "SIFT_JOB_STALL_SECONDS",
                "SIFT_CV_FOLDS",
            )
        },
    }


def write(results: list[dict], info: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "faults.json").write_text(json.dumps({"run": info, "faults": results}, indent=2) + "\n")
    (out / "faults.md").write_text(markdown(results, info))
    print(f"wrote {out / 'faults.json'} and {out / 'faults.md'}", flush=True)


def markdown(results: list[dict], info: dict) -> str:
    lines = [
        f"Fault benchmark ({info['mode']}): `{info['command']}`; {info['annotators']} annotators for "
        f"{info['team_seconds']} s in the first row, retrain_every {info['retrain_every']}, "
        f"{info['cpus']} cores (load average {info['load_average_at_end']} at the end).",
        "",
        "| fault | what annotators saw (status: count) | time to recovery | labels lost "
        "| retrains failed | notes |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        retrains = r.get("retrains", {})
        lines.append(
            f"| {r['title']} | {_statuses(r)} | {_recovery(r)} | {r['labels_lost']} of {r['labels_acked']} "
            f"| {retrains.get('failed', 0)} of {sum(retrains.values())} | {_notes(r)} |"
        )
    lines += [
        "",
        "Time to recovery, from the end of the fault: for Redis down, PostgreSQL and the artifact "
        "folder, until a worker runs a retrain asked for after it (the loop works again); for the "
        "Redis restart and the killed worker, until the retrain under the fault (or its retry) "
        "succeeded. Labels lost: annotations answered 201 that are not in the database. Status "
        "counts are over the whole phase (`statuses_during_fault` in faults.json: the fault alone); "
        "0 is no answer within 30 s.",
        "",
    ]
    return "\n".join(lines)


def _statuses(r: dict) -> str:
    parts = []
    for op in ("next", "annotate"):
        counts = r["statuses"].get(op, {})
        parts.append(f"{op} " + ", ".join(f"{code}: {n}" for code, n in sorted(counts.items())))
    return "; ".join(parts)


def _recovery(r: dict) -> str:
    if "recovery_s" not in r:
        return "-"
    return "never (within the wait)" if r["recovery_s"] is None else f"{r['recovery_s']} s"


def _notes(r: dict) -> str:
    keys = ("double_assigned", "worker_alive", "job", "noticed_after_s", "retry", "worker_refused_to_start")
    notes = [f"{k}: {r[k]}" for k in keys if k in r]
    if r.get("errors_after_fault_s"):
        notes.append(f"last error {r['errors_after_fault_s']} s after the fault")
    if r.get("error"):
        notes.append(f"error: {r['error'][:120]}")
    return "; ".join(notes).replace("|", "/")
