"""GAN: theory checks (optimal discriminator, learning a 1-D Gaussian), saving, resuming, errors."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_genmodels import losses
from keras_genmodels import models

SHAPE = (8, 8, 1)
LATENT = 4


def _adam(lr=1e-3):
    return keras.optimizers.Adam(lr, beta_1=0.5)


def _tiny_gan(num_classes=None, **kwargs):
    g = models.dcgan_generator(SHAPE, LATENT, base_filters=4, num_classes=num_classes)
    d = models.dcgan_discriminator(SHAPE, base_filters=4, num_classes=num_classes, dropout=0.0)
    gan = models.GAN(g, d, LATENT, seed=3, num_classes=num_classes, **kwargs)
    # Eager steps: these tiny models run a handful of steps, where tracing
    # the train function would cost more than it saves (on JAX eager compiles
    # every op on its own: one jitted step is cheaper there).
    gan.compile(d_optimizer=_adam(), g_optimizer=_adam(),
                run_eagerly=keras.backend.backend() != "jax")
    return gan


def _images(n=32, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n,) + SHAPE).astype("float32")


def _opt_values(opt):
    return [ops.convert_to_numpy(v) for v in opt.variables]


def _assert_same_state(a, b):
    for x, y in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)
    for name in a.optimizer_names:
        va, vb = _opt_values(getattr(a, name)), _opt_values(getattr(b, name))
        assert len(va) == len(vb) > 2
        for x, y in zip(va, vb):
            np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------ theory
def test_optimal_discriminator_matches_density_ratio():
    """Frozen generator G(z) = z + 1: p_g = N(1, 1), p_data = N(0, 1).

    D*(x) = p_data / (p_data + p_g) = sigmoid(1/2 - x), which a logistic
    regression represents exactly.
    """
    z = keras.Input((1,))
    shift = keras.layers.Dense(1, kernel_initializer="ones", bias_initializer="ones")
    generator = keras.Model(z, shift(z))
    generator.trainable = False
    discriminator = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    gan = models.GAN(generator, discriminator, 1, loss="minimax", seed=0)
    gan.compile(d_optimizer=keras.optimizers.Adam(0.05), g_optimizer=keras.optimizers.SGD(0.1))
    x = np.random.default_rng(0).normal(size=(8192, 1)).astype("float32")
    gan.fit(x, batch_size=512, epochs=8, verbose=0)
    np.testing.assert_allclose(generator.get_weights()[1], [1.0])  # frozen
    points = np.array([[-1.0], [0.0], [0.5], [1.0], [2.0]], "float32")
    d_star = 1.0 / (1.0 + np.exp(-(0.5 - points.ravel())))
    d_hat = ops.convert_to_numpy(ops.sigmoid(discriminator(points))).ravel()
    np.testing.assert_allclose(d_hat, d_star, atol=0.03)


def test_gan_learns_1d_gaussian():
    keras.utils.set_random_seed(0)
    z = keras.Input((1,))
    generator = keras.Model(z, keras.layers.Dense(1)(z))
    xin = keras.Input((1,))
    h = keras.layers.Dense(16, activation="leaky_relu")(xin)
    h = keras.layers.Dense(16, activation="leaky_relu")(h)
    discriminator = keras.Model(xin, keras.layers.Dense(1)(h))
    gan = models.GAN(generator, discriminator, 1, seed=0)
    gan.compile(d_optimizer=_adam(2e-2), g_optimizer=_adam(2e-2))
    data = (3.0 + 0.5 * np.random.default_rng(0).normal(size=(128 * 400, 1))).astype("float32")
    before = ops.convert_to_numpy(gan.sample(4000, seed=0))
    assert abs(before.mean() - 3.0) > 1.0  # not there by chance
    history = gan.fit(data, batch_size=128, epochs=1, verbose=0)
    samples = ops.convert_to_numpy(gan.sample(4000, seed=0))
    assert abs(samples.mean() - 3.0) < 0.15, samples.mean()
    assert abs(samples.std() - 0.5) < 0.1, samples.std()
    # At equilibrium D(x) ~ D(G(z)) ~ 1/2.
    assert 0.3 < history.history["d_real"][0] < 0.75
    assert 0.25 < history.history["d_fake"][0] < 0.7


# ---------------------------------------------------------------- training
def test_every_loss_trains_and_reports():
    x = _images(16)
    for loss in ("minimax", "non_saturating", "wasserstein", "hinge", "least_squares"):
        gan = _tiny_gan(loss=loss, r1_gamma=1.0 if loss == "hinge" else 0.0)
        logs = gan.train_on_batch(x, return_dict=True)
        assert set(logs) == {"d_loss", "g_loss", "d_real", "d_fake"}
        assert all(np.isfinite(v) for v in logs.values()), (loss, logs)
        if loss in ("minimax", "non_saturating"):
            assert 0 < logs["d_real"] < 1 and 0 < logs["d_fake"] < 1
        assert int(gan.d_optimizer.iterations) == 1 and int(gan.g_optimizer.iterations) == 1
    # The step reports the family's losses: recompute them on the same batch and noise.
    gan = _tiny_gan(loss="least_squares")
    state = ops.convert_to_numpy(gan.seed_generator.state)
    fake = gan.generator(gan._noise(16), training=True)
    real_logits = gan.discriminator(x, training=True)
    fake_logits = gan.discriminator(fake, training=True)
    expected = losses.least_squares_discriminator_loss(real_logits, fake_logits)
    gan.seed_generator.state.assign(state)
    logs = gan.train_on_batch(x, return_dict=True)
    np.testing.assert_allclose(logs["d_loss"], float(expected), rtol=1e-5)
    np.testing.assert_allclose(logs["d_real"], float(ops.mean(real_logits)), rtol=1e-5)


@pytest.mark.all_backends
def test_wasserstein_penalty_and_d_steps():
    gan = _tiny_gan(loss="wasserstein", d_steps=3)
    assert gan.penalty_weight == 10.0
    x = _images(16)
    gan.train_on_batch(x)
    assert int(gan.d_optimizer.iterations) == 3 and int(gan.g_optimizer.iterations) == 1
    # The reported d_loss includes the penalty: recompute it at the same noise.
    fake = ops.zeros_like(x)
    with_gp = gan.discriminator_losses(x, fake)["d_loss"]
    gan.penalty_weight = 0.0
    without = gan.discriminator_losses(x, fake)["d_loss"]
    assert float(ops.convert_to_numpy(with_gp)) > float(ops.convert_to_numpy(without))


@pytest.mark.all_backends
def test_ema_generator_is_the_moving_average():
    gan = _tiny_gan(ema=0.9)
    w0 = [w.copy() for w in gan.generator.get_weights()]
    np.testing.assert_allclose(gan.ema_generator.get_weights()[0], w0[0])
    gan.train_on_batch(_images(16))
    w1 = gan.generator.get_weights()
    trainable = {id(v) for v in gan.generator.trainable_weights}
    for avg, v, before, after in zip(gan.ema_generator.get_weights(), gan.generator.weights, w0, w1):
        expected = 0.9 * before + 0.1 * after if id(v) in trainable else after
        np.testing.assert_allclose(avg, expected, rtol=1e-5, atol=1e-6)
    a = ops.convert_to_numpy(gan.sample(4, seed=1))
    b = ops.convert_to_numpy(gan.sample(4, seed=1, use_ema=False))
    assert not np.allclose(a, b)
    assert gan.ema_generator.trainable_weights == []


def test_sample_is_reproducible():
    gan = _tiny_gan()
    a, b = gan.sample(6, seed=5), gan.sample(6, seed=5)
    np.testing.assert_array_equal(ops.convert_to_numpy(a), ops.convert_to_numpy(b))
    assert tuple(a.shape) == (6,) + SHAPE
    assert not np.allclose(ops.convert_to_numpy(a), ops.convert_to_numpy(gan.sample(6, seed=6)))


def test_conditional_gan_uses_labels():
    gan = _tiny_gan(num_classes=3)
    x, y = _images(32), np.arange(32) % 3
    history = gan.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert np.isfinite(history.history["g_loss"][0])
    scores = gan.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    assert set(scores) == {"d_loss", "g_loss", "d_real", "d_fake"}
    a = ops.convert_to_numpy(gan.sample(4, seed=0, labels=np.zeros(4, "int32")))
    b = ops.convert_to_numpy(gan.sample(4, seed=0, labels=np.full(4, 2, "int32")))
    assert not np.allclose(a, b)  # same z, different labels
    c = ops.convert_to_numpy(gan.sample(3, seed=0))  # cycles 0, 1, 2
    np.testing.assert_allclose(c[0], a[0], atol=1e-6)
    with pytest.raises(ValueError, match="must be"):
        gan.fit(x, batch_size=16, epochs=1, verbose=0)


# ------------------------------------------------------------------ saving
def test_save_load_round_trip_and_resume(tmp_path):
    gan = _tiny_gan(ema=0.99)
    x = _images(32)
    gan.fit(x, batch_size=16, epochs=1, verbose=0, shuffle=False)
    path = str(tmp_path / "gan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, models.GAN)
    assert loaded.get_config()["ema"] == 0.99 and loaded.adversarial_loss.name == "non_saturating"
    _assert_same_state(gan, loaded)
    assert int(loaded.d_optimizer.iterations) == 2
    np.testing.assert_array_equal(ops.convert_to_numpy(gan.sample(4, seed=0)),
                                  ops.convert_to_numpy(loaded.sample(4, seed=0)))
    # Training continues identically: the optimizers' moments, the seed
    # generator and the EMA copy were all restored.
    gan.fit(x, batch_size=16, epochs=1, verbose=0, shuffle=False)
    loaded.fit(x, batch_size=16, epochs=1, verbose=0, shuffle=False)
    assert int(loaded.g_optimizer.iterations) == 4
    _assert_same_state(gan, loaded)


def test_conditional_wasserstein_round_trip(tmp_path):
    gan = _tiny_gan(num_classes=3, loss="wasserstein", d_steps=2)
    gan.train_on_batch(_images(16), np.arange(16) % 3)
    path = str(tmp_path / "cgan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.conditional and loaded.d_steps == 2 and loaded.penalty_weight == 10.0
    _assert_same_state(gan, loaded)
    labels = np.array([2, 1, 0], "int32")
    np.testing.assert_array_equal(ops.convert_to_numpy(gan.sample(3, seed=1, labels=labels)),
                                  ops.convert_to_numpy(loaded.sample(3, seed=1, labels=labels)))


class _Interrupt(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            raise RuntimeError("interrupted")


def test_backup_and_restore_resumes_interrupted_fit(tmp_path):
    x = _images(16)
    reference = _tiny_gan()
    config, initial = reference.get_config(), reference.get_weights()
    reference.fit(x, batch_size=16, epochs=3, verbose=0, shuffle=False)

    def fresh():  # what a restarted process builds before calling fit again
        model = models.GAN.from_config(config)
        model.set_weights(initial)
        model.compile(d_optimizer=_adam(), g_optimizer=_adam(), run_eagerly=True)
        return model

    backup_dir = str(tmp_path / "backup")
    interrupted = fresh()
    with pytest.raises(RuntimeError, match="interrupted"):
        interrupted.fit(x, batch_size=16, epochs=3, verbose=0, shuffle=False,
                        callbacks=[keras.callbacks.BackupAndRestore(backup_dir), _Interrupt()])
    assert int(interrupted.d_optimizer.iterations) == 1
    resumed = fresh()
    history = resumed.fit(x, batch_size=16, epochs=3, verbose=0, shuffle=False,
                          callbacks=[keras.callbacks.BackupAndRestore(backup_dir)])
    assert len(history.history["d_loss"]) == 2  # epochs 2 and 3 only
    assert int(resumed.g_optimizer.iterations) == 3
    _assert_same_state(reference, resumed)


# ------------------------------------------------------------------ errors
def test_compile_errors():
    gan = _tiny_gan()
    with pytest.raises(ValueError, match="Missing: \\['g_optimizer'\\]"):
        gan.compile(d_optimizer="adam")
    with pytest.raises(ValueError, match="distinct optimizer"):
        opt = _adam()
        gan.compile(d_optimizer=opt, g_optimizer=opt)
    with pytest.raises(ValueError, match="unexpected arguments"):
        gan.compile(optimizer="adam", d_optimizer="adam", g_optimizer="adam")


def test_construction_errors():
    g = models.dcgan_generator(SHAPE, LATENT, base_filters=4)
    d = models.dcgan_discriminator(SHAPE, base_filters=4)
    with pytest.raises(ValueError, match="latent_dim=5 does not match"):
        models.GAN(g, d, 5)
    x = keras.Input(SHAPE)
    two = keras.Model(x, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    with pytest.raises(ValueError, match="shape \\(batch, 1\\)"):
        models.GAN(g, two, LATENT)
    with pytest.raises(ValueError, match="Unknown GAN loss"):
        models.GAN(g, d, LATENT, loss="wgan")
    with pytest.raises(ValueError, match="ema"):
        models.GAN(g, d, LATENT, ema=1.5)
    with pytest.raises(ValueError, match="d_steps"):
        models.GAN(g, d, LATENT, d_steps=0)
    other = models.dcgan_discriminator((12, 12, 1), base_filters=4)
    with pytest.raises(ValueError, match="discriminator does not accept"):
        models.GAN(g, other, LATENT)
    gan = models.GAN(g, d, LATENT)
    gan.compile(d_optimizer="adam", g_optimizer="adam")
    with pytest.raises(ValueError, match="unconditional"):
        gan.train_on_batch(_images(4), np.zeros(4))


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3), (64, 64, 3)])
def test_builders_shapes(shape):
    g = models.dcgan_generator(shape, 8, base_filters=4)
    d = models.dcgan_discriminator(shape, base_filters=4)
    images = g(np.zeros((2, 8), "float32"))
    assert tuple(images.shape) == (2,) + shape
    assert float(ops.max(ops.abs(images))) <= 1.0
    assert tuple(d(images).shape) == (2, 1)


def test_builder_rejects_bad_sizes():
    with pytest.raises(ValueError, match="multiples of 4"):
        models.dcgan_generator((30, 30, 1), 8)
    with pytest.raises(ValueError, match="multiples of 4"):
        models.dcgan_discriminator((28, 26, 3))
    with pytest.raises(ValueError, match="image_shape"):
        models.dcgan_discriminator((28, 28))
