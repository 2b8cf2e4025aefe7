import keras
import numpy as np
import pytest

from keras_genmodels import models
from tests.models.test_density_common import assert_autoregressive, jacobian, randomize_weights


def markov_log_prob_loop(x, b, w, k):
    x = np.asarray(x, "float64").reshape(len(x), -1)
    out = np.zeros(len(x))
    for n in range(len(x)):
        for d in range(x.shape[1]):
            logit = b[d] + sum(w[d, j - 1] * x[n, d - j] for j in range(1, min(k, d) + 1))
            p1 = 1.0 / (1.0 + np.exp(-logit))
            out[n] += np.log(p1 if x[n, d] else 1.0 - p1)
    return out


@pytest.mark.all_backends
@pytest.mark.parametrize("k", [1, 3])
def test_log_prob_matches_numpy_loop(k):
    model = randomize_weights(models.MarkovAR((3, 4), order=k), seed=k)
    x = (np.random.default_rng(0).random((5, 3, 4)) < 0.5).astype("float32")
    expected = markov_log_prob_loop(x, np.asarray(model.b), np.asarray(model.w), k)
    np.testing.assert_allclose(model.log_prob(x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.all_backends
def test_order_zero_is_fully_factorised_closed_form():
    x = (np.random.default_rng(1).random((50, 6)) < np.linspace(0.1, 0.9, 6)).astype("float32")
    model = models.MarkovAR(6, order=0)
    assert model.w is None and len(model.trainable_weights) == 1
    p = x.mean(0)
    model.b.assign(np.log(p / (1 - p)).astype("float32"))   # maximum-likelihood solution
    expected = (x * np.log(p) + (1 - x) * np.log(1 - p)).sum(1)
    np.testing.assert_allclose(model.log_prob(x), expected, rtol=1e-5)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(x))[0],
                                  keras.ops.convert_to_numpy(model(1 - x))[0])


@pytest.mark.all_backends
@pytest.mark.parametrize("k", [1, 2, 4])
def test_autoregressive_with_limited_context(k):
    model = randomize_weights(models.MarkovAR(8, order=k), seed=k)
    jac = jacobian(model, np.random.default_rng(0).random(8))
    assert_autoregressive(jac, np.arange(8), context=k)
    # Exactly the k previous values matter.
    for d in range(8):
        assert np.count_nonzero(jac[d]) == min(d, k)


def test_bad_arguments():
    with pytest.raises(ValueError, match="order"):
        models.MarkovAR(4, order=4)
    with pytest.raises(ValueError, match="order"):
        models.MarkovAR(4, order=-1)
    with pytest.raises(ValueError, match="order"):
        models.MarkovAR(4, order=1.5)
    with pytest.raises(ValueError, match="input_dim"):
        models.MarkovAR((2, -2))
