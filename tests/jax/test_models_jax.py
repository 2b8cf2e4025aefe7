"""Every model trains and evaluates on KERAS_BACKEND=jax with Keras' stateless JAX trainer."""

import jax
import keras
import numpy as np
import pytest

from keras_genmodels import _backend, models
from tests.jax import _cases

X = _cases.binary_data(32, 12)
IMAGES = (np.random.default_rng(1).random((32, 4, 4, 1)) < 0.4).astype("float32")


def _mlp(sizes, name):
    layers = [keras.Input((sizes[0],))]
    for units in sizes[1:-1]:
        layers.append(keras.layers.Dense(units, activation="tanh"))
    layers.append(keras.layers.Dense(sizes[-1]))
    return keras.Sequential(layers, name=name)


def _gan(loss):
    return models.GAN(_mlp([2, 8, 12], "g"), _mlp([12, 8, 1], "d"), latent_dim=2, loss=loss,
                      seed=0, ema=0.9)


def _aae():
    return models.AAE(_mlp([12, 8, 2], "enc"), _mlp([2, 8, 12], "dec"), _mlp([2, 8, 1], "disc"),
                      latent_dim=2, seed=0)


ADVERSARIAL = {
    "gan": lambda: _gan("non_saturating"),
    "wgan_gp": lambda: _gan("wasserstein"),
    "aae": _aae,
}
LIKELIHOOD = {
    "vae": (_cases.make_vae, X),
    "autoencoder": (lambda: models.Autoencoder(_mlp([12, 3], "e"), _mlp([3, 12], "d"),
                                               loss="bernoulli"), X),
    "nade": (_cases.make_nade, X),
    "made": (lambda: models.MADE(12, hidden_units=(8,), seed=0, mask_seed=0), X),
    "markov": (lambda: models.MarkovAR(12, order=1, seed=0), X),
    "pixel_cnn": (lambda: models.PixelCNN((4, 4, 1), filters=4, num_layers=1, kernel_size=3,
                                          seed=0), IMAGES),
    "gated_pixel_cnn": (lambda: models.GatedPixelCNN((4, 4, 1), filters=4, num_layers=1,
                                                      kernel_size=3, seed=0), IMAGES),
    "row_lstm": (lambda: models.PixelRNN((4, 4, 1), kind="row_lstm", hidden_units=4,
                                         num_layers=1, seed=0), IMAGES),
    "diagonal_bilstm": (lambda: models.PixelRNN((4, 4, 1), kind="diagonal_bilstm",
                                                hidden_units=4, num_layers=1, seed=0), IMAGES),
}


def _changed(before, after):
    return max(float(np.max(np.abs(a - b))) for a, b in zip(before, after)) > 0


@pytest.mark.parametrize("name", sorted(LIKELIHOOD))
def test_fit_lowers_the_loss_and_evaluate_works(name):
    factory, x = LIKELIHOOD[name]
    model = factory()
    model.compile(optimizer=keras.optimizers.Adam(2e-2))
    before_weights = [w.copy() for w in model.get_weights()]
    before = model.evaluate(x, batch_size=16, verbose=0, return_dict=True)
    history = model.fit(x, batch_size=16, epochs=3, verbose=0, shuffle=False).history
    after = model.evaluate(x, batch_size=16, verbose=0, return_dict=True)
    assert all(np.isfinite(v).all() for v in history.values())
    assert np.isfinite(after["loss"])
    assert after["loss"] < before["loss"], (name, before, after)
    assert _changed(before_weights, model.get_weights())
    assert int(model.optimizer.iterations.numpy()) == 6
    # The trackers were updated statelessly: evaluate's loss is the batch mean.
    assert history["loss"][-1] != history["loss"][0]


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_adversarial_models_train_with_their_own_optimizers(name):
    model = ADVERSARIAL[name]()
    names = model.optimizer_names
    model.compile(**{n: keras.optimizers.Adam(1e-2) for n in names})
    x = X * 2.0 - 1.0 if name != "aae" else X
    seed_before = model.seed_generator.state.numpy().copy()
    weights = {n: [w.numpy().copy() for w in model.optimizer_variables(n)] for n in names}
    history = model.fit(x, batch_size=16, epochs=2, verbose=0).history
    assert all(np.isfinite(v).all() for v in history.values()), history
    # Every optimizer stepped 4 times and kept its state across the jitted steps.
    for n in names:
        optimizer = getattr(model, n)
        assert int(optimizer.iterations.numpy()) == 4, n
        assert any(np.abs(v.numpy()).sum() > 0 for v in optimizer.variables[2:]), n
        assert _changed(weights[n], [w.numpy() for w in model.optimizer_variables(n)]), n
    # Fresh noise every step: the model's SeedGenerator state was carried.
    assert not np.array_equal(seed_before, model.seed_generator.state.numpy())
    logs = model.evaluate(x, batch_size=16, verbose=0, return_dict=True)
    assert all(np.isfinite(v) for v in logs.values())
    if name != "aae":
        # The EMA generator (non-trainable variables) moved with the generator.
        ema = model.ema_generator.get_weights()
        assert _changed([w * 0 for w in ema], ema)


def test_gan_save_load_round_trip_on_jax(tmp_path):
    model = ADVERSARIAL["gan"]()
    model.compile(d_optimizer=keras.optimizers.Adam(1e-2), g_optimizer=keras.optimizers.Adam(1e-2))
    model.fit(X, batch_size=16, epochs=1, verbose=0)
    path = tmp_path / "gan.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    for n in model.optimizer_names:
        for a, b in zip(getattr(model, n).variables, getattr(loaded, n).variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    z = np.random.default_rng(0).normal(size=(3, 2)).astype("float32")
    np.testing.assert_allclose(np.asarray(model(z)), np.asarray(loaded(z)))
    loaded.fit(X, batch_size=16, epochs=1, verbose=0)
    assert int(loaded.g_optimizer.iterations.numpy()) == 4


@pytest.fixture(scope="module")
def step_reference(tf_reference):
    arrays, jax_results = {}, {}
    for name, factory in _cases.STEP_MODELS.items():
        weights = [w.copy() for w in factory().get_weights()]
        x = X[:16]
        for i, w in enumerate(weights):
            arrays[f"step/{name}/weight/{i}"] = w
        arrays[f"step/{name}/x"] = x
        jax_results[name] = _cases.one_train_step(name, weights, x)
    return jax_results, tf_reference(arrays)


@pytest.mark.parametrize("name", sorted(_cases.STEP_MODELS))
def test_one_jax_train_step_equals_one_tensorflow_step(name, step_reference):
    jax_results, tf_out = step_reference
    new_weights, logs = jax_results[name]
    for i, w in enumerate(new_weights):
        np.testing.assert_allclose(w, tf_out[f"step/{name}/new/{i}"], rtol=1e-4, atol=1e-5)
    for key, value in logs.items():
        np.testing.assert_allclose(value, float(tf_out[f"step/{name}/log/{key}"]), rtol=1e-5)


def _nade_log_prob_numpy(W, c, V, b, x):
    """float64 NADE: log p(x) = sum_d log Bernoulli(x_d; sigmoid(b_d + V_d . h_d))."""
    W, c, V, b, x = (np.asarray(a, "float64") for a in (W, c, V, b, x))
    out = np.zeros(len(x))
    for n in range(len(x)):
        a = c.copy()
        for d in range(x.shape[1]):
            h = 1.0 / (1.0 + np.exp(-a))
            logit = b[d] + V[d] @ h
            out[n] += x[n, d] * -np.logaddexp(0, -logit) + (1 - x[n, d]) * -np.logaddexp(0, logit)
            a += x[n, d] * W[d]
    return out


def test_nade_log_prob_matches_numpy_after_jax_training():
    model = _cases.make_nade()
    model.compile(optimizer=keras.optimizers.Adam(2e-2))
    model.fit(X, batch_size=16, epochs=2, verbose=0)
    W, c, V, b = model.get_weights()
    np.testing.assert_allclose(model.log_prob(X), _nade_log_prob_numpy(W, c, V, b, X),
                               rtol=1e-5, atol=1e-4)


def test_a_batch_failing_a_data_check_raises_and_leaves_the_model_unchanged():
    model = _cases.make_vae()
    model.compile(optimizer="adam")
    bad = X.copy()
    bad[3, 2] = 0.5  # not binary: the Bernoulli likelihood rejects the first batch
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match="binary"):
        model.fit(bad, batch_size=16, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert _backend.pop_failed_checks() == []
    model.fit(X, batch_size=16, epochs=1, verbose=0)  # still usable
    assert _changed(before, model.get_weights())


def test_train_step_called_directly_updates_the_variables():
    model = _cases.make_nade()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.optimizer.build(model.trainable_variables)
    before = [w.copy() for w in model.get_weights()]
    logs = model.train_step(X[:8])
    assert np.isfinite(float(logs["loss"]))
    assert _changed(before, model.get_weights())
    assert int(model.optimizer.iterations.numpy()) == 1


@pytest.mark.skipif(len(jax.devices()) < 2,
                    reason="needs XLA_FLAGS=--xla_force_host_platform_device_count=2")
def test_vae_trains_under_data_parallel():
    distribution = keras.distribution.DataParallel(devices=jax.devices()[:2])
    with distribution.scope():
        model = _cases.make_vae()
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        before = model.evaluate(X, batch_size=16, verbose=0, return_dict=True)["loss"]
        model.fit(X, batch_size=16, epochs=3, verbose=0)
        after = model.evaluate(X, batch_size=16, verbose=0, return_dict=True)["loss"]
    assert np.isfinite(after) and after < before
    # The weights are replicated over both devices.
    assert len(model.trainable_variables[0].value.sharding.device_set) == 2
