"""Plain make_* functions for test data; each takes overrides."""

import csv
import io
import json
import os
import random
import tarfile
from pathlib import Path

from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from labeling import services
from labeling.models import Membership, Project

# The shared datasets sit beside the checkout (../shared/datasets); SIFT_DATASETS points
# elsewhere. Tests that need them skip, saying so, where they are absent.
SHARED = Path(os.environ.get("SIFT_DATASETS") or Path(__file__).resolve().parents[2] / "shared" / "datasets")
BANKING77 = SHARED / "banking77"


def make_user(username: str, *, staff: bool = False, password: str = "pw-for-tests-1"):
    user = get_user_model().objects.create_user(username=username, password=password)
    user.is_staff = user.is_superuser = staff
    user.save()
    return user


def make_project(owner, *, labels: tuple[str, ...] = ("positive", "negative"), **fields) -> Project:
    fields.setdefault("name", "Reviews")
    fields.setdefault("test_fraction", 0.2)
    # Seeds are random, so the default withheld share would hide a different 10% of
    # suggestions on every run; tests of withholding set it themselves.
    fields.setdefault("suggestion_withhold_share", 0.0)
    return services.create_project(owner, fields.pop("name"), list(labels), **fields)


def add_member(project: Project, user, role: str = Membership.Role.ANNOTATOR) -> None:
    services.add_member(project, user, role)


def api_client(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def csv_bytes(rows: list[dict], columns: list[str] | None = None) -> bytes:
    columns = columns or list(rows[0])
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def jsonl_bytes(rows: list[dict]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


POSITIVE = ["great service", "loved it", "wonderful staff", "excellent food", "very happy", "superb"]
NEGATIVE = ["terrible service", "hated it", "rude staff", "awful food", "very sad", "dreadful"]


def make_review_rows(n: int, *, labeled: int = 0) -> list[dict]:
    """n short review rows alternating sentiment; the first `labeled` carry their label."""
    rows = []
    for i in range(n):
        positive = i % 2 == 0
        words = POSITIVE if positive else NEGATIVE
        row = {"id": f"r{i}", "text": f"{words[i % len(words)]} number {i}"}
        if i < labeled:
            row["label"] = "positive" if positive else "negative"
        rows.append(row)
    return rows


def import_rows(project: Project, rows: list[dict], user=None, name: str = "items.csv"):
    columns = sorted({key for row in rows for key in row}, key=["id", "text", "label"].index)
    return services.import_items(project, user, csv_bytes(rows, columns), name)


def read_banking77(name: str = "train.csv", limit: int | None = None) -> list[dict]:
    with open(BANKING77 / name, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return rows[:limit] if limit else rows


def _add_file(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def make_demo_archive(
    path: Path, tweets: list[tuple[str, float, str]], extra_lines: tuple[str, ...] = ()
) -> Path:
    """Write a stand-in for vaderSentiment's source archive, nested the same way, at `path`.

    Lines are "id<TAB>mean rating<TAB>text" with CRLF endings, like the real file.
    """
    lines = [f"{tid}\t{score}\t{text}" for tid, score, text in tweets] + list(extra_lines)
    data = "".join(line + "\r\n" for line in lines).encode()
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as archive:
        _add_file(archive, "hutto_ICWSM_2014/tweets_GroundTruth.txt", data)
        _add_file(archive, "hutto_ICWSM_2014/tweets_anonDataRatings.txt", b"not the ground truth\r\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, mode="w:gz") as archive:
        _add_file(archive, "vaderSentiment-3.3.2/README.rst", b"VADER\n")
        _add_file(
            archive, "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz", inner.getvalue()
        )
    return path


def make_demo_tweets(n: int) -> list[tuple[str, float, str]]:
    """n tweets alternating positive and negative ratings, every tenth neutral (rated 0)."""
    tweets = []
    for i in range(n):
        score = 0.0 if i % 10 == 9 else (1.5 if i % 2 == 0 else -1.2)
        words = POSITIVE if score > 0 else NEGATIVE
        tweets.append((str(i + 1), score, f"{words[i % len(words)]} tweet {i + 1}"))
    return tweets


_INTENT_WORDS = {
    "card_arrival": ["card", "arrive", "post", "delivery", "waiting", "mail", "new", "week"],
    "exchange_rate": ["rate", "exchange", "currency", "euro", "dollar", "convert", "fee", "pound"],
    "lost_or_stolen_card": ["lost", "stolen", "wallet", "freeze", "block", "thief", "missing", "theft"],
    "top_up_failed": ["top", "up", "failed", "declined", "balance", "add", "money", "error"],
}


def intent_rows(labels: list[str], per_label: int = 100) -> list[dict]:
    """Labeled intent texts, interleaved by label: banking77's own where the shared datasets
    are, otherwise generated from a few words per intent (so the worker tests always run)."""
    if BANKING77.exists():
        source = read_banking77("train.csv")
        groups = [[r for r in source if r["label"] == label][:per_label] for label in labels]
    else:
        rng = random.Random(7)
        groups = [
            [
                {"text": " ".join([*rng.sample(_INTENT_WORDS[label], 4), "please", "help"]), "label": label}
                for _ in range(per_label)
            ]
            for label in labels
        ]
    return [row for group in zip(*groups, strict=False) for row in group]


# Two moods in short review texts; some mix both, so that two models can disagree on them.
MOOD_POSITIVE = ["great", "lovely", "wonderful", "excellent", "happy", "superb", "kind", "fast"]
MOOD_NEGATIVE = ["terrible", "awful", "rude", "dreadful", "sad", "slow", "broken", "dirty"]


def mood_rows(n: int, start: int = 0) -> list[dict]:
    """Labeled rows r<start>..: even rows positive, odd negative, every fifth with a contrary word."""
    rows = []
    for i in range(start, start + n):
        words = MOOD_POSITIVE if i % 2 == 0 else MOOD_NEGATIVE
        mixed = f" but {MOOD_NEGATIVE[i % 8]}" if i % 5 == 0 else ""
        text = f"{words[i % 8]} {words[(i // 3) % 8]} service{mixed}, visit {i}"
        rows.append({"id": f"r{i}", "text": text, "label": "positive" if i % 2 == 0 else "negative"})
    return rows


def retrain_model(project: Project):
    """Run a retrain inline, check that it succeeded, and return its model version."""
    from learners import services as learner_services
    from learners.models import Job, ModelVersion

    job = learner_services.start_retrain(project, enqueue=False)
    learner_services.run_retrain(job)
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED, job.error
    return ModelVersion.objects.get(pk=job.result["model"])
