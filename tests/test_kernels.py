"""Parity and causality tests of keras_genmodels.kernels.masked_conv2d.

Tolerances (absolute, relative to the largest reference magnitude ``s``):
float32 ``1e-5 * s`` (forward and gradients; the fused and reference paths
differ only in summation order); bfloat16 ``3e-2 * s`` (8-bit mantissa:
``2**-8`` per rounding, and the fused path rounds its partial sums).

The kernel is ``keras.ops`` code: the tests marked ``all_backends`` run it on
every backend (gradients by ``tests/_grad.py``; ``compile=True`` is XLA,
TensorFlow and JAX only). The TensorFlow-native fast path is tested on
TensorFlow only.
"""

import keras
import numpy as np
import pytest
from keras import ops

from keras_genmodels.kernels import conv_flops
from keras_genmodels.kernels import gated_activation
from keras_genmodels.kernels import masked_conv2d
from keras_genmodels.kernels import reference_masked_conv2d
from keras_genmodels.kernels import slice_axis
from keras_genmodels.kernels import tap_counts
from keras_genmodels.layers import MaskedConv2D
from keras_genmodels.layers import causal_mask
from tests import _grad

BACKEND = keras.backend.backend()
needs_xla = pytest.mark.skipif(BACKEND not in ("tensorflow", "jax"),
                               reason="compile=True compiles with XLA: TensorFlow and JAX only")
F32_TOL = 1e-5
BF16_TOL = 3e-2


def _data(k, groups, cin=6, cout=6, h=7, w=6, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, h, w, cin)).astype("float32")
    kernel = rng.standard_normal((k, k, cin, cout)).astype("float32")
    bias = rng.standard_normal((cout,)).astype("float32")
    return x, kernel, bias


def _assert_close(actual, expected, tol):
    actual = np.asarray(ops.convert_to_numpy(actual), dtype="float64")
    expected = np.asarray(ops.convert_to_numpy(expected), dtype="float64")
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=tol * scale)


def _value_and_grads(fn, x, kernel, bias, dtype="float32", **kwargs):
    """Output and gradients (wrt x, kernel, bias) of sum(out * cotangent), as float32."""
    x, kernel, bias = (ops.cast(a, dtype) for a in (x, kernel, bias))
    y, grads = _grad.vjp(lambda *a: fn(*a, **kwargs), x, kernel, bias,
                         cotangent=lambda shape: np.random.default_rng(1).standard_normal(shape))
    return [np.asarray(t, "float32") for t in [y] + grads]


def _bf16_representable(a):
    return ops.convert_to_numpy(ops.cast(ops.cast(a, "bfloat16"), "float32"))


def _numpy_masked_conv(x, kernel, bias, mask_type, groups):
    """float64 'same' convolution with the causal mask, by explicit loops over taps."""
    kh, kw, cin, cout = kernel.shape
    k = kernel.astype("float64") * causal_mask((kh, kw), cin, cout, mask_type, groups)
    ph, pw = kh // 2, kw // 2
    xp = np.pad(x.astype("float64"), [(0, 0), (ph, ph), (pw, pw), (0, 0)])
    b, h, w, _ = x.shape
    out = np.zeros((b, h, w, cout)) + bias
    for r in range(kh):
        for c in range(kw):
            out += xp[:, r:r + h, c:c + w] @ k[r, c]
    return out


@pytest.mark.all_backends
@pytest.mark.parametrize("mask_type,groups", [("A", 3), ("B", 1), ("B", 3)])
def test_fused_matches_numpy_float64(mask_type, groups):
    x, kernel, bias = _data(5, groups)
    expected = _numpy_masked_conv(x, kernel, bias, mask_type, groups)
    for method in ("split", "shifted"):
        got = masked_conv2d(x, kernel, bias, mask_type=mask_type, color_groups=groups, method=method)
        _assert_close(got, expected, F32_TOL)
    _assert_close(reference_masked_conv2d(x, kernel, bias, mask_type=mask_type, color_groups=groups),
           expected, F32_TOL)


@pytest.mark.all_backends
@pytest.mark.parametrize("k", [1, 3, 5, 7])
@pytest.mark.parametrize("mask_type", ["A", "B"])
@pytest.mark.parametrize("groups", [1, 3])
@pytest.mark.parametrize("method", ["split", "shifted"])
def test_parity_float32_forward_and_gradients(k, mask_type, groups, method):
    x, kernel, bias = _data(k, groups, seed=k)
    kw = dict(mask_type=mask_type, color_groups=groups)
    fused = _value_and_grads(masked_conv2d, x, kernel, bias, method=method, **kw)
    ref = _value_and_grads(reference_masked_conv2d, x, kernel, bias, **kw)
    for a, b in zip(fused, ref):  # out, d_x, d_kernel, d_bias
        _assert_close(a, b, F32_TOL)
    # Masked-out taps get exactly zero gradient, as in the reference.
    mask = causal_mask((k, k), 6, 6, mask_type, groups)
    assert np.all(fused[2][mask == 0] == 0.0)


@pytest.mark.all_backends
@pytest.mark.parametrize("k,mask_type,groups", [(7, "A", 1), (3, "B", 1), (5, "A", 3), (3, "B", 3)])
@pytest.mark.parametrize("method", ["split", "shifted"])
def test_parity_bfloat16(k, mask_type, groups, method):
    x, kernel, bias = _data(k, groups, seed=3)
    # Compare on bf16-representable inputs, against the float32 reference.
    x, kernel, bias = (_bf16_representable(a) for a in (x, kernel, bias))
    kw = dict(mask_type=mask_type, color_groups=groups)
    fused = _value_and_grads(masked_conv2d, x, kernel, bias, dtype="bfloat16", method=method, **kw)
    ref = _value_and_grads(reference_masked_conv2d, x, kernel, bias, **kw)
    for a, b in zip(fused, ref):
        _assert_close(a, b, BF16_TOL)
    y = masked_conv2d(ops.cast(x, "bfloat16"), ops.cast(kernel, "bfloat16"), **kw)
    assert keras.backend.standardize_dtype(y.dtype) == "bfloat16"


def _np_gate(h, groups):
    b, hh, w, c = h.shape
    h = h.reshape(b, hh, w, groups, 2, c // groups // 2)
    out = np.tanh(h[..., 0, :]) * (1.0 / (1.0 + np.exp(-h[..., 1, :])))
    return out.reshape(b, hh, w, c // 2)


@pytest.mark.all_backends
@pytest.mark.parametrize("groups", [1, 3])
@pytest.mark.parametrize("method", ["split", "shifted"])
def test_gated_residual_activation_match_composition(groups, method):
    x, kernel, bias = _data(3, groups, cin=6, cout=12, seed=5)
    residual = np.random.default_rng(6).standard_normal((2, 7, 6, 6)).astype("float32")
    pre = _numpy_masked_conv(x, kernel, bias, "B", groups)
    got = masked_conv2d(x, kernel, bias, mask_type="B", color_groups=groups, gated=True,
                        residual=residual, method=method)
    _assert_close(got, _np_gate(pre, groups) + residual, F32_TOL)
    got = masked_conv2d(x, kernel, bias, mask_type="B", color_groups=groups, activation="relu",
                        residual=np.zeros((2, 7, 6, 12), "float32") + 1.0, method=method)
    _assert_close(got, np.maximum(pre, 0.0) + 1.0, F32_TOL)
    # gated_activation on its own, and gradients of the full fused op vs reference.
    _assert_close(ops.convert_to_numpy(gated_activation(pre.astype("float32"), groups)),
                  _np_gate(pre, groups), F32_TOL)
    kw = dict(mask_type="B", color_groups=groups, gated=True, residual=residual)
    fused = _value_and_grads(masked_conv2d, x, kernel, bias, method=method, **kw)
    ref = _value_and_grads(reference_masked_conv2d, x, kernel, bias, **kw)
    for a, b in zip(fused, ref):
        _assert_close(a, b, F32_TOL)


@pytest.mark.parametrize("k,gated", [(1, False), (1, True), (3, True), (7, False)])
def test_tensorflow_native_ops_match_keras_ops_path(k, gated):
    """The TensorFlow-native fast path (BiasAdd, explicit padding, input gradient
    as a forward conv) equals the keras.ops path, in a graph-mode training step
    (where grappler fuses ops), values and gradients."""
    import tensorflow as tf

    from keras_genmodels.kernels.masked_conv import _run

    groups = 3
    x, kernel, bias = _data(k, groups, cin=6, cout=12, seed=k + 10)
    residual = tf.constant(np.random.default_rng(3).standard_normal((2, 7, 6, 6 if gated else 12)),
                           "float32")

    x, kernel, bias = (tf.constant(a) for a in (x, kernel, bias))
    cot = tf.constant(np.random.default_rng(1).standard_normal(residual.shape), "float32")

    def step(native):
        @tf.function
        def run(x, kernel, bias):
            with tf.GradientTape() as tape:
                tape.watch([x, kernel, bias])
                y = _run("fused", x, kernel, bias, "A" if k == 7 else "B", groups,
                         None if gated else "relu", gated, residual, 1, False,
                         method="shifted", native=native)
                loss = tf.reduce_sum(y * cot)
            return [y] + tape.gradient(loss, [x, kernel, bias])

        return [np.asarray(t) for t in run(x, kernel, bias)]

    for a, b in zip(step(True), step(False)):
        _assert_close(a, b, F32_TOL)


@pytest.mark.all_backends
@pytest.mark.parametrize("method", ["split", "shifted"])
def test_autoregressive_gradients_fused_path(method):
    """d out[b, i, j, group g] / d x is zero exactly for x later in raster/colour order."""
    groups, c = 3, 6
    h, w = 5, 5
    rng = np.random.default_rng(7)
    k1 = rng.standard_normal((5, 5, 3, c)).astype("float32")
    k2 = rng.standard_normal((3, 3, c, 2 * c)).astype("float32")
    k3 = rng.standard_normal((1, 1, c, 3)).astype("float32")
    x = rng.standard_normal((2, h, w, 3)).astype("float32")

    def net(x):
        y = masked_conv2d(x, k1, mask_type="A", color_groups=groups, activation="tanh", method=method)
        y = masked_conv2d(y, k2, mask_type="B", color_groups=groups, gated=True, residual=y,
                          method=method)
        return masked_conv2d(y, k3, mask_type="B", color_groups=groups, method=method)

    order = np.arange(h * w * 3).reshape(h, w, 3)  # raster then colour order
    seen_nonzero = 0
    for i, j, g in [(0, 0, 0), (0, 0, 2), (2, 3, 1), (4, 4, 0), (4, 4, 2)]:
        select = np.zeros((2, h, w, 3), "float32")
        select[0, i, j, g] = 1.0  # d out[0, i, j, g] / d x
        grad = _grad.gradient(net, x, cotangent=select)
        allowed = order < order[i, j, g]
        assert np.all(grad[0][~allowed] == 0.0), (i, j, g)
        assert np.all(grad[1] == 0.0)  # other batch items
        seen_nonzero += int(np.any(grad[0][allowed] != 0.0))
        if order[i, j, g] > 0:
            assert np.any(grad[0][allowed] != 0.0), (i, j, g)
    assert seen_nonzero == 4


@pytest.mark.all_backends
@needs_xla
@pytest.mark.parametrize("impl", ["fused_split", "fused_shifted"])
def test_xla_compiled_equals_eager(impl):
    x, kernel, bias = _data(5, 3, cin=6, cout=12, seed=9)
    residual = np.random.default_rng(2).standard_normal((2, 7, 6, 6)).astype("float32")
    if impl == "reference":
        fn = reference_masked_conv2d
        extra = {}
    else:
        fn = masked_conv2d
        extra = {"method": impl.split("_")[1]}
    kw = dict(mask_type="A", color_groups=3, gated=True, residual=residual, **extra)
    eager = _value_and_grads(fn, x, kernel, bias, compile=False, **kw)
    xla = _value_and_grads(fn, x, kernel, bias, compile=True, **kw)
    for a, b in zip(xla, eager):
        _assert_close(a, b, F32_TOL)


def test_tap_and_flop_counts():
    assert tap_counts(7, "A") == {"dense": 49, "split": 24, "shifted": 28, "uses_centre": False}
    assert tap_counts(3, "B") == {"dense": 9, "split": 5, "shifted": 6, "uses_centre": True}
    assert tap_counts(1, "A", 3)["split"] == 1
    f = conv_flops(7, 1, 64, "A")
    assert f["useful"] == 2 * 24 * 64 == 2 * int(causal_mask((7, 7), 1, 64, "A").sum())
    assert f["dense"] == 2 * 49 * 64
    f = conv_flops(3, 6, 6, "A", color_groups=3)
    assert f["useful"] == 2 * int(causal_mask((3, 3), 6, 6, "A", 3).sum())
    assert f["useful"] < f["split"] < f["dense"]
    assert conv_flops(1, 64, 64)["useful"] == 2 * 64 * 64


def test_invalid_arguments():
    x, kernel, bias = _data(3, 1)
    with pytest.raises(ValueError, match="mask_type"):
        masked_conv2d(x, kernel, mask_type="C")
    with pytest.raises(ValueError, match="odd"):
        masked_conv2d(x, np.zeros((2, 2, 6, 6), "float32"))
    with pytest.raises(ValueError, match="channels"):
        masked_conv2d(x[..., :5], kernel)
    with pytest.raises(ValueError, match="bias"):
        masked_conv2d(x, kernel, bias[:3])
    with pytest.raises(ValueError, match="compile"):
        masked_conv2d(x, kernel, compile="yes")
    with pytest.raises(ValueError, match="method"):
        masked_conv2d(x, kernel, method="fast")
    with pytest.raises(ValueError, match="divisible"):
        masked_conv2d(x, kernel, color_groups=4)
    with pytest.raises(ValueError, match="gated"):
        masked_conv2d(x, kernel, color_groups=2, gated=True)
    with pytest.raises(ValueError, match="residual"):
        masked_conv2d(x, kernel, residual=x[..., :2])
    with pytest.raises(ValueError, match="implementation"):
        MaskedConv2D(4, 3, implementation="fastest")


def _pixel_model(implementation):
    inputs = keras.Input((6, 5, 3))
    h = MaskedConv2D(6, 5, mask_type="A", color_groups=3, activation="relu",
                     implementation=implementation)(inputs)
    h = MaskedConv2D(6, 3, mask_type="B", color_groups=3, dilation_rate=2,
                     implementation=implementation)(h)
    return keras.Model(inputs, h)


@pytest.mark.all_backends
def test_layer_implementations_share_weights_and_save_load(tmp_path):
    x = np.random.default_rng(0).standard_normal((2, 6, 5, 3)).astype("float32")
    ref = _pixel_model("reference")
    y_ref = ops.convert_to_numpy(ref(x))
    # "fused_xla" compiles with XLA: TensorFlow and JAX only.
    xla = ("fused_xla",) if BACKEND in ("tensorflow", "jax") else ()
    for impl in ("fused",) + xla + ("auto",):
        other = _pixel_model(impl)
        other.set_weights(ref.get_weights())
        _assert_close(ops.convert_to_numpy(other(x)), y_ref, F32_TOL)
        assert other.layers[1].get_config()["implementation"] == impl
    # .keras round trip of a fused model, and its weights into a reference model.
    fused = _pixel_model("fused")
    path = str(tmp_path / "fused.keras")
    fused.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.layers[1].implementation == "fused"
    for a, b in zip(loaded.get_weights(), fused.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ops.convert_to_numpy(loaded(x)), ops.convert_to_numpy(fused(x)))
    wpath = str(tmp_path / "fused.weights.h5")
    fused.save_weights(wpath)
    ref2 = _pixel_model("reference")
    ref2.load_weights(wpath)
    _assert_close(ops.convert_to_numpy(ref2(x)), ops.convert_to_numpy(fused(x)), F32_TOL)


@pytest.mark.all_backends
def test_layer_fused_trains_like_reference():
    """One SGD step from the same weights: same loss, same updated weights."""
    x = np.random.default_rng(1).standard_normal((4, 6, 5, 3)).astype("float32")
    y = np.random.default_rng(2).standard_normal((4, 6, 5, 6)).astype("float32")
    models = {}
    for impl in ("reference", "fused"):
        keras.utils.set_random_seed(0)
        m = _pixel_model(impl)
        m.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
        models[impl] = m
    models["fused"].set_weights(models["reference"].get_weights())
    losses = {k: m.train_on_batch(x, y) for k, m in models.items()}
    assert abs(losses["fused"] - losses["reference"]) <= 1e-5 * abs(losses["reference"])
    for a, b in zip(models["fused"].get_weights(), models["reference"].get_weights()):
        _assert_close(a, b, F32_TOL)


@pytest.mark.all_backends
def test_layer_mixed_precision_fused():
    layer = MaskedConv2D(6, 3, mask_type="B", color_groups=3, implementation="fused",
                         dtype="mixed_bfloat16")
    ref = MaskedConv2D(6, 3, mask_type="B", color_groups=3, implementation="reference",
                       dtype="mixed_bfloat16")
    x = np.random.default_rng(3).standard_normal((2, 5, 5, 3)).astype("float32")
    y = layer(x)
    ref.build(x.shape)
    ref.set_weights(layer.get_weights())
    assert keras.backend.standardize_dtype(y.dtype) == "bfloat16"
    assert layer.kernel.dtype == "float32"
    _assert_close(ops.convert_to_numpy(ops.cast(y, "float32")),
                  ops.convert_to_numpy(ops.cast(ref(x), "float32")), BF16_TOL)


@pytest.mark.all_backends
@pytest.mark.parametrize("axis,start,stop", [(1, 0, -1), (2, 1, None), (-1, 2, 5), (1, -3, -1),
                                             (0, 0, 3), (2, 3, 3)])
def test_slice_axis_equals_slicing_forward_and_gradient(axis, start, stop):
    """``slice_axis`` (a split) == Python slicing, values and input gradients (the cotangent scatters back)."""
    x = np.random.default_rng(0).standard_normal((3, 4, 6, 5)).astype("float32")
    index = [slice(None)] * 4
    index[axis] = slice(start, stop)
    expected = x[tuple(index)]
    cot = np.random.default_rng(1).standard_normal(expected.shape).astype("float32")
    out, (grad,) = _grad.vjp(lambda t: slice_axis(t, start, stop, axis=axis), x, cotangent=cot)
    np.testing.assert_array_equal(out, expected)
    expected_grad = np.zeros_like(x)
    expected_grad[tuple(index)] = cot
    np.testing.assert_array_equal(grad, expected_grad)


def test_slice_axis_needs_a_static_size():
    with pytest.raises(ValueError, match="static size along axis 0"):
        slice_axis(keras.KerasTensor((None, 3)), 0, 1, axis=0)
