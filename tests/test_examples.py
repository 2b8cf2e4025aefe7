"""Smoke tests: every example and benchmark script runs a few steps in a subprocess.

To add a script, append an ``Example`` to ``EXAMPLES``: its path from the
repository root, quick arguments (``{out}`` is replaced by a temporary
directory, ``{data}`` by a small binarized-MNIST .npz with arrays
``train``/``valid``), the files it must write under ``{out}``, and strings
its output must contain.
"""

import collections
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_genmodels import datasets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

Example = collections.namedtuple("Example", "script args outputs expect")

EXAMPLES = [
    Example(
        "examples/quickstart.py",
        ["--epochs", "1", "--steps", "3", "--k", "2", "--valid-limit", "100", "--out", "{out}"],
        ["samples/epoch_001.png", "samples.png", "reconstructions.png", "vae.keras",
         "results.json"],
        ["valid ELBO", "importance-sampled NLL"],
    ),
    Example(
        "bench/vae_binarized_mnist.py",
        ["--data", "{data}", "--epochs", "1", "--k", "3", "--valid-limit", "50",
         "--hidden", "32", "--latent-dim", "4"],
        [],
        ['"bench": "vae_binarized_mnist"', "| valid ELBO |"],
    ),
]


@pytest.fixture(scope="module")
def small_npz(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "binarized_mnist_small_train_valid.npz"
    np.savez(path, train=datasets.load_binarized_mnist_small("train")[:300, ..., 0],
             valid=datasets.load_binarized_mnist_small("valid")[:100, ..., 0])
    return path


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.script for e in EXAMPLES])
def test_example_runs(example, tmp_path, small_npz):
    out = tmp_path / "out"
    args = [a.format(out=out, data=small_npz) for a in example.args]
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    env.pop(datasets.ENV_VAR, None)
    proc = subprocess.run([sys.executable, os.path.join(ROOT, example.script), *args],
                          capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for name in example.outputs:
        assert (out / name).is_file(), f"{example.script} did not write {name}"
        if name.endswith(".png"):
            assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for text in example.expect:
        assert text in proc.stdout, f"{text!r} not in the output of {example.script}"
    # The last line is the JSON summary; its numbers are finite.
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    for key, value in summary.items():
        if isinstance(value, float):
            assert np.isfinite(value), (key, value)
