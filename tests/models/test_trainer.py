"""The single-loss models train on Keras' own trainer: its loss, metrics, weights and batching.

VAE, Autoencoder and the explicit-density models hand Keras ``compute_loss``;
these tests check what that must give on every backend: ``evaluate`` reports
the model's own loss (and its extra metrics) on the data, ``sample_weight``
weights the examples, and Keras' ``steps_per_execution`` trains exactly as
one step per call.
"""

import math

import keras
import numpy as np
import pytest

from keras_genmodels import models
from tests._networks import mlp as _mlp

pytestmark = pytest.mark.all_backends

RNG = np.random.default_rng(3)
X = (RNG.random((12, 6)) < 0.4).astype("float32")
IMAGES = (RNG.random((12, 3, 3, 1)) < 0.4).astype("float32")
LABELS = RNG.integers(0, 2, 12)




def test_evaluate_reports_the_exact_nll_and_weights_examples():
    model = models.NADE(6, hidden_units=5, seed=0)
    model.compile(optimizer="adam")
    nll = -model.log_prob(X)
    logs = model.evaluate(X, batch_size=5, verbose=0, return_dict=True)
    # Keras weights each batch's mean by its size: the mean over all examples.
    np.testing.assert_allclose(logs["loss"], nll.mean(), rtol=1e-5)
    np.testing.assert_allclose(logs["bits_per_dim"], nll.mean() / (6 * math.log(2)), rtol=1e-5)
    w = RNG.random(len(X)).astype("float32")
    weighted = model.evaluate(X, X, sample_weight=w, batch_size=len(X), verbose=0,
                              return_dict=True)
    np.testing.assert_allclose(weighted["loss"], np.sum(w * nll) / np.sum(w), rtol=1e-5)


def test_conditional_gated_pixel_cnn_trains_on_image_label_pairs():
    model = models.GatedPixelCNN((3, 3, 1), filters=4, num_layers=1, kernel_size=3,
                                 num_classes=2, seed=0)
    model.compile(optimizer="adam")
    logs = model.evaluate(IMAGES, LABELS, batch_size=len(IMAGES), verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["loss"], -model.log_prob(IMAGES, labels=LABELS).mean(),
                               rtol=1e-5)
    before = model.evaluate(IMAGES, LABELS, verbose=0)
    model.fit(IMAGES, LABELS, batch_size=4, epochs=3, verbose=0)
    assert model.evaluate(IMAGES, LABELS, verbose=0) < before
    with pytest.raises(ValueError, match="needs labels"):
        model.fit(IMAGES, epochs=1, verbose=0)


def _vae():
    return models.VAE(_mlp([6, 4, 4]), _mlp([2, 4, 6]), seed=0)


def _cvae():
    return models.VAE(_two_input_mlp(6, 2, 4), _two_input_mlp(2, 2, 6), num_classes=2, seed=0)


def _two_input_mlp(width, classes, out):
    x, y = keras.Input((width,)), keras.Input((classes,))
    h = keras.layers.Dense(4, activation="tanh")(keras.layers.Concatenate()([x, y]))
    return keras.Model([x, y], keras.layers.Dense(out)(h))


@pytest.mark.parametrize("make,data", [
    (_vae, (X,)),
    (_cvae, (X, LABELS)),
    (lambda: models.NADE(6, hidden_units=4, seed=0), (X,)),
    (lambda: models.Autoencoder(_mlp([6, 2]), _mlp([2, 6]), loss="bernoulli"), (X,)),
])
def test_steps_per_execution_trains_as_single_steps(make, data):
    if keras.backend.backend() == "torch":
        pytest.skip("Keras' torch trainer refuses steps_per_execution > 1")
    weights = []
    for steps in (1, 3):
        keras.utils.set_random_seed(0)
        model = make()
        model.compile(optimizer=keras.optimizers.SGD(0.1), steps_per_execution=steps)
        history = model.fit(*data, batch_size=4, epochs=2, shuffle=False, verbose=0)
        assert set(history.history) >= {"loss"}
        assert np.all(np.isfinite(history.history["loss"]))
        weights.append([keras.ops.convert_to_numpy(w) for w in model.trainable_weights])
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
