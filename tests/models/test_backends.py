"""Every model, on whichever Keras backend runs the suite (TensorFlow, JAX, torch).

Backend-neutral: only ``keras``, ``keras.ops``, NumPy and pytest (the
package's own ``_backend.input_gradients`` for the kernel gradients), so the
same file runs under ``KERAS_BACKEND=tensorflow``, ``jax`` and ``torch``.
Tiny models (12-dim binary vectors, 4x4x1 binary images, 4 filters), one
epoch each. For every model: ``fit`` changes the weights with a finite loss,
``evaluate`` reports the metrics ``fit`` reports, a ``.keras`` round trip
(``safe_mode=True``) restores the outputs, the log-likelihoods, the random
generator's state and the optimizer's, so training continues exactly as the
original's would; sampling is reproducible from an int seed and fresh with
``seed=None``; the cached image samplers return the naive sampler's images.
"""

import inspect

import keras
import numpy as np
import pytest
from keras import ops

from keras_genmodels import _backend, kernels, layers, models
from tests._networks import mlp as _mlp

pytestmark = pytest.mark.all_backends

BATCH = 16


def _binary(n, dim, seed):
    rng = np.random.default_rng(seed)
    probs = rng.random(dim) * 0.8 + 0.1
    return (rng.random((n, dim)) < probs).astype("float32")


X = _binary(32, 12, 0)
LABELS = np.arange(32) % 3
IMAGES = (np.random.default_rng(1).random((32, 4, 4, 1)) < 0.4).astype("float32")


def _vae(**kwargs):
    classes = kwargs.get("num_classes")
    enc, dec = models.mlp_vae_networks((12,), latent_dim=2, hidden_units=(8,),
                                       num_classes=classes)
    return models.VAE(enc, dec, likelihood="bernoulli", seed=0, **kwargs)


def _gan(loss, ema=None):
    return models.GAN(_mlp([2, 8, 12], "g"), _mlp([12, 8, 1], "d"), latent_dim=2, loss=loss,
                      ema=ema, seed=0)


def _pixel_cnn(**kwargs):
    kwargs = dict(dict(filters=4, num_layers=1, kernel_size=3, seed=0), **kwargs)
    return models.PixelCNN((4, 4, 1), **kwargs)


def _pixel_rnn(kind):
    return models.PixelRNN((4, 4, 1), kind=kind, hidden_units=4, num_layers=1, seed=0)


# name -> (factory, x, y): every model class and its variants (WGAN-GP, IWAE, CVAE).
CASES = {
    "gan": (lambda: _gan("non_saturating", ema=0.9), X, None),
    "wgan_gp": (lambda: _gan("wasserstein"), X, None),
    "aae": (lambda: models.AAE(_mlp([12, 8, 2], "enc"), _mlp([2, 8, 12], "dec"),
                               _mlp([2, 8, 1], "disc"), latent_dim=2, seed=0), X, None),
    "vae": (_vae, X, None),
    "iwae": (lambda: _vae(num_samples=3), X, None),
    "cvae": (lambda: _vae(num_classes=3), X, LABELS),
    "autoencoder": (lambda: models.Autoencoder(_mlp([12, 3], "e"), _mlp([3, 12], "d"),
                                               loss="bernoulli"), X, None),
    "nade": (lambda: models.NADE(12, hidden_units=6, seed=0), X, None),
    "made": (lambda: models.MADE(12, hidden_units=(8,), num_masks=2, seed=0, mask_seed=0),
             X, None),
    "markov": (lambda: models.MarkovAR(12, order=1, seed=0), X, None),
    "pixel_cnn": (_pixel_cnn, IMAGES, None),
    "gated_pixel_cnn": (lambda: models.GatedPixelCNN((4, 4, 1), filters=4, num_layers=1,
                                                      kernel_size=3, seed=0), IMAGES, None),
    "row_lstm": (lambda: _pixel_rnn("row_lstm"), IMAGES, None),
    "diagonal_bilstm": (lambda: _pixel_rnn("diagonal_bilstm"), IMAGES, None),
}
ADVERSARIAL = ("gan", "wgan_gp", "aae")
UNSAMPLED = ("autoencoder",)  # deterministic: no sample()


def _sample_kwargs(name, n):
    return {"labels": list(np.arange(n) % 3)} if name == "cvae" else {}


def _compile(name, model):
    if name in ADVERSARIAL:
        model.compile(**{opt: keras.optimizers.Adam(1e-2) for opt in model.optimizer_names})
    else:
        model.compile(optimizer=keras.optimizers.Adam(1e-2))


def _fit(model, x, y):
    return model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0).history


def _numpy(values):
    return [np.asarray(ops.convert_to_numpy(v)) for v in values]


def _optimizers(name, model):
    return [getattr(model, opt) for opt in model.optimizer_names] if name in ADVERSARIAL \
        else [model.optimizer]


def _state(name, model):
    """Weights, optimizer variables and the SeedGenerator state, as NumPy arrays."""
    state = [w.copy() for w in model.get_weights()]
    for opt in _optimizers(name, model):
        state += _numpy(opt.variables)
    if hasattr(model, "seed_generator"):
        state += _numpy([model.seed_generator.state])
    return state


def _assert_all_equal(actual, expected, what, rtol=0.0, atol=0.0):
    assert len(actual) == len(expected), what
    for i, (a, e) in enumerate(zip(actual, expected)):
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=f"{what}[{i}]")


def _sample(model, n, seed, **kwargs):
    if "verbose" in inspect.signature(model.sample).parameters:
        kwargs.setdefault("verbose", 0)
    # np.asarray directly: samples are data (on torch they must not carry an
    # autograd graph, which NumPy refuses to convert).
    return np.asarray(model.sample(n, seed=seed, **kwargs))


def _probe(name, model):
    """Deterministic outputs of the model and its log-likelihoods (NumPy arrays)."""
    if name in ("gan", "wgan_gp"):
        z = np.random.default_rng(3).normal(size=(4, 2)).astype("float32")
        out = [model.generator(z), model.discriminator(X[:4])]
        if model.ema_generator is not None:
            out.append(model.ema_generator(z))
        return _numpy(out)
    if name == "aae":
        return _numpy([model.encode(X[:4]), model.decode(np.zeros((2, 2), "float32"))])
    if name == "autoencoder":
        return _numpy([model.reconstruct(X[:4]), model.anomaly_score(X[:4])])
    if name in ("vae", "iwae", "cvae"):
        labels = LABELS[:4] if name == "cvae" else None
        return _numpy([model.reconstruct(X[:4], labels=labels),
                       model.log_likelihood(X[:4], num_samples=4, seed=0, labels=labels)])
    x = CASES[name][1][:4]
    return _numpy([model(x), model.log_prob(x)])


@pytest.mark.parametrize("name", sorted(CASES))
def test_fit_evaluate_save_reload_and_continue(name, tmp_path):
    factory, x, y = CASES[name]
    model = factory()
    _compile(name, model)
    initial = [w.copy() for w in model.get_weights()]
    assert initial, "the model is built at construction"
    history = _fit(model, x, y)
    before = [w.copy() for w in model.get_weights()]
    assert history and all(np.isfinite(v).all() for v in history.values()), history
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(initial, before)) > 0, \
        "fit did not change the weights"
    logs = model.evaluate(x, y, batch_size=BATCH, verbose=0, return_dict=True)
    assert sorted(logs) == sorted(history), (logs, history)
    assert all(np.isfinite(v) for v in logs.values()), logs

    if hasattr(model, "seed_generator"):
        # Advance the SeedGenerator beyond where training left it (density
        # models do not draw while training): the file must hold its state.
        model.seed_generator.next()
    path = str(tmp_path / f"{name}.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is type(model)
    _assert_all_equal(loaded.get_weights(), model.get_weights(), "weights")
    _assert_all_equal(_probe(name, loaded), _probe(name, model), "outputs / log-likelihoods",
                      rtol=1e-6, atol=1e-6)
    # Optimizer slots and iterations, and the SeedGenerator's state (what
    # sample(seed=None) and the training noise draw from), came back.
    _assert_all_equal(_state(name, loaded), _state(name, model), "optimizer + seed state")

    # One more epoch of each: identical weights, optimizer state and seed state.
    _fit(model, x, y)
    _fit(loaded, x, y)
    after = _state(name, model)
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(before, model.get_weights())) > 0
    _assert_all_equal(_state(name, loaded), after, "state after continued training",
                      rtol=1e-5, atol=1e-6)


IMAGE_MODELS = ("pixel_cnn", "gated_pixel_cnn", "row_lstm", "diagonal_bilstm")


# The image models' seeds are checked with their cached sampler below.
@pytest.mark.parametrize("name", sorted(set(CASES) - set(UNSAMPLED) - set(IMAGE_MODELS)))
def test_sampling_is_reproducible_from_a_seed(name):
    model = CASES[name][0]()
    kwargs = _sample_kwargs(name, 4)
    first = _sample(model, 4, 7, **kwargs)
    np.testing.assert_array_equal(_sample(model, 4, 7, **kwargs), first)
    assert first.shape[0] == 4 and np.all(np.isfinite(first))
    assert not np.array_equal(_sample(model, 4, 8, **kwargs), first)
    # seed=None draws from (and advances) the model's SeedGenerator.
    assert not np.array_equal(_sample(model, 4, None, **kwargs),
                              _sample(model, 4, None, **kwargs))


def _peaked(model, seed=7):
    """Random weights and biases: context-dependent, non-degenerate conditionals."""
    rng = np.random.default_rng(seed)
    model.set_weights([
        rng.normal(scale=0.8 if w.ndim > 1 else 0.3, size=w.shape).astype("float32")
        if w.dtype.kind == "f" else w
        for w in model.get_weights()
    ])
    return model


CACHED = {
    # Per-channel (R -> G -> B) categorical conditionals, two residual blocks.
    "pixel_cnn": lambda: models.PixelCNN((3, 3, 3), filters=6, num_layers=2, kernel_size=3,
                                         likelihood="categorical", seed=0),
    "gated_pixel_cnn": lambda: models.GatedPixelCNN((4, 4, 1), filters=4, num_layers=1,
                                                    kernel_size=5, num_classes=2, seed=0),
    "row_lstm": lambda: _pixel_rnn("row_lstm"),
    "diagonal_bilstm": lambda: _pixel_rnn("diagonal_bilstm"),
}


@pytest.mark.parametrize("name", sorted(CACHED))
def test_cached_sampler_equals_naive(name):
    model = _peaked(CACHED[name]())
    kwargs = {"labels": [0, 1, 1, 0, 1, 0]} if name == "gated_pixel_cnn" else {}
    naive = _sample(model, 6, 11, method="naive", **kwargs)
    cached = _sample(model, 6, 11, method="cached", **kwargs)
    np.testing.assert_array_equal(cached, naive)
    assert len({image.tobytes() for image in cached}) > 1  # not degenerate
    # The default method is the cached sampler; the seed is all that matters.
    np.testing.assert_array_equal(_sample(model, 6, 11, **kwargs), cached)
    assert not np.array_equal(_sample(model, 6, 12, **kwargs), cached)
    assert not np.array_equal(_sample(model, 6, None, **kwargs),
                              _sample(model, 6, None, **kwargs))


# ------------------------------------------------------------ kernels
@pytest.mark.parametrize("kernel_size,mask_type,groups", [(3, "A", 1), (5, "B", 3), (1, "A", 3)])
def test_fused_masked_conv_matches_reference(kernel_size, mask_type, groups):
    rng = np.random.default_rng(0)
    cin, cout = 3, 6
    x = rng.normal(size=(2, 5, 4, cin)).astype("float32")
    kernel = rng.normal(size=(kernel_size, kernel_size, cin, cout)).astype("float32")
    bias = rng.normal(size=(cout,)).astype("float32")
    kw = dict(mask_type=mask_type, color_groups=groups, activation="tanh")
    for method in ("split", "shifted"):
        def fused(t, k=kernel):
            return kernels.masked_conv2d(t, k, bias, method=method, **kw)

        def ref(t, k=kernel):
            return kernels.reference_masked_conv2d(t, k, bias, **kw)

        np.testing.assert_allclose(_numpy([fused(x)])[0], _numpy([ref(x)])[0], atol=1e-5)
        # Input and kernel gradients of sum(f) agree too (masked taps: zero in both).
        np.testing.assert_allclose(_numpy([_backend.input_gradients(fused, x)])[0],
                                   _numpy([_backend.input_gradients(ref, x)])[0], atol=1e-4)
        dk_fused = _backend.input_gradients(lambda k: fused(x, k), kernel)
        dk_ref = _backend.input_gradients(lambda k: ref(x, k), kernel)
        np.testing.assert_allclose(_numpy([dk_fused])[0], _numpy([dk_ref])[0], atol=1e-4)


def test_masked_conv_layer_implementations_agree():
    x = np.random.default_rng(1).normal(size=(2, 5, 5, 3)).astype("float32")
    auto = layers.MaskedConv2D(6, 3, mask_type="A", color_groups=3, activation="relu",
                               bias_initializer="random_normal")
    ref = layers.MaskedConv2D(6, 3, mask_type="A", color_groups=3, activation="relu",
                              implementation="reference")
    y = _numpy([auto(x)])[0]
    ref(x)
    ref.set_weights(auto.get_weights())
    np.testing.assert_allclose(y, _numpy([ref(x)])[0], atol=1e-5)
    xla = layers.MaskedConv2D(6, 3, mask_type="A", color_groups=3, activation="relu",
                              implementation="fused_xla")
    if keras.backend.backend() == "torch":
        with pytest.raises(ValueError, match="XLA"):
            xla(x)
    else:
        xla(x)
        xla.set_weights(auto.get_weights())
        np.testing.assert_allclose(_numpy([xla(x)])[0], y, atol=1e-5)
