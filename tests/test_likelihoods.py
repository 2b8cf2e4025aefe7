"""Tests of the Bernoulli and Gaussian likelihoods against SciPy (float64) and closed forms."""

import keras
import numpy as np
import pytest
from scipy import stats
from scipy.special import expit

from keras_genmodels import likelihoods
from tests import _grad


def _binary(shape, seed=0):
    return (np.random.default_rng(seed).random(shape) > 0.5).astype("float32")


def _np(x):
    return keras.ops.convert_to_numpy(x)


# -------------------------------------------------------------- Bernoulli
@pytest.mark.all_backends
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 3, 2)])
def test_bernoulli_log_prob_vs_scipy(shape):
    logits = np.random.default_rng(1).normal(scale=3.0, size=shape).astype("float32")
    x = _binary(shape)
    got = _np(likelihoods.Bernoulli().log_prob(x, logits))
    ref = stats.bernoulli.logpmf(x, expit(logits.astype("float64"))).reshape(shape[0], -1).sum(-1)
    assert got.shape == (shape[0],)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.all_backends
def test_bernoulli_extreme_logits_are_finite_with_finite_gradients():
    logits = np.array([[1e4, -1e4, 1e4, -1e4, 0.0]], "float32")
    x = np.array([[1.0, 0.0, 0.0, 1.0, 1.0]], "float32")
    lp, (grad,) = _grad.vjp(lambda t: likelihoods.Bernoulli().log_prob(x, t), logits)
    # Correct values: log sigmoid(1e4) = 0, log sigmoid(-1e4) = -1e4.
    np.testing.assert_allclose(lp, [0.0 + 0.0 - 1e4 - 1e4 + np.log(0.5)], rtol=1e-6)
    assert np.all(np.isfinite(grad))
    # d/dl log p = x - sigmoid(l).
    np.testing.assert_allclose(grad, [[0.0, 0.0, -1.0, 1.0, 0.5]], atol=1e-6)


@pytest.mark.all_backends
def test_bernoulli_rejects_non_binary_and_nan_data():
    lik = likelihoods.Bernoulli()
    logits = np.zeros((2, 3), "float32")
    with pytest.raises(ValueError, match="binary"):
        lik.log_prob(np.full((2, 3), 0.5, "float32"), logits)
    with pytest.raises(ValueError, match="binary"):
        lik.validate(np.array([[0.0, 2.0]], "float32"))
    with pytest.raises(ValueError, match="NaN"):
        lik.log_prob(np.array([[0.0, np.nan, 1.0]] * 2, "float32"), logits)
    with pytest.raises(ValueError, match="NaN"):
        lik.validate(np.array([[np.inf, 1.0]], "float32"))
    # allow_continuous accepts [0, 1] (binary cross-entropy) but not outside it.
    cont = likelihoods.Bernoulli(allow_continuous=True)
    x = np.full((2, 3), 0.25, "float32")
    expected = 3 * (0.25 * np.log(0.5) + 0.75 * np.log(0.5))
    np.testing.assert_allclose(_np(cont.log_prob(x, logits)), [expected] * 2, rtol=1e-6)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        cont.log_prob(np.full((2, 3), 1.5, "float32"), logits)
    # validate_args=False skips the support check.
    assert np.all(np.isfinite(_np(likelihoods.Bernoulli(validate_args=False).log_prob(
        np.full((2, 3), 0.5, "float32"), logits))))


@pytest.mark.all_backends
def test_bernoulli_sample_and_mean():
    logits = np.array([-2.0, 0.0, 1.0, 3.0], "float32")
    n = 20000
    params = np.tile(logits[None], (n, 1))
    lik = likelihoods.Bernoulli()
    s = _np(lik.sample(params, seed=3))
    assert s.shape == (n, 4)
    assert set(np.unique(s)) <= {0.0, 1.0}
    p = 1 / (1 + np.exp(-logits))
    np.testing.assert_array_less(np.abs(s.mean(0) - p), 5 * np.sqrt(p * (1 - p) / n))
    np.testing.assert_array_equal(_np(lik.sample(params[:10], seed=3)),
                                  _np(lik.sample(params[:10], seed=3)))
    np.testing.assert_allclose(_np(lik.mean(logits)), p, rtol=1e-6)
    assert lik.params_shape((28, 28, 1)) == (28, 28, 1)


# --------------------------------------------------------------- Gaussian
@pytest.mark.all_backends
@pytest.mark.parametrize("scale", [1.0, 0.3])
def test_gaussian_fixed_scale_log_prob_vs_scipy(scale):
    rng = np.random.default_rng(2)
    mean = rng.normal(size=(3, 4, 2)).astype("float32")
    x = rng.normal(size=(3, 4, 2)).astype("float32")
    got = _np(likelihoods.Gaussian(scale=scale).log_prob(x, mean))
    ref = stats.norm.logpdf(x.astype("float64"), mean.astype("float64"), scale).sum((1, 2))
    np.testing.assert_allclose(got, ref, rtol=1e-5)


@pytest.mark.all_backends
def test_gaussian_learned_scale_log_prob_vs_scipy_with_clipping():
    rng = np.random.default_rng(3)
    mean = rng.normal(size=(3, 5, 2)).astype("float32")
    log_scale = rng.normal(size=(3, 5, 2)).astype("float32")
    log_scale[0, 0, 0] = -20.0  # clipped to min_log_scale
    params = np.concatenate([mean, log_scale], axis=-1)
    x = (mean + 0.1 * rng.normal(size=mean.shape)).astype("float32")
    lik = likelihoods.Gaussian(learn_scale=True, min_log_scale=-3.0)
    assert lik.params_shape((5, 2)) == (5, 4)
    got = _np(lik.log_prob(x, params))
    ref = stats.norm.logpdf(x.astype("float64"), mean.astype("float64"),
                            np.exp(np.maximum(log_scale, -3.0).astype("float64"))).sum((1, 2))
    np.testing.assert_allclose(got, ref, rtol=1e-5)
    np.testing.assert_array_equal(_np(lik.mean(params)), mean)


@pytest.mark.all_backends
def test_gaussian_extreme_params_are_finite_with_finite_gradients():
    lik = likelihoods.Gaussian(learn_scale=True)
    params = np.array([[1e4, -1e4, -1e4, 5.0]], "float32")
    x = np.array([[0.0, 0.0]], "float32")
    lp, (grad,) = _grad.vjp(lambda t: lik.log_prob(x, t), params)
    assert np.all(np.isfinite(lp)) and np.all(np.isfinite(grad))
    # float64 closed forms; the first log-scale is clipped to -7 (zero gradient).
    mean, log_scale = np.array([1e4, -1e4]), np.array([-7.0, 5.0])
    z = (0.0 - mean) / np.exp(log_scale)
    np.testing.assert_allclose(lp, [np.sum(-0.5 * z**2 - log_scale - 0.5 * np.log(2 * np.pi))],
                               rtol=1e-5)
    np.testing.assert_allclose(grad, [np.concatenate([z / np.exp(log_scale), [0.0, z[1]**2 - 1]])],
                               rtol=1e-4)


@pytest.mark.all_backends
def test_gaussian_sample_statistics_and_errors():
    lik = likelihoods.Gaussian(learn_scale=True)
    n = 20000
    params = np.tile(np.array([[1.0, -2.0, np.log(0.5), np.log(2.0)]], "float32"), (n, 1))
    s = _np(lik.sample(params, seed=4))
    assert s.shape == (n, 2)
    np.testing.assert_array_less(np.abs(s.mean(0) - [1.0, -2.0]), 5 * np.array([0.5, 2.0]) / np.sqrt(n))
    np.testing.assert_allclose(s.std(0), [0.5, 2.0], rtol=0.03)
    np.testing.assert_array_equal(_np(lik.sample(params[:5], seed=4)),
                                  _np(lik.sample(params[:5], seed=4)))
    fixed = _np(likelihoods.Gaussian(scale=0.1).sample(np.zeros((n, 1), "float32"), seed=1))
    np.testing.assert_allclose(fixed.std(), 0.1, rtol=0.03)
    with pytest.raises(ValueError, match="scale"):
        likelihoods.Gaussian(scale=0.0)
    with pytest.raises(ValueError, match="NaN"):
        likelihoods.Gaussian().log_prob(np.array([[np.nan]], "float32"), np.zeros((1, 1), "float32"))


# ----------------------------------------------------------- get / serialize
@pytest.mark.parametrize(
    "lik",
    [likelihoods.Bernoulli(), likelihoods.Bernoulli(validate_args=False, allow_continuous=True),
     likelihoods.Gaussian(scale=0.5), likelihoods.Gaussian(learn_scale=True, min_log_scale=-4.0)],
)
def test_serialize_get_round_trip(lik):
    config = likelihoods.serialize(lik)
    assert config["registered_name"] == f"keras_genmodels>{type(lik).__name__}"
    restored = likelihoods.get(config)
    assert type(restored) is type(lik)
    assert restored.get_config() == lik.get_config()
    assert likelihoods.get(lik) is lik


def test_get_by_name_and_errors():
    assert isinstance(likelihoods.get("bernoulli"), likelihoods.Bernoulli)
    assert isinstance(likelihoods.get("Bernoulli"), likelihoods.Bernoulli)
    assert isinstance(likelihoods.get("gaussian"), likelihoods.Gaussian)
    assert isinstance(likelihoods.get("normal"), likelihoods.Gaussian)
    with pytest.raises(ValueError, match="Unknown likelihood 'poisson'"):
        likelihoods.get("poisson")
    with pytest.raises(ValueError, match="Could not interpret"):
        likelihoods.get(3)
    assert "Gaussian(scale=0.5" in repr(likelihoods.Gaussian(scale=0.5))


def test_register_alias_is_case_insensitive_and_checked():
    from keras_genmodels import likelihoods

    class Grey(likelihoods.Bernoulli):
        pass

    likelihoods.register_alias("Test_Grey_Alias", Grey)
    assert isinstance(likelihoods.get("test_grey_alias"), Grey)
    assert isinstance(likelihoods.get("TEST_GREY_ALIAS"), Grey)
    with pytest.raises(ValueError, match="cls must be a Likelihood subclass"):
        likelihoods.register_alias("x", int)
