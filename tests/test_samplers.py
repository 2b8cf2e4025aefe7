"""The samplers package: one raster loop for every autoregressive model, against its references.

For the flat models (NADE, MADE, MarkovAR; the image models have their own
files, test_cached_sampling.py and models/test_pixel_rnn_sampling.py):
(1) teacher-forced through the cached recursion, the parameters equal the
full forward pass ``model(x)``, so the caches are right whatever the draws;
(2) with the same int seed the cached loop and the naive reference (one
forward pass per value) return identical samples. Then the layers'
incremental steps against their ``call``, the compiled-function cache and
the deprecated aliases.
"""

import warnings

import keras
import numpy as np
import pytest
from keras import ops

from keras_genmodels import layers
from keras_genmodels import models
from keras_genmodels import samplers

N = 5
FLAT = {
    "nade": lambda: models.NADE(7, hidden_units=6, seed=0),
    "nade_image": lambda: models.NADE((2, 3, 1), hidden_units=5, activation="relu", seed=0),
    "made_natural": lambda: models.MADE(7, hidden_units=(9,), seed=0),
    "made_3_masks_deep_direct": lambda: models.MADE(
        (2, 4), hidden_units=(10, 8), num_masks=3, order="random", direct_connections=True,
        seed=0),
    "markov_order_0": lambda: models.MarkovAR(6, order=0, seed=0),
    "markov_order_2": lambda: models.MarkovAR((2, 3), order=2, seed=0),
}


def randomized(name):
    """The model with large random weights (peaked, context-dependent conditionals)."""
    model = FLAT[name]()
    rng = np.random.default_rng(3)
    for w in model.trainable_weights:
        w.assign(rng.normal(0.0, 1.5, w.shape).astype("float32"))
    return model


def step_ordered(model, x, mask_index):
    """``x`` permuted into generation order (MADE's mask set order; natural otherwise)."""
    flat = x.reshape(len(x), -1)
    if isinstance(model, models.MADE):
        flat = flat[:, model.orders[mask_index]]
    return flat.reshape((len(x),) + tuple(model.raster_shape))


@pytest.mark.all_backends
@pytest.mark.parametrize("name", list(FLAT))
def test_teacher_forced_cache_reproduces_the_network(name):
    model = randomized(name)
    x = np.random.default_rng(1).integers(0, 2, (N,) + model.event_shape).astype("float32")
    for k in range(getattr(model, "num_masks", 1)):
        weights = model.cache_weights(k) if isinstance(model, models.MADE) else None
        state = samplers.run_rows(model, N, seed=0, forced=step_ordered(model, x, k),
                                  weights=weights)
        params = ops.convert_to_numpy(state["params"]).reshape(N, -1)
        full = ops.convert_to_numpy(
            model(x, mask_index=k) if isinstance(model, models.MADE) else model(x))
        expected = step_ordered(model, full, k).reshape(N, -1)
        np.testing.assert_allclose(params, expected, rtol=1e-5, atol=1e-5)
        assert np.ptp(expected, axis=0).max() > 0.5 or name == "markov_order_0"


@pytest.mark.all_backends
@pytest.mark.parametrize("name", list(FLAT))
def test_cached_and_naive_give_identical_samples(name):
    model = randomized(name)
    fast = model.sample(64, seed=7, verbose=0)
    naive = model.sample(64, seed=7, verbose=0, method="naive")
    assert fast.shape == (64,) + model.event_shape and fast.dtype == np.float32
    np.testing.assert_array_equal(fast, naive)
    assert set(np.unique(fast)) == {0.0, 1.0}
    assert len({s.tobytes() for s in fast}) > 5
    assert not np.array_equal(fast, model.sample(64, seed=8, verbose=0))


def test_cached_params_of_the_image_models_checks_its_input():
    model = models.NADE(4, hidden_units=3)
    with pytest.raises(ValueError, match="shape"):
        samplers.cached_params(model, np.zeros((2, 5), "float32"))
    with pytest.raises(ValueError, match="method"):
        model.sample(2, method="fast")
    with pytest.raises(ValueError, match="seed"):
        model.sample(2, seed=0.5)
    with pytest.raises(ValueError, match="n must"):
        models.MADE(4, hidden_units=(3,)).sample(0)


# ------------------------------------------------------- layers' incremental steps
@pytest.mark.all_backends
@pytest.mark.parametrize("kernel,mask,groups", [(3, "A", 1), (5, "B", 1), (3, "A", 3), (1, "B", 3)])
def test_masked_conv_incremental_step_equals_call(kernel, mask, groups):
    conv = layers.MaskedConv2D(6, kernel, mask_type=mask, color_groups=groups, activation="tanh")
    x = np.random.default_rng(0).normal(size=(2, 5, 6, 3)).astype("float32")
    full = ops.convert_to_numpy(conv(x))
    kernels = conv.cached_kernels()
    q = c = kernel // 2
    padded = np.pad(x, ((0, 0), (q, 0), (c, c), (0, 0)))  # row r at r + q, column j at j + c
    for i, j in [(0, 0), (2, 3), (4, 5)]:
        above = None
        if q:
            rows = conv.rows_above(ops.convert_to_tensor(padded[:, i:i + q]), kernels)
            above = ops.convert_to_tensor(ops.convert_to_numpy(rows)[:, j])
        window = padded[:, i + q, j:j + c + 1].reshape(2, -1)
        at = conv.at_pixel(ops.convert_to_tensor(window), kernels, above)
        np.testing.assert_allclose(ops.convert_to_numpy(at), full[:, i, j], rtol=1e-5, atol=1e-5)


@pytest.mark.all_backends
def test_masked_dense_incremental_step_equals_call():
    rng = np.random.default_rng(0)
    layer = layers.MaskedDense(5, mask=rng.integers(0, 2, (4, 5)), activation="relu")
    x = rng.normal(size=(3, 4)).astype("float32")
    full = ops.convert_to_numpy(layer(x))
    kernels = layer.cached_kernels()
    pre = ops.zeros((3, 1)) + kernels[1][None]
    for d in range(4):
        pre = layer.add_input(pre, ops.convert_to_tensor(x[:, d]), d, kernels)
    np.testing.assert_allclose(np.maximum(ops.convert_to_numpy(pre), 0), full, atol=1e-5)
    for d in range(5):
        out = layer.output_at(ops.convert_to_tensor(x), d, kernels)
        np.testing.assert_allclose(ops.convert_to_numpy(out), full[:, d], atol=1e-5)


# --------------------------------------------------------------- compilation
def test_compiled_functions_are_kept_per_model_and_not_model_state():
    model = models.NADE(5, hidden_units=4, seed=0)
    before = [w.path for w in model.weights]
    model.sample(3, seed=0, verbose=0)
    count = len(model.sampler_functions)
    model.sample(3, seed=1, verbose=0)
    assert len(model.sampler_functions) == count >= 1
    assert [w.path for w in model.weights] == before
    # A new weight value is read by the same compiled loop (weights are arguments).
    model.b.assign(np.full((5,), -30.0, "float32"))
    assert model.sample(3, seed=0, verbose=0).sum() == 0
    assert len(model.sampler_functions) == count


def test_deprecated_aliases_warn_and_work():
    from keras_genmodels import sampling
    from keras_genmodels.models import pixel_rnn

    model = models.PixelCNN((3, 3, 1), filters=4, num_layers=0, kernel_size=3, seed=0)
    with pytest.warns(DeprecationWarning, match="keras_genmodels.samplers.naive_sample"):
        old = sampling.naive_sample(model, 2, seed=3, verbose=0)
    np.testing.assert_array_equal(old, samplers.naive_sample(model, 2, seed=3, verbose=0))
    rnn = models.PixelRNN((3, 3, 1), hidden_units=2, num_layers=1, seed=0)
    with pytest.warns(DeprecationWarning, match="samplers.cached_sample"):
        old = pixel_rnn.cached_sample(rnn, 2, seed=3, verbose=0)
    np.testing.assert_array_equal(old, rnn.sample(2, seed=3, verbose=0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rnn.sample(2, seed=3, verbose=0)  # the new path does not warn
