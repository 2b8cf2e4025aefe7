"""Tests of models.PixelRNN (Row LSTM and Diagonal BiLSTM)."""

import itertools

import keras
import numpy as np
import pytest

from keras_genmodels import likelihoods
from keras_genmodels import models
from tests import _grad

KINDS = ["row_lstm", "diagonal_bilstm"]


def small(image_shape, kind, **kwargs):
    kwargs.setdefault("hidden_units", 2 * image_shape[-1])
    kwargs.setdefault("num_layers", 2)
    kwargs.setdefault("input_kernel_size", 3)
    return models.PixelRNN(image_shape, kind=kind, seed=0, **kwargs)


def randomize(model, scale=0.8, seed=0):
    """Large random weights, so the conditionals are far from uniform."""
    rng = np.random.default_rng(seed)
    for w in model.trainable_weights:
        w.assign(rng.normal(0.0, scale, w.shape).astype("float32"))


def all_images(shape, values):
    n = int(np.prod(shape))
    return np.array(list(itertools.product(values, repeat=n)), "float32").reshape((-1,) + shape)


@pytest.mark.parametrize("kind", ["row_lstm",
                                  pytest.param("diagonal_bilstm", marks=pytest.mark.all_backends)])
def test_autoregressive_by_gradients(kind):
    """Params of pixel p, channel g: zero gradient wrt pixels > p and channels >= g of p."""
    height, width, channels = 3, 4, 3
    model = small((height, width, channels), kind, hidden_units=6, output_units=24)
    randomize(model, 0.5)
    npix, draws = height * width, 3  # several inputs, so a dead ReLU cannot hide a path
    x = np.random.default_rng(1).uniform(size=(draws, 1, height, width, channels))
    sel = np.zeros((npix * channels, height, width, channels), "float32")
    for p in range(npix):
        for g in range(channels):
            sel[p * channels + g, p // width, p % width, g] = 1.0
    xs = np.repeat(x, npix * channels, axis=1).reshape((-1,) + sel.shape[1:])
    grad = _grad.gradient(model, xs.astype("float32"), cotangent=np.tile(sel, (draws, 1, 1, 1)))
    grad = grad.reshape(draws, npix, channels, npix, channels)
    grad = np.abs(grad).max(axis=0)
    dep = grad != 0.0
    p, g, q, h = np.meshgrid(*[np.arange(n) for n in dep.shape], indexing="ij")
    ok = (q < p) | ((q == p) & (h < g))
    assert not np.any(dep & ~ok), "a conditional sees the current value or a later one"
    for pix in range(1, npix):
        for ch in range(channels):
            assert dep[pix, ch, :pix].any(), f"pixel {pix} channel {ch} ignores the past"
    # Colour ordering inside a pixel: B sees R and G, G sees R.
    assert dep[np.arange(npix), 2, np.arange(npix), 1].all()
    assert dep[np.arange(npix), 1, np.arange(npix), 0].all()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", [(2, 2, 1), (3, 3, 1), (2, 2, 3)])
def test_bernoulli_probabilities_sum_to_one(kind, shape):
    model = small(shape, kind, num_layers=1, hidden_units=4 * shape[-1], output_units=8 * shape[-1])
    randomize(model)
    x = all_images(shape, [0.0, 1.0])
    p = np.exp(model.log_prob(x, batch_size=4096).astype("float64"))
    np.testing.assert_allclose(p.sum(), 1.0, rtol=2e-4)
    assert p.max() > 3.0 * p.min(), "distribution is (nearly) uniform: the test would be vacuous"


@pytest.mark.all_backends
@pytest.mark.parametrize("kind", KINDS)
def test_categorical_probabilities_sum_to_one(kind):
    """A 3-way softmax per channel on 2x1x2 colour images (3**4 configurations)."""
    shape = (2, 1, 2)
    model = small(shape, kind, num_layers=1, likelihood=likelihoods.Categorical(3))
    randomize(model)
    x = all_images(shape, [0.0, 1.0, 2.0])
    p = np.exp(model.log_prob(x).astype("float64"))
    np.testing.assert_allclose(p.sum(), 1.0, rtol=2e-4)
    assert p.max() > 3.0 * p.min()


def test_categorical_256_default_and_errors():
    model = models.PixelRNN((2, 3, 3), likelihood="categorical", hidden_units=3, num_layers=1)
    assert model.compute_output_shape((None, 2, 3, 3)) == (None, 2, 3, 768)
    x = np.random.default_rng(0).integers(0, 256, size=(2, 2, 3, 3)).astype("float32")
    lp = model.log_prob(x)
    assert lp.shape == (2,) and np.all(np.isfinite(lp))
    with pytest.raises(ValueError, match="integer"):
        model.log_prob(x + 0.5)
    with pytest.raises(ValueError, match="255"):
        model.log_prob(x + 256.0)
    s = model.sample(1, seed=0, verbose=0)
    assert s.shape == (1, 2, 3, 3) and np.all((s >= 0) & (s <= 255) & (s == np.round(s)))


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_samples(kind):
    model = small((3, 3, 1), kind)
    randomize(model, 0.5)
    a = model.sample(4, seed=3, verbose=0)
    b = model.sample(4, seed=3, verbose=0)
    c = model.sample(4, seed=4, verbose=0)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (4, 3, 3, 1) and set(np.unique(a)) <= {0.0, 1.0}
    assert not np.array_equal(a, c)


def test_sampling_follows_the_model_distribution():
    """Empirical frequencies of the 16 2x2 images match exp(log_prob)."""
    model = small((2, 2, 1), "diagonal_bilstm", num_layers=1)
    randomize(model, 0.6, seed=2)
    n = 3000
    samples = model.sample(n, seed=0, verbose=0)
    images = all_images((2, 2, 1), [0.0, 1.0])
    p = np.exp(model.log_prob(images).astype("float64"))
    codes = samples.reshape(n, 4) @ (2 ** np.arange(3, -1, -1))
    freq = np.bincount(codes.astype(int), minlength=16) / n
    # 5 standard errors per cell.
    np.testing.assert_array_less(np.abs(freq - p), 5 * np.sqrt(p * (1 - p) / n) + 1e-3)


def test_fit_lowers_the_loss_and_reports_bits_per_dim():
    model = small((3, 4, 1), "diagonal_bilstm", num_layers=1, output_units=6)
    x = (np.random.default_rng(0).uniform(size=(6, 3, 4, 1)) > 0.5).astype("float32")
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = model.log_prob(x).mean()
    hist = model.fit(x, epochs=3, batch_size=3, verbose=0)
    assert set(hist.history) == {"loss", "bits_per_dim"}
    np.testing.assert_allclose(
        hist.history["bits_per_dim"][-1], hist.history["loss"][-1] / (12 * np.log(2)), rtol=1e-5
    )
    assert model.log_prob(x).mean() > before
    result = model.evaluate(x, batch_size=6, verbose=0, return_dict=True)
    np.testing.assert_allclose(result["loss"], -model.log_prob(x).mean(), rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_keras_round_trip_identical_log_prob(kind, tmp_path):
    model = small((3, 4, 1), kind, output_units=6, kernel_size=3, unroll=kind == "row_lstm")
    randomize(model, 0.5)
    x = (np.random.default_rng(0).uniform(size=(6, 3, 4, 1)) > 0.5).astype("float32")
    path = str(tmp_path / "pixel_rnn.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, models.PixelRNN)
    assert loaded.get_config() == model.get_config()
    assert len(loaded.weights) == len(model.weights)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    np.testing.assert_array_equal(model.log_prob(x), loaded.log_prob(x))
    np.testing.assert_array_equal(model.sample(2, seed=5, verbose=0),
                                  loaded.sample(2, seed=5, verbose=0))


def test_defaults_work_on_tiny_images():
    for kind in KINDS:
        model = models.PixelRNN((2, 2, 1), kind=kind)
        assert model.hidden_units == 16 and model.output_units == 32
        assert model.get_config()["image_shape"] == (2, 2, 1)
        lp = model.log_prob(np.zeros((3, 2, 2, 1), "float32"))
        assert lp.shape == (3,) and np.all(lp < 0)


def test_bad_inputs_raise_value_errors():
    with pytest.raises(ValueError, match="kind"):
        models.PixelRNN((4, 4, 1), kind="column_lstm")
    with pytest.raises(ValueError, match="image_shape"):
        models.PixelRNN((4, 4))
    with pytest.raises(ValueError, match="image_shape"):
        models.PixelRNN((4, 0, 1))
    with pytest.raises(ValueError, match="divisible"):
        models.PixelRNN((4, 4, 3), hidden_units=16)
    with pytest.raises(ValueError, match="likelihood"):
        models.PixelRNN((4, 4, 1), likelihood="gaussian")
    with pytest.raises(ValueError, match="Unknown likelihood"):
        models.PixelRNN((4, 4, 1), likelihood="poisson")
    with pytest.raises(ValueError, match="num_layers"):
        models.PixelRNN((4, 4, 1), num_layers=0)
    with pytest.raises(ValueError, match="input_kernel_size"):
        models.PixelRNN((4, 4, 1), input_kernel_size=4)
    model = small((3, 3, 1), "row_lstm")
    with pytest.raises(ValueError, match="shape"):
        model.log_prob(np.zeros((2, 3, 4, 1), "float32"))
    with pytest.raises(ValueError, match="shape"):
        model.log_prob(np.zeros((2, 3, 3), "float32"))
    with pytest.raises(ValueError, match="shape"):
        model(np.zeros((2, 9), "float32"))
    with pytest.raises(ValueError, match="binary"):
        model.log_prob(np.full((2, 3, 3, 1), 0.5, "float32"))
    with pytest.raises(ValueError, match="n must be"):
        model.sample(0)
