"""The ML core (siftml/) is numpy, scipy, scikit-learn, joblib and matplotlib only.

Each module is imported in a fresh interpreter with nothing configured: importing Django, DRF,
Celery or either app from there would show in sys.modules and fail the test.
"""

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import siftml

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("django", "rest_framework", "celery", "kombu", "labeling", "learners", "config")
MODULES = sorted(f"siftml.{info.name}" for info in pkgutil.iter_modules(siftml.__path__))


def test_the_core_has_its_modules() -> None:
    assert {"siftml.training", "siftml.sampling", "siftml.mixing", "siftml.evaluation"} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_core_module_imports_no_django(module: str) -> None:
    probe = (
        "import importlib, sys\n"
        f"importlib.import_module({module!r})\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"{module} imports {done.stdout.strip()}"
