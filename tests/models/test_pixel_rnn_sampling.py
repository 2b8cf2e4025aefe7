"""Tests of the cached PixelRNN sampler against the teacher-forced network and the naive sampler."""

import functools

import keras
import numpy as np
import pytest

from keras_genmodels import likelihoods
from keras_genmodels import models
from keras_genmodels import samplers

# (kind, channels, extra constructor arguments): Row LSTM with wider kernels
# (two image rows above in the input convolution, a 1x5 Row LSTM), both kinds
# with 3 colour channels and a 256-way softmax per channel.
CASES = {
    "row_bernoulli": ("row_lstm", 1, {"kernel_size": 5, "input_kernel_size": 5}),
    "row_categorical": ("row_lstm", 3, {"likelihood": "categorical"}),
    "diagonal_bernoulli": ("diagonal_bilstm", 1, {}),
    "diagonal_categorical": ("diagonal_bilstm", 3, {"likelihood": "categorical"}),
}
HEIGHT, WIDTH, N = 3, 4, 3


def randomize(model, scale=0.5, seed=1):
    """Large random weights, so the conditionals are far from uniform."""
    rng = np.random.default_rng(seed)
    for w in model.trainable_weights:
        w.assign(rng.normal(0.0, scale, w.shape).astype("float32"))


def images(model, n, seed=1):
    """Random data in the model's units."""
    rng = np.random.default_rng(seed)
    top = 2 if isinstance(model.likelihood, likelihoods.Bernoulli) else 256
    return rng.integers(0, top, (n,) + model.image_shape).astype("float32")


@functools.cache
def build(name):
    """The model of a case, built once per test session (its compiled samplers are reused)."""
    kind, channels, extra = CASES[name]
    kwargs = {"hidden_units": 4 if channels == 1 else 6, "num_layers": 2,
              "input_kernel_size": 3, "seed": 0, **extra}
    model = models.PixelRNN((HEIGHT, WIDTH, channels), kind=kind, **kwargs)
    randomize(model)
    return model


@pytest.fixture(params=list(CASES))
def model(request):
    return build(request.param)


# Two of the four models (one per kind; the identical samples of the other two
# check them as well): each model compiles its teacher-forced loop separately.
@pytest.mark.parametrize("name", ["row_bernoulli", "diagonal_categorical"])
def test_teacher_forced_recursion_reproduces_the_network(name):
    """``cached_params`` (the sampler's caches, teacher-forced) equals ``model(x)``."""
    model = build(name)
    x = images(model, 2)
    expected = keras.ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(samplers.cached_params(model, x), expected,
                               rtol=1e-4, atol=1e-4)
    # The parameters depend on the data (else the check would be vacuous).
    assert np.abs(expected[0] - expected[1]).max() > 0.1
    # New weights: the same compiled function reads them (weights are arguments).
    randomize(model, seed=3)
    try:
        np.testing.assert_allclose(samplers.cached_params(model, x),
                                   keras.ops.convert_to_numpy(model(x)), rtol=1e-4, atol=1e-4)
    finally:
        randomize(model)


def test_cached_and_naive_give_identical_images(model):
    cached = model.sample(N, seed=7, verbose=0)
    naive = model.sample(N, seed=7, verbose=0, method="naive")
    assert cached.shape == (N,) + model.image_shape and cached.dtype == np.float32
    np.testing.assert_array_equal(cached, naive)
    if isinstance(model.likelihood, likelihoods.Bernoulli):
        assert set(np.unique(cached)) == {0.0, 1.0}
    else:
        assert np.all((cached >= 0) & (cached <= 255) & (cached == np.round(cached)))
        assert len(np.unique(cached)) > 10


def test_seed_behaviour(model, capsys):
    a = model.sample(N, seed=7, verbose=0)
    # verbose=1 runs the same compiled loop in chunks of rows, with a progress bar.
    capsys.readouterr()
    np.testing.assert_array_equal(a, model.sample(N, seed=7, verbose=1))
    assert f"{HEIGHT}/{HEIGHT}" in capsys.readouterr().out
    assert not np.array_equal(a, model.sample(N, seed=8, verbose=0))
    # Unseeded calls draw a new seed from the model's SeedGenerator each time.
    assert not np.array_equal(model.sample(N, verbose=0), model.sample(N, verbose=0))


def test_bad_arguments_raise_value_errors():
    model = models.PixelRNN((2, 2, 1), hidden_units=2, num_layers=1, seed=0)
    with pytest.raises(ValueError, match="method"):
        model.sample(2, seed=0, method="fast")
    with pytest.raises(ValueError, match="seed"):
        model.sample(2, seed="zero", verbose=0)
    with pytest.raises(ValueError, match="n must be"):
        model.sample(0, verbose=0)
    with pytest.raises(ValueError, match="shape"):
        samplers.cached_params(model, np.zeros((2, 2, 3, 1), "float32"))
