"""The JAX subset (tests/jax) in its own process, and the unsupported-backend error.

Keras fixes its backend at import, so the JAX tests cannot run in this
(TensorFlow) process: this test runs ``python -m pytest tests/jax`` with
``KERAS_BACKEND=jax`` and two host devices (for the DataParallel test) and
asserts that it passes. Skipped when jax is not installed
(``pip install -e ".[test]"`` installs it).
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from keras_genmodels import _backend

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.large  # minutes: XLA compiles every model's train and test step
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_jax_subset_passes():
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3",
               XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/jax", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500,
    )
    tail = proc.stdout[-6000:] + proc.stderr[-3000:]
    assert proc.returncode == 0, tail
    assert " passed" in proc.stdout and "error" not in proc.stdout.splitlines()[-1], tail


@pytest.mark.parametrize("fn,args", [
    (_backend.minimize, (None, lambda: (0.0, {}), [])),
    (_backend.input_gradients, (lambda t: t, 1.0)),
])
def test_unsupported_backend_raises_a_clear_error(monkeypatch, fn, args):
    monkeypatch.setattr(_backend, "backend", lambda: "torch")
    with pytest.raises(NotImplementedError, match="'torch'.*not supported") as info:
        fn(*args)
    assert "KERAS_BACKEND=tensorflow" in str(info.value) and "jax" in str(info.value)
