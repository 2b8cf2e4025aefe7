"""TensorFlow reference values for the JAX tests (run in a subprocess).

Usage: ``KERAS_BACKEND=tensorflow python -m tests.jax._tf_reference IN.npz OUT.npz``.
``IN.npz`` holds, per layer case, the inputs and weights the JAX test built
(``layer/<case>/input/<i>``, ``layer/<case>/weight/<i>``) and, per step model,
initial weights and a batch; ``OUT.npz`` gets the TensorFlow outputs
(``layer/<case>/out/<i>``) and the weights / logs after one train step.
"""

import os
import sys

if __name__ == "__main__":
    if os.environ.get("KERAS_BACKEND") != "tensorflow":
        raise SystemExit("run with KERAS_BACKEND=tensorflow")

import numpy as np  # noqa: E402


def _indexed(data, prefix):
    keys = sorted((k for k in data.files if k.startswith(prefix)),
                  key=lambda k: int(k.rsplit("/", 1)[1]))
    return [data[k] for k in keys]


def main(src, dst):
    import keras

    from tests.jax import _cases

    data = np.load(src)
    out = {}
    for case, (factory, _) in _cases.layer_cases().items():
        inputs = _indexed(data, f"layer/{case}/input/")
        if not inputs:
            continue
        inputs = inputs if len(inputs) > 1 else inputs[0]
        layer = factory()
        _cases.run_layer(layer, inputs)  # builds
        layer.set_weights(_indexed(data, f"layer/{case}/weight/"))
        for i, value in enumerate(_cases.run_layer(layer, inputs)):
            out[f"layer/{case}/out/{i}"] = value
    for name in _cases.STEP_MODELS:
        weights = _indexed(data, f"step/{name}/weight/")
        if not weights:
            continue
        keras.utils.set_random_seed(0)
        new, logs = _cases.one_train_step(name, weights, data[f"step/{name}/x"], run_eagerly=True)
        for i, w in enumerate(new):
            out[f"step/{name}/new/{i}"] = w
        for k, v in logs.items():
            out[f"step/{name}/log/{k}"] = np.float64(v)
    np.savez(dst, **out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
