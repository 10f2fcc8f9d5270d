"""What the predict path reads on every request, kept per process for SIFT_SERVING_STATE_TTL seconds.

A cache-hit request used to spend most of its time on database round trips: the service token,
the project's active model id and its serving settings. Each is kept here for a few seconds.
Changes made in this process (a token revoked, settings saved, another model activated) drop
the entry at once, through signals (serving.apps); another process sees them within the TTL.
The model file itself is still loaded and sha256-checked by learners.lifecycle.load_model.

No numpy here: the web process imports this at start (tests/test_light_web.py).
"""

import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings

_MISSING = object()


class Recent:
    """A dict whose entries expire SIFT_SERVING_STATE_TTL seconds after they were read from the database."""

    def __init__(self) -> None:
        self._entries: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get_or_read(self, key: Any, read: Callable[[], Any]) -> Any:
        ttl = settings.SIFT_SERVING_STATE_TTL
        if ttl <= 0:
            return read()
        now = time.monotonic()
        found = self._entries.get(key)
        if found is not None and found[0] > now:
            return found[1]
        value = read()
        with self._lock:
            self._entries[key] = (now + ttl, value)
        return value

    def drop(self, key: Any = _MISSING) -> None:
        with self._lock:
            if key is _MISSING:
                self._entries.clear()
            else:
                self._entries.pop(key, None)

    def drop_where(self, keep: Callable[[Any, Any], bool]) -> None:
        """Drop the entries for which `keep(key, value)` is false."""
        with self._lock:
            for key in [k for k, (_, v) in self._entries.items() if not keep(k, v)]:
                del self._entries[key]


# key_hash -> ServiceToken (or None: not found / revoked; not kept, so a new token works at once)
tokens = Recent()
# project id -> (model id, dataset version number, ModelVersion row) of the active model
active_models = Recent()
# project id -> ServingSettings
serving_settings = Recent()


def forget() -> None:
    for recent in (tokens, active_models, serving_settings):
        recent.drop()
