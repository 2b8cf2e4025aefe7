"""Layer and model cases shared by the JAX tests and their TensorFlow reference run.

Backend-neutral (keras, keras.ops, NumPy only): ``_tf_reference.py`` imports
this module under ``KERAS_BACKEND=tensorflow`` and the JAX tests under
``KERAS_BACKEND=jax``, so both build exactly the same layers and models.
"""

import numpy as np
import keras
from keras import ops

from keras_genmodels import layers, models

H, W = 5, 4  # tiny images


def _images(rng, n, c):
    return rng.normal(size=(n, H, W, c)).astype("float32")


class NumpyNormal(keras.initializers.Initializer):
    """N(0, scale^2) weights drawn with NumPy.

    Keras' random initializers compile one XLA program per weight shape on
    JAX (seconds each on a busy CPU); the tests only need some weights, which
    are then copied to the TensorFlow reference anyway.
    """

    def __init__(self, scale=0.3, seed=0):
        self.scale, self.seed = scale, seed

    def __call__(self, shape, dtype=None):
        rng = np.random.default_rng([self.seed] + [int(d) for d in shape])
        return (self.scale * rng.normal(size=shape)).astype(dtype or "float32")

    def get_config(self):
        return {"scale": self.scale, "seed": self.seed}


def layer_cases():
    """name -> (factory() -> layer, inputs(rng) -> NumPy input or list of inputs)."""
    deg_in = np.array([2, 1, 4, 3])
    deg_h = np.array([1, 2, 3, 1, 2, 3])
    return {
        "masked_conv_A_reference": (
            lambda: layers.MaskedConv2D(6, 3, mask_type="A", color_groups=3,
                                        implementation="reference",
                                        kernel_initializer=NumpyNormal()),
            lambda rng: _images(rng, 2, 3)),
        "masked_conv_B_fused_xla": (
            lambda: layers.MaskedConv2D(4, 5, mask_type="B", implementation="fused_xla",
                                        activation="tanh", kernel_initializer=NumpyNormal()),
            lambda rng: _images(rng, 2, 2)),
        "gated_block_A": (
            lambda: layers.GatedPixelCNNBlock(4, 3, mask_type="A",
                                              kernel_initializer=NumpyNormal()),
            lambda rng: [_images(rng, 2, 2), _images(rng, 2, 2)]),
        "masked_dense": (
            lambda: layers.MaskedDense(6, input_degrees=deg_in, output_degrees=deg_h,
                                       activation="relu", kernel_initializer=NumpyNormal()),
            lambda rng: rng.normal(size=(3, 4)).astype("float32")),
        "row_lstm": (
            lambda: layers.RowLSTM(3, kernel_size=3, kernel_initializer=NumpyNormal(),
                                   recurrent_initializer=NumpyNormal(seed=1)),
            lambda rng: _images(rng, 2, 2)),
        "diagonal_bilstm_groups": (
            lambda: layers.DiagonalBiLSTM(3, color_groups=3, kernel_initializer=NumpyNormal(),
                                          recurrent_initializer=NumpyNormal(seed=1)),
            lambda rng: _images(rng, 2, 3)),
        "kl_regularizer": (
            lambda: layers.KLDivergenceRegularizer(weight=0.5),
            lambda rng: [rng.normal(size=(4, 3)).astype("float32"),
                         rng.normal(size=(4, 3)).astype("float32")]),
    }


def run_layer(layer, inputs):
    """Outputs (list of NumPy arrays) and added losses of one call."""
    tensors = [ops.convert_to_tensor(x) for x in inputs] if isinstance(inputs, list) else \
        ops.convert_to_tensor(inputs)
    out = layer(tensors)
    out = list(out) if isinstance(out, (list, tuple)) else [out]
    result = [ops.convert_to_numpy(o) for o in out]
    result += [ops.convert_to_numpy(l) for l in layer.losses]
    return result


# ----------------------------------------------------------------- models
def binary_data(n=32, dim=12, seed=0):
    rng = np.random.default_rng(seed)
    probs = rng.random(dim) * 0.8 + 0.1
    return (rng.random((n, dim)) < probs).astype("float32")


def make_vae():
    enc, dec = models.mlp_vae_networks((12,), latent_dim=2, hidden_units=(8,))
    return models.VAE(enc, dec, likelihood="bernoulli", seed=0)


def make_nade():
    return models.NADE(12, hidden_units=6, seed=0)


STEP_MODELS = {"vae": make_vae, "nade": make_nade}


class FixedNormal:
    """Stand-in for ``keras.random.normal`` returning fixed NumPy noise.

    TensorFlow and JAX draw different numbers from the same seed, so the
    cross-backend step comparison feeds both the same ``eps``.
    """

    def __init__(self, seed=0):
        self.rng = np.random.default_rng(seed)
        self.cache = {}

    def __call__(self, shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        shape = tuple(int(s) for s in shape)
        if shape not in self.cache:
            self.cache[shape] = self.rng.normal(size=shape).astype("float32")
        return ops.convert_to_tensor(mean + stddev * self.cache[shape], dtype=dtype or "float32")


def one_train_step(name, weights, x, run_eagerly=False):
    """Weights (NumPy list) and logs after one ``train_on_batch`` from ``weights``.

    Adam(1e-2) from a fresh state; ``keras.random.normal`` replaced by
    ``FixedNormal`` for the duration (restored afterwards).
    """
    model = STEP_MODELS[name]()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), run_eagerly=run_eagerly)
    model.set_weights(weights)
    original = keras.random.normal
    keras.random.normal = FixedNormal()
    try:
        logs = model.train_on_batch(x, return_dict=True)
    finally:
        keras.random.normal = original
    return [np.asarray(w) for w in model.get_weights()], {k: float(v) for k, v in logs.items()}
