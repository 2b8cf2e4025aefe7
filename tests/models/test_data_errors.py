"""One behaviour for bad data, on every backend and in every model family.

``fit``, ``evaluate`` and the likelihood entry points raise the same
``ValueError`` naming the problem (non-binary data for a Bernoulli model,
out-of-range or non-integer 8-bit values, NaN, a wrong shape), and a failing
batch changes no weight, optimizer slot or random-generator state.
"""

import keras
import numpy as np
import pytest

from keras_genmodels import models
from tests._networks import mlp as _mlp

pytestmark = pytest.mark.all_backends

RNG = np.random.default_rng(0)
VECTORS = (RNG.random((8, 6)) < 0.5).astype("float32")
IMAGES = (RNG.random((8, 3, 3, 1)) < 0.5).astype("float32")
PIXELS = RNG.integers(0, 256, (8, 2, 2, 1)).astype("float32")




def _vae():
    return models.VAE(_mlp([6, 4, 4]), _mlp([2, 4, 6]), seed=0)


def _gan():
    model = models.GAN(_mlp([2, 4, 6]), _mlp([6, 4, 1]), latent_dim=2, seed=0)
    return model


def _aae():
    return models.AAE(_mlp([6, 4, 2]), _mlp([2, 4, 6]), _mlp([2, 4, 1]), latent_dim=2, seed=0)


# name -> (factory, good data, log-likelihood entry point or None). GatedPixelCNN is a
# PixelCNN subclass with the same data checks (DensityModel's), covered by "pixel_cnn".
FAMILIES = {
    "vae": (_vae, VECTORS, lambda m, x: m.log_likelihood(x, num_samples=2)),
    "autoencoder": (lambda: models.Autoencoder(_mlp([6, 2]), _mlp([2, 6]), loss="bernoulli"),
                    VECTORS, lambda m, x: m.anomaly_score(x)),
    "nade": (lambda: models.NADE(6, hidden_units=4, seed=0), VECTORS, None),
    "made": (lambda: models.MADE(6, hidden_units=(4,), seed=0, mask_seed=0), VECTORS, None),
    "markov": (lambda: models.MarkovAR(6, order=1, seed=0), VECTORS, None),
    "pixel_cnn": (lambda: models.PixelCNN((3, 3, 1), filters=4, num_layers=1, kernel_size=3,
                                          seed=0), IMAGES, None),
    "pixel_rnn": (lambda: models.PixelRNN((3, 3, 1), kind="row_lstm", hidden_units=4,
                                          num_layers=1, seed=0), IMAGES, None),
    "pixel_cnn_8bit": (lambda: models.PixelCNN((2, 2, 1), likelihood="categorical", filters=4,
                                               num_layers=1, kernel_size=3, seed=0), PIXELS, None),
    "gan": (_gan, VECTORS, None),
    "aae": (_aae, VECTORS, None),
}


def _bad_inputs(name, good):
    """(bad data, regex of the expected message) pairs for the family's data.

    The wrong shape comes last: it fails while the step is traced, which
    makes the model trace its steps afresh (``DataErrorsAsValueError``); the
    other cases fail at run time and reuse the compiled steps.
    """
    nan = good.copy()
    nan[3].flat[1] = np.nan
    wrong_shape = good.reshape(len(good), -1)[:, :-1]
    if good.ndim == 2:
        wrong_shape = np.concatenate([good, good[:, :1]], axis=1)
    cases = [(nan, "NaN")]
    if good is PIXELS:
        high = good.copy()
        high[2].flat[0] = 256.0
        frac = good.copy()
        frac[5].flat[0] = 3.5
        cases += [(high, "255|range"), (frac, "integer")]
    elif name not in ("gan",):
        soft = good.copy()
        soft[4].flat[0] = 0.5
        cases += [(soft, "binary|0 or 1|\\{0, 1\\}")]
    return cases + [(wrong_shape, "shape")]


def _compile(model):
    names = getattr(model, "optimizer_names", ())
    if names:
        model.compile(**{n: keras.optimizers.Adam(1e-2) for n in names})
    else:
        model.compile(optimizer=keras.optimizers.Adam(1e-2))


def _state(model):
    """Every value a training step could change: weights, optimizers, seeds.

    (Metrics are left out: ``fit`` and ``evaluate`` reset them when they start.)
    """
    variables = list(model.variables)
    for name in getattr(model, "optimizer_names", ()) or ():
        variables += list(getattr(model, name).variables)
    if getattr(model, "optimizer", None) is not None:
        variables += list(model.optimizer.variables)
    if hasattr(model, "seed_generator"):
        variables.append(model.seed_generator.state)
    return [keras.ops.convert_to_numpy(v).copy() for v in variables]


def _cases():
    for name, (_, good, _) in FAMILIES.items():
        for bad, message in _bad_inputs(name, good):
            yield pytest.param(name, bad, message, id=f"{name}-{message.split('|')[0]}")


@pytest.fixture(scope="module")
def trained():
    """One compiled model per family, trained for a step on good data (optimizers built).

    Every ``fit`` / ``evaluate`` of this file takes the whole 8-example array
    as one batch (good or bad), so the compiled steps see one batch shape.
    """
    cache = {}

    def get(name):
        if name not in cache:
            make, good, _ = FAMILIES[name]
            model = make()
            _compile(model)
            model.fit(good, batch_size=len(good), epochs=1, verbose=0)
            cache[name] = model
        return cache[name]

    return get


@pytest.mark.parametrize("name,bad,message", list(_cases()))
def test_bad_data_raises_value_error_and_changes_nothing(trained, name, bad, message):
    model = trained(name)
    before = _state(model)
    with pytest.raises(ValueError, match=message):
        model.fit(bad, batch_size=len(bad), epochs=1, verbose=0)  # one (failing) batch
    with pytest.raises(ValueError, match=message):
        model.evaluate(bad, batch_size=len(bad), verbose=0)
    likelihood = FAMILIES[name][2]
    if likelihood is None and hasattr(model, "log_prob"):
        likelihood = lambda m, x: m.log_prob(x)  # noqa: E731
    if likelihood is not None:
        with pytest.raises(ValueError, match=message):
            likelihood(model, bad)
    after = _state(model)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
    # The model still trains on good data afterwards.
    good = FAMILIES[name][1]
    history = model.fit(good, batch_size=len(good), epochs=1, verbose=0)
    assert all(np.isfinite(v[-1]) for v in history.history.values())
