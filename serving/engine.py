"""The active model of each project, loaded once per process, and the answers it gives.

Nothing is loaded at import time. Each request reads the project's active model id (one
indexed query); when it differs from the loaded one, the new model's file is loaded (its
sha256 checked by learners.lifecycle.load_model) and that project's answer cache emptied.
"""

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from sklearn.pipeline import Pipeline

from learners import lifecycle
from learners.models import ModelVersion
from serving import recent
from siftml import screening, training


class NoActiveModel(Exception):
    """The project has no active model to answer with."""


@dataclass
class LoadedModel:
    model_id: str
    dataset_version: int | None
    pipeline: Pipeline
    classes: np.ndarray
    vocabulary: screening.Vocabulary


@dataclass
class AnswerCache:
    """LRU of (model id, text hash) -> (probabilities row, unknown rate, words)."""

    size: int
    entries: OrderedDict = field(default_factory=OrderedDict)
    # A threaded server (gunicorn --threads) shares the cache between requests.
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: tuple) -> tuple | None:
        with self.lock:
            found = self.entries.get(key)
            if found is not None:
                self.entries.move_to_end(key)
            return found

    def put(self, key: tuple, value: tuple) -> None:
        if self.size <= 0:
            return
        with self.lock:
            self.entries[key] = value
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


_lock = threading.Lock()
_loaded: dict[int, LoadedModel] = {}
_caches: dict[int, AnswerCache] = {}


def active_model_row(project_id: int) -> ModelVersion:
    """The active model's row, kept a few seconds per process (serving.recent)."""
    row = recent.active_models.get_or_read(project_id, lambda: _read_active_model_row(project_id))
    if row is None:
        recent.active_models.drop(project_id)  # the first activation is seen at once
        raise NoActiveModel("This project has no active model yet: label, retrain and activate one first.")
    return row


def _read_active_model_row(project_id: int) -> ModelVersion | None:
    return (
        ModelVersion.objects.filter(project_id=project_id, is_active=True)
        .select_related("dataset_version")
        .only("id", "artifact", "sha256", "project_id", "dataset_version__number")
        .first()
    )


def loaded_model(project_id: int) -> LoadedModel:
    """The project's active model, loading it if another one (or none) is loaded here."""
    row = active_model_row(project_id)
    model_id = str(row.pk)
    current = _loaded.get(project_id)
    if current is not None and current.model_id == model_id:
        return current
    with _lock:
        current = _loaded.get(project_id)
        if current is not None and current.model_id == model_id:
            return current
        loaded = _load(row)
        _loaded[project_id] = loaded
        cache_for(project_id).clear()
        return loaded


_candidates: dict[str, LoadedModel] = {}
CANDIDATES_KEPT = 8


def candidate_model(project_id: int, model_id: object) -> LoadedModel:
    """A model version of the project other than the active one (shadow, canary), loaded once per process."""
    current = _candidates.get(str(model_id))
    if current is not None:
        return current
    with _lock:
        row = (
            ModelVersion.objects.filter(project_id=project_id, pk=model_id)
            .select_related("dataset_version")
            .only("id", "artifact", "sha256", "project_id", "dataset_version__number")
            .get()
        )
        loaded = _load(row)
        while len(_candidates) >= CANDIDATES_KEPT:
            _candidates.pop(next(iter(_candidates)))
        _candidates[loaded.model_id] = loaded
        return loaded


def _load(row: ModelVersion) -> LoadedModel:
    pipeline = lifecycle.load_model(row)  # sha256 checked; raises ModelUnavailable
    return LoadedModel(
        model_id=str(row.pk),
        dataset_version=row.dataset_version.number if row.dataset_version else None,
        pipeline=pipeline,
        classes=np.asarray(pipeline.classes_, dtype=object),
        vocabulary=screening.Vocabulary.of(pipeline),
    )


def cache_for(project_id: int) -> AnswerCache:
    cache = _caches.get(project_id)
    if cache is None or cache.size != settings.SIFT_PREDICT_CACHE_SIZE:
        cache = _caches[project_id] = AnswerCache(settings.SIFT_PREDICT_CACHE_SIZE)
    return cache


def forget() -> None:
    """Drop every loaded model and cache of this process (tests, and after a settings change)."""
    with _lock:
        _loaded.clear()
        _caches.clear()
        _candidates.clear()
    recent.forget()


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Scored:
    proba: np.ndarray | None  # None: refused before the model
    unknown_rate: float | None
    words: int
    cached: bool


def score(project_id: int, model: LoadedModel, texts: list[str], refuse_above: float | None) -> list[Scored]:
    """Probabilities and unknown-word rate of each text, from the cache where it has them.

    The unknown-word rate is the filtering model: it is computed first, and a text above
    `refuse_above` (None: refuse nothing) never reaches the main model.
    """
    cache = cache_for(project_id)
    out: list[Scored | None] = [None] * len(texts)
    keys = [(model.model_id, text_hash(t)) for t in texts]
    to_predict: list[int] = []
    for i, key in enumerate(keys):
        hit = cache.get(key)
        if hit is not None and (hit[0] is not None or (refuse_above is not None and hit[1] > refuse_above)):
            out[i] = Scored(hit[0], hit[1], hit[2], cached=True)
            continue
        rate, words = hit[1:] if hit is not None else model.vocabulary.unknown_rate(texts[i])
        out[i] = Scored(None, rate, words, cached=False)
        if refuse_above is not None and rate > refuse_above:
            cache.put(key, (None, rate, words))
        else:
            to_predict.append(i)
    if to_predict:
        proba = training.predict_proba(model.pipeline, [texts[i] for i in to_predict])
        for row, i in zip(proba, to_predict, strict=True):
            scored = out[i]
            scored.proba = row
            cache.put(keys[i], (row, scored.unknown_rate, scored.words))
    return out  # type: ignore[return-value]
