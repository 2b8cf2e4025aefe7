"""GAN losses against closed forms (NumPy float64), penalties against hand computations."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_genmodels import losses
from tests import _grad

REAL = np.array([[-3.0], [-0.5], [0.0], [1.2], [4.0]])
FAKE = np.array([[2.5], [-1.0], [0.3], [-6.0], [0.0]])
# TensorFlow keeps these float64 inputs float64 end to end. JAX (without x64)
# computes them in float32, and Keras' torch ``ops.mean`` reduces float64 in
# float32 (Keras 3.15): float32 precision is what can be asked for there.
RTOL = 1e-10 if keras.backend.backend() == "tensorflow" else 2e-6


def _sig(t):
    return 1.0 / (1.0 + np.exp(-t))


def _np(x):
    return float(ops.convert_to_numpy(x))


@pytest.mark.all_backends
def test_minimax_closed_form():
    expected = np.mean(-np.log(_sig(REAL))) + np.mean(-np.log(1.0 - _sig(FAKE)))
    np.testing.assert_allclose(_np(losses.minimax_discriminator_loss(REAL, FAKE)), expected, rtol=RTOL)
    np.testing.assert_allclose(_np(losses.non_saturating_discriminator_loss(REAL, FAKE)), expected,
                               rtol=RTOL)
    np.testing.assert_allclose(_np(losses.minimax_generator_loss(FAKE)),
                               np.mean(np.log(1.0 - _sig(FAKE))), rtol=RTOL)
    np.testing.assert_allclose(_np(losses.non_saturating_generator_loss(FAKE)),
                               np.mean(-np.log(_sig(FAKE))), rtol=RTOL)


@pytest.mark.all_backends
def test_other_families_closed_form():
    r, f = REAL.ravel(), FAKE.ravel()
    cases = {
        "wasserstein": (f.mean() - r.mean(), -f.mean()),
        "hinge": (np.maximum(0, 1 - r).mean() + np.maximum(0, 1 + f).mean(), -f.mean()),
        "least_squares": (0.5 * np.mean((r - 1) ** 2) + 0.5 * np.mean(f ** 2),
                          0.5 * np.mean((f - 1) ** 2)),
    }
    for name, (d_expected, g_expected) in cases.items():
        loss = losses.get(name)
        np.testing.assert_allclose(_np(loss.discriminator_loss(REAL, FAKE)), d_expected, rtol=RTOL)
        np.testing.assert_allclose(_np(loss.generator_loss(FAKE)), g_expected, rtol=RTOL)
        d_fn = getattr(losses, f"{name}_discriminator_loss")
        np.testing.assert_allclose(_np(d_fn(REAL, FAKE)), d_expected, rtol=RTOL)


@pytest.mark.all_backends
def test_stable_at_extreme_logits():
    real = np.array([[200.0], [-200.0]], "float32")
    fake = np.array([[-200.0], [200.0]], "float32")
    # -log sigmoid(-200) = 200 exactly (a naive log(sigmoid) gives inf).
    np.testing.assert_allclose(_np(losses.minimax_discriminator_loss(real, fake)), 200.0, rtol=1e-6)
    np.testing.assert_allclose(_np(losses.non_saturating_generator_loss(fake)), 100.0, rtol=1e-6)


@pytest.mark.all_backends
@pytest.mark.parametrize("logit", [-8.0, -12.0])
def test_saturating_vs_non_saturating_gradient_when_d_rejects_fakes(logit):
    """At D(G(z)) ~ 0 the minimax generator loss has a vanishing gradient, the non-saturating not."""
    fake = np.full((4, 1), logit)
    p = _sig(logit)  # D(G(z)), ~3e-4 and ~6e-6
    # values: log(1 - D) ~ 0 (nothing to gain), -log D large.
    np.testing.assert_allclose(_np(losses.minimax_generator_loss(fake)), np.log(1 - p), rtol=max(RTOL, 1e-8))
    np.testing.assert_allclose(_np(losses.non_saturating_generator_loss(fake)), -np.log(p), rtol=max(RTOL, 1e-8))
    g_minimax = _grad.gradient(losses.minimax_generator_loss, fake)
    g_ns = _grad.gradient(losses.non_saturating_generator_loss, fake)
    # d/dl log(1 - sigmoid(l)) = -sigmoid(l); d/dl -log sigmoid(l) = -(1 - sigmoid(l)); mean over 4.
    np.testing.assert_allclose(g_minimax, np.full((4, 1), -p / 4), rtol=1e-6)
    np.testing.assert_allclose(g_ns, np.full((4, 1), -(1 - p) / 4), rtol=1e-6)
    assert np.all(np.abs(g_minimax) < 1e-3 * np.abs(g_ns))


def _quadratic_critic(a):
    a = ops.convert_to_tensor(a)

    def critic(x):
        flat = ops.reshape(x, (ops.shape(x)[0], -1))
        return ops.sum(a * flat * flat, axis=1, keepdims=True)

    return critic


@pytest.mark.all_backends
def test_gradient_penalty_against_hand_computation():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(3, 2, 2)).astype("float32")
    fake = rng.normal(size=(3, 2, 2)).astype("float32")
    a = rng.uniform(0.2, 1.0, size=(4,)).astype("float32")
    eps = np.array([0.0, 0.25, 0.9], "float32")
    gp = _np(losses.gradient_penalty(_quadratic_critic(a), real, fake, weights=eps))
    # By hand: x_hat = eps r + (1 - eps) f, grad of sum(a x^2) = 2 a x_hat.
    x_hat = (eps[:, None] * real.reshape(3, -1) + (1 - eps[:, None]) * fake.reshape(3, -1)).astype(
        np.float64
    )
    norms = np.linalg.norm(2 * a * x_hat, axis=1)
    np.testing.assert_allclose(gp, np.mean((norms - 1.0) ** 2), rtol=1e-5)
    gp2 = _np(losses.gradient_penalty(_quadratic_critic(a), real, fake, weights=eps, target=2.0))
    np.testing.assert_allclose(gp2, np.mean((norms - 2.0) ** 2), rtol=1e-5)


@pytest.mark.all_backends
def test_interpolation_weights_uniform_per_example():
    real = np.ones((2000, 3), "float32")
    fake = np.zeros((2000, 3), "float32")
    x_hat, w = losses.interpolate(real, fake, seed=keras.random.SeedGenerator(1))
    x_hat, w = ops.convert_to_numpy(x_hat), ops.convert_to_numpy(w)
    assert w.shape == (2000,)
    np.testing.assert_allclose(x_hat, np.repeat(w[:, None], 3, axis=1), atol=1e-6)
    assert 0.0 <= w.min() and w.max() <= 1.0
    # U[0, 1]: mean 1/2, variance 1/12.
    assert abs(w.mean() - 0.5) < 0.03 and abs(w.var() - 1 / 12) < 0.01


@pytest.mark.all_backends
def test_r1_penalty_against_hand_computation():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(5, 3)).astype("float32")
    a = np.array([0.5, 1.0, 2.0], "float32")
    r1 = _np(losses.r1_penalty(_quadratic_critic(a), real))
    np.testing.assert_allclose(r1, np.mean(np.sum((2 * a * real) ** 2, axis=1)), rtol=1e-5)


def test_gan_loss_registry_and_serialization():
    for name in ("minimax", "non_saturating", "wasserstein", "hinge", "least_squares"):
        loss = losses.get(name)
        again = losses.get(losses.serialize(loss))
        assert again.name == name
        assert again.probabilities == (name in ("minimax", "non_saturating"))
    with pytest.raises(ValueError, match="Unknown GAN loss"):
        losses.get("wgan")
    with pytest.raises(ValueError, match="Could not interpret"):
        losses.get(3)
