"""Tests of RowLSTM, DiagonalBiLSTM and the skew / unskew helpers (backend code on all backends)."""

import keras
import numpy as np
import pytest

from keras_genmodels import layers
from keras_genmodels.layers.pixel_rnn import skew
from keras_genmodels.layers.pixel_rnn import unskew
from tests import _grad


# ----------------------------------------------------------------- helpers
def dependencies(fn, x, out_groups, in_groups):
    """Which inputs each output depends on, measured by exact gradients.

    Returns a boolean array ``dep[p, g, q, h]``: output pixel ``p`` (raster
    index), output channel group ``g`` has a non-zero gradient with respect to
    some channel of input group ``h`` at pixel ``q``. One backward pass: the
    batch holds one copy of ``x`` per (pixel, group) and each copy's loss
    selects that output with random positive weights.
    """
    _, height, width, _ = x.shape
    npix = height * width

    def select(shape):
        cout = shape[-1]
        rng = np.random.default_rng(0)
        sel = np.zeros(shape, "float32")
        for p in range(npix):
            for g in range(out_groups):
                lo, hi = g * cout // out_groups, (g + 1) * cout // out_groups
                sel[p * out_groups + g, p // width, p % width, lo:hi] = rng.uniform(
                    0.5, 1.5, hi - lo)
        return sel

    xs = np.repeat(x[:1], npix * out_groups, axis=0)
    grad = _grad.gradient(fn, xs, cotangent=select)
    grad = grad.reshape(npix, out_groups, npix, in_groups, -1)
    return np.any(grad != 0.0, axis=-1)


def allowed(npix, groups, strict):
    """``ok[p, g, q, h]``: q before p, or q == p and h < g (strict) / h <= g."""
    p = np.arange(npix)[:, None, None, None]
    g = np.arange(groups)[None, :, None, None]
    q = np.arange(npix)[None, None, :, None]
    h = np.arange(groups)[None, None, None, :]
    same = (h < g) if strict else (h <= g)
    return (q < p) | ((q == p) & same)


def randomize(layer, scale=0.7, seed=0):
    rng = np.random.default_rng(seed)
    for w in layer.weights:
        w.assign(rng.normal(0.0, scale, w.shape).astype("float32"))


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def lstm_cell(z, c, groups, units):
    z = z.reshape(groups, 4, units // groups)
    i, f, g, o = (z[:, k].reshape(units) for k in range(4))
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c), c


# ---------------------------------------------------------- skew / unskew
@pytest.mark.all_backends
@pytest.mark.parametrize("shape", [(2, 3, 5, 2), (1, 4, 1, 1), (1, 1, 3, 2), (2, 5, 2, 3)])
def test_skew_matches_numpy_and_round_trips(shape):
    x = np.random.default_rng(1).normal(size=shape).astype("float32")
    b, h, w, c = shape
    expected = np.zeros((b, h, w + h - 1, c), "float32")
    for i in range(h):
        expected[:, i, i:i + w] = x[:, i]
    skewed = keras.ops.convert_to_numpy(skew(x))
    np.testing.assert_array_equal(skewed, expected)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(unskew(skewed, w)), x)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(unskew(skewed)), x)


def test_skew_errors():
    with pytest.raises(ValueError, match="4D"):
        skew(np.zeros((3, 4, 2), "float32"))
    with pytest.raises(ValueError, match="width"):
        unskew(np.zeros((1, 3, 4, 1), "float32"), width=3)


# ------------------------------------------------- NumPy float64 references
def row_lstm_reference(layer, x):
    x = x.astype("float64")
    b, height, width, _ = x.shape
    u, k, groups = layer.units, layer.kernel_size, layer.color_groups
    k_is = (layer.input_to_state.kernel.numpy() * layer.input_to_state.mask).astype("float64")
    k_ss = layer.recurrent_kernel.numpy().astype("float64")
    bias = layer.bias.numpy().astype("float64")
    pad = k // 2
    xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (0, 0)])
    out = np.zeros((b, height, width, u))
    for n in range(b):
        h_prev = np.zeros((width + 2 * pad, u))
        c_prev = np.zeros((width, u))
        for r in range(height):
            h_row, c_row = np.zeros((width, u)), np.zeros((width, u))
            for j in range(width):
                z = bias.copy()
                for t in range(k):
                    z += xp[n, r, j + t] @ k_is[0, t]
                    z += h_prev[j + t] @ k_ss[t]
                h_row[j], c_row[j] = lstm_cell(z, c_prev[j], groups, u)
            out[n, r] = h_row
            h_prev = np.pad(h_row, [(pad, pad), (0, 0)])
            c_prev = c_row
    return out


def diagonal_bilstm_reference(layer, x):
    """Direct 2D recurrence in image coordinates (no skewing)."""
    x = x.astype("float64")
    b, height, width, _ = x.shape
    u, groups = layer.units, layer.color_groups
    k_is = (layer.input_to_state.kernel.numpy() * layer.input_to_state.mask).astype("float64")
    k_ss = layer.recurrent_kernel.numpy().astype("float64")
    bias = layer.bias.numpy().astype("float64")
    z_all = np.einsum("bhwc,cd->bhwd", x, k_is[0, 0]).reshape(b, height, width, groups, 2, -1)
    out = np.zeros((b, height, width, u))
    for d, cols in ((0, range(width)), (1, range(width - 1, -1, -1))):
        step = -1 if d == 0 else 1  # column of the horizontal neighbour
        for n in range(b):
            hs = np.zeros((height, width, u))
            cs = np.zeros((height, width, u))
            for i in range(height):
                for j in cols:
                    z = z_all[n, i, j, :, d].reshape(-1) + bias[d]
                    above = hs[i - 1, j] if i > 0 else np.zeros(u)
                    jn = j + step
                    side = hs[i, jn] if 0 <= jn < width else np.zeros(u)
                    c_side = cs[i, jn] if 0 <= jn < width else np.zeros(u)
                    z = z + np.concatenate([above, side]) @ k_ss[d]
                    hs[i, j], cs[i, j] = lstm_cell(z, c_side, groups, u)
            if d == 0:
                out[n] += hs
            else:
                out[n, 1:] += hs[:-1]  # right-to-left stream shifted down one row
    return out


@pytest.mark.all_backends
@pytest.mark.parametrize("groups", [1, 3])
@pytest.mark.parametrize("unroll", [False, True])
def test_row_lstm_matches_numpy_reference(groups, unroll):
    x = np.random.default_rng(2).normal(size=(2, 3, 4, 3)).astype("float32")
    layer = layers.RowLSTM(6, kernel_size=3, color_groups=groups, unroll=unroll)
    layer.build(x.shape)
    randomize(layer)
    got = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(got, row_lstm_reference(layer, x), rtol=1e-5, atol=1e-5)


@pytest.mark.all_backends
@pytest.mark.parametrize("groups", [1, 3])
@pytest.mark.parametrize("unroll", [False, True])
def test_diagonal_bilstm_matches_numpy_reference(groups, unroll):
    x = np.random.default_rng(3).normal(size=(2, 3, 5, 3)).astype("float32")
    layer = layers.DiagonalBiLSTM(6, color_groups=groups, unroll=unroll)
    layer.build(x.shape)
    randomize(layer)
    got = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(got, diagonal_bilstm_reference(layer, x), rtol=1e-5, atol=1e-5)


@pytest.mark.all_backends
def test_forget_bias_initialised_to_one():
    layer = layers.DiagonalBiLSTM(6, color_groups=3)
    layer.build((None, 2, 2, 3))
    bias = layer.bias.numpy().reshape(2, 3, 4, 2)  # [direction][group][gate][unit]
    np.testing.assert_array_equal(bias[:, :, 1], 1.0)
    np.testing.assert_array_equal(bias[:, :, [0, 2, 3]], 0.0)


# ------------------------------------------------------------ causality
@pytest.mark.all_backends
@pytest.mark.parametrize("cls", ["RowLSTM", "DiagonalBiLSTM"])
@pytest.mark.parametrize("groups", [1, 3])
def test_layer_alone_is_causal_with_mask_b(cls, groups):
    """Alone (mask B input-to-state): output p sees inputs at pixels <= p, groups <= g."""
    layer = getattr(layers, cls)(3 * 2, color_groups=groups)
    x = np.random.default_rng(4).normal(size=(1, 3, 4, 3)).astype("float32")
    dep = dependencies(layer, x, groups, groups)
    npix = 12
    ok = allowed(npix, groups, strict=False)
    assert not np.any(dep & ~ok), "an output depends on a later pixel or colour group"
    for p in range(1, npix):
        assert dep[p, :, :p].any(axis=(1, 2)).all(), f"pixel {p} ignores the past"
    # Mask B: every group sees its own group at the current pixel.
    for g in range(groups):
        assert dep[np.arange(npix), g, np.arange(npix), g].all()


@pytest.mark.all_backends
@pytest.mark.parametrize("cls", ["RowLSTM", "DiagonalBiLSTM"])
@pytest.mark.parametrize("groups", [1, 3])
def test_layer_after_mask_a_is_strictly_autoregressive(cls, groups):
    conv = layers.MaskedConv2D(6, 3, mask_type="A", color_groups=groups)
    layer = getattr(layers, cls)(6, color_groups=groups)
    x = np.random.default_rng(5).normal(size=(1, 3, 4, 3)).astype("float32")
    dep = dependencies(lambda t: layer(conv(t)), x, groups, groups)
    ok = allowed(12, groups, strict=True)
    assert not np.any(dep & ~ok), "an output depends on the current pixel or a later one"
    for p in range(1, 12):
        assert dep[p, :, :p].any(axis=(1, 2)).all()
    if groups == 3:  # G sees R and B sees R, G of the same pixel
        assert dep[np.arange(12), 2, np.arange(12), 1].all()


@pytest.mark.all_backends
def test_diagonal_bilstm_receptive_field_after_mask_a():
    """Every earlier pixel is seen, except the end of the previous row beyond the mask-A reach.

    With a k x k mask-A input conv, output (i, j) misses exactly pixel
    (i - 1, W - 1) when j < W - 1 - k // 2 (the property of the paper's
    architecture, documented in DiagonalBiLSTM's docstring).
    """
    height, width, k = 4, 7, 3
    conv = layers.MaskedConv2D(4, k, mask_type="A")
    layer = layers.DiagonalBiLSTM(4)
    x = np.random.default_rng(6).normal(size=(1, height, width, 1)).astype("float32")
    dep = dependencies(lambda t: layer(conv(t)), x, 1, 1)[:, 0, :, 0]
    npix = height * width
    expected = np.tril(np.ones((npix, npix), bool), -1)
    for i in range(1, height):
        for j in range(width - 1 - k // 2):
            expected[i * width + j, (i - 1) * width + width - 1] = False
    np.testing.assert_array_equal(dep, expected)
    # Two stacked layers do not close that gap (it is not a depth effect).
    layer2 = layers.DiagonalBiLSTM(4)
    dep2 = dependencies(lambda t: layer2(layer(conv(t))), x, 1, 1)[:, 0, :, 0]
    np.testing.assert_array_equal(dep2, expected)


@pytest.mark.all_backends
def test_row_lstm_receptive_field_is_triangular():
    """Row LSTM misses pixels up-right outside its triangle (the paper's Figure 4)."""
    conv = layers.MaskedConv2D(4, 3, mask_type="A")
    layer = layers.RowLSTM(4, kernel_size=3)
    height, width = 3, 7
    x = np.random.default_rng(7).normal(size=(1, height, width, 1)).astype("float32")
    dep = dependencies(lambda t: layer(conv(t)), x, 1, 1)[:, 0, :, 0]
    p = 2 * width + 0  # pixel (2, 0)
    assert dep[p, 1 * width + 0]  # directly above
    assert not dep[p, 0 * width + 6]  # far up-right: outside the triangle
    assert not dep[p, 1 * width + 6]


# ---------------------------------------------------- config, errors, fit
@pytest.mark.all_backends
@pytest.mark.parametrize("cls,kwargs", [
    ("RowLSTM", {"kernel_size": 5, "unroll": True}),
    ("DiagonalBiLSTM", {"unit_forget_bias": False, "bias_initializer": "ones"}),
])
def test_config_round_trip_and_serialization(cls, kwargs, tmp_path):
    layer = getattr(layers, cls)(6, color_groups=3, **kwargs)
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    inputs = keras.Input((3, 4, 3))
    model = keras.Model(inputs, layer(inputs))
    x = np.random.default_rng(8).normal(size=(2, 3, 4, 3)).astype("float32")
    path = str(tmp_path / "layer.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded.layers[-1], type(layer))
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model(x)), keras.ops.convert_to_numpy(loaded(x))
    )


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="units"):
        layers.RowLSTM(0)
    with pytest.raises(ValueError, match="divisible"):
        layers.DiagonalBiLSTM(4, color_groups=3)
    with pytest.raises(ValueError, match="kernel_size"):
        layers.RowLSTM(4, kernel_size=2)
    with pytest.raises(ValueError, match="4D"):
        layers.RowLSTM(4)(np.zeros((2, 3, 4), "float32"))
    with pytest.raises(ValueError, match="4D"):
        layers.DiagonalBiLSTM(4)(np.zeros((2, 3, 4, 1, 1), "float32"))
    with pytest.raises(ValueError, match="divisible"):
        layers.DiagonalBiLSTM(6, color_groups=3)(np.zeros((1, 2, 2, 2), "float32"))


@pytest.mark.all_backends
def test_fit_one_step_changes_weights():
    inputs = keras.Input((3, 3, 1))
    h = layers.MaskedConv2D(4, 3, mask_type="A")(inputs)
    h = layers.DiagonalBiLSTM(4)(h)
    h = layers.RowLSTM(4)(h)
    model = keras.Model(inputs, layers.MaskedConv2D(1, 1)(h))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = [w.numpy().copy() for w in model.trainable_weights]
    x = np.random.default_rng(9).normal(size=(4, 3, 3, 1)).astype("float32")
    model.fit(x, x, epochs=1, batch_size=4, verbose=0)
    changed = [not np.array_equal(a, w.numpy()) for a, w in zip(before, model.trainable_weights)]
    assert all(changed)
