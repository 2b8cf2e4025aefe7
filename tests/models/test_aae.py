"""AAE: codes matched to the prior, priors, saving and resuming, errors."""

import keras
import numpy as np
import pytest
import tensorflow_probability as tfp
from keras import ops

from keras_genmodels import models

DIM, LATENT = 4, 2
MEANS = [[2.0, 2.0], [2.0, -2.0], [-2.0, 2.0], [-2.0, -2.0]]
MIXTURE = {"type": "gaussian_mixture", "means": MEANS, "stddev": 0.3}


def _nets(gaussian=False, latent=LATENT, dim=DIM):
    x = keras.Input((dim,))
    h = keras.layers.Dense(32, activation="relu")(x)
    if gaussian:
        encoder = keras.Model(x, [keras.layers.Dense(latent)(h), keras.layers.Dense(latent)(h)])
    else:
        encoder = keras.Model(x, keras.layers.Dense(latent)(h))
    z = keras.Input((latent,))
    decoder = keras.Model(z, keras.layers.Dense(dim)(keras.layers.Dense(32, activation="relu")(z)))
    z = keras.Input((latent,))
    h = keras.layers.Dense(32, activation="relu")(z)
    h = keras.layers.Dense(32, activation="relu")(h)
    discriminator = keras.Model(z, keras.layers.Dense(1)(h))
    return encoder, decoder, discriminator


def _compile(aae, lr=3e-3, **kwargs):
    aae.compile(r_optimizer=keras.optimizers.Adam(lr),
                d_optimizer=keras.optimizers.Adam(lr, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(lr, beta_1=0.5), **kwargs)
    return aae


def _opt_values(opt):
    return [ops.convert_to_numpy(v) for v in opt.variables]


def _assert_same_state(a, b):
    for x, y in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)
    for name in ("r_optimizer", "d_optimizer", "g_optimizer"):
        va, vb = _opt_values(getattr(a, name)), _opt_values(getattr(b, name))
        assert len(va) == len(vb) > 2
        for x, y in zip(va, vb):
            np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)


def test_codes_match_standard_normal_prior():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(128 * 250, DIM)) @ rng.normal(size=(DIM, DIM))).astype("float32")
    aae = _compile(models.AAE(*_nets(), LATENT, likelihood="gaussian", seed=0))
    history = aae.fit(x, batch_size=128, epochs=1, verbose=0)
    assert set(history.history) == {"reconstruction_loss", "d_loss", "g_loss"}
    codes = ops.convert_to_numpy(aae.encode(x[:4000]))
    np.testing.assert_allclose(codes.mean(axis=0), 0.0, atol=0.2)
    np.testing.assert_allclose(codes.std(axis=0), 1.0, atol=0.2)
    # Near the adversarial equilibrium the discriminator is confused: d_loss ~ 2 log 2.
    assert abs(history.history["d_loss"][0] - 2 * np.log(2)) < 0.15


def test_codes_cover_every_mode_of_mixture_prior():
    rng = np.random.default_rng(1)
    centers = 3.0 * rng.normal(size=(4, DIM))
    x = (centers[rng.integers(0, 4, 128 * 250)] + 0.2 * rng.normal(size=(128 * 250, DIM))).astype(
        "float32"
    )
    aae = _compile(models.AAE(*_nets(), LATENT, prior=MIXTURE, likelihood="gaussian", seed=0))
    aae.fit(x, batch_size=128, epochs=1, verbose=0)
    codes = ops.convert_to_numpy(aae.encode(x[:4000]))
    means = np.array(MEANS)
    dist = np.sqrt(((codes[:, None] - means[None]) ** 2).sum(-1))
    nearest = dist.argmin(axis=1)
    share = np.bincount(nearest, minlength=4) / len(codes)
    assert np.all(share > 0.15), share  # every mode is used (1/4 each ideally)
    assert np.mean(dist.min(axis=1) < 3 * 0.3) > 0.9  # and codes sit inside the modes


def test_mixture_prior_sampler_statistics():
    prior = {"type": "gaussian_mixture", "means": [[-3.0], [3.0]], "stddev": [0.5, 1.0],
             "weights": [0.7, 0.3]}
    aae = models.AAE(*_nets(latent=1), 1, prior=prior)
    z = ops.convert_to_numpy(aae.prior_sample(20000, seed=0)).ravel()
    np.testing.assert_array_equal(z, ops.convert_to_numpy(aae.prior_sample(20000, seed=0)).ravel())
    left, right = z[z < 0], z[z > 0]
    assert abs(len(left) / len(z) - 0.7) < 0.02
    assert abs(left.mean() + 3.0) < 0.03 and abs(left.std() - 0.5) < 0.03
    assert abs(right.mean() - 3.0) < 0.06 and abs(right.std() - 1.0) < 0.05


def test_gaussian_encoder_with_tfp_prior():
    tfd = tfp.distributions
    prior = tfd.MixtureSameFamily(
        tfd.Categorical(probs=[0.5, 0.5]),
        tfd.MultivariateNormalDiag(loc=[[-2.0, 0.0], [2.0, 0.0]], scale_diag=[[0.3, 0.3]] * 2),
    )
    aae = _compile(models.AAE(*_nets(gaussian=True), LATENT, prior=prior, likelihood="gaussian"),
                   run_eagerly=True)
    assert aae.gaussian_encoder
    x = np.random.default_rng(0).normal(size=(32, DIM)).astype("float32")
    logs = aae.train_on_batch(x, return_dict=True)
    assert all(np.isfinite(v) for v in logs.values())
    scores = aae.evaluate(x, batch_size=16, verbose=0, return_dict=True)
    assert set(scores) == {"reconstruction_loss", "d_loss", "g_loss"}
    a = ops.convert_to_numpy(aae.prior_sample(2000, seed=3))
    np.testing.assert_array_equal(a, ops.convert_to_numpy(aae.prior_sample(2000, seed=3)))
    assert abs(np.abs(a[:, 0]).mean() - 2.0) < 0.1 and abs(a[:, 1].std() - 0.3) < 0.03
    # Gaussian encoder: encode returns the mean (deterministic).
    np.testing.assert_array_equal(ops.convert_to_numpy(aae.encode(x)),
                                  ops.convert_to_numpy(aae.encoder(x)[0]))
    with pytest.raises(ValueError, match="cannot serialize prior"):
        aae.get_config()


def test_callable_prior_and_weights_round_trip(tmp_path):
    def prior(n, seed):
        return keras.random.uniform((n, LATENT), minval=-1.0, maxval=1.0, seed=seed)

    aae = _compile(models.AAE(*_nets(), LATENT, prior=prior, likelihood="gaussian", seed=2),
                   run_eagerly=True)
    z = ops.convert_to_numpy(aae.prior_sample(1000, seed=0))
    assert z.min() >= -1 and z.max() <= 1 and z.std() > 0.5
    x = np.random.default_rng(0).normal(size=(32, DIM)).astype("float32")
    aae.train_on_batch(x)
    path = str(tmp_path / "aae.weights.h5")
    aae.save_weights(path)  # weights (and optimizer states) work without a config
    again = _compile(models.AAE(*_nets(), LATENT, prior=prior, likelihood="gaussian"))
    again.load_weights(path)
    _assert_same_state(aae, again)


def test_save_load_round_trip_and_resume(tmp_path):
    rng = np.random.default_rng(0)
    x = (rng.uniform(size=(64, DIM)) < 0.3).astype("float32")
    aae = _compile(models.AAE(*_nets(), LATENT, prior=MIXTURE, likelihood="bernoulli", seed=1),
                   run_eagerly=True)
    aae.fit(x, batch_size=32, epochs=1, verbose=0, shuffle=False)
    path = str(tmp_path / "aae.keras")
    aae.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, models.AAE)
    assert loaded.prior_spec["type"] == "gaussian_mixture" and loaded.likelihood.__class__.__name__ == "Bernoulli"
    _assert_same_state(aae, loaded)
    np.testing.assert_array_equal(ops.convert_to_numpy(aae.encode(x)), ops.convert_to_numpy(loaded.encode(x)))
    np.testing.assert_array_equal(ops.convert_to_numpy(aae.sample(5, seed=0)),
                                  ops.convert_to_numpy(loaded.sample(5, seed=0)))
    assert int(loaded.r_optimizer.iterations) == 2
    aae.fit(x, batch_size=32, epochs=1, verbose=0, shuffle=False)
    loaded.fit(x, batch_size=32, epochs=1, verbose=0, shuffle=False)
    _assert_same_state(aae, loaded)


def test_errors():
    enc, dec, dis = _nets()
    aae = models.AAE(enc, dec, dis, LATENT)
    with pytest.raises(ValueError, match="Missing: \\['r_optimizer'\\]"):
        aae.compile(d_optimizer="adam", g_optimizer="adam")
    with pytest.raises(ValueError, match="latent_dim=3 does not match"):
        models.AAE(enc, dec, dis, 3)
    z = keras.Input((LATENT,))
    bad_dis = keras.Model(z, keras.layers.Dense(3)(z))
    with pytest.raises(ValueError, match="shape \\(batch, 1\\)"):
        models.AAE(enc, dec, bad_dis, LATENT)
    z3 = keras.Input((3,))
    with pytest.raises(ValueError, match="decoder does not accept"):
        models.AAE(enc, keras.Model(z3, keras.layers.Dense(DIM)(z3)), dis, LATENT)
    with pytest.raises(ValueError, match="Unknown prior spec"):
        models.AAE(enc, dec, dis, LATENT, prior={"type": "laplace"})
    with pytest.raises(ValueError, match="means of shape"):
        models.AAE(enc, dec, dis, LATENT, prior={"type": "gaussian_mixture", "means": [[0.0]]})
    with pytest.raises(ValueError, match="prior must be"):
        models.AAE(enc, dec, dis, LATENT, prior=3)
    _compile(aae, run_eagerly=True)
    x = np.zeros((4, DIM), "float32")
    with pytest.raises(ValueError, match="unsupervised"):
        aae.train_on_batch(x, x)
    with pytest.raises(ValueError):  # Bernoulli data must be binary
        aae.train_on_batch(x + 0.5)
