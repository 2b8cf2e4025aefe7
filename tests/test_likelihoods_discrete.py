"""Categorical(256) and DiscretizedLogisticMixture against NumPy / SciPy float64 references."""

import keras
import numpy as np
import pytest
from keras import ops
from scipy.special import log_softmax

from keras_genmodels import likelihoods
from keras_genmodels.likelihoods import Categorical, DiscretizedLogisticMixture


def np_log_sigmoid(x):
    return -np.logaddexp(0.0, -x)


def np_logistic_mixture_log_prob(x, params, k, min_log_scale=-7.0):
    """Float64 per-pixel log p(pixel), written independently from the paper's formula."""
    with np.errstate(divide="ignore"):  # a far component may have mass 0
        return _np_lm(x, params, k, min_log_scale)


def _np_lm(x, params, k, min_log_scale):
    x = x.astype("float64") / 127.5 - 1.0
    params = params.astype("float64")
    c = x.shape[-1]
    logits = params[..., :k]
    means = params[..., k:k + c * k].reshape(x.shape[:-1] + (c, k))
    log_s = np.maximum(params[..., k + c * k:k + 2 * c * k].reshape(x.shape[:-1] + (c, k)),
                       min_log_scale)
    coeffs = np.tanh(params[..., k + 2 * c * k:].reshape(x.shape[:-1] + (-1, k)))
    log_pi = logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)
    total = log_pi.copy()
    pairs = [(ch, prev) for ch in range(c) for prev in range(ch)]
    for ch in range(c):
        mu = means[..., ch, :].copy()
        for idx, (a, b) in enumerate(pairs):
            if a == ch:
                mu += coeffs[..., idx, :] * x[..., b:b + 1]
        xc = x[..., ch:ch + 1]
        s = np.exp(log_s[..., ch, :])
        cdf_hi = 1.0 / (1.0 + np.exp(-(xc + 1 / 255 - mu) / s))
        cdf_lo = 1.0 / (1.0 + np.exp(-(xc - 1 / 255 - mu) / s))
        mass = np.where(xc < -0.999, cdf_hi, np.where(xc > 0.999, 1.0 - cdf_lo, cdf_hi - cdf_lo))
        total += np.log(mass)
    return np.logaddexp.reduce(total, axis=-1)


# ----------------------------------------------------------------- Categorical
@pytest.mark.all_backends
def test_categorical_log_prob_matches_scipy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 2, 2, 3, 256)).astype("float32") * 3
    x = rng.integers(0, 256, size=(3, 2, 2, 3))
    params = logits.reshape(3, 2, 2, 3 * 256)  # channel-major layout
    ours = ops.convert_to_numpy(Categorical(256).log_prob(x.astype("float32"), params))
    ref = np.take_along_axis(log_softmax(logits.astype("float64"), axis=-1), x[..., None], -1)
    ref = ref.reshape(3, -1).sum(-1)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-4)
    # Integer dtypes give the same values.
    ours_int = ops.convert_to_numpy(Categorical(256).log_prob(x.astype("uint8"), params))
    np.testing.assert_allclose(ours_int, ours, rtol=1e-6)


@pytest.mark.all_backends
def test_categorical_mean_and_sample_frequencies():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(1, 1, 1, 8)).astype("float32") * 2
    lik = Categorical(8)
    probs = np.exp(logits[0, 0, 0] - np.logaddexp.reduce(logits[0, 0, 0]))
    np.testing.assert_allclose(ops.convert_to_numpy(lik.mean(logits))[0, 0, 0, 0],
                               (probs * np.arange(8)).sum(), rtol=1e-5)
    n = 20000
    draws = ops.convert_to_numpy(lik.sample(np.repeat(logits, n, 0), seed=3))
    freq = np.bincount(draws.astype(int).ravel(), minlength=8) / n
    np.testing.assert_array_less(np.abs(freq - probs), 5 * np.sqrt(probs / n) + 1e-3)
    again = ops.convert_to_numpy(lik.sample(np.repeat(logits, n, 0), seed=3))
    np.testing.assert_array_equal(draws, again)


@pytest.mark.all_backends
def test_categorical_rejects_bad_data():
    for bad, message in [(256.0, "outside"), (-1.0, "outside"), (3.5, "non-integer"),
                         (np.nan, "NaN")]:
        x = np.array([[[[0.0, bad]]]], "float32")
        with pytest.raises(ValueError, match=message):
            Categorical(256).log_prob(x, np.zeros((1, 1, 1, 512), "float32"))


def test_categorical_bad_arguments():
    with pytest.raises(ValueError, match="num_classes"):
        Categorical(1)
    with pytest.raises(ValueError, match="multiple of 256"):
        Categorical(256).log_prob(np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 1, 100)))


# ---------------------------------------------------------- Logistic mixture
@pytest.mark.all_backends
@pytest.mark.parametrize("channels", [1, 3])
def test_logistic_mixture_matches_numpy_float64(channels):
    rng = np.random.default_rng(channels)
    k = 4
    lik = DiscretizedLogisticMixture(k)
    p = lik.params_per_pixel(channels)
    params = rng.normal(size=(5, 3, 3, p)).astype("float32")
    params[..., k + channels * k:k + 2 * channels * k] -= 2.0  # sharper scales
    x = rng.integers(0, 256, size=(5, 3, 3, channels))
    x[0, 0, 0] = 0      # the edge bins
    x[0, 0, 1] = 255
    ours = ops.convert_to_numpy(lik.log_prob_per_pixel(x.astype("float32"), params))
    ref = np_logistic_mixture_log_prob(x, params, k)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ops.convert_to_numpy(lik.log_prob(x, params)),
                               ref.reshape(5, -1).sum(-1), rtol=1e-4)


def test_logistic_mixture_params_layout():
    assert DiscretizedLogisticMixture(10).params_shape((32, 32, 3)) == (32, 32, 100)
    assert DiscretizedLogisticMixture(5).params_shape((28, 28, 1)) == (28, 28, 15)
    with pytest.raises(ValueError, match="parameters per pixel"):
        DiscretizedLogisticMixture(5).log_prob(np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 1, 7)))
    with pytest.raises(ValueError, match="num_mixtures"):
        DiscretizedLogisticMixture(0)


@pytest.mark.all_backends
def test_logistic_mixture_one_pixel_sums_to_one():
    rng = np.random.default_rng(2)
    lik = DiscretizedLogisticMixture(3)
    for scale_shift in (-6.0, -2.0, 1.0):  # very sharp, medium, broad components
        params = rng.normal(size=(1, 1, 1, 9)).astype("float32")
        params[..., 6:] += scale_shift
        values = np.arange(256, dtype="float32").reshape(256, 1, 1, 1)
        probs = np.exp(ops.convert_to_numpy(lik.log_prob(values, np.repeat(params, 256, 0))))
        assert np.isfinite(probs).all()
        np.testing.assert_allclose(probs.astype("float64").sum(), 1.0, atol=2e-5)


@pytest.mark.all_backends
def test_logistic_mixture_coupled_two_channels_sum_to_one():
    # All 256^2 values of a 2-channel pixel, with the linear channel coupling.
    rng = np.random.default_rng(3)
    lik = DiscretizedLogisticMixture(2)
    params = rng.normal(size=(1, 1, 1, lik.params_per_pixel(2))).astype("float32")
    params[..., -2:] = 3.0  # strong coupling (tanh -> ~1)
    grid = np.stack(np.meshgrid(np.arange(256), np.arange(256), indexing="ij"), -1)
    x = grid.reshape(-1, 1, 1, 2).astype("float32")
    log_p = ops.convert_to_numpy(lik.log_prob(x, np.repeat(params, len(x), 0)))
    np.testing.assert_allclose(np.exp(log_p.astype("float64")).sum(), 1.0, atol=1e-4)


@pytest.mark.all_backends
def test_logistic_mixture_extreme_values_stay_finite():
    lik = DiscretizedLogisticMixture(1)
    params = np.array([[[[0.0, 0.9, -7.0]]]], "float32")  # mean near 242, tiny scale
    for v in (0.0, 1.0, 128.0, 254.0, 255.0):
        lp = ops.convert_to_numpy(lik.log_prob(np.full((1, 1, 1, 1), v, "float32"), params))
        assert np.isfinite(lp).all(), v


@pytest.mark.all_backends
def test_logistic_mixture_sample_frequencies_match_probabilities():
    rng = np.random.default_rng(4)
    lik = DiscretizedLogisticMixture(2)
    params = rng.normal(size=(1, 1, 1, lik.params_per_pixel(2))).astype("float32")
    params[..., 2:6] *= 0.5
    params[..., 6:10] = -2.5  # scales ~0.08 in [-1, 1] units
    n = 20000
    draws = ops.convert_to_numpy(lik.sample(np.repeat(params, n, 0), seed=5)).reshape(n, 2)
    assert np.all(draws == np.round(draws)) and draws.min() >= 0 and draws.max() <= 255
    grid = np.stack(np.meshgrid(np.arange(256), np.arange(256), indexing="ij"), -1)
    x = grid.reshape(-1, 1, 1, 2).astype("float32")
    joint = np.exp(ops.convert_to_numpy(
        lik.log_prob(x, np.repeat(params, len(x), 0))).astype("float64")).reshape(256, 256)
    for axis, ch in ((1, 0), (0, 1)):
        probs = joint.sum(axis=axis)
        freq = np.bincount(draws[:, ch].astype(int), minlength=256) / n
        np.testing.assert_array_less(np.abs(freq - probs), 5 * np.sqrt(probs / n) + 1e-3)
    again = ops.convert_to_numpy(lik.sample(np.repeat(params, n, 0), seed=5)).reshape(n, 2)
    np.testing.assert_array_equal(draws, again)


@pytest.mark.all_backends
def test_logistic_mixture_mean_matches_numpy():
    rng = np.random.default_rng(6)
    k, c = 3, 3
    lik = DiscretizedLogisticMixture(k)
    params = rng.normal(size=(2, lik.params_per_pixel(c))).astype("float64") * 0.3
    logits, means = params[:, :k], params[:, k:k + c * k].reshape(2, c, k)
    coeffs = np.tanh(params[:, k + 2 * c * k:].reshape(2, 3, k))
    m0 = means[:, 0]
    m1 = means[:, 1] + coeffs[:, 0] * m0
    m2 = means[:, 2] + coeffs[:, 1] * m0 + coeffs[:, 2] * m1
    pi = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    ref = np.stack([(pi * m).sum(-1) for m in (m0, m1, m2)], -1)
    ref = np.clip((ref + 1) * 127.5, 0, 255)
    np.testing.assert_allclose(ops.convert_to_numpy(lik.mean(params.astype("float32"))), ref,
                               rtol=1e-4, atol=1e-3)


@pytest.mark.all_backends
def test_logistic_mixture_rejects_bad_data():
    for bad, message in [(255.5, "non-integer"), (300.0, "outside")]:
        with pytest.raises(ValueError, match=message):
            DiscretizedLogisticMixture(1).log_prob(np.full((1, 1, 1, 1), bad, "float32"),
                                                   np.zeros((1, 1, 1, 3), "float32"))


# ---------------------------------------------------------------- registry
def test_aliases_and_serialization():
    assert isinstance(likelihoods.get("categorical"), Categorical)
    assert isinstance(likelihoods.get("logistic_mixture"), DiscretizedLogisticMixture)
    for lik in (Categorical(16, validate_args=False), DiscretizedLogisticMixture(7, -5.0)):
        restored = likelihoods.get(likelihoods.serialize(lik))
        assert type(restored) is type(lik)
        assert restored.get_config() == lik.get_config()
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(DiscretizedLogisticMixture(4)))
    assert restored.num_mixtures == 4
