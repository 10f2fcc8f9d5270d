"""bench/results/scale-<size>.md from the benchmark's JSON result."""

PHASE_NAMES = [
    ("queued", "wait for a worker"),
    ("dataset", "dataset version + read labels"),
    ("fit", "fit the classifier"),
    ("evaluate", "evaluate + save the model"),
    ("rankers", "fit the rankers + save them + chunk bounds"),
    ("chunks", "score the chunks (in parallel)"),
    ("merge", "merge the chunks' candidates"),
    ("write", "mix + write the queue + swap it in"),
    ("cleanup", "after the swap: drop the old ranking, finish"),
]
POOL_KINDS = {
    "edits": "each with 1-3 random edits (word drop/swap/repeat, typos)",
    "suffix": "each copy verbatim plus ` #<row>` (near-duplicates of the other copies of its text)",
    "unique": "each copy keeping about half its words, the others drawn from banking77's vocabulary, "
    "plus ` #<row>` (no near-duplicates)",
}
TARGET_SECONDS = 60
TARGET_MB = 2048


def markdown(result: dict) -> str:
    size = result["size"]
    lines = [f"# Scale benchmark: {size:,} items", ""]
    lines += [f"Command: `{result['command']}`", ""]
    threads = {r.get("worker_threads") for r in result.get("runs", [])}
    lines += [f"OMP/OpenBLAS threads per worker process: {', '.join(map(str, threads))}.", ""]
    lines += _machine(result["machine"])
    if "pool" in result:
        lines += _pool(result["pool"])
    runs = result.get("runs", [])
    if runs:
        lines += _runs(runs)
        lines += _phases(runs)
        lines += _job_phases(runs)
        lines += _memory(runs)
        lines += _latency(runs)
    return "\n".join(lines) + "\n"


def _machine(m: dict) -> list[str]:
    return [
        "## Machine",
        "",
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM, shared with other engineers "
        f"(1-minute load average {m['load_average_before']} just before the benchmark). "
        f"Python {m['python']}, scikit-learn {m['scikit_learn']}, PostgreSQL {m['postgres']} "
        f"(shared_buffers {m['postgres_shared_buffers']}), Redis broker. "
        f"SIFT_SCORE_CHUNK_SIZE {m['chunk_size']:,}, TEXT_BATCH {m['text_batch']:,}, "
        f"SIFT_QUEUE_SIZE {m['queue_size']:,}. "
        f"The libraries' default threads per process: {m.get('threads')}.",
        "",
    ]


def _pool(p: dict) -> list[str]:
    parity = p.get("import_parity", {})
    return [
        "## Pool",
        "",
        f"{p['items']:,} items resampled from banking77 train.csv ({p['source_rows']:,} rows), "
        f"{POOL_KINDS[p.get('kind', 'edits')]}: {p['distinct_texts']:,} distinct texts; "
        f"{p['pool']:,} pool and {p['test']:,} test items by the project's hash split; "
        f"{p['labeled_pool']:,} labeled pool items (the training set) and {p['labeled_test']:,} "
        f"labeled test items, each with one import annotation. Generated in {p['generate_seconds']} s, "
        f"inserted in {p['insert_seconds']} s by {p['insert_method']}; the first {parity.get('rows')} "
        f"rows imported through `labeling.services.import_items` into a scratch project gave "
        f"{parity.get('identical_items')} identical items (id, hash, split, random key, label, origin, "
        f"count) and annotations.",
        "",
    ]


def _runs(runs: list[dict]) -> list[str]:
    lines = [
        "## Retrain + rescore by every ranker",
        "",
        "| workers | annotator load | state | job, start to SUCCEEDED (s) | of which scoring chunks (s) "
        "| write + swap (s) | worker CPU (s) | PostgreSQL CPU (s) | CPU-bound estimate (s) "
        "| machine busy / capacity (CPU s) | load avg at start |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        phases = r.get("phases", {})
        chunks, write = phases.get("chunks", {}), phases.get("write", {})
        cpu = sum(r.get("worker_cpu_seconds", {}).values())
        machine = r.get("machine", {})
        lines.append(
            f"| {r['workers']} | {'yes' if r['load'] else 'no'} | {r['state']} | **{r['wall_seconds']}** "
            f"| {chunks.get('seconds', '-')} | {write.get('seconds', '-')} "
            f"| {cpu:.0f} | {sum(p.get('postgres_cpu_seconds', 0) for p in phases.values()):.0f} "
            f"| {r.get('cpu_bound_seconds')} "
            f"| {machine.get('busy_cpu_seconds')} / {machine.get('capacity_cpu_seconds')} "
            f"| {machine.get('load_average_at_start')} |"
        )
    lines += [
        "",
        "The machine is shared: *machine busy / capacity* shows how much of its CPU everything "
        "used during the job (equal: saturated), so wall times include waiting for a core. The "
        "*CPU-bound estimate* adds up, phase by phase, the larger of the busiest worker's CPU "
        "seconds (plus its share of PostgreSQL's) and all CPU seconds spread over the cores: "
        "an estimate for an idle machine, not a measurement.",
        "",
    ]
    one = next((r for r in runs if r["workers"] == 1 and not r["load"]), None)
    two = next((r for r in runs if r["workers"] == 2 and not r["load"]), None)
    if one and two:
        total = one["wall_seconds"] / two["wall_seconds"]
        chunk1 = one.get("phases", {}).get("chunks", {}).get("seconds")
        chunk2 = two.get("phases", {}).get("chunks", {}).get("seconds")
        chunks = f"{chunk1 / chunk2:.2f}x" if chunk1 and chunk2 else "-"
        lines += [
            f"Speed-up from 1 to 2 workers (same run of the script): **{total:.2f}x** for the whole job, "
            f"{chunks} for the chunk-scoring phase alone.",
            "",
        ]
    if two:
        met = "met" if two["state"] == "succeeded" and two["wall_seconds"] <= TARGET_SECONDS else "MISSED"
        lines += [f"Target <= {TARGET_SECONDS} s with 2 workers: **{met}** ({two['wall_seconds']} s).", ""]
    first = runs[0]
    model = first.get("model", {})
    lines += [
        f"Each run trained on {model.get('train_size')} labeled pool items, evaluated on "
        f"{model.get('test_size')} labeled test items (macro-F1 {_fmt(model.get('macro_f1'))}), "
        f"scored {first.get('chunks')} chunk(s) of up to {first.get('chunk_size'):,} items and wrote a "
        f"queue of {first.get('ranking', {}).get('size')} items "
        f"({first.get('ranking', {}).get('counts')}).",
        "",
    ]
    return lines


def _phases(runs: list[dict]) -> list[str]:
    header = "| phase | " + " | ".join(_label(r) for r in runs) + " |"
    lines = [
        "### Phases",
        "",
        "Wall seconds (worker CPU s / PostgreSQL CPU s / CPU-bound estimate s; largest worker "
        "process RSS in the phase), from the job's own progress messages, polled every 50 ms.",
        "",
        header,
        "|---|" + "---|" * len(runs),
    ]
    for key, name in PHASE_NAMES:
        cells = []
        for r in runs:
            p = r.get("phases", {}).get(key)
            cells.append(
                f"{p['seconds']} ({p['worker_cpu_seconds']} / {p.get('postgres_cpu_seconds', '?')} / "
                f"{p.get('cpu_bound_seconds', '?')}; {p.get('peak_rss_mb', '?')} MB)"
                if p
                else "-"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Task run times as the workers logged them (s):")
    lines.append("")
    for r in runs:
        for task, per_worker in r.get("tasks", {}).items():
            desc = "; ".join(f"{w}: {len(t)} x, {sum(t):.1f} s" for w, t in per_worker.items())
            lines.append(f"- {_label(r)}, `{task}`: {desc}")
    lines.append("")
    return lines


def _job_phases(runs: list[dict]) -> list[str]:
    names = sorted({k for r in runs for k in r.get("phase_seconds", {})})
    if not names:
        return []
    lines = [
        "### Phases by the job's own clock (`phase_seconds` of its result)",
        "",
        "Seconds; the scoring phases (`features`, `probabilities`, `ranker:<name>`) are summed over "
        "chunks, and over workers when two score at once.",
        "",
        "| phase | " + " | ".join(_label(r) for r in runs) + " |",
        "|---|" + "---|" * len(runs),
    ]
    for name in names:
        cells = [_fmt(r.get("phase_seconds", {}).get(name, "-")) for r in runs]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def _memory(runs: list[dict]) -> list[str]:
    lines = [
        "## Peak memory per worker process (VmHWM, MB)",
        "",
        "Each worker is a Celery main process and its one prefork child, which runs the tasks; "
        "read from /proc/PID/status (VmHWM, the peak resident set), also polled every 0.2 s.",
        "",
    ]
    for r in runs:
        mem = r.get("memory_mb", {})
        worst = max(mem.values()) if mem else 0
        cells = ", ".join(f"{k} {v}" for k, v in sorted(mem.items()))
        verdict = "met" if worst <= TARGET_MB else "MISSED"
        lines.append(f"- {_label(r)}: {cells} (target <= {TARGET_MB} MB per worker: {verdict})")
    lines.append("")
    return lines


def _latency(runs: list[dict]) -> list[str]:
    lines = []
    for r in runs:
        lat = r.get("latency")
        if not lat:
            continue
        lines += [
            f"## Annotator requests during the rescore ({_label(r)})",
            "",
            "One client thread, no pause: GET /api/v1/projects/{id}/next then POST "
            "/api/v1/items/{id}/annotations, through gunicorn (2 sync workers) on the same 2 cores.",
            "",
            "| window | seconds | request | count | per s | errors | no item | p50 ms | p95 ms | p99 ms "
            "| max ms |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for window in ("idle", "during_rescore", "during_chunk_scoring"):
            w = lat.get(window)
            if not w:
                continue
            for op in ("next", "annotate"):
                s = w[op]
                lines.append(
                    f"| {window.replace('_', ' ')} | {w['seconds']} | {op} | {s['count']} "
                    f"| {s['per_second']} | {s['errors']} | {s['no_item']} "
                    f"| {s['p50']} | {s['p95']} | {s['p99']} | {s['max']} |"
                )
        ratios = [
            f"{w.replace('_', ' ')}: p50 x{lat[w]['ratio_p50']}, p95 x{lat[w]['ratio_p95']}"
            for w in ("during_rescore", "during_chunk_scoring")
            if w in lat
        ]
        lines += [
            "",
            "Latency of GET next against idle: " + "; ".join(ratios) + ".",
            "",
            f"Items served while the new ranking was being built came from model {lat.get('old_model')} "
            f"(counts by model: {lat.get('served_before_swap')}); after the swap: "
            f"{lat.get('served_after_swap')}. Items from neither ranking (a random pool item) "
            f"were served at these seconds from the swap: {lat.get('other_served_at_seconds_from_swap')}.",
            "",
        ]
    return lines


def _label(r: dict) -> str:
    return f"{r['workers']} worker{'s' if r['workers'] > 1 else ''}{' + load' if r['load'] else ''}"


def _fmt(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)
