"""Test configuration: the Keras backend, and which tests run on it.

Keras fixes its backend at import, so one pytest process tests one backend:
``KERAS_BACKEND`` (default ``tensorflow``) picks it. Under TensorFlow every
test runs. Under any other backend (``jax``, ``torch``) only the tests marked
``all_backends`` run; the others are deselected (a test file that never
mentions the marker is not even imported, so TensorFlow-only modules do not
load TensorFlow there). ``python -m tests`` runs the three in turn.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# compile(jit_compile="auto") would give some models an XLA step on TensorFlow:
# seconds of compilation for each of the suite's hundreds of tiny models. The
# XLA step has its own tests (tests/models/test_xla_step.py).
os.environ.setdefault("KERAS_GENMODELS_AUTO_XLA", "0")
if os.environ["KERAS_BACKEND"] == "jax":  # before Keras imports jax
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    # The tests compile thousands of tiny XLA programs (one per op and shape
    # when eager, e.g. every random initializer, and every train step): with
    # LLVM -O0 and the cheaper CPU emitters they compile 3-4x faster (the JAX
    # run takes half the time) and still run in microseconds. XLA aborts on an
    # unknown flag: drop one here if a jaxlib release removes it.
    flags = os.environ.get("XLA_FLAGS", "")
    for flag in ("--xla_backend_optimization_level=0", "--xla_cpu_use_fusion_emitters=false",
                 "--xla_llvm_disable_expensive_passes=true"):
        if flag.split("=")[0] not in flags:
            flags += " " + flag
    os.environ["XLA_FLAGS"] = flags.strip()

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

BACKEND = keras.backend.backend()
MARKER = "all_backends"


def pytest_ignore_collect(collection_path, config):
    """Off TensorFlow, skip importing test files without any ``all_backends`` test."""
    if BACKEND == "tensorflow" or collection_path.suffix != ".py":
        return None
    if not collection_path.name.startswith("test_"):
        return None
    return MARKER not in collection_path.read_text(encoding="utf-8")


def pytest_collection_modifyitems(config, items):
    if BACKEND == "tensorflow":
        return
    keep = [item for item in items if item.get_closest_marker(MARKER) is not None]
    dropped = [item for item in items if item.get_closest_marker(MARKER) is None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_report_header(config):
    return f"keras backend: {BACKEND}" + (
        "" if BACKEND == "tensorflow" else f" (only tests marked {MARKER})")


@pytest.fixture(autouse=True)
def _seed_everything():
    # Seeds only: keras.backend.clear_session() after every test cost ~1 s each
    # on 2 cores; tests must not depend on auto-generated layer names.
    keras.utils.set_random_seed(1234)
    np.random.seed(1234)
    yield
