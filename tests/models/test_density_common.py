"""Checks shared by every explicit-density model on tiny binary images.

Every configuration of a 2x2 / 3x3 binary image is enumerated, so the
normalisation sum_x p(x) = 1, exact marginals and the exact joint are
available and sampling can be compared against them. The PixelCNN / PixelRNN
entries run when those models exist in ``keras_genmodels.models``.
"""

import itertools
import math

import keras
import numpy as np
import pytest
from keras import ops

from keras_genmodels import models
from tests import _grad

# ------------------------------------------------------------------ helpers


def all_binary_images(shape):
    """Every binary array of ``shape``: ``(2**prod(shape),) + shape`` float32."""
    d = math.prod(shape)
    rows = np.array(list(itertools.product([0.0, 1.0], repeat=d)), "float32")
    return rows.reshape((-1,) + tuple(shape))


def randomize_weights(model, scale=1.0, seed=0):
    """Overwrite every trainable weight with N(0, scale^2) draws (non-trivial conditionals)."""
    rng = np.random.default_rng(seed)
    for w in model.trainable_weights:
        w.assign(rng.normal(0.0, scale, size=tuple(w.shape)).astype("float32"))
    return model


def jacobian(model, x, **call_kwargs):
    """``J[i, j] = d logit_i / d x_j`` for one flattened example ``x`` (float64 NumPy)."""
    x = np.asarray(x, "float32")[None]
    jac = _grad.jacobian(lambda t: ops.reshape(model(t, **call_kwargs), (1, -1)), x)
    d = jac.shape[1]
    return np.asarray(jac, "float64").reshape(d, d)


def assert_autoregressive(jac, order, context=None):
    """Output ``order[r]`` has exactly zero gradient wrt inputs of rank >= r
    (and, with ``context=k``, of rank < r - k), and a non-zero one for some
    earlier input whenever r > 0."""
    order = np.asarray(order)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    for i in range(len(order)):
        later = rank >= rank[i]
        assert np.all(jac[i, later] == 0.0), (i, jac[i])
        if context is not None:
            assert np.all(jac[i, rank < rank[i] - context] == 0.0), (i, jac[i])
        if rank[i] > 0:
            allowed = ~later if context is None else (~later & (rank >= rank[i] - context))
            assert np.any(jac[i, allowed] != 0.0), (i, jac[i])


# ------------------------------------------------------------------ models


def _optional(name, build):
    def factory(shape):
        if not hasattr(models, name):
            pytest.skip(f"models.{name} is not available yet")
        return build(shape)
    return factory


FACTORIES = {
    "nade": lambda s: models.NADE(s, hidden_units=8, seed=1),
    "made": lambda s: models.MADE(s, hidden_units=(16,), seed=1),
    "made_random_order_masks": lambda s: models.MADE(
        s, hidden_units=(16, 16), num_masks=3, order="random", direct_connections=True, seed=2),
    "made_connectivity_masks": lambda s: models.MADE(s, hidden_units=(16,), num_masks=2, seed=3),
    "markov0": lambda s: models.MarkovAR(s, order=0),
    "markov2": lambda s: models.MarkovAR(s, order=2),
    "pixelcnn": _optional("PixelCNN", lambda s: models.PixelCNN(
        s + (1,), filters=8, num_layers=2, likelihood="bernoulli")),
    "gated_pixelcnn": _optional("PixelCNN", lambda s: models.PixelCNN(
        s + (1,), filters=8, num_layers=2, likelihood="bernoulli", gated=True)),
    "row_lstm": _optional("PixelRNN", lambda s: models.PixelRNN(s + (1,), kind="row_lstm")),
    "diagonal_bilstm": _optional(
        "PixelRNN", lambda s: models.PixelRNN(s + (1,), kind="diagonal_bilstm")),
}
MINE = ["nade", "made", "made_random_order_masks", "made_connectivity_masks", "markov0", "markov2"]


def _build(name, shape, scale=1.0):
    model = FACTORIES[name](shape)
    return randomize_weights(model, scale=scale, seed=len(name))


def _images(model, shape):
    """All binary images in the model's own event shape (channel axis added if needed)."""
    return all_binary_images(shape).reshape((-1,) + model.event_shape)


# ------------------------------------------------------------------- tests


@pytest.mark.parametrize("shape", [(2, 2), pytest.param((3, 3), marks=pytest.mark.all_backends)])
@pytest.mark.parametrize("name", list(FACTORIES))
def test_probabilities_sum_to_one(name, shape):
    model = _build(name, shape, scale=0.5 if name.startswith(("pixel", "gated", "row", "diag")) else 1.0)
    log_p = model.log_prob(_images(model, shape)).astype("float64")
    assert np.all(np.isfinite(log_p))
    assert np.exp(log_p).sum() == pytest.approx(1.0, abs=1e-5)
    # Random weights must give a non-uniform distribution, or the check is vacuous.
    assert np.ptp(log_p) > 0.5


@pytest.mark.all_backends
@pytest.mark.parametrize("name", MINE)
def test_sampling_matches_exact_joint_2x2(name):
    model = _build(name, (2, 2))
    images = _images(model, (2, 2))
    p = np.exp(model.log_prob(images).astype("float64"))
    n = 20000
    samples = model.sample(n, seed=7, verbose=0).reshape(n, 4)
    assert set(np.unique(samples)) <= {0.0, 1.0}
    codes = samples.astype(int) @ (2 ** np.arange(3, -1, -1))
    freq = np.bincount(codes, minlength=16) / n
    tol = 5 * np.sqrt(p * (1 - p) / n) + 2e-3
    np.testing.assert_array_less(np.abs(freq - p), tol)


@pytest.mark.parametrize("name", MINE)
def test_sampling_matches_exact_marginals_3x3(name):
    model = _build(name, (3, 3))
    images = _images(model, (3, 3))
    p = np.exp(model.log_prob(images).astype("float64"))
    marginals = p @ images.reshape(512, 9)
    n = 8000
    samples = model.sample(n, seed=3, verbose=0).reshape(n, 9)
    tol = 5 * np.sqrt(marginals * (1 - marginals) / n) + 2e-3
    np.testing.assert_array_less(np.abs(samples.mean(0) - marginals), tol)


@pytest.mark.parametrize("name", MINE)
def test_same_seed_same_samples(name):
    model = _build(name, (3, 3))
    a = model.sample(16, seed=11, verbose=0)
    b = model.sample(16, seed=11, verbose=0)
    c = model.sample(16, seed=12, verbose=0)
    assert a.shape == (16,) + model.event_shape
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # Unseeded calls advance the model's SeedGenerator.
    assert not np.array_equal(model.sample(16, verbose=0), model.sample(16, verbose=0))


@pytest.mark.parametrize("name", MINE)
def test_scores_and_bits_per_dim(name):
    model = _build(name, (3, 3))
    x = _images(model, (3, 3))[::37]
    log_p = model.log_prob(x)
    np.testing.assert_allclose(model.bits_per_dim(x), -log_p / (9 * math.log(2)), rtol=1e-6)
    np.testing.assert_allclose(model.anomaly_score(x), -log_p, rtol=1e-6)
    np.testing.assert_allclose(model.score_samples(x), log_p, rtol=1e-6)
    np.testing.assert_allclose(model.log_prob(x, batch_size=4), log_p, rtol=1e-6, atol=1e-6)


@pytest.mark.all_backends
@pytest.mark.parametrize("name", ["nade", "made_random_order_masks", "markov2"])
def test_fit_and_evaluate_report_exact_nll(name):
    model = _build(name, (3, 3), scale=0.3)
    rng = np.random.default_rng(0)
    x = (rng.random((64, 3, 3)) < np.linspace(0.1, 0.9, 9).reshape(3, 3)).astype("float32")
    x = x.reshape((-1,) + model.event_shape)
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    before = -model.log_prob(x).mean()
    history = model.fit(x, epochs=3, batch_size=32, verbose=0)
    assert set(history.history) == {"loss", "bits_per_dim"}
    result = model.evaluate(x, batch_size=64, verbose=0, return_dict=True)
    after = -model.log_prob(x).mean()
    assert result["loss"] == pytest.approx(after, rel=1e-5)
    assert result["bits_per_dim"] == pytest.approx(after / (9 * math.log(2)), rel=1e-5)
    assert after < before


@pytest.mark.parametrize("name", MINE)
def test_keras_round_trip(name, tmp_path):
    model = _build(name, (3, 3))
    x = _images(model, (3, 3))
    path = str(tmp_path / f"{name}.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(loaded.log_prob(x), model.log_prob(x))
    np.testing.assert_array_equal(
        loaded.sample(8, seed=5, verbose=0), model.sample(8, seed=5, verbose=0))


@pytest.mark.parametrize("name", MINE)
def test_data_errors(name):
    model = _build(name, (3, 3))
    good = np.zeros((2,) + model.event_shape, "float32")
    with pytest.raises(ValueError, match="shape"):
        model.log_prob(np.zeros((2, 4, 4), "float32"))
    with pytest.raises(ValueError, match="shape"):
        model.log_prob(np.zeros((2, 9, 1), "float32"))
    with pytest.raises(ValueError, match="binary"):
        model.log_prob(good + 0.5)
    bad = good.copy()
    bad.reshape(-1)[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.log_prob(bad)
    with pytest.raises(ValueError, match="n must be"):
        model.sample(0, verbose=0)
    with pytest.raises(ValueError, match="seed"):
        model.sample(2, seed="zero", verbose=0)


def test_sample_progress_bar(capsys):
    model = models.NADE(4, hidden_units=3)
    model.sample(2, seed=0, verbose=1)
    assert "4/4" in capsys.readouterr().out
    model.sample(2, seed=0, verbose=0)
    assert capsys.readouterr().out == ""
