"""The simulator: the production rankers beat random on held-out data, outputs, bad input, the job."""

import csv
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from learners import simulation_jobs
from learners.models import Job
from siftml import simulation, training
from tests.factories import BANKING77, api_client, import_rows, make_review_rows, read_banking77

CONFUSABLE = [
    "card_arrival",
    "card_delivery_estimate",
    "card_not_working",
    "activate_my_card",
    "card_linking",
]
needs_banking = pytest.mark.skipif(not BANKING77.exists(), reason="needs ../shared/datasets/banking77")


def _slice(name: str) -> tuple[list[str], list[str]]:
    rows = [r for r in read_banking77(name) if r["label"] in CONFUSABLE]
    return [r["text"] for r in rows], [r["label"] for r in rows]


@needs_banking
@pytest.mark.slow
def test_margin_beats_random_on_the_area_under_the_learning_curve():
    pool, pool_labels = _slice("train.csv")
    test, test_labels = _slice("test.csv")
    data = simulation.Dataset(
        pool, np.array(pool_labels, dtype=object), test, np.array(test_labels, dtype=object)
    )
    runs = simulation.simulate(data, ["random", "margin"], seeds=[0, 1], batch=25, budget=150)

    area = {s: np.mean([r.mean_f1 for r in runs if r.strategy == s]) for s in ("random", "margin")}
    assert area["margin"] > area["random"]
    for run in runs:
        labels = [n for n, _ in run.curve]
        assert labels == sorted(labels)
        assert labels[-1] == 150
        assert all(0.0 <= f1 <= 1.0 for _, f1 in run.curve)
    # Every strategy of a seed starts from the same cold start.
    by_seed = {}
    for run in runs:
        by_seed.setdefault(run.seed, []).append(run.curve[:2])
    assert all(a == b for a, b in by_seed.values())


def _write_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _reviews(n: int) -> list[dict]:
    return [{"text": r["text"], "label": r["label"]} for r in make_review_rows(n, labeled=n)]


def test_simulate_command_prints_a_table_and_writes_summary_curves_and_plot(tmp_path, capsys):
    file = _write_csv(tmp_path / "reviews.csv", _reviews(120))
    out = tmp_path / "out"
    call_command(
        "simulate",
        str(file),
        "--strategies",
        "random,margin,margin:0.9+novelty:0.1",
        "--seeds",
        "2",
        "--batch",
        "10",
        "--budget",
        "40",
        "--out",
        str(out),
    )

    printed = capsys.readouterr().out
    assert "random" in printed
    assert "margin" in printed
    with open(out / "summary.csv") as f:
        summary = list(csv.DictReader(f))
    assert list(summary[0]) == [
        "strategy",
        "seed",
        "full_f1",
        "labels_to_target",
        "mean_f1",
        "final_f1",
        "query_seconds",
    ]
    assert {(r["strategy"], r["seed"]) for r in summary} == {
        (strategy, seed) for strategy in ("random", "margin", "margin:0.9+novelty:0.1") for seed in ("0", "1")
    }
    with open(out / "curves.csv") as f:
        curves = list(csv.DictReader(f))
    assert list(curves[0]) == ["strategy", "seed", "labels", "macro_f1"]
    assert max(int(r["labels"]) for r in curves) == 40
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# A well-formed file: what fails is the option given with it.
GOOD_ROWS = [{"text": "a", "label": "x"}, {"text": "b", "label": "y"}]


@pytest.mark.parametrize(
    ("rows", "args", "message"),
    [
        ([{"text": "a", "label": "x"}, {"text": "b", "label": ""}], [], "every row needs a label"),
        ([{"text": "a", "label": "x"}, {"text": "b", "label": "x"}], [], "at least two different labels"),
        ([{"text": "a", "label": "x"}, {"text": "", "label": "y"}], [], "row 3: 'text' is empty"),
        (GOOD_ROWS, ["--strategies", "smart"], "Unknown strategy"),
        (GOOD_ROWS, ["--strategies", "margin:0.9+smart:0.1"], "Unknown ranker 'smart'"),
        (GOOD_ROWS, ["--strategies", "margin:0.9+novelty:lots"], "'lots' of novelty .* is not a number"),
        (GOOD_ROWS, ["--strategies", "margin:1+novelty:0"], "one finite, positive weight; novelty has '0'"),
        (GOOD_ROWS, ["--strategies", "margin:inf"], "one finite, positive weight; margin has 'inf'"),
        (GOOD_ROWS, ["--budget", "5", "--batch", "10"], "--budget"),
    ],
    ids=[
        "unlabeled row",
        "one label",
        "empty text",
        "unknown strategy",
        "unknown ranker in a mix",
        "weight not a number",
        "zero weight",
        "infinite weight",
        "budget below batch",
    ],
)
def test_simulate_command_refuses_bad_input_clearly(tmp_path, rows, args, message):
    file = _write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(CommandError, match=message):
        call_command("simulate", str(file), *args)


@pytest.fixture
def labeled_project(project):
    project.test_fraction = 0.4
    project.save(update_fields=["test_fraction"])
    import_rows(project, make_review_rows(150, labeled=150))
    return project


def test_admin_runs_a_simulation_job_on_the_project_and_sees_table_and_plot(labeled_project, owner, client):
    response = api_client(owner).post(
        f"/api/v1/projects/{labeled_project.pk}/simulations",
        {"strategies": ["random", "margin"], "seeds": 1, "batch": 10, "budget": 40},
        format="json",
    )
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["job"]["id"])
    assert job.kind == Job.Kind.SIMULATE
    simulation_jobs.run_simulation(job)
    job.refresh_from_db()

    assert job.state == Job.State.SUCCEEDED, job.error
    assert [row["strategy"] for row in job.result["table"]] == ["random", "margin"]
    assert job.result["test"] == labeled_project.items.filter(split="test").count()
    client.force_login(owner)
    page = client.get(f"/jobs/{job.pk}/")
    assert b"Labels needed to reach 95%" in page.content
    plot = client.get(f"/jobs/{job.pk}/plot.svg")
    assert plot.status_code == 200
    assert plot["Content-Type"] == "image/svg+xml"
    assert b"<svg" in b"".join(plot.streaming_content)


def test_a_simulation_needs_enough_labeled_test_items(project, owner):
    import_rows(project, make_review_rows(30, labeled=30))
    job = simulation_jobs.start_simulation(project, owner, {"seeds": 1})
    simulation_jobs.run_simulation(job)
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert "needs at least 20 labeled test items" in job.error


def test_simulation_api_validates_and_is_for_admins(labeled_project, owner, annotator):
    url = f"/api/v1/projects/{labeled_project.pk}/simulations"
    assert api_client(annotator).post(url, {}, format="json").status_code == 403
    bad = api_client(owner).post(url, {"strategies": ["smart"]}, format="json")
    assert bad.status_code == 400
    assert "smart" in bad.json()["error"]
    assert api_client(owner).post(url, {"batch": 50, "budget": 10}, format="json").status_code == 400
    assert not Job.objects.exists()


@pytest.mark.parametrize(("flag", "calibrated"), [([], True), (["--uncalibrated"], False)])
def test_simulate_command_fits_calibrated_models_unless_told_not_to(tmp_path, monkeypatch, flag, calibrated):
    """--uncalibrated measures the same loop without the sigmoid calibration (README: Label efficiency)."""
    rows = [{"text": f"refund please {i}", "label": "refund"} for i in range(40)]
    rows += [{"text": f"card lost again {i}", "label": "card"} for i in range(40)]
    file = _write_csv(tmp_path / "two.csv", rows)
    fitted = []
    fit = training.fit_pipeline

    def spy(texts, labels, params=None, random_state=0):
        model = fit(texts, labels, params, random_state=random_state)
        fitted.append(training.is_calibrated(model))
        return model

    monkeypatch.setattr(training, "fit_pipeline", spy)
    call_command(
        "simulate",
        str(file),
        "--strategies",
        "margin",
        "--seeds",
        "1",
        "--batch",
        "20",
        "--budget",
        "40",
        *flag,
    )
    # With calibration on, a fit with fewer than 15 labels of a label stays uncalibrated.
    assert fitted
    assert any(fitted) if calibrated else not any(fitted)
