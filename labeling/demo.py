"""Demo data: 4,200 tweets with human sentiment ratings, fetched from the package registry.

The source archive of vaderSentiment 3.3.2 (MIT) carries hutto_ICWSM_2014.tar.gz, whose
tweets_GroundTruth.txt holds, per line: id, mean of ~20 human ratings, text (tab-separated).
"""

import html
import io
import json
import os
import random
import subprocess
import sys
import tarfile
from pathlib import Path

PACKAGE = "vaderSentiment==3.3.2"
ARCHIVE = "vaderSentiment-3.3.2.tar.gz"
INNER = "additional_resources/hutto_ICWSM_2014.tar.gz"
TWEETS = "tweets_GroundTruth.txt"


def serve_address() -> str | None:
    """The address `make run` serves (127.0.0.1 on SIFT_PORT), or None when SIFT_PORT is unset.

    `make run` always sets SIFT_PORT; a command typed in another terminal cannot know the port
    of a `make run` elsewhere, so it names no address rather than a wrong one.
    """
    port = os.environ.get("SIFT_PORT", "")
    if not port:
        return None
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"SIFT_PORT must be a port number from 1 to 65535, not {port!r}.")
    return f"http://127.0.0.1:{int(port)}"


def fetch_archive(cache_dir: Path) -> Path:
    """Download the source archive once (pip, from the configured index)."""
    archive = cache_dir / ARCHIVE
    if not archive.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            PACKAGE,
            "-d",
            str(cache_dir),
        ]
        subprocess.run(command, check=True)
    return archive


def read_tweets(archive: Path) -> list[tuple[str, float, str]]:
    """Return (id, mean rating, text) for every tweet in the archive."""
    with tarfile.open(archive) as outer:
        member = next(m for m in outer.getmembers() if m.name.endswith(INNER))
        inner_bytes = outer.extractfile(member).read()
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        member = next(m for m in inner.getmembers() if m.name.endswith(TWEETS))
        lines = inner.extractfile(member).read().decode("utf-8").splitlines()
    tweets = []
    for line in lines:
        parts = line.split("\t", 2)
        if len(parts) == 3 and parts[2].strip():
            tweets.append((parts[0], float(parts[1]), html.unescape(parts[2].strip())))
    return tweets


def demo_jsonl(tweets: list[tuple[str, float, str]], n_labeled: int, seed: int = 7) -> bytes:
    """One JSONL file: every non-neutral tweet, `n_labeled` of them (at most all) with their label."""
    rated = [(tid, score, text) for tid, score, text in tweets if score != 0]
    labeled = set(random.Random(seed).sample(range(len(rated)), min(n_labeled, len(rated))))
    lines = []
    for i, (tid, score, text) in enumerate(rated):
        row = {"id": f"tweet-{tid}", "text": text}
        if i in labeled:
            row["label"] = "positive" if score > 0 else "negative"
        lines.append(json.dumps(row, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode()
