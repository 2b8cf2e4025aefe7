"""The JAX subset: collected only when ``KERAS_BACKEND=jax``.

Keras picks its backend once, at import, so these tests run in their own
process: ``KERAS_BACKEND=jax python -m pytest tests/jax -q`` (the TensorFlow
suite does this in ``tests/test_jax_backend.py``). Under any other backend
the files here are not collected at all.

TensorFlow reference values are computed once per session in a
``KERAS_BACKEND=tensorflow`` subprocess (``_tf_reference.py``) from the
inputs and weights the JAX tests built.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ON_JAX = os.environ.get("KERAS_BACKEND") == "jax"
if not ON_JAX:
    collect_ignore_glob = ["test_*.py"]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def tf_reference(tmp_path_factory):
    """Returns ``compute(arrays: dict) -> dict`` running ``_tf_reference`` on them once.

    The first call runs the subprocess on everything requested so far; tests
    register their arrays through ``request`` (see ``reference_inputs``).
    """
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("tensorflow is not installed: no TensorFlow reference values")
    from tests.jax import _cases  # noqa: F401  (built under JAX by the caller)

    cache = {}

    def compute(arrays):
        key = tuple(sorted(arrays))
        if key not in cache:
            folder = tmp_path_factory.mktemp("tf_reference")
            src, dst = folder / "in.npz", folder / "out.npz"
            np.savez(src, **arrays)
            env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3",
                       CUDA_VISIBLE_DEVICES="")
            env.pop("XLA_FLAGS", None)
            proc = subprocess.run(
                [sys.executable, "-m", "tests.jax._tf_reference", str(src), str(dst)],
                cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
            )
            assert proc.returncode == 0, proc.stderr[-4000:]
            with np.load(dst) as out:
                cache[key] = {k: out[k] for k in out.files}
        return cache[key]

    return compute
