"""The cached (fast) PixelCNN sampler against the naive reference sampler.

Two independent checks: (1) teacher-forced through the cached recursion, the
parameters of every conditional equal the full forward pass ``model(x)``
(float tolerance), so the caches, kernel splits and masks are right whatever
the random draws; (2) with the same seed, ``method="cached"`` and
``method="naive"`` return identical images / integer values.
"""

import numpy as np
import pytest

from keras_genmodels import models
from keras_genmodels import samplers

CASES = {
    # Plain PixelCNN: mask-A kernel 3 / 5, hidden kernels 3 / 1, 0-2 blocks.
    "plain_bernoulli_k3": dict(image_shape=(5, 5, 1), filters=8, num_layers=2, kernel_size=3),
    "plain_bernoulli_k5_h1": dict(image_shape=(4, 5, 1), filters=6, num_layers=1, kernel_size=5,
                                  hidden_kernel_size=1),
    "plain_categorical_rgb": dict(image_shape=(3, 4, 3), filters=12, num_layers=1,
                                  likelihood="categorical"),
    "plain_logistic_rgb": dict(image_shape=(4, 3, 3), filters=8, num_layers=0,
                               likelihood="logistic_mixture", num_mixtures=2),
    # Gated PixelCNN: kernels 3 / 5 / 7, conditional too.
    "gated_bernoulli_k7": dict(image_shape=(5, 4, 1), filters=8, num_layers=1, gated=True,
                               kernel_size=7, hidden_kernel_size=5),
    "gated_categorical_rgb": dict(image_shape=(4, 4, 3), filters=6, num_layers=1, gated=True,
                                  likelihood="categorical", kernel_size=3),
    "gated_logistic_rgb": dict(image_shape=(3, 4, 3), filters=8, num_layers=1, gated=True,
                               likelihood="logistic_mixture", num_mixtures=2),
    "gated_conditional": dict(image_shape=(4, 4, 1), filters=6, num_layers=1, gated=True,
                              num_classes=3, kernel_size=5, hidden_kernel_size=3),
}
N = 4


def _model(case):
    """A model with random weights and biases (peaked, context-dependent conditionals)."""
    model = models.PixelCNN(seed=0, **CASES[case])
    rng = np.random.default_rng(7)
    model.set_weights([
        rng.normal(scale=0.6 if w.ndim > 1 else 0.3, size=w.shape).astype("float32")
        if w.dtype.kind == "f" else w
        for w in model.get_weights()
    ])
    labels = [0, 1, 2, 1] if model.num_classes else None
    return model, labels


def _data(model, rng):
    if model.likelihood.__class__.__name__ == "Bernoulli":
        return rng.integers(0, 2, (N,) + model.image_shape).astype("float32")
    return rng.integers(0, 256, (N,) + model.image_shape).astype("float32")


@pytest.mark.parametrize("case", sorted(CASES))
def test_cached_recursion_equals_forward_pass_and_samples_equal_naive(case):
    model, labels = _model(case)
    x = _data(model, np.random.default_rng(1))
    condition = None if labels is None else model._condition_from(np.array(labels))
    full = model(x) if condition is None else model(x, condition=condition)
    cached = samplers.cached_params(model, x, condition)
    full = np.asarray(full)
    assert cached.shape == full.shape
    np.testing.assert_allclose(cached, full, rtol=1e-5, atol=1e-5 * np.abs(full).max())

    naive = model.sample(N, seed=11, verbose=0, method="naive", labels=labels)
    fast = model.sample(N, seed=11, verbose=0, method="cached", labels=labels)
    np.testing.assert_array_equal(fast, naive)
    assert fast.shape == (N,) + model.image_shape
    # The draws are not degenerate: the images differ from each other.
    assert len({im.tobytes() for im in fast}) > 1
    if model.likelihood.__class__.__name__ == "Bernoulli":
        assert set(np.unique(fast)) <= {0.0, 1.0}
    else:
        assert np.all(fast == np.round(fast)) and fast.min() >= 0 and fast.max() <= 255


def test_default_is_cached_and_seeds_behave():
    model, _ = _model("gated_bernoulli_k7")
    default = model.sample(3, seed=4, verbose=0)
    np.testing.assert_array_equal(default, model.sample(3, seed=4, verbose=0, method="cached"))
    assert not np.array_equal(default, model.sample(3, seed=5, verbose=0))
    # seed=None draws a fresh seed from the model's generator on every call.
    assert not np.array_equal(model.sample(3, verbose=0), model.sample(3, verbose=0))
    with pytest.raises(ValueError, match="method"):
        model.sample(2, method="fast")
    with pytest.raises(ValueError, match="seed"):
        model.sample(2, seed=1.5, verbose=0)


def test_new_weights_are_used_after_compiling():
    # The compiled per-row function takes the weights as arguments: a model
    # trained (here: reassigned) after a first sample samples from its new weights.
    model, _ = _model("plain_bernoulli_k3")
    before = model.sample(N, seed=2, verbose=0)
    last = model.output_convs[-1]
    last.bias.assign(-np.abs(np.asarray(last.bias)) - 20.0)  # p(1) ~ 0 everywhere
    after = model.sample(N, seed=2, verbose=0)
    assert before.sum() > 0 and after.sum() == 0
    np.testing.assert_array_equal(after, model.sample(N, seed=2, verbose=0, method="naive"))


def test_cache_size_does_not_depend_on_progress():
    # Every buffer is allocated once with a fixed shape: after the whole
    # image the caches have exactly the shapes they started with, and the
    # compiled loop is built once per (n, teacher forcing) and reused.
    model, _ = _model("plain_categorical_rgb")
    start = [tuple(t.shape) for t in _flatten(model.build_cache(2))]
    state = samplers.run_rows(model, 2, seed=0)
    assert [tuple(t.shape) for t in _flatten(state["cache"])] == start
    height, width, channels = model.image_shape
    pad = model.kernel_size // 2
    assert tuple(state["cache"]["x"].shape) == (2, height + pad, width + 2 * pad, channels)
    functions = len(model.sampler_functions)
    model.sample(2, seed=1, verbose=0, method="cached")
    model.sample(2, seed=2, verbose=1, method="cached")
    assert len(model.sampler_functions) == functions


def _flatten(state):
    out = []
    for key in sorted(state):
        value = state[key]
        out.extend(value if isinstance(value, list) else [value])
    return out
