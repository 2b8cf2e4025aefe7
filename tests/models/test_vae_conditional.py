"""Tests of the conditional VAE (``models.VAE(..., num_classes=K)``)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.special import log_expit

from keras_genmodels import models

SHAPE = (4, 4, 1)
K, LATENT = 2, 2


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _halves(n, seed=0, flip=0.05):
    """Class 0: top half of a 4x4 image on; class 1: bottom half on (5% flipped pixels)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, n)
    x = np.zeros((n,) + SHAPE, "float32")
    x[y == 0, :2] = 1.0
    x[y == 1, 2:] = 1.0
    x = np.where(rng.random(x.shape) < flip, 1.0 - x, x).astype("float32")
    return x, y.astype("int64")


def _cvae(seed=0, **kwargs):
    encoder, decoder = models.mlp_vae_networks(SHAPE, LATENT, hidden_units=(16,), num_classes=K)
    return models.VAE(encoder, decoder, seed=seed, num_classes=K, **kwargs)


def test_builders_make_conditional_networks():
    encoder, decoder = models.mlp_vae_networks(SHAPE, 3, hidden_units=(8,), num_classes=5)
    assert [tuple(t.shape) for t in encoder.inputs] == [(None,) + SHAPE, (None, 5)]
    assert [tuple(t.shape) for t in decoder.inputs] == [(None, 3), (None, 5)]
    with pytest.raises(ValueError, match="num_classes"):
        models.mlp_vae_networks(SHAPE, 3, num_classes=0)


def test_elbo_uses_the_labels_in_both_networks():
    # Linear networks on [x, y] and [z, y]; log-variance -30 makes z = z_mean.
    rng = np.random.default_rng(0)
    x_in, y_in = keras.Input((6,)), keras.Input((K,))
    h = keras.layers.Concatenate()([x_in, y_in])
    mean = keras.layers.Dense(LATENT, name="mean")(h)
    log_var = keras.layers.Dense(LATENT, kernel_initializer="zeros",
                                 bias_initializer=keras.initializers.Constant(-30.0))(h)
    encoder = keras.Model([x_in, y_in], [mean, log_var])
    z_in, yd_in = keras.Input((LATENT,)), keras.Input((K,))
    out = keras.layers.Dense(6, name="out")(keras.layers.Concatenate()([z_in, yd_in]))
    decoder = keras.Model([z_in, yd_in], out)
    for net, name, fan_in, units in ((encoder, "mean", 6 + K, LATENT),
                                     (decoder, "out", LATENT + K, 6)):
        net.get_layer(name).set_weights([rng.normal(size=(fan_in, units)).astype("float32"),
                                         rng.normal(size=(units,)).astype("float32")])
    vae = models.VAE(encoder, decoder, num_classes=K, seed=0)
    x = (rng.random((8, 6)) > 0.5).astype("float32")
    labels = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    onehot = np.eye(K)[labels]
    We, be = vae.encoder.get_layer("mean").get_weights()
    Wd, bd = vae.decoder.get_layer("out").get_weights()
    m = np.concatenate([x, onehot], 1) @ We + be
    logits = np.concatenate([m, onehot], 1) @ Wd + bd
    recon = -np.sum(x * log_expit(logits) + (1 - x) * log_expit(-logits), axis=-1)
    kl = 0.5 * np.sum(np.exp(-30.0) + m ** 2 - 1.0 + 30.0, axis=-1)
    for given in (labels, onehot.astype("float32"), labels.astype("float32")[:, None]):
        values = vae.compute_losses(x, labels=given)
        np.testing.assert_allclose(_np(values["reconstruction_loss"]), recon.mean(), rtol=1e-5)
        np.testing.assert_allclose(_np(values["kl_loss"]), kl.mean(), rtol=1e-5)
    # Different labels give a different loss (they are really used).
    other = vae.compute_losses(x, labels=1 - labels)
    assert abs(float(_np(other["loss"])) - (recon + kl).mean()) > 1e-2
    # The compiled test step with (x, labels) data computes the same.
    vae.compile(optimizer="adam")
    result = vae.evaluate(x, labels, batch_size=8, verbose=0, return_dict=True)
    np.testing.assert_allclose(result["loss"], (recon + kl).mean(), rtol=1e-5)


def test_samples_of_each_class_resemble_that_class():
    x, y = _halves(400)
    vae = _cvae(seed=1)
    vae.compile(optimizer=keras.optimizers.Adam(0.02))
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(400, seed=0).batch(50)
    history = vae.fit(ds, epochs=12, shuffle=False, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    for c in range(K):
        images = _np(vae.sample(64, labels=c, seed=c))
        assert images.shape == (64,) + SHAPE
        top, bottom = images[:, :2].mean(), images[:, 2:].mean()
        if c == 0:
            assert top > 0.8 and bottom < 0.2, (c, top, bottom)
        else:
            assert bottom > 0.8 and top < 0.2, (c, top, bottom)
    # A mixed batch of labels: each sample follows its own label.
    labels = np.array([0, 1] * 8)
    images = _np(vae.sample(16, labels=labels, seed=0))
    top = images[:, :2].mean(axis=(1, 2, 3))
    assert np.all((top > 0.5) == (labels == 0))
    np.testing.assert_array_equal(images, _np(vae.sample(16, labels=labels, seed=0)))
    # log p(x | y) with the true labels is far higher than with the wrong ones;
    # one-hot labels give the same estimate as integer labels.
    x_test, y_test = _halves(100, seed=5)
    right = vae.log_likelihood(x_test, labels=y_test, num_samples=10, seed=0)
    wrong = vae.log_likelihood(x_test, labels=1 - y_test, num_samples=10, seed=0)
    assert right.mean() > wrong.mean() + 5.0
    onehot = vae.log_likelihood(x_test, labels=np.eye(K)[y_test], num_samples=10, seed=0)
    np.testing.assert_allclose(onehot, right, rtol=1e-6)
    recon = _np(vae.reconstruct(x_test[:10], labels=y_test[:10]))
    assert np.mean(np.abs(recon - x_test[:10])) < 0.2
    z_mean, _ = vae.encode(x_test[:10], labels=y_test[:10])
    assert tuple(z_mean.shape) == (10, LATENT)
    assert tuple(vae.decode(z_mean, labels=y_test[:10]).shape) == (10,) + SHAPE


def test_missing_and_out_of_range_labels():
    vae = _cvae()
    vae.compile(optimizer="adam")
    x, y = _halves(16)
    with pytest.raises(ValueError, match="needs labels"):
        vae.fit(x, epochs=1, batch_size=8, verbose=0)
    with pytest.raises(ValueError, match="needs labels"):
        vae.fit(tf.data.Dataset.from_tensor_slices(x).batch(8), epochs=1, shuffle=False, verbose=0)
    with pytest.raises(ValueError, match="sample_weight without y"):
        vae.fit(x, sample_weight=np.ones(16, "float32"), verbose=0)
    for method in (lambda: vae.sample(4), lambda: vae.log_likelihood(x, num_samples=2),
                   lambda: vae.reconstruct(x), lambda: vae.encode(x),
                   lambda: vae.compute_losses(x)):
        with pytest.raises(ValueError, match="needs labels"):
            method()
    bad = y.copy()
    bad[3] = K
    with pytest.raises(ValueError, match="out of range"):
        vae.fit(x, bad, epochs=1, batch_size=8, verbose=0)
    with pytest.raises(ValueError, match="out of range"):
        vae.evaluate(x, bad - 2 * K, verbose=0)
    with pytest.raises(ValueError, match="out of range"):
        vae.sample(2, labels=[0, 7])
    with pytest.raises(ValueError, match="out of range"):
        vae.sample(2, labels=-1)
    with pytest.raises(ValueError, match="integers"):
        vae.log_likelihood(x, labels=y + 0.5, num_samples=2)
    with pytest.raises(ValueError, match="Expected 3 labels"):
        vae.sample(3, labels=[0, 1])
    with pytest.raises(ValueError, match="shape"):
        vae.sample(2, labels=np.zeros((2, K + 1)))
    # After the errors the model trains on valid data.
    assert np.isfinite(vae.fit(x, y, epochs=1, batch_size=8, verbose=0).history["loss"][0])


def test_network_inputs_must_match_num_classes():
    plain_enc, plain_dec = models.mlp_vae_networks(SHAPE, LATENT, hidden_units=(4,))
    cond_enc, cond_dec = models.mlp_vae_networks(SHAPE, LATENT, hidden_units=(4,), num_classes=K)
    with pytest.raises(ValueError, match="two inputs"):
        models.VAE(plain_enc, cond_dec, num_classes=K)
    with pytest.raises(ValueError, match="two inputs"):
        models.VAE(cond_enc, plain_dec, num_classes=K)
    with pytest.raises(ValueError, match="pass num_classes"):
        models.VAE(cond_enc, cond_dec)
    with pytest.raises(ValueError, match="num_classes=3"):
        models.VAE(cond_enc, cond_dec, num_classes=3)
    with pytest.raises(ValueError, match="num_classes"):
        models.VAE(cond_enc, cond_dec, num_classes=0)


def test_unconditional_vae_ignores_labels_in_the_data():
    encoder, decoder = models.mlp_vae_networks(SHAPE, LATENT, hidden_units=(8,))
    vae = models.VAE(encoder, decoder, seed=0)
    assert not vae.conditional and vae._ignores_y
    vae.compile(optimizer="adam")
    x, y = _halves(16)
    assert np.isfinite(vae.fit(x, y, epochs=1, batch_size=8, verbose=0).history["loss"][0])
    assert vae.get_config()["num_classes"] is None


def test_keras_round_trip_of_a_conditional_iwae_model(tmp_path):
    vae = _cvae(seed=3, num_samples=3, beta=0.5)
    vae.compile(optimizer=keras.optimizers.Adam(0.01))
    x, y = _halves(32)
    vae.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    path = str(tmp_path / "cvae.keras")
    vae.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, models.VAE)
    assert loaded.num_classes == K and loaded.num_samples == 3 and loaded.conditional
    config = loaded.get_config()
    assert config["num_classes"] == K and config["num_samples"] == 3 and config["beta"] == 0.5
    for a, b in zip(vae.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(_np(loaded.reconstruct(x, labels=y)), _np(vae.reconstruct(x, labels=y)))
    np.testing.assert_array_equal(_np(loaded.sample(5, labels=1, seed=0)),
                                  _np(vae.sample(5, labels=1, seed=0)))
    h1 = vae.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0).history
    h2 = loaded.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h2["loss"], h1["loss"], rtol=1e-5)
