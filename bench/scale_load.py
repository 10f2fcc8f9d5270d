"""An annotator at full speed: GET next, POST its label, again, with no pause, over HTTP."""

import http.client
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Request:
    at: float  # time.monotonic() when it was sent
    op: str  # "next" or "annotate"
    seconds: float
    status: int  # 0: no answer (connection error or timeout)
    model: str | None = None  # the model whose ranking served the item ("next" only)
    strategy: str | None = None


@dataclass
class LoadClient:
    port: int
    token: str
    project_id: int
    label_of: Callable[[str], str]  # external id -> the label to give
    timeout: float = 30.0
    requests: list[Request] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _paused: threading.Event = field(default_factory=threading.Event)
    _idle: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="load-client", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._paused.clear()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout * 3)

    def pause(self) -> None:
        """Stop sending after the request in flight; return once it has answered."""
        self._idle.clear()
        self._paused.set()
        self._idle.wait(self.timeout * 3)

    def resume(self) -> None:
        self._paused.clear()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._paused.is_set():
                self._idle.set()
                time.sleep(0.01)
                continue
            status, body = self._call("next", "GET", f"/api/v1/projects/{self.project_id}/next")
            if status != 200:
                if status in (0, 204) or status >= 500:
                    time.sleep(0.05)
                continue
            item = body["item"]
            self.requests[-1].model = body["reason"]["model"]
            self.requests[-1].strategy = body["reason"]["strategy"]
            payload = {"label": self.label_of(item["external_id"])}
            self._call("annotate", "POST", f"/api/v1/items/{item['id']}/annotations", payload)

    def _call(self, op: str, method: str, path: str, payload: dict | None = None) -> tuple[int, dict]:
        headers = {"Authorization": f"Token {self.token}"}
        data = None
        if payload is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(payload)
        started = time.monotonic()
        status, body = 0, {}
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            raw = response.read()
            status = response.status
            body = json.loads(raw) if raw and status == 200 else {}
            connection.close()
        except (OSError, http.client.HTTPException, json.JSONDecodeError):
            status = 0
        self.requests.append(Request(started, op, time.monotonic() - started, status))
        return status, body


def summarize(requests: list[Request], start: float, end: float) -> dict:
    """Latency percentiles (ms) and failures of the requests sent in [start, end)."""
    window = [r for r in requests if start <= r.at < end]
    out: dict = {"seconds": round(end - start, 1), "requests": len(window)}
    for op in ("next", "annotate"):
        rows = [r for r in window if r.op == op]
        ms = sorted(r.seconds * 1000 for r in rows)
        out[op] = {
            "count": len(rows),
            "per_second": round(len(rows) / (end - start), 1) if end > start else 0.0,
            "errors": sum(r.status == 0 or r.status >= 400 for r in rows),
            "no_item": sum(r.status == 204 for r in rows),
            **{f"p{p}": round(_percentile(ms, p), 1) for p in (50, 95, 99)},
            "max": round(ms[-1], 1) if ms else None,
        }
    return out


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    k = (len(values) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def latency_report(requests: list[Request], idle: tuple[float, float], timeline: dict) -> dict:
    """Latency while idle, during the rescore and during chunk scoring; who served what around the swap."""
    during_start = timeline["resumed_at"] or timeline["t0"]
    marks = dict((name, at) for name, at, _ in timeline["marks"])
    report = {
        "idle": summarize(requests, *idle),
        "during_rescore": summarize(requests, during_start, timeline["end"]),
    }
    if "chunks" in marks:
        report["during_chunk_scoring"] = summarize(
            requests, marks["chunks"], marks.get("write", timeline["end"])
        )
    for window in ("during_rescore", "during_chunk_scoring"):
        if window in report:
            report[window]["ratio_p50"] = _ratio(report[window]["next"]["p50"], report["idle"]["next"]["p50"])
            report[window]["ratio_p95"] = _ratio(report[window]["next"]["p95"], report["idle"]["next"]["p95"])
    swap = timeline["swap_at"] or timeline["end"]
    served = [r for r in requests if r.op == "next" and r.status == 200 and r.at >= during_start]
    report["served_before_swap"] = _models(r.model for r in served if r.at + r.seconds < swap)
    report["served_after_swap"] = _models(r.model for r in served if r.at > swap)
    report["old_model"] = str(timeline["old_model"]) if timeline["old_model"] else None
    # Requests answered by neither ranking (e.g. a random pool item), relative to the swap.
    known = {str(timeline["old_model"]), str(timeline["new_model"])}
    report["other_served_at_seconds_from_swap"] = [
        round(r.at - swap, 2) for r in served if str(r.model) not in known
    ]
    return report


def _ratio(a, b):
    return round(a / b, 2) if a and b else None


def _models(models) -> dict:
    counts: dict = {}
    for model in models:
        counts[str(model)] = counts.get(str(model), 0) + 1
    return counts
