"""Processes of the scale benchmark: Celery workers, a gunicorn server, and what they use.

Every process is started here in a session of its own and stopped here by its id (its
process group), never by name: the machine is shared.
"""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_for(self, marker: bytes, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if marker in self.log.read_bytes():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        tail = self.log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{self.name} did not get ready ({marker!r} not in its log)\n{tail}")

    def stop(self, grace: float = 30.0) -> None:
        """SIGTERM (a warm shutdown for Celery), then SIGKILL to its own process group."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError):
            # The group is this service's own session: its prefork children, nothing else.
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def start(name: str, command: list[str], env: dict, log: Path) -> Service:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Service(name, process, log)


def start_worker(index: int, env: dict, queue: str, log_dir: Path, concurrency: int = 1) -> Service:
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker",
        "--pool", "prefork", "--concurrency", str(concurrency),
        "--queues", queue, "--hostname", f"bench-scale-{index}@%h",
        "--loglevel", "INFO", "--without-heartbeat", "--without-mingle", "--without-gossip",
    ]  # fmt: skip
    return start(f"worker-{index}", command, env, log_dir / f"worker-{index}.log")


def start_gunicorn(port: int, env: dict, log_dir: Path, workers: int = 2) -> Service:
    command = [
        sys.executable, "-m", "gunicorn", "config.wsgi",
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--timeout", "120",
    ]  # fmt: skip
    return start("gunicorn", command, env, log_dir / "gunicorn.log")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> list[int]:
    """The pid's children, grandchildren... (prefork pool processes)."""
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except (FileNotFoundError, ProcessLookupError):
                continue
            found += children
            frontier += children
    return found


def backends(database: str) -> list[int]:
    """PostgreSQL backends connected to `database` (from their process titles)."""
    found = []
    needle = f" {database} ".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if title.startswith(b"postgres: ") and needle in title:
            found.append(int(entry.name))
    return found


def read_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak resident set) in kB, from /proc/PID/status."""
    values = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return values


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and of its live descendants (gunicorn's master and workers)."""
    return cpu_seconds(pid) + sum(cpu_seconds(child) for child in descendants(pid))


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


@dataclass
class Sampler:
    """Polls the memory and CPU of the given processes and their children every `interval`."""

    roots: dict[str, int]
    database: str = ""  # also count the CPU of PostgreSQL's backends serving this database
    interval: float = 0.2
    peak_rss_kb: dict[str, int] = field(default_factory=dict)
    hwm_kb: dict[str, int] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    db_cpu: dict[int, float] = field(default_factory=dict)
    # (time.monotonic(), the largest resident set of any one process, kB) per sample
    timeline: list[tuple[float, int]] = field(default_factory=list)
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def processes(self) -> dict[str, int]:
        out = {}
        for name, pid in self.roots.items():
            out[f"{name} main"] = pid
            for i, child in enumerate(descendants(pid)):
                out[f"{name} child{i + 1 if i else ''}"] = child
        return out

    def sample(self) -> None:
        largest = 0
        for name, pid in self.processes().items():
            status = read_status(pid)
            if not status:
                continue
            largest = max(largest, status.get("VmRSS", 0))
            self.peak_rss_kb[name] = max(self.peak_rss_kb.get(name, 0), status.get("VmRSS", 0))
            self.hwm_kb[name] = max(self.hwm_kb.get(name, 0), status.get("VmHWM", 0))
            self.cpu[name] = max(self.cpu.get(name, 0.0), cpu_seconds(pid))
        self.timeline.append((time.monotonic(), largest))
        self.samples += 1
        self.read_backends()

    def read_backends(self) -> float:
        """CPU seconds of this database's backends, including those that closed since."""
        for pid in backends(self.database) if self.database else []:
            self.db_cpu[pid] = max(self.db_cpu.get(pid, 0.0), cpu_seconds(pid))
        return sum(self.db_cpu.values())

    def cpu_by_worker(self) -> dict[str, float]:
        """Each worker's CPU seconds (its main process and children), and "postgres"."""
        out = dict.fromkeys(self.roots, 0.0)
        for name, pid in self.processes().items():
            out[name.split()[0]] += cpu_seconds(pid)
        out["postgres"] = self.read_backends()
        return out

    def peak_between(self, start: float, end: float) -> int:
        """The largest resident set (kB) of any one process sampled in [start, end]."""
        return max((kb for at, kb in self.timeline if start <= at <= end), default=0)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> "Sampler":
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()  # the last word, read while the processes still live


TASK_LINE = re.compile(rb"Task learners\.tasks\.(\w+)\[[^\]]+\] succeeded in ([0-9.]+)s")


def task_times(workers) -> dict:
    """Each task's run time as the worker logged it ("succeeded in 1.23s"), per worker."""
    out: dict = {}
    for worker in workers:
        for name, seconds in TASK_LINE.findall(worker.log.read_bytes()):
            out.setdefault(name.decode(), {}).setdefault(worker.name, []).append(round(float(seconds), 2))
    return out
