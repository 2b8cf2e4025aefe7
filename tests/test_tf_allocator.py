"""Importing the package turns on TensorFlow's pooling CPU allocator, unless the user chose.

Each case runs in a fresh interpreter: the allocator is fixed when TensorFlow
creates its CPU device, so it cannot be switched within this process. The
pooling (BFC) allocator is the one that keeps allocation statistics, so
``tf.config.experimental.get_memory_info("CPU:0")`` tells which one runs.
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


def _probe(value):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPU_ALLOCATOR_USE_BFC"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if value is not None:
        env["TF_CPU_ALLOCATOR_USE_BFC"] = value
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          env=env, timeout=300)
    line = [l for l in proc.stdout.splitlines() if l.startswith("RESULT")]
    assert proc.returncode == 0 and line, proc.stdout[-2000:] + proc.stderr[-2000:]
    return line[0].split()[1:]


def test_import_turns_on_the_pooling_allocator():
    assert _probe(None) == ["true", "True"]


def test_a_users_choice_is_kept():
    assert _probe("false") == ["false", "False"]
