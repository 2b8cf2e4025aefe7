"""Tests of the KL divergence helpers, regularizer layer and activity regularizer.

References are computed by numerical integration (SciPy quadrature, float64),
independently of the closed form the package uses.
"""

import keras
import numpy as np
import pytest
from scipy import integrate

from keras_genmodels.layers import KLDivergence
from keras_genmodels.layers import KLDivergenceRegularizer
from keras_genmodels.layers import Sampling
from keras_genmodels.layers import diagonal_gaussian_kl
from keras_genmodels.layers import standard_normal_kl



def _kl_normal_by_quadrature(m1, s1, m2, s2):
    """KL(N(m1, s1^2) || N(m2, s2^2)) = int q log(q / p), by adaptive quadrature."""

    def integrand(t):
        log_q = -0.5 * ((t - m1) / s1) ** 2 - np.log(s1)
        log_p = -0.5 * ((t - m2) / s2) ** 2 - np.log(s2)
        return np.exp(log_q) / np.sqrt(2 * np.pi) * (log_q - log_p)

    value, _ = integrate.quad(integrand, m1 - 20 * s1, m1 + 20 * s1, epsabs=1e-12, epsrel=1e-10)
    return value


def kl_by_quadrature(mean, log_var, prior_mean=0.0, prior_log_var=0.0):
    """Element-wise Gaussian KL in float64, broadcasting the prior parameters."""
    args = np.broadcast_arrays(*(np.asarray(a, "float64")
                                 for a in (mean, log_var, prior_mean, prior_log_var)))
    m1, lv1, m2, lv2 = args
    return np.vectorize(_kl_normal_by_quadrature)(m1, np.exp(0.5 * lv1), m2, np.exp(0.5 * lv2))


def _posterior(batch=5, dim=3):
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(batch, dim)).astype("float32")
    log_var = rng.normal(scale=0.7, size=(batch, dim)).astype("float32")
    return mean, log_var


def kl_to_standard_normal(mean, log_var):
    """KL(N(mean, diag(exp(log_var))) || N(0, I)) per row, by quadrature."""
    return kl_by_quadrature(mean, log_var).sum(-1)


@pytest.mark.all_backends
def test_standard_normal_kl_vs_quadrature():
    mean, log_var = _posterior()
    got = keras.ops.convert_to_numpy(standard_normal_kl(mean, log_var))
    assert got.shape == (5,)
    np.testing.assert_allclose(got, kl_to_standard_normal(mean, log_var), rtol=1e-5)
    # KL(N(0, I) || N(0, I)) = 0.
    zeros = np.zeros((2, 3), "float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(standard_normal_kl(zeros, zeros)), 0.0)


@pytest.mark.all_backends
def test_diagonal_gaussian_kl_general_pair_vs_quadrature():
    mean, log_var = _posterior()
    prior_mean, prior_log_var = _posterior()
    prior_mean, prior_log_var = prior_mean[::-1].copy(), prior_log_var[::-1].copy()
    got = keras.ops.convert_to_numpy(
        diagonal_gaussian_kl(mean, log_var, prior_mean, prior_log_var))
    assert got.shape == mean.shape  # element-wise
    np.testing.assert_allclose(got, kl_by_quadrature(mean, log_var, prior_mean, prior_log_var),
                               rtol=1e-5, atol=1e-6)
    # Scalar prior parameters broadcast.
    got = keras.ops.convert_to_numpy(diagonal_gaussian_kl(mean, log_var, 0.5, -1.0))
    np.testing.assert_allclose(got, kl_by_quadrature(mean, log_var, 0.5, -1.0),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.all_backends
@pytest.mark.parametrize("weight", [1.0, 0.25])
def test_regularizer_layer_adds_weighted_batch_mean_and_passes_inputs(weight):
    mean, log_var = _posterior()
    layer = KLDivergenceRegularizer(weight=weight)
    out_mean, out_log_var = layer([mean, log_var])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(out_mean), mean)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(out_log_var), log_var)
    assert len(layer.losses) == 1
    expected = weight * kl_to_standard_normal(mean, log_var).mean()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.losses[0]), expected, rtol=1e-5)


@pytest.mark.all_backends
def test_activity_regularizer_gives_the_same_loss():
    mean, log_var = _posterior()
    stats = np.concatenate([mean, log_var], axis=-1)
    # A Dense layer with identity kernel and zero bias outputs ``stats`` itself.
    dense = keras.layers.Dense(6, kernel_initializer="identity",
                               activity_regularizer=KLDivergence(0.5))
    out = dense(stats)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out), stats, rtol=1e-6, atol=1e-6)
    assert len(dense.losses) == 1
    layer = KLDivergenceRegularizer(weight=0.5)
    layer([mean, log_var])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(dense.losses[0]),
                               keras.ops.convert_to_numpy(layer.losses[0]), rtol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(dense.losses[0]),
                               0.5 * kl_to_standard_normal(mean, log_var).mean(), rtol=1e-5)


def test_argument_and_input_errors():
    for cls in (KLDivergenceRegularizer, KLDivergence):
        with pytest.raises(ValueError, match="weight"):
            cls(weight=-1.0)
        with pytest.raises(ValueError, match="weight"):
            cls(weight=float("nan"))
    mean, _ = _posterior()
    with pytest.raises(ValueError, match=r"\[z_mean, z_log_var\]"):
        KLDivergenceRegularizer()(mean)
    with pytest.raises(ValueError, match="same shape"):
        KLDivergenceRegularizer()([mean, mean[:, :2]])
    with pytest.raises(ValueError, match="even size"):
        KLDivergence()(keras.ops.convert_to_tensor(mean))


def test_config_round_trips():
    layer = KLDivergenceRegularizer(weight=0.3, name="kl")
    clone = KLDivergenceRegularizer.from_config(layer.get_config())
    assert clone.weight == 0.3 and clone.name == "kl"
    reg = KLDivergence(0.7)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(reg))
    assert isinstance(restored, KLDivergence) and restored.weight == 0.7
    assert keras.regularizers.get(keras.regularizers.serialize(reg)).weight == 0.7


# ------------------------------------------------- a user's own functional VAE
def _user_vae(use_activity_regularizer=False, dim=12, latent=2):
    x_in = keras.Input((dim,))
    h = keras.layers.Dense(16, activation="tanh")(x_in)
    if use_activity_regularizer:
        stats = keras.layers.Dense(2 * latent, activity_regularizer=KLDivergence(1.0))(h)
        z_mean, z_log_var = keras.ops.split(stats, 2, axis=-1)
    else:
        z_mean = keras.layers.Dense(latent)(h)
        z_log_var = keras.layers.Dense(latent)(h)
        z_mean, z_log_var = KLDivergenceRegularizer(weight=1.0)([z_mean, z_log_var])
    z = Sampling(seed=0)([z_mean, z_log_var])
    h = keras.layers.Dense(16, activation="tanh")(z)
    out = keras.layers.Dense(dim, activation="sigmoid")(h)
    return keras.Model(x_in, out)


def _binary_data(n=64, dim=12):
    rng = np.random.default_rng(1)
    proto = (rng.random((2, dim)) > 0.5).astype("float32")
    x = proto[rng.integers(0, 2, n)]
    flip = rng.random(x.shape) < 0.05
    return np.where(flip, 1 - x, x).astype("float32")


@pytest.mark.all_backends
@pytest.mark.parametrize("use_activity_regularizer", [False, True])
def test_users_functional_vae_trains_with_plain_compile(use_activity_regularizer):
    model = _user_vae(use_activity_regularizer)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    x = _binary_data()
    # model.losses holds exactly the KL term, equal to the closed form.
    model(x)
    assert len(model.losses) == 1
    assert tuple(model.losses[0].shape) == ()
    history = model.fit(x, x, epochs=6, batch_size=16, verbose=0)
    losses = history.history["loss"]
    assert all(np.isfinite(losses))
    assert losses[-1] < losses[0]


@pytest.mark.all_backends
def test_model_losses_equal_closed_form_kl_in_user_vae():
    model = _user_vae()
    x = _binary_data(8)
    model(x)
    dense_mean, dense_log_var = model.layers[2], model.layers[3]
    h = keras.Model(model.inputs[0], model.layers[1].output)(x)
    mean = keras.ops.convert_to_numpy(dense_mean(h))
    log_var = keras.ops.convert_to_numpy(dense_log_var(h))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.losses[0]),
                               kl_to_standard_normal(mean, log_var).mean(), rtol=1e-5)
    # The compiled loss is binary cross-entropy plus that KL.
    model.compile(loss="binary_crossentropy")
    y_pred = model(x)
    total = keras.ops.convert_to_numpy(model.compute_loss(x=x, y=x, y_pred=y_pred))
    bce = keras.ops.convert_to_numpy(keras.losses.binary_crossentropy(x, y_pred)).mean()
    np.testing.assert_allclose(total, bce + keras.ops.convert_to_numpy(model.losses[0]),
                               rtol=1e-5)


@pytest.mark.all_backends
@pytest.mark.parametrize("use_activity_regularizer", [False, True])
def test_user_vae_save_load_round_trip(tmp_path, use_activity_regularizer):
    model = _user_vae(use_activity_regularizer)
    x = _binary_data(8)
    model(x)
    path = str(tmp_path / "user_vae.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x)),
                                  keras.ops.convert_to_numpy(model(x)))
    loaded(x)
    assert len(loaded.losses) == 1
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded.losses[0]),
                               keras.ops.convert_to_numpy(model.losses[0]), rtol=1e-6)
