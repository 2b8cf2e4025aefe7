"""Tests of the VAE's IWAE training objective (``num_samples > 1``, Burda et al. 2016)."""

import math

import keras
import numpy as np
import pytest
from scipy.special import log_expit, logsumexp

from keras_genmodels import models
from tests.models.test_vae import _binary, _linear_gaussian_vae, _linear_networks

D, LATENT = 6, 2


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _numpy_iwae(vae, x, eps, beta):
    """float64 log-weights (k, n), IWAE bound (n,), recon NLL (k, n), KL (n,)."""
    We, be = [w.astype("float64") for w in vae.encoder.get_layer("mean").get_weights()]
    Wv, bv = [w.astype("float64") for w in vae.encoder.get_layer("log_var").get_weights()]
    Wd, bd = [w.astype("float64") for w in vae.decoder.get_layer("out").get_weights()]
    x = x.astype("float64")
    m, lv = x @ We + be, x @ Wv + bv
    z = m[None] + np.exp(0.5 * lv)[None] * eps.astype("float64")
    logits = z @ Wd + bd
    log_px = np.sum(x * log_expit(logits) + (1 - x) * log_expit(-logits), axis=-1)
    log_pz = -0.5 * np.sum(math.log(2 * math.pi) + z ** 2, axis=-1)
    log_qz = -0.5 * np.sum(math.log(2 * math.pi) + lv + (z - m) ** 2 / np.exp(lv), axis=-1)
    log_w = log_px + beta * (log_pz - log_qz)
    bound = logsumexp(log_w, axis=0) - math.log(len(eps))
    kl = 0.5 * np.sum(np.exp(lv) + m ** 2 - 1.0 - lv, axis=-1)
    return log_w, bound, -log_px, kl


@pytest.mark.all_backends
@pytest.mark.parametrize("k,beta", [(4, 1.0), (3, 0.5)])
def test_loss_equals_numpy_iwae_bound_with_the_same_noise(k, beta):
    # Posterior std exp(0.5 * 0.3): the k draws differ, so the log-mean-exp
    # is not the mean of the log-weights.
    encoder, decoder = _linear_networks(log_var_bias=0.3)
    vae = models.VAE(encoder, decoder, beta=beta, seed=7, num_samples=k)
    x = _binary(5)
    # The model's SeedGenerator(7) makes one draw of shape (k, batch, latent).
    eps = _np(keras.random.normal((k, 5, LATENT), dtype="float32",
                                  seed=keras.random.SeedGenerator(7)))
    log_w, bound, recon, kl = _numpy_iwae(vae, x, eps, beta)
    values = {name: float(_np(v)) for name, v in vae.compute_losses(x).items()}
    np.testing.assert_allclose(values["loss"], -bound.mean(), rtol=1e-5)
    np.testing.assert_allclose(values["reconstruction_loss"], recon.mean(), rtol=1e-5)
    np.testing.assert_allclose(values["kl_loss"], kl.mean(), rtol=1e-5)
    # For the same draws, the bound is above the mean log-weight (a one-sample
    # ELBO estimate per draw) - strictly, since the weights differ.
    assert np.all(bound > log_w.mean(axis=0) + 1e-3)
    # The per-example terms are exposed as well.
    vae2 = models.VAE(encoder, decoder, beta=beta, seed=7, num_samples=k)
    b, r, kl2 = (_np(t) for t in vae2.iwae_terms(x))
    np.testing.assert_allclose(b, bound, rtol=1e-5)
    np.testing.assert_allclose(r, recon.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(kl2, kl, rtol=1e-5)
    # Sample weights weight the per-example bounds.
    w = np.array([0.0, 1.0, 2.0, 0.5, 1.5], "float32")
    vae3 = models.VAE(encoder, decoder, beta=beta, seed=7, num_samples=k)
    loss = float(_np(vae3.compute_losses(x, sample_weight=w)["loss"]))
    np.testing.assert_allclose(loss, -np.sum(w * bound) / np.sum(w), rtol=1e-5)


def test_iwae_bound_is_exact_with_the_true_posterior_and_tighter_otherwise():
    # Linear-Gaussian model: with the true posterior every importance weight
    # equals p(x), so the k-sample loss is -mean log p(x) for any draw.
    ref, x, exact = _linear_gaussian_vae(exact_posterior=True)
    x = x[:60]
    log_px, _ = exact(x)
    iwae = models.VAE(ref.encoder, ref.decoder, likelihood=ref.likelihood, seed=0, num_samples=5)
    np.testing.assert_allclose(float(_np(iwae.compute_losses(x)["loss"])), -log_px.mean(),
                               rtol=1e-4)
    # An imperfect posterior: ELBO < IWAE_5 < IWAE_50 <= log p(x) on average.
    ref, x, exact = _linear_gaussian_vae(exact_posterior=False)
    log_px, elbo = exact(x)
    bounds = {}
    for k in (1, 5, 50):
        vae = models.VAE(ref.encoder, ref.decoder, likelihood=ref.likelihood, seed=1,
                         num_samples=k)
        bounds[k] = -np.mean([float(_np(vae.compute_losses(x)["loss"])) for _ in range(3)])
    gap = np.mean(log_px - elbo)
    assert abs(bounds[1] - elbo.mean()) < 0.1 * gap
    # IWAE_5 closes about 30% of the gap (0.29-0.31 over seeds and backends).
    assert elbo.mean() + 0.25 * gap < bounds[5] < bounds[50] < log_px.mean() + 0.02


def test_fit_reports_metrics_and_the_bound_is_above_the_elbo():
    import tensorflow as tf  # tf.data input: TensorFlow only

    encoder, decoder = models.mlp_vae_networks((D,), LATENT, hidden_units=(8,))
    vae = models.VAE(encoder, decoder, seed=0, num_samples=5)
    vae.compile(optimizer=keras.optimizers.Adam(0.01))
    x = _binary(70)
    # A dataset whose last batch is smaller: the sample axis is built dynamically.
    ds = tf.data.Dataset.from_tensor_slices(x).batch(32)
    history = vae.fit(ds, epochs=5, shuffle=False, verbose=0)
    keys = {"loss", "reconstruction_loss", "kl_loss"}
    assert set(history.history) == keys
    assert history.history["loss"][-1] < history.history["loss"][0]
    result = vae.evaluate(x, batch_size=70, verbose=0, return_dict=True)
    assert set(result) == keys and all(np.isfinite(v) for v in result.values())
    # -loss is the IWAE bound, -(recon + kl) the ELBO: the bound is higher.
    assert result["loss"] < result["reconstruction_loss"] + result["kl_loss"] - 1e-3
    # Trained with the bound, the importance-sampled likelihood still works.
    assert np.all(np.isfinite(vae.log_likelihood(x, num_samples=10, seed=0)))


def test_num_samples_argument_and_config():
    encoder, decoder = models.mlp_vae_networks((D,), LATENT, hidden_units=(4,))
    for bad in (0, 2.0, True, None):
        with pytest.raises(ValueError, match="num_samples"):
            models.VAE(encoder, decoder, num_samples=bad)
    vae = models.VAE(encoder, decoder, num_samples=3)
    assert vae.get_config()["num_samples"] == 3
    clone = models.VAE.from_config(vae.get_config())
    assert clone.num_samples == 3
    assert models.VAE(encoder, decoder).get_config()["num_samples"] == 1


def test_keras_round_trip_of_an_iwae_model(tmp_path):
    encoder, decoder = models.mlp_vae_networks((D,), LATENT, hidden_units=(8,))
    vae = models.VAE(encoder, decoder, seed=2, num_samples=4)
    vae.compile(optimizer=keras.optimizers.Adam(0.01))
    x = _binary(32)
    vae.fit(x, epochs=1, batch_size=8, shuffle=False, verbose=0)
    path = str(tmp_path / "iwae.keras")
    vae.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.num_samples == 4
    for a, b in zip(vae.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(_np(loaded.reconstruct(x)), _np(vae.reconstruct(x)))
    # Same weights, optimizer and random state: the same IWAE losses.
    h1 = vae.fit(x, epochs=1, batch_size=8, shuffle=False, verbose=0).history
    h2 = loaded.fit(x, epochs=1, batch_size=8, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h2["loss"], h1["loss"], rtol=1e-5)
