"""Tests of the Sampling layer (reparameterisation trick), on every backend."""

import keras
import numpy as np
import pytest

from keras_genmodels.layers import Sampling
from tests import _grad

MEAN = np.array([0.0, 1.5, -2.0], "float32")
LOG_VAR = np.array([0.0, np.log(4.0), -2.0], "float32")


def _tile(v, n):
    return np.tile(v[None], (n, 1))


@pytest.mark.all_backends
def test_statistics_match_mean_and_std():
    n = 40000
    z = keras.ops.convert_to_numpy(Sampling(seed=0)([_tile(MEAN, n), _tile(LOG_VAR, n)]))
    std = np.exp(0.5 * LOG_VAR)
    assert z.shape == (n, 3)
    # Mean within 5 standard errors, std within 3% (its standard error is ~0.35%).
    np.testing.assert_array_less(np.abs(z.mean(0) - MEAN), 5 * std / np.sqrt(n))
    np.testing.assert_allclose(z.std(0), std, rtol=0.03)
    # Standardised draws are uncorrelated across dimensions and roughly normal.
    eps = (z - MEAN) / std
    corr = np.corrcoef(eps.T)
    np.testing.assert_allclose(corr, np.eye(3), atol=0.03)
    np.testing.assert_allclose(np.mean(np.abs(eps) < 1.0), 0.6827, atol=0.01)


@pytest.mark.all_backends
def test_same_seed_same_draws_and_successive_draws_differ():
    inputs = [_tile(MEAN, 5), _tile(LOG_VAR, 5)]
    a, b = Sampling(seed=42), Sampling(seed=42)
    first_a = keras.ops.convert_to_numpy(a(inputs))
    first_b = keras.ops.convert_to_numpy(b(inputs))
    np.testing.assert_array_equal(first_a, first_b)
    second_a = keras.ops.convert_to_numpy(a(inputs))
    np.testing.assert_array_equal(second_a, keras.ops.convert_to_numpy(b(inputs)))
    assert not np.allclose(first_a, second_a)
    other = keras.ops.convert_to_numpy(Sampling(seed=7)(inputs))
    assert not np.allclose(first_a, other)
    # The draws do not depend on the global random state.
    keras.utils.set_random_seed(99)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(Sampling(seed=42)(inputs)), first_a)


@pytest.mark.all_backends
def test_gradients_of_the_reparameterisation():
    n = 6
    layer = Sampling(seed=3)
    z, (d_mean, d_log_var) = _grad.vjp(lambda m, lv: layer([m, lv]), _tile(MEAN, n),
                                       _tile(LOG_VAR, n))
    # The same seed on N(0, 1) inputs gives eps itself.
    eps = keras.ops.convert_to_numpy(
        Sampling(seed=3)([np.zeros((n, 3), "float32"), np.zeros((n, 3), "float32")]))
    np.testing.assert_allclose(d_mean, np.ones((n, 3)), rtol=0, atol=0)
    np.testing.assert_allclose(d_log_var, 0.5 * np.exp(0.5 * _tile(LOG_VAR, n)) * eps,
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(z, _tile(MEAN, n) + np.exp(0.5 * _tile(LOG_VAR, n)) * eps,
                               rtol=1e-6, atol=1e-6)


def test_shape_errors():
    x = np.zeros((2, 3), "float32")
    with pytest.raises(ValueError, match="same shape"):
        Sampling()([x, np.zeros((2, 4), "float32")])
    with pytest.raises(ValueError, match="same shape"):
        Sampling()([keras.Input((3,)), keras.Input((4,))])
    with pytest.raises(ValueError, match="list of two tensors"):
        Sampling()([x, x, x])
    with pytest.raises(ValueError, match="list of two tensors"):
        Sampling()(x)


@pytest.mark.all_backends
def test_symbolic_output_shape_and_config():
    z = Sampling(seed=5, name="s")([keras.Input((4,)), keras.Input((4,))])
    assert tuple(z.shape) == (None, 4)
    layer = Sampling(seed=5, name="s")
    config = layer.get_config()
    assert config["seed"] == 5 and config["name"] == "s"
    clone = Sampling.from_config(config)
    assert clone.get_config() == config
    inputs = [_tile(MEAN, 3), _tile(LOG_VAR, 3)]
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(clone(inputs)),
                                  keras.ops.convert_to_numpy(layer(inputs)))


@pytest.mark.all_backends
def test_keras_save_load_round_trip(tmp_path):
    x_in = keras.Input((4,))
    mean = keras.layers.Dense(2)(x_in)
    log_var = keras.layers.Dense(2)(x_in)
    z = Sampling(seed=11)([mean, log_var])
    model = keras.Model(x_in, z)
    x = np.random.normal(size=(3, 4)).astype("float32")
    model(x)  # advance the seed generator once
    path = str(tmp_path / "sampling.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    layer = [l for l in loaded.layers if isinstance(l, Sampling)][0]
    assert layer.seed == 11
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    # Same weights and the same seed-generator state: identical next draws.
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x)),
                                  keras.ops.convert_to_numpy(model(x)))
