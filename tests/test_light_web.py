"""A web process loads no scikit-learn, scipy, numpy, matplotlib, pyarrow or joblib at start.

A fresh interpreter sets Django up, imports the URL configuration and the WSGI
application, and resolves every URL pattern to its view (which imports every view
module and everything it imports at module level): none of the heavy modules may be
loaded. They are imported by the views, exports and tasks that use them.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("sklearn", "scipy", "numpy", "matplotlib", "pyarrow", "joblib", "pandas")

PROBE = f"""
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
import config.urls, config.wsgi
from django.urls import URLPattern, URLResolver, get_resolver

def walk(patterns):
    n = 0
    for entry in patterns:
        if isinstance(entry, URLResolver):
            n += walk(entry.url_patterns)
        else:
            assert callable(entry.callback), entry
            n += 1
    return n

print("views", walk(get_resolver().url_patterns))
print("heavy", ",".join(sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r}))))
"""


def test_the_web_process_starts_without_the_ml_libraries() -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "SECRET_KEY": "x", "HOME": "/tmp"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    lines = dict((line + " ").split(" ", 1) for line in done.stdout.strip().splitlines())
    lines = {key: value.strip() for key, value in lines.items()}
    assert int(lines["views"]) > 50  # the walk reached the apps' views
    assert lines.get("heavy", "") == "", f"loaded at start: {lines['heavy']}"
