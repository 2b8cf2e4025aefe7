"""Tests of MaskedConv2D: mask values, causality by gradients, NumPy reference, errors, saving.

The tests that run backend code are marked ``all_backends``; mask construction,
argument errors and configs are NumPy / Python and run once, on TensorFlow.
"""

import itertools

import keras
import numpy as np
import pytest

from keras_genmodels.layers import MaskedConv2D
from keras_genmodels.layers import causal_mask
from tests import _grad


# --------------------------------------------------------------------- references
def reference_mask(kh, kw, cin, cout, mask_type, groups):
    """Independent construction: loop over every tap and channel pair.

    Output channel ``o`` of pixel (i, j) may read input channel ``c`` at
    kernel offset (a, b) iff the tap is strictly earlier in raster order
    than the centre, or it is the centre and ``group(c) < group(o)``
    (mask A) / ``group(c) <= group(o)`` (mask B). Groups are contiguous
    blocks of ``channels // groups`` channels (R | G | B).
    """
    mask = np.zeros((kh, kw, cin, cout), dtype=np.float64)
    ci, cj = (kh - 1) // 2, (kw - 1) // 2
    gin, gout = cin // groups, cout // groups
    for a in range(kh):
        for b in range(kw):
            for c in range(cin):
                for o in range(cout):
                    if a * kw + b < ci * kw + cj:
                        allowed = True
                    elif (a, b) == (ci, cj):
                        g_in, g_out = c // gin, o // gout
                        allowed = g_in < g_out if mask_type == "A" else g_in <= g_out
                    else:
                        allowed = False
                    mask[a, b, c, o] = float(allowed)
    return mask


def numpy_conv_same(x, kernel, bias, dilation=(1, 1)):
    """float64 'same' cross-correlation (NHWC, HWIO) with dilation, stride 1."""
    x = x.astype(np.float64)
    kernel = kernel.astype(np.float64)
    kh, kw, _, cout = kernel.shape
    dh, dw = dilation
    ph, pw = dh * (kh - 1) // 2, dw * (kw - 1) // 2
    n, h, w, _ = x.shape
    xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    out = np.zeros((n, h, w, cout), np.float64)
    for a in range(kh):
        for b in range(kw):
            patch = xp[:, a * dh:a * dh + h, b * dw:b * dw + w, :]
            out += np.einsum("nhwc,co->nhwo", patch, kernel[a, b])
    return out + bias.astype(np.float64)


def allowed_dependency(i, j, g, k, l, h, mask_type):
    """Whether out(i, j, group g) may depend on in(k, l, group h)."""
    if (k, l) < (i, j):
        return True
    if (k, l) == (i, j):
        return h < g if mask_type == "A" else h <= g
    return False


def jacobian(model_fn, x):
    """d out / d in for one image: shape (H, W, Cout, H, W, Cin)."""
    return _grad.jacobian(model_fn, x)[0, :, :, :, 0]


# ------------------------------------------------------------------------ masks
def test_mask_matches_independent_numpy_construction():
    # One test (not parametrized): 40 cases of pure NumPy.
    for kernel_size, mask_type, (groups, cin, cout) in itertools.product(
        [1, 3, 5, 7], ["A", "B"], [(1, 1, 4), (1, 5, 2), (3, 3, 6), (3, 6, 9), (3, 12, 3)]
    ):
        expected = reference_mask(kernel_size, kernel_size, cin, cout, mask_type, groups)
        got = causal_mask((kernel_size, kernel_size), cin, cout, mask_type, groups)
        np.testing.assert_array_equal(
            got, expected,
            err_msg=f"k={kernel_size} mask={mask_type} groups={groups} in={cin} out={cout}")


def test_mask_of_built_layer_and_rectangular_kernel():
    layer = MaskedConv2D(6, (3, 5), mask_type="b", color_groups=3)
    layer.build((None, 7, 7, 3))
    np.testing.assert_array_equal(
        np.asarray(layer.mask), reference_mask(3, 5, 3, 6, "B", 3))
    # Spot check of the RGB structure at the centre tap for mask A.
    m = causal_mask((3, 3), 3, 3, "A", 3)[1, 1]
    np.testing.assert_array_equal(m, [[0, 1, 1], [0, 0, 1], [0, 0, 0]])
    # Hidden layer with 3k channels: contiguous blocks R|G|B.
    m = causal_mask((1, 1), 6, 3, "B", 3)[0, 0]
    np.testing.assert_array_equal(m[:, 0], [1, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(m[:, 2], [1, 1, 1, 1, 1, 1])


# ------------------------------------------------------------- autoregression
def _check_causal(jac, groups_in, groups_out, mask_type, expect_all_allowed_nonzero_within=None):
    H, W, cout, _, _, cin = jac.shape
    gin, gout = cin // groups_in, cout // groups_out
    nonzero_earlier = False
    for i, j, o in itertools.product(range(H), range(W), range(cout)):
        g = o // gout
        for k, l, c in itertools.product(range(H), range(W), range(cin)):
            h = c // gin
            value = jac[i, j, o, k, l, c]
            if not allowed_dependency(i, j, g, k, l, h, mask_type):
                assert value == 0.0, (
                    f"out({i},{j},ch{o}) depends on later in({k},{l},ch{c}): {value}")
            else:
                if value != 0.0 and (k, l) < (i, j):
                    nonzero_earlier = True
                radius = expect_all_allowed_nonzero_within
                if radius is not None and abs(k - i) <= radius and abs(l - j) <= radius:
                    assert value != 0.0, (
                        f"out({i},{j},ch{o}) should see in({k},{l},ch{c})")
    assert nonzero_earlier


@pytest.mark.all_backends
@pytest.mark.parametrize(
    "kernel_size,mask_type,groups,cin,cout",
    [(3, "A", 1, 1, 2), (3, "B", 1, 2, 2), (5, "A", 3, 3, 6), (3, "B", 3, 6, 3),
     (1, "A", 3, 3, 3), (7, "B", 1, 1, 1)],
)
def test_single_layer_autoregressive_by_gradients(kernel_size, mask_type, groups, cin, cout):
    layer = MaskedConv2D(cout, kernel_size, mask_type=mask_type, color_groups=groups,
                         kernel_initializer="random_normal", bias_initializer="random_normal")
    x = np.random.normal(size=(1, 5, 5, cin)).astype("float32")
    jac = jacobian(layer, x)
    if kernel_size == 1 and mask_type == "A":
        # Only same-pixel, earlier-group connections: check them directly.
        for i, j in itertools.product(range(5), range(5)):
            block = jac[i, j, :, i, j, :]  # (cout, cin)
            np.testing.assert_array_equal(block[0], 0.0)  # R sees nothing
            assert np.all(block[1, :1] != 0) and np.all(block[1, 1:] == 0)
            assert np.all(block[2, :2] != 0) and block[2, 2] == 0
        off = jac.copy()
        for i, j in itertools.product(range(5), range(5)):
            off[i, j, :, i, j, :] = 0
        np.testing.assert_array_equal(off, 0.0)
        return
    # A linear layer's Jacobian is the masked kernel: every allowed tap inside
    # the kernel window is non-zero, every forbidden one exactly zero.
    _check_causal(jac, groups, groups, mask_type,
                  expect_all_allowed_nonzero_within=kernel_size // 2)


@pytest.mark.all_backends
@pytest.mark.parametrize("groups,cin", [(1, 1), (3, 3)])
def test_stacked_a_then_b_is_autoregressive(groups, cin):
    x_in = keras.Input((6, 6, cin))
    h = MaskedConv2D(3 * 2, 3, mask_type="A", color_groups=groups, activation="tanh",
                     bias_initializer="random_normal")(x_in)
    h = MaskedConv2D(3 * 2, 3, mask_type="B", color_groups=groups, activation="tanh",
                     bias_initializer="random_normal")(h)
    out = MaskedConv2D(cin, 1, mask_type="B", color_groups=groups)(h)
    model = keras.Model(x_in, out)
    x = np.random.normal(size=(1, 6, 6, cin)).astype("float32")
    jac = jacobian(model, x)
    # The composition behaves like a mask-A layer overall.
    _check_causal(jac, groups, groups, "A")
    # The receptive field grows: pixel (3, 3) sees (1, 1) through two 3x3 layers.
    assert np.any(jac[3, 3, :, 1, 1, :] != 0)


@pytest.mark.all_backends
def test_batch_items_do_not_interact():
    layer = MaskedConv2D(2, 3, mask_type="B")
    x = np.random.normal(size=(2, 4, 4, 1)).astype("float32")
    grad = _grad.gradient(lambda t: layer(t)[0], x)
    assert np.any(grad[0] != 0.0)
    np.testing.assert_array_equal(grad[1], 0.0)


# --------------------------------------------------------------- numerics
@pytest.mark.all_backends
@pytest.mark.parametrize(
    "kernel_size,mask_type,groups,cin,cout,dilation",
    [(3, "A", 1, 1, 4, 1), (5, "B", 3, 3, 6, 1), (7, "A", 3, 6, 3, 1), (3, "B", 1, 2, 3, 2)],
)
def test_output_matches_numpy_float64_conv(kernel_size, mask_type, groups, cin, cout, dilation):
    layer = MaskedConv2D(cout, kernel_size, mask_type=mask_type, color_groups=groups,
                         dilation_rate=dilation, bias_initializer="random_normal")
    x = np.random.normal(size=(2, 7, 6, cin)).astype("float32")
    y = keras.ops.convert_to_numpy(layer(x))
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    bias = keras.ops.convert_to_numpy(layer.bias)
    mask = reference_mask(kernel_size, kernel_size, cin, cout, mask_type, groups)
    expected = numpy_conv_same(x, kernel * mask, bias, (dilation, dilation))
    assert y.shape == (2, 7, 6, cout)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.all_backends
def test_activation_and_no_bias():
    layer = MaskedConv2D(3, 3, mask_type="B", activation="relu", use_bias=False)
    x = np.random.normal(size=(1, 4, 4, 3)).astype("float32")
    y = keras.ops.convert_to_numpy(layer(x))
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    expected = np.maximum(
        numpy_conv_same(x, kernel * reference_mask(3, 3, 3, 3, "B", 1), np.zeros(3)), 0)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    assert layer.bias is None


@pytest.mark.all_backends
def test_kernel_variable_is_never_modified_by_call():
    layer = MaskedConv2D(4, 3, mask_type="A")
    x = np.random.normal(size=(2, 5, 5, 2)).astype("float32")
    layer.build(x.shape)
    before = keras.ops.convert_to_numpy(layer.kernel).copy()
    assert np.any(before * (1 - reference_mask(3, 3, 2, 4, "A", 1)) != 0)
    for _ in range(2):
        layer(x)
        layer(x, training=True)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.kernel), before)


# ----------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(filters=4, kernel_size=4), "odd kernel"),
        (dict(filters=4, kernel_size=(3, 2)), "odd kernel"),
        (dict(filters=4, kernel_size=3, mask_type="C"), "mask_type"),
        (dict(filters=4, kernel_size=3, mask_type=None), "mask_type"),
        (dict(filters=4, kernel_size=3, color_groups=3), "divisible by color_groups"),
        (dict(filters=3, kernel_size=3, color_groups=0), "color_groups"),
        (dict(filters=4, kernel_size=3, strides=2), "strides"),
        (dict(filters=4, kernel_size=3, strides=(1, 2)), "strides"),
        (dict(filters=4, kernel_size=3, padding="valid"), "padding"),
        (dict(filters=4, kernel_size=3, data_format="channels_first"), "data_format"),
    ],
)
def test_constructor_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MaskedConv2D(**kwargs)


def test_input_errors():
    with pytest.raises(ValueError, match=r"input channels \(4\).*color_groups=3"):
        MaskedConv2D(3, 3, color_groups=3)(np.zeros((1, 4, 4, 4), "float32"))
    with pytest.raises(ValueError, match="4D inputs|min_ndim=4"):
        MaskedConv2D(3, 3)(np.zeros((1, 4, 4), "float32"))
    with pytest.raises(ValueError, match="4D inputs"):
        MaskedConv2D(3, 3)(keras.Input((4, 4, 4, 1)))


# ------------------------------------------------------- config and saving
def test_get_config_round_trip():
    layer = MaskedConv2D(6, (3, 5), mask_type="A", color_groups=3, dilation_rate=2,
                         activation="relu", use_bias=False, name="mc",
                         kernel_regularizer=keras.regularizers.L2(0.1))
    config = layer.get_config()
    for key, value in dict(filters=6, kernel_size=(3, 5), mask_type="A", color_groups=3,
                           dilation_rate=(2, 2), use_bias=False).items():
        assert tuple(config[key]) == value if isinstance(value, tuple) else config[key] == value
    clone = MaskedConv2D.from_config(config)
    assert clone.get_config() == config
    x = np.random.normal(size=(1, 6, 6, 3)).astype("float32")
    layer(x)
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(clone(x)),
                                  keras.ops.convert_to_numpy(layer(x)))


def _small_model():
    x_in = keras.Input((5, 5, 3))
    h = MaskedConv2D(6, 5, mask_type="A", color_groups=3, activation="relu")(x_in)
    out = MaskedConv2D(3, 3, mask_type="B", color_groups=3)(h)
    return keras.Model(x_in, out)


@pytest.mark.all_backends
def test_keras_save_load_round_trip(tmp_path):
    model = _small_model()
    path = str(tmp_path / "masked.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    conv = [l for l in loaded.layers if isinstance(l, MaskedConv2D)]
    assert [c.mask_type for c in conv] == ["A", "B"]
    assert [c.color_groups for c in conv] == [3, 3]
    x = np.random.normal(size=(2, 5, 5, 3)).astype("float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.all_backends
def test_one_fit_step_updates_only_unmasked_taps():
    model = _small_model()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x = np.random.normal(size=(4, 5, 5, 3)).astype("float32")
    y = np.random.normal(size=(4, 5, 5, 3)).astype("float32")
    convs = [l for l in model.layers if isinstance(l, MaskedConv2D)]
    before = [keras.ops.convert_to_numpy(c.kernel).copy() for c in convs]
    history = model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    for conv, old in zip(convs, before):
        new = keras.ops.convert_to_numpy(conv.kernel)
        mask = np.asarray(conv.mask)
        assert np.any((new != old) & (mask == 1))
        np.testing.assert_array_equal(new[mask == 0], old[mask == 0])
