"""TensorFlow's process-wide CPU settings: the pooling allocator the package turns on, oneDNN.

Each case runs in a fresh interpreter: the allocator is fixed when TensorFlow
creates its CPU device and oneDNN when it is imported, so neither can be
switched within this process. The pooling (BFC) allocator is the one that
keeps allocation statistics, so ``tf.config.experimental.get_memory_info("CPU:0")``
tells which one runs. With oneDNN on, TensorFlow's CPU device allocates through
its oneDNN allocator, which keeps statistics whatever ``TF_CPU_ALLOCATOR_USE_BFC``
says, so the allocator probes run with oneDNN off (``TF_ENABLE_ONEDNN_OPTS=0``),
where the variable decides.
"""

import os
import subprocess
import sys

import keras
import pytest

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                reason="a TensorFlow setting")

PROBE = """
import os, keras, keras_genmodels
import tensorflow as tf
x = tf.zeros((256, 256)) + 1.0
try:
    tf.config.experimental.get_memory_info("CPU:0")
    pooled = True
except ValueError:
    pooled = False
print("RESULT", os.environ.get("TF_CPU_ALLOCATOR_USE_BFC"), pooled)
"""


ONEDNN_PROBE = """
from keras_genmodels import _backend
print("RESULT", _backend._impl.onednn_enabled())
"""


def _probe(value, name="TF_CPU_ALLOCATOR_USE_BFC", code=PROBE):
    env = {k: v for k, v in os.environ.items() if k != name}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if name != "TF_ENABLE_ONEDNN_OPTS":
        env["TF_ENABLE_ONEDNN_OPTS"] = "0"
    if value is not None:
        env[name] = value
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=300)
    line = [l for l in proc.stdout.splitlines() if l.startswith("RESULT")]
    assert proc.returncode == 0 and line, proc.stdout[-2000:] + proc.stderr[-2000:]
    return line[0].split()[1:]


def test_import_turns_on_the_pooling_allocator():
    assert _probe(None) == ["true", "True"]


def test_a_users_choice_is_kept():
    assert _probe("false") == ["false", "False"]


@pytest.mark.parametrize("value", ["0", "1"])
def test_onednn_enabled_reads_what_tensorflow_chose_at_import(value):
    """The query behind the oneDNN-dependent ``xla_on_cpu`` choices (see ``tests/models/test_xla_step.py``)."""
    assert _probe(value, "TF_ENABLE_ONEDNN_OPTS", ONEDNN_PROBE) == [str(value == "1")]
