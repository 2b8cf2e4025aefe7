"""Tests of the VAE model: the ELBO against NumPy, training, likelihood estimates, saving."""

import math

import keras
import numpy as np
import pytest
from scipy.special import log_expit
from scipy.stats import multivariate_normal

from keras_genmodels import likelihoods
from keras_genmodels import models

D, LATENT = 6, 2


def _binary(n, dim=D, seed=0):
    rng = np.random.default_rng(seed)
    proto = (rng.random((3, dim)) > 0.5).astype("float32")
    x = proto[rng.integers(0, 3, n)]
    return np.where(rng.random(x.shape) < 0.1, 1 - x, x).astype("float32")


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _small_vae(seed=0, **kwargs):
    encoder, decoder = models.mlp_vae_networks((D,), LATENT, hidden_units=(8,))
    return models.VAE(encoder, decoder, seed=seed, **kwargs)


# ------------------------------------------------------- ELBO against NumPy
def _linear_networks(log_var_bias, dim=D, latent=LATENT, rng_seed=0):
    """Linear encoder (mean; log-var = constant bias) and linear decoder."""
    rng = np.random.default_rng(rng_seed)
    x_in = keras.Input((dim,))
    mean = keras.layers.Dense(latent, name="mean")(x_in)
    log_var = keras.layers.Dense(latent, kernel_initializer="zeros",
                                 bias_initializer=keras.initializers.Constant(log_var_bias),
                                 name="log_var")(x_in)
    encoder = keras.Model(x_in, [mean, log_var])
    z_in = keras.Input((latent,))
    decoder = keras.Model(z_in, keras.layers.Dense(dim, name="out")(z_in))
    encoder.get_layer("mean").set_weights(
        [rng.normal(size=(dim, latent)).astype("float32"),
         rng.normal(size=(latent,)).astype("float32")])
    decoder.get_layer("out").set_weights(
        [rng.normal(size=(latent, dim)).astype("float32"),
         rng.normal(size=(dim,)).astype("float32")])
    return encoder, decoder


def _numpy_bernoulli_elbo_terms(vae, x):
    """float64 recon NLL and KL per example when z == z_mean (log-var -> -inf)."""
    We, be = [w.astype("float64") for w in vae.encoder.get_layer("mean").get_weights()]
    lv = vae.encoder.get_layer("log_var").get_weights()[1].astype("float64")
    Wd, bd = [w.astype("float64") for w in vae.decoder.get_layer("out").get_weights()]
    x = x.astype("float64")
    m = x @ We + be
    logits = m @ Wd + bd
    recon = -np.sum(x * log_expit(logits) + (1 - x) * log_expit(-logits), axis=-1)
    kl = 0.5 * np.sum(np.exp(lv) + m ** 2 - 1.0 - lv, axis=-1)
    return recon, kl


@pytest.mark.all_backends
def test_loss_equals_hand_computed_elbo():
    # Encoder log-variance -30: z = mean + 3e-7 * eps, so the ELBO is deterministic.
    encoder, decoder = _linear_networks(log_var_bias=-30.0)
    vae = models.VAE(encoder, decoder, likelihood="bernoulli", beta=0.7, seed=1)
    x = _binary(10)
    recon, kl = _numpy_bernoulli_elbo_terms(vae, x)
    assert kl.mean() > 20  # the KL term is large, so a missing one would show
    values = {k: float(_np(v)) for k, v in vae.compute_losses(x).items()}
    np.testing.assert_allclose(values["reconstruction_loss"], recon.mean(), rtol=1e-5)
    np.testing.assert_allclose(values["kl_loss"], kl.mean(), rtol=1e-5)
    np.testing.assert_allclose(values["loss"], recon.mean() + 0.7 * kl.mean(), rtol=1e-5)
    # The same numbers through the compiled test step, and with sample weights.
    vae.compile(optimizer="adam")
    result = vae.evaluate(x, batch_size=10, verbose=0, return_dict=True)
    np.testing.assert_allclose(result["loss"], recon.mean() + 0.7 * kl.mean(), rtol=1e-5)
    np.testing.assert_allclose(result["reconstruction_loss"], recon.mean(), rtol=1e-5)
    np.testing.assert_allclose(result["kl_loss"], kl.mean(), rtol=1e-5)
    w = np.linspace(0.0, 2.0, 10).astype("float32")
    result = vae.evaluate(x, sample_weight=w, batch_size=10, verbose=0, return_dict=True)
    expected = np.sum(w * (recon + 0.7 * kl)) / np.sum(w)
    np.testing.assert_allclose(result["loss"], expected, rtol=1e-5)


@pytest.mark.all_backends
def test_beta_variable():
    encoder, decoder = _linear_networks(log_var_bias=-30.0)
    vae = models.VAE(encoder, decoder, beta=0.0, seed=1)
    x = _binary(8)
    values = vae.compute_losses(x)
    assert float(_np(values["kl_loss"])) > 1.0
    np.testing.assert_allclose(_np(values["loss"]), _np(values["reconstruction_loss"]), rtol=1e-6)
    vae.beta.assign(2.0)
    values = vae.compute_losses(x)
    np.testing.assert_allclose(
        _np(values["loss"]),
        _np(values["reconstruction_loss"]) + 2.0 * _np(values["kl_loss"]), rtol=1e-5)
    assert not vae.beta.trainable
    assert all(v is not vae.beta for v in vae.trainable_weights)
    assert vae.get_config()["beta"] == 0.0


def test_extra_losses_of_the_networks_are_added():
    x_in = keras.Input((D,))
    h = keras.layers.Dense(4, kernel_regularizer=keras.regularizers.L2(0.5))(x_in)
    encoder = keras.Model(x_in, [keras.layers.Dense(LATENT)(h), keras.layers.Dense(LATENT)(h)])
    _, decoder = models.mlp_vae_networks((D,), LATENT, hidden_units=(4,))
    vae = models.VAE(encoder, decoder, beta=1.0, seed=0)
    values = vae.compute_losses(_binary(4))
    kernel = _np(encoder.layers[1].kernel)
    penalty = 0.5 * np.sum(kernel ** 2)
    np.testing.assert_allclose(
        _np(values["loss"]),
        _np(values["reconstruction_loss"]) + _np(values["kl_loss"]) + penalty, rtol=1e-5)


# ----------------------------------------------- likelihood estimates
def _linear_gaussian_vae(exact_posterior, s=0.5, dim=3, latent=2):
    """x = z W + b + s * noise: log p(x) and the ELBO are known in closed form."""
    rng = np.random.default_rng(5)
    # Orthogonal rows of W make the true posterior covariance diagonal.
    W = np.array([[1.2, 1.2, 0.0], [0.7, -0.7, 0.0]])
    b = np.array([0.3, -0.2, 0.5])
    cov = np.diag(1.0 / (1.0 + np.sum(W ** 2, axis=1) / s ** 2))
    if exact_posterior:
        K = W.T @ cov / s ** 2
        kb = -b @ K
        lv = np.log(np.diag(cov))
    else:
        K = rng.normal(scale=0.5, size=(dim, latent))
        kb = rng.normal(scale=0.3, size=(latent,))
        lv = np.log(np.diag(cov)) + np.array([0.8, -0.6])
    encoder, decoder = _linear_networks(log_var_bias=0.0, dim=dim, latent=latent)
    encoder.get_layer("mean").set_weights([K.astype("float32"), kb.astype("float32")])
    encoder.get_layer("log_var").set_weights(
        [np.zeros((dim, latent), "float32"), lv.astype("float32")])
    decoder.get_layer("out").set_weights([W.astype("float32"), b.astype("float32")])
    vae = models.VAE(encoder, decoder, likelihood=likelihoods.Gaussian(scale=s), seed=3)

    def exact(x):
        x = x.astype("float64")
        log_px = multivariate_normal(b, W.T @ W + s ** 2 * np.eye(dim)).logpdf(x)
        m = x @ K + kb
        v = np.exp(lv)
        sq = np.sum((x - m @ W - b) ** 2, axis=-1) + np.sum(v[:, None] * W ** 2)
        e_log_lik = -0.5 * sq / s ** 2 - dim * math.log(s) - 0.5 * dim * math.log(2 * math.pi)
        kl = 0.5 * np.sum(v + m ** 2 - 1.0 - lv, axis=-1)
        return log_px, e_log_lik - kl

    x = (rng.normal(size=(400, latent)) @ W + b + s * rng.normal(size=(400, dim)))
    return vae, x.astype("float32"), exact


@pytest.mark.all_backends
def test_log_likelihood_is_exact_with_the_true_posterior():
    vae, x, exact = _linear_gaussian_vae(exact_posterior=True)
    x = x[:50]
    log_px, elbo = exact(x)
    np.testing.assert_allclose(elbo, log_px, rtol=1e-9, atol=1e-9)  # sanity of the reference
    for k in (1, 7):
        est = vae.log_likelihood(x, num_samples=k, batch_size=20, chunk_size=3, seed=0)
        assert est.shape == (50,)
        np.testing.assert_allclose(est, log_px, rtol=1e-4, atol=1e-4)


def test_elbo_and_importance_sampling_bounds():
    vae, x, exact = _linear_gaussian_vae(exact_posterior=False)
    log_px, elbo = exact(x)
    gap = np.mean(log_px - elbo)
    assert gap > 0.2  # an imperfect posterior
    n = len(x)
    # k = 1 is an unbiased estimate of the ELBO.
    ll1 = vae.log_likelihood(x, num_samples=1, batch_size=200, seed=0)
    diff = ll1 - elbo
    assert abs(diff.mean()) < 4 * diff.std() / np.sqrt(n) + 1e-3
    # The training loss is an unbiased estimate of -ELBO too.
    loss = float(_np(vae.compute_losses(x)["loss"]))
    assert abs(-loss - elbo.mean()) < 4 * diff.std() / np.sqrt(n) + 1e-3
    # k = 50 is a tighter bound: above the ELBO, below log p(x) on average.
    ll50 = vae.log_likelihood(x, num_samples=50, batch_size=200, seed=0)
    assert ll50.mean() > elbo.mean() + 0.5 * gap
    d = ll50 - log_px
    assert d.mean() < 4 * d.std() / np.sqrt(n)
    # Reproducible with a seed; different without one.
    np.testing.assert_array_equal(
        vae.log_likelihood(x[:20], num_samples=5, seed=1),
        vae.log_likelihood(x[:20], num_samples=5, seed=1))
    assert not np.array_equal(vae.log_likelihood(x[:20], num_samples=5),
                              vae.log_likelihood(x[:20], num_samples=5))


def test_bernoulli_importance_sampling_beats_elbo_on_average():
    vae = _small_vae(seed=0)
    x = _binary(200)
    ll1 = vae.log_likelihood(x, num_samples=1, seed=0)
    ll50 = vae.log_likelihood(x, num_samples=50, seed=1)
    assert ll50.mean() > ll1.mean()
    assert np.all(ll50 < 0)  # log-mass of binary data
    # k = 1 agrees with the training loss (both estimate the ELBO).
    losses = [float(_np(vae.compute_losses(x)["loss"])) for _ in range(5)]
    assert abs(-np.mean(losses) - ll1.mean()) < 0.05 * abs(ll1.mean())


# ----------------------------------------------------------- training
def test_fit_dataset_validation_split_and_evaluate():
    import tensorflow as tf  # tf.data input: TensorFlow only

    vae = _small_vae()
    vae.compile(optimizer=keras.optimizers.Adam(0.01))
    x = _binary(64)
    keys = {"loss", "reconstruction_loss", "kl_loss"}
    ds = tf.data.Dataset.from_tensor_slices(x).batch(16)
    history = vae.fit(ds, epochs=4, shuffle=False, verbose=0)
    assert set(history.history) == keys
    assert history.history["loss"][-1] < history.history["loss"][0]
    history = vae.fit(x, epochs=1, batch_size=16, validation_split=0.2, verbose=0)
    assert set(history.history) == keys | {f"val_{k}" for k in keys}
    result = vae.evaluate(x, batch_size=32, verbose=0, return_dict=True)
    assert set(result) == keys
    assert all(np.isfinite(v) for v in result.values())
    np.testing.assert_allclose(result["loss"], result["reconstruction_loss"] + result["kl_loss"],
                               rtol=1e-5)


def test_encode_decode_reconstruct_sample_shapes():
    encoder, decoder = models.mlp_vae_networks((4, 4, 1), 3, hidden_units=(8,))
    vae = models.VAE(encoder, decoder, seed=0)
    assert vae.latent_dim == 3
    x = (np.random.rand(5, 4, 4, 1) > 0.5).astype("float32")
    z_mean, z_log_var = vae.encode(x)
    assert tuple(z_mean.shape) == (5, 3) and tuple(z_log_var.shape) == (5, 3)
    assert tuple(vae.decode(z_mean).shape) == (5, 4, 4, 1)
    recon = _np(vae.reconstruct(x))
    assert recon.shape == (5, 4, 4, 1) and np.all((recon > 0) & (recon < 1))
    np.testing.assert_allclose(recon, 1 / (1 + np.exp(-_np(vae.decode(z_mean)))), rtol=1e-5)
    for mode in ("mean", "sample", "params"):
        assert tuple(vae.sample(7, seed=0, mode=mode).shape) == (7, 4, 4, 1)
    binary = _np(vae.sample(7, mode="sample"))
    assert set(np.unique(binary)) <= {0.0, 1.0}
    # A single-output encoder holding [z_mean, z_log_var].
    x_in = keras.Input((4, 4, 1))
    stats = keras.layers.Dense(6)(keras.layers.Flatten()(x_in))
    vae2 = models.VAE(keras.Model(x_in, stats), decoder)
    assert vae2.latent_dim == 3
    z_mean2, z_log_var2 = vae2.encode(x)
    both = _np(vae2.encoder(x))
    np.testing.assert_array_equal(_np(z_mean2), both[:, :3])
    np.testing.assert_array_equal(_np(z_log_var2), both[:, 3:])


def test_sample_is_reproducible_with_a_seed():
    vae = _small_vae()
    for mode in ("mean", "sample"):
        a = _np(vae.sample(6, seed=0, mode=mode))
        b = _np(vae.sample(6, seed=0, mode=mode))
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, _np(vae.sample(6, seed=1, mode=mode)))
    assert not np.array_equal(_np(vae.sample(6)), _np(vae.sample(6)))


# ------------------------------------------------------------- errors
def test_invalid_data_errors():
    import tensorflow as tf  # tf.data input: TensorFlow only

    vae = _small_vae()
    vae.compile(optimizer="adam")
    good = _binary(16)
    non_binary = good * 0.5
    nan = good.copy()
    nan[3, 2] = np.nan
    with pytest.raises(ValueError, match="binary"):
        vae.fit(non_binary, epochs=1, batch_size=8, verbose=0)
    with pytest.raises(ValueError, match="binary"):
        vae.fit(tf.data.Dataset.from_tensor_slices(non_binary).batch(8), epochs=1,
                shuffle=False, verbose=0)
    with pytest.raises(ValueError, match="binary"):
        vae.evaluate(non_binary, verbose=0)
    with pytest.raises(ValueError, match="binary"):
        vae.log_likelihood(non_binary, num_samples=2)
    with pytest.raises(ValueError, match="NaN"):
        vae.fit(nan, epochs=1, batch_size=8, verbose=0)
    with pytest.raises(ValueError, match="NaN"):
        vae.log_likelihood(nan, num_samples=2)
    with pytest.raises(ValueError, match="binary"):
        vae.reconstruct(non_binary)
    # After the errors the model still trains on valid data.
    assert np.isfinite(vae.fit(good, epochs=1, batch_size=8, verbose=0).history["loss"][0])


def test_sample_weight_without_y_is_used_or_rejected():
    class SupervisedVAE(models.VAE):
        _ignores_y = False

    encoder, decoder = models.mlp_vae_networks((D,), LATENT, hidden_units=(4,))
    model = SupervisedVAE(encoder, decoder)
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="sample_weight without y"):
        model.fit(_binary(4), sample_weight=np.ones(4, "float32"), verbose=0)
    # The VAE itself (y unused) passes x as y; ``args`` stay untouched otherwise.
    vae = models.VAE(encoder, decoder)
    x, w = _binary(4), np.ones(4, "float32")
    args, kwargs = vae._keep_sample_weight((x,), {"sample_weight": w})
    assert args == (x,) and kwargs["y"] is x
    args, kwargs = vae._keep_sample_weight((x, x), {"sample_weight": w})
    assert args == (x, x) and "y" not in kwargs


def test_constructor_and_argument_errors():
    encoder, decoder = models.mlp_vae_networks((D,), LATENT, hidden_units=(4,))
    with pytest.raises(ValueError, match="keras.Model"):
        models.VAE(keras.layers.Dense(4), decoder)
    with pytest.raises(ValueError, match="beta"):
        models.VAE(encoder, decoder, beta=-1.0)
    with pytest.raises(ValueError, match="Unknown likelihood"):
        models.VAE(encoder, decoder, likelihood="poisson")
    x_in = keras.Input((D,))
    bad = keras.Model(x_in, [keras.layers.Dense(2)(x_in), keras.layers.Dense(3)(x_in)])
    with pytest.raises(ValueError, match="same shape"):
        models.VAE(bad, decoder)
    odd = keras.Model(x_in, keras.layers.Dense(3)(x_in))
    with pytest.raises(ValueError, match="2 \\* latent_dim"):
        models.VAE(odd, decoder)
    vae = models.VAE(encoder, decoder)
    with pytest.raises(ValueError, match="n must be"):
        vae.sample(0)
    with pytest.raises(ValueError, match="mode"):
        vae.sample(2, mode="median")
    with pytest.raises(ValueError, match="num_samples"):
        vae.log_likelihood(_binary(2), num_samples=0)
    with pytest.raises(ValueError, match="batch_size"):
        vae.log_likelihood(_binary(2), batch_size=0)


# ------------------------------------------------------------- saving
def test_keras_round_trip_restores_weights_optimizer_and_training(tmp_path):
    vae = _small_vae(seed=4, beta=0.5)
    vae.compile(optimizer=keras.optimizers.Adam(0.01))
    x = _binary(32)
    vae.fit(x, epochs=1, batch_size=8, shuffle=False, verbose=0)
    vae.beta.assign(0.8)
    path = str(tmp_path / "vae.keras")
    vae.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, models.VAE)
    assert isinstance(loaded.likelihood, likelihoods.Bernoulli)
    assert loaded.seed == 4 and loaded.latent_dim == LATENT
    assert float(_np(loaded.beta)) == pytest.approx(0.8)
    for a, b in zip(vae.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(_np(loaded.reconstruct(x)), _np(vae.reconstruct(x)))
    np.testing.assert_array_equal(_np(loaded.reconstruct(x)), _np(vae.reconstruct(x)))
    # Optimizer state (iterations and Adam moments) restored.
    assert int(_np(loaded.optimizer.iterations)) == 4
    assert len(loaded.optimizer.variables) == len(vae.optimizer.variables)
    for a, b in zip(vae.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(_np(a), _np(b))
    # Training continues identically (same weights, optimizer and RNG state).
    h1 = vae.fit(x, epochs=1, batch_size=8, shuffle=False, verbose=0).history
    h2 = loaded.fit(x, epochs=1, batch_size=8, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h2["loss"], h1["loss"], rtol=1e-5)
    for a, b in zip(vae.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert int(_np(loaded.optimizer.iterations)) == 8


def test_get_config_round_trip_with_gaussian_likelihood():
    encoder, decoder = models.mlp_vae_networks((D,), LATENT, hidden_units=(4,))
    vae = models.VAE(encoder, decoder, likelihood=likelihoods.Gaussian(scale=0.3),
                     beta=2.0, seed=9, name="my_vae")
    clone = models.VAE.from_config(vae.get_config())
    assert clone.name == "my_vae" and clone.seed == 9 and clone.initial_beta == 2.0
    assert isinstance(clone.likelihood, likelihoods.Gaussian) and clone.likelihood.scale == 0.3
    assert clone.latent_dim == LATENT
