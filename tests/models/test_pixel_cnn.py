"""PixelCNN / GatedPixelCNN: causality, blind spot, normalisation, sampling, saving, errors."""

import itertools

import keras
import numpy as np
import pytest

from keras_genmodels import models
from keras_genmodels.likelihoods import DiscretizedLogisticMixture
from tests._causality import allowed_inputs
from tests._causality import input_gradients


def _normal(shape):
    return lambda n: np.random.normal(size=(n,) + shape).astype("float32") * 60 + 128


CASES = {
    "plain_bernoulli": dict(image_shape=(4, 4, 1), likelihood="bernoulli"),
    "gated_bernoulli": dict(image_shape=(4, 4, 1), likelihood="bernoulli", gated=True),
    "plain_categorical_rgb": dict(image_shape=(3, 3, 3), likelihood="categorical", filters=12),
    "gated_categorical_rgb": dict(image_shape=(3, 3, 3), likelihood="categorical", filters=12,
                                  gated=True),
    "gated_logistic_rgb": dict(image_shape=(3, 3, 3), likelihood="logistic_mixture",
                               num_mixtures=2, filters=8, gated=True),
    "plain_logistic_rgb": dict(image_shape=(3, 3, 3), likelihood="logistic_mixture",
                               num_mixtures=2, filters=8),
}


# On every backend: plain and gated, one-channel, colour groups, joint-pixel params.
ALL_BACKENDS = ("plain_bernoulli", "plain_categorical_rgb", "gated_logistic_rgb")


@pytest.mark.parametrize("case", [
    pytest.param(c, marks=pytest.mark.all_backends) if c in ALL_BACKENDS else c for c in sorted(CASES)])
def test_autoregressive_by_gradients(case):
    kwargs = dict(CASES[case])
    model = models.PixelCNN(num_layers=1, filters=kwargs.pop("filters", 8), seed=0, **kwargs)
    rng = np.random.default_rng(0)
    for weight in model.weights:  # random biases: fewer units dead for every input
        if weight.path.endswith("bias"):
            weight.assign(rng.normal(size=weight.shape).astype("float32") * 0.3)
    h, w, c = model.image_shape
    per_value = model.num_params // c
    if model.sampling_channel_groups == [list(range(c))]:   # joint pixel: one group
        groups = [(0, list(range(model.num_params)))]
        n_groups = 1
    else:
        groups = [(g, list(range(g * per_value, (g + 1) * per_value))) for g in range(c)]
        n_groups = c
    targets = [(i, j, chans) for i in range(h) for j in range(w) for _, chans in groups]
    grads = input_gradients(lambda x: model(x), _normal((h, w, c)), targets, repeats=6)
    for grad, (i, j, chans) in zip(grads, targets):
        g = chans[0] // per_value if n_groups > 1 else 0
        allowed = allowed_inputs((h, w, c), i, j, g, n_groups)
        assert np.all(grad[~allowed] == 0), (case, i, j, g)
        if allowed.any():
            assert np.any(grad[allowed] > 0), (case, i, j, g)
        if n_groups > 1 and g > 0:
            # The earlier colour channels of the same pixel are used.
            assert np.all(grad[i, j, :g] > 0), (case, i, j, g)
        if model.gated:
            # Small images lie inside the gated receptive field: no blind spot.
            assert np.all(grad[allowed] > 0), (case, i, j, g)


def test_blind_spot_exists_for_plain_and_not_for_gated():
    shape = (5, 9, 1)
    i, j, radius = 3, 3, 3 + 1   # 7x7 input kernel + one 3x3 layer
    rows, cols = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    in_field = (rows >= i - radius) & (np.abs(cols - j) <= radius)
    earlier = allowed_inputs(shape, i, j, 0, 1)[..., 0] & in_field
    zero_sets = {}
    for gated in (False, True):
        model = models.PixelCNN(shape, filters=8, num_layers=1, gated=gated, seed=1)
        grad = input_gradients(lambda x: model(x), lambda n: np.random.normal(
            size=(n,) + shape).astype("float32"), [(i, j, [0])], repeats=4)[0, ..., 0]
        assert np.all(grad[~allowed_inputs(shape, i, j, 0, 1)[..., 0]] == 0)
        zero_sets[gated] = {tuple(p) for p in np.argwhere(earlier & (grad == 0))}
    # The plain PixelCNN never sees the pixels up and to the right (e.g. the row
    # above, `radius` columns to the right), although they are in its field.
    assert (i - 1, j + radius) in zero_sets[False]
    assert zero_sets[True] == set()


def _all_binary(shape):
    n = int(np.prod(shape))
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)), "float32").reshape(
        (-1,) + shape)


@pytest.mark.parametrize("gated", [False, True])
def test_binary_probabilities_sum_to_one_with_defaults(gated):
    for shape in ((3, 3, 1), (2, 2, 1)):   # every binary 3x3 and 2x2 image
        model = models.PixelCNN(shape, gated=gated)   # default filters / layers / kernels
        log_p = model.log_prob(_all_binary(shape), batch_size=512)
        np.testing.assert_allclose(np.exp(log_p.astype("float64")).sum(), 1.0, atol=1e-5)


@pytest.mark.all_backends
def test_conditional_probabilities_sum_to_one_per_class():
    model = models.GatedPixelCNN((2, 2, 1), filters=8, num_layers=1, num_classes=3)
    x = _all_binary((2, 2, 1))
    totals, per_class = [], []
    for label in range(3):
        log_p = model.log_prob(x, labels=np.full(len(x), label))
        totals.append(np.exp(log_p.astype("float64")).sum())
        per_class.append(log_p)
    np.testing.assert_allclose(totals, 1.0, atol=1e-5)
    assert not np.allclose(per_class[0], per_class[1])  # the label matters


@pytest.mark.parametrize("shape, likelihood, gated", [
    ((1, 2, 1), "categorical", False),
    ((1, 1, 2), "categorical", True),        # colour groups: channel 1 given channel 0
    ((1, 2, 1), "logistic_mixture", True),
    ((1, 1, 2), "logistic_mixture", False),  # the channel coupling of one pixel
])
def test_256_way_probabilities_sum_to_one(shape, likelihood, gated):
    model = models.PixelCNN(shape, likelihood=likelihood, gated=gated, filters=4,
                            num_layers=1, num_mixtures=2)
    grid = np.stack(np.meshgrid(np.arange(256), np.arange(256), indexing="ij"), -1)
    x = grid.reshape((-1,) + shape).astype("float32")
    log_p = model.log_prob(x, batch_size=16384)
    np.testing.assert_allclose(np.exp(log_p.astype("float64")).sum(), 1.0, atol=1e-4)


@pytest.mark.all_backends
def test_log_prob_equals_likelihood_of_network_output():
    model = models.PixelCNN((3, 3, 3), likelihood="logistic_mixture", num_mixtures=3,
                            filters=8, num_layers=1)
    x = np.random.randint(0, 256, (4, 3, 3, 3))
    params = keras.ops.convert_to_numpy(model(x.astype("float32")))
    lik = DiscretizedLogisticMixture(3)
    ref = keras.ops.convert_to_numpy(lik.log_prob(x.astype("float32"), params))
    np.testing.assert_allclose(model.log_prob(x), ref, rtol=1e-6)
    np.testing.assert_allclose(model.log_prob(x.astype("uint8")), ref, rtol=1e-6)
    np.testing.assert_allclose(model.bits_per_dim(x), -ref / (27 * np.log(2)), rtol=1e-6)


@pytest.mark.all_backends
def test_sample_frequencies_match_exact_probabilities():
    shape = (2, 2, 1)
    model = models.GatedPixelCNN(shape, filters=8, num_layers=1, seed=0)
    # Make the conditionals far from uniform.
    last = model.output_convs[-1]
    last.kernel.assign(last.kernel * 30.0)
    last.bias.assign([1.0])
    configs = _all_binary(shape)
    probs = np.exp(model.log_prob(configs).astype("float64"))
    n = 4000
    samples = model.sample(n, seed=3, verbose=0)
    assert set(np.unique(samples)) <= {0.0, 1.0}
    index = samples.reshape(n, -1).astype(int) @ (2 ** np.arange(3, -1, -1))
    freq = np.bincount(index, minlength=16) / n
    assert probs.max() > 0.15  # non-trivial joint distribution
    np.testing.assert_array_less(np.abs(freq - probs), 5 * np.sqrt(probs / n) + 2e-3)
    # Pixel marginals too.
    marg = (probs[:, None] * configs.reshape(16, 4)).sum(0)
    np.testing.assert_allclose(samples.reshape(n, 4).mean(0), marg, atol=4 * 0.5 / np.sqrt(n))


def test_colour_sampling_follows_channel_order():
    # A 1x1x2 categorical model: the empirical joint of (R, G) matches p(R) p(G | R).
    model = models.PixelCNN((1, 1, 2), likelihood="categorical", filters=4, num_layers=1)
    last = model.output_convs[-1]
    last.kernel.assign(last.kernel * 20.0)
    last.bias.assign(np.random.default_rng(0).normal(size=512).astype("float32") * 4.0)
    n = 3000
    samples = model.sample(n, seed=1, verbose=0).reshape(n, 2).astype(int)
    grid = np.stack(np.meshgrid(np.arange(256), np.arange(256), indexing="ij"), -1)
    probs = np.exp(model.log_prob(grid.reshape(-1, 1, 1, 2), batch_size=16384)
                   .astype("float64")).reshape(256, 256)
    top = np.argsort(probs.ravel())[::-1][:5]
    freq = np.bincount(samples[:, 0] * 256 + samples[:, 1], minlength=256 * 256) / n
    assert probs.ravel()[top].sum() > 0.05
    np.testing.assert_array_less(np.abs(freq[top] - probs.ravel()[top]),
                                 5 * np.sqrt(probs.ravel()[top] / n) + 2e-3)


def test_same_seed_same_samples_and_labels():
    model = models.GatedPixelCNN((3, 3, 1), filters=4, num_layers=1, num_classes=2, seed=5)
    a = model.sample(6, seed=7, verbose=0, labels=[0, 1, 0, 1, 0, 1])
    b = model.sample(6, seed=7, verbose=0, labels=[0, 1, 0, 1, 0, 1])
    c = model.sample(6, seed=8, verbose=0, labels=[0, 1, 0, 1, 0, 1])
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    rgb = models.PixelCNN((2, 2, 3), likelihood="logistic_mixture", filters=4, num_layers=0)
    s = rgb.sample(3, seed=0, verbose=0)
    assert s.shape == (3, 2, 2, 3) and np.all(s == np.round(s)) and s.min() >= 0 and s.max() <= 255
    np.testing.assert_array_equal(s, rgb.sample(3, seed=0, verbose=0))


def test_fit_lowers_nll_and_conditions_on_labels():
    import tensorflow as tf  # a tf.data pipeline: TensorFlow only

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 64)
    # Class 0: top row on; class 1: bottom row on (plus noise).
    x = np.zeros((64, 3, 3, 1), "float32")
    x[y == 0, 0] = 1.0
    x[y == 1, 2] = 1.0
    x = np.where(rng.random(x.shape) < 0.05, 1.0 - x, x).astype("float32")
    model = models.GatedPixelCNN((3, 3, 1), filters=16, num_layers=1, num_classes=2, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = model.log_prob(x, labels=y).mean()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    hist = model.fit(ds, epochs=8, verbose=0).history
    assert set(hist) >= {"loss", "bits_per_dim"}
    after = model.log_prob(x, labels=y).mean()
    assert after > before + 3.0
    np.testing.assert_allclose(hist["bits_per_dim"][-1], hist["loss"][-1] / (9 * np.log(2)),
                               rtol=1e-4)
    # The right label explains the data better than the wrong one.
    assert model.log_prob(x, labels=y).mean() > model.log_prob(x, labels=1 - y).mean() + 3.0
    np.testing.assert_allclose(model.anomaly_score(x[:4], labels=y[:4]),
                               -model.log_prob(x[:4], labels=y[:4]))


@pytest.mark.parametrize("kwargs", [
    dict(image_shape=(3, 3, 3), likelihood="categorical", gated=True, num_classes=3, filters=6),
    dict(image_shape=(3, 4, 3), likelihood="logistic_mixture", num_mixtures=2, filters=8,
         num_layers=0),
])
def test_keras_round_trip(tmp_path, kwargs):
    model = models.PixelCNN(seed=3, **{"num_layers": 1, **kwargs})
    model.compile(optimizer="adam")
    x = np.random.randint(0, 256, (4,) + kwargs["image_shape"]).astype("float32")
    labels = [0, 1, 2, 0] if "num_classes" in kwargs else None
    path = str(tmp_path / "pixelcnn.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is models.PixelCNN
    assert loaded.get_config() == model.get_config()
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    np.testing.assert_array_equal(model.log_prob(x, labels=labels),
                                  loaded.log_prob(x, labels=labels))


def test_gated_class_round_trip(tmp_path):
    model = models.GatedPixelCNN((2, 2, 1), filters=4, num_layers=1)
    path = str(tmp_path / "gated.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is models.GatedPixelCNN and loaded.gated
    x = _all_binary((2, 2, 1))
    np.testing.assert_array_equal(model.log_prob(x), loaded.log_prob(x))


def test_data_errors():
    binary = models.PixelCNN((3, 3, 1), filters=4, num_layers=0)
    with pytest.raises(ValueError, match="shape"):
        binary.log_prob(np.zeros((2, 4, 4, 1)))
    with pytest.raises(ValueError, match="binary"):
        binary.log_prob(np.full((2, 3, 3, 1), 0.5))
    with pytest.raises(ValueError, match="unconditional"):
        binary.log_prob(np.zeros((2, 3, 3, 1)), labels=[0, 1])
    eight_bit = models.PixelCNN((3, 3, 1), likelihood="categorical", filters=4, num_layers=0)
    with pytest.raises(ValueError, match="outside"):
        eight_bit.log_prob(np.full((2, 3, 3, 1), 256.0))
    with pytest.raises(ValueError, match="outside"):
        eight_bit.log_prob(np.full((2, 3, 3, 1), -1))
    with pytest.raises(ValueError, match="non-integer"):
        eight_bit.log_prob(np.full((2, 3, 3, 1), 0.5))
    logistic = models.PixelCNN((3, 3, 1), likelihood="logistic_mixture", filters=4, num_layers=0)
    with pytest.raises(ValueError, match="non-integer"):
        logistic.log_prob(np.random.rand(2, 3, 3, 1))
    conditional = models.GatedPixelCNN((3, 3, 1), filters=4, num_layers=0, num_classes=2)
    with pytest.raises(ValueError, match="labels"):
        conditional.log_prob(np.zeros((2, 3, 3, 1)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        conditional.log_prob(np.zeros((2, 3, 3, 1)), labels=[0, 2])
    with pytest.raises(ValueError, match="labels"):
        conditional.sample(2, verbose=0)
    with pytest.raises(ValueError, match="method"):
        binary.sample(2, method="fast", verbose=0)


def test_argument_errors():
    for kwargs, match in [
        (dict(image_shape=(3, 3)), "image_shape"),
        (dict(image_shape=(3, 3, 1), likelihood="poisson"), "Unknown likelihood"),
        (dict(image_shape=(3, 3, 1), likelihood="gaussian"), "supports the likelihoods"),
        (dict(image_shape=(3, 3, 3), likelihood="categorical", filters=64), "divisible"),
        (dict(image_shape=(3, 3, 1), kernel_size=4), "kernel_size"),
        (dict(image_shape=(3, 3, 1), num_classes=10), "gated=True"),
        (dict(image_shape=(3, 3, 1), num_layers=-1), "num_layers"),
    ]:
        with pytest.raises(ValueError, match=match):
            models.PixelCNN(**kwargs)


def test_default_filters_for_colour_groups():
    assert models.PixelCNN((2, 2, 1), num_layers=0).filters == 64
    assert models.PixelCNN((2, 2, 3), likelihood="categorical", num_layers=0).filters == 66
    assert models.PixelCNN((2, 2, 3), likelihood="logistic_mixture", num_layers=0).filters == 64
