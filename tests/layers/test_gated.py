"""GatedPixelCNNBlock: causality by gradients, NumPy reference, serialization (all backends)."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_genmodels.kernels import gated_activation
from keras_genmodels.layers import GatedPixelCNNBlock
from keras_genmodels.layers.gated import gate
from tests._causality import allowed_inputs
from tests._causality import input_gradients


def _stack(filters=6, color_groups=1, condition_dim=None, size=7):
    """An A block (kernel 5) followed by two B blocks (kernel 3)."""
    blocks = [GatedPixelCNNBlock(filters, 5, "A", color_groups, condition_dim)] + [
        GatedPixelCNNBlock(filters, 3, "B", color_groups, condition_dim) for _ in range(2)
    ]

    def run(x, y=None):
        v, h = x, x
        for b in blocks:
            v, h = b([v, h] if y is None else [v, h, y])
        return v, h

    return blocks, run


def _normal(shape):
    return lambda n: np.random.normal(size=(n,) + shape).astype("float32")


@pytest.mark.all_backends
@pytest.mark.parametrize("color_groups, channels", [(1, 1), (3, 3)])
def test_horizontal_output_is_autoregressive(color_groups, channels):
    size = 5
    _, run = _stack(filters=6, color_groups=color_groups)
    per = 6 // color_groups
    targets = [(i, j, list(range(g * per, (g + 1) * per)))
               for i in range(size) for j in range(size) for g in range(color_groups)]
    grads = input_gradients(run, _normal((size, size, channels)), targets, out_index=1)
    for grad, (i, j, chans) in zip(grads, targets):
        g = chans[0] // per
        allowed = allowed_inputs((size, size, channels), i, j, g, color_groups)
        assert np.all(grad[~allowed] == 0), (i, j, g)
        # No blind spot: with kernels 5, 3, 3 every earlier value of a 5x5
        # image is inside the receptive field and has a non-zero gradient.
        assert np.all(grad[allowed] > 0), (i, j, g, np.argwhere(allowed & (grad == 0)))


@pytest.mark.all_backends
def test_vertical_stack_never_sees_the_current_row():
    size = 5
    _, run = _stack(filters=4)
    targets = [(i, j, [0, 1, 2, 3]) for i in range(size) for j in range(size)]
    grads = input_gradients(run, _normal((size, size, 1)), targets, out_index=0)
    for grad, (i, j, _) in zip(grads, targets):
        grad = grad[..., 0]
        assert np.all(grad[i:] == 0), (i, j)
        assert np.all(grad[:i] > 0), (i, j)  # the full width of every row above


@pytest.mark.all_backends
def test_condition_enters_every_gate_and_keeps_causality():
    _, run = _stack(filters=4, condition_dim=3)
    x = np.random.normal(size=(2, 4, 4, 1)).astype("float32")
    y0 = np.eye(3, dtype="float32")[[0, 0]]
    y1 = np.eye(3, dtype="float32")[[2, 2]]
    v0, h0 = run(x, y0)
    v1, h1 = run(x, y1)
    assert not np.allclose(ops.convert_to_numpy(h0), ops.convert_to_numpy(h1))
    assert not np.allclose(ops.convert_to_numpy(v0), ops.convert_to_numpy(v1))
    targets = [(i, j, [0, 1, 2, 3]) for i in range(4) for j in range(4)]
    y = np.eye(3, dtype="float32")[np.arange(2 * len(targets)) % 3]
    grads = input_gradients(lambda t: run(t, y), _normal((4, 4, 1)), targets, out_index=1)
    for grad, (i, j, _) in zip(grads, targets):
        allowed = allowed_inputs((4, 4, 1), i, j, 0, 1)
        assert np.all(grad[~allowed] == 0) and np.all(grad[allowed] > 0), (i, j)


def _np_conv_valid(x, kernel, bias):
    kh, kw = kernel.shape[:2]
    n, h, w, _ = x.shape
    out = np.zeros((n, h - kh + 1, w - kw + 1, kernel.shape[-1]))
    for a in range(kh):
        for b in range(kw):
            out += x[:, a:a + h - kh + 1, b:b + w - kw + 1, :] @ kernel[a, b]
    return out + bias


def _np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@pytest.mark.all_backends
@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_block_matches_numpy_reference(mask_type):
    f, k, groups = 6, 3, 3
    block = GatedPixelCNNBlock(f, k, mask_type, color_groups=groups, condition_dim=2)
    c_in = 3 if mask_type == "A" else f
    rng = np.random.default_rng(0)
    v = rng.normal(size=(2, 4, 5, c_in)).astype("float32")
    h = rng.normal(size=(2, 4, 5, c_in)).astype("float32")
    y = rng.normal(size=(2, 2)).astype("float32")
    v_out, h_out = [ops.convert_to_numpy(t) for t in block([v, h, y])]
    for w in block.weights:  # non-zero biases so that they are checked too
        if "bias" in w.path:
            w.assign(rng.normal(size=w.shape).astype("float32"))
    v_out, h_out = [ops.convert_to_numpy(t) for t in block([v, h, y])]

    def params(layer):
        return [np.asarray(w, "float64") for w in layer.get_weights()]

    v64, h64, y64 = v.astype("float64"), h.astype("float64"), y.astype("float64")
    rows = k // 2 if mask_type == "A" else k // 2 + 1
    kv, bv = params(block.vertical_conv)
    v_pre = _np_conv_valid(np.pad(v64, ((0, 0), (rows - 1, 0), (1, 1), (0, 0))), kv, bv)
    if mask_type == "A":
        v_pre = np.concatenate([np.zeros_like(v_pre[:, :1]), v_pre[:, :-1]], axis=1)
    kh, bh = params(block.horizontal_conv)
    kh = kh * block.horizontal_conv.mask
    k2, b2 = params(block.vertical_to_horizontal)
    v_pre = v_pre + (y64 @ params(block.vertical_condition)[0])[:, None, None]
    h_pre = _np_conv_valid(np.pad(h64, ((0, 0), (0, 0), (1, 1), (0, 0))), kh, bh)
    h_pre = h_pre + _np_conv_valid(v_pre, k2, b2)
    h_pre = h_pre + (y64 @ params(block.horizontal_condition)[0])[:, None, None]

    def np_gate(t, g):
        t = t.reshape(t.shape[:-1] + (g, 2, -1))
        return (np.tanh(t[..., 0, :]) * _np_sigmoid(t[..., 1, :])).reshape(t.shape[:-3] + (-1,))

    ko, bo = params(block.horizontal_output)
    h_ref = _np_conv_valid(np_gate(h_pre, groups), ko * block.horizontal_output.mask, bo)
    if mask_type == "B":
        h_ref = h_ref + h64
    np.testing.assert_allclose(v_out, np_gate(v_pre, 1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(h_out, h_ref, rtol=1e-4, atol=1e-5)


@pytest.mark.all_backends
def test_gate_keeps_colour_groups():
    x = np.random.normal(size=(2, 12)).astype("float32")
    out = ops.convert_to_numpy(gated_activation(x, 3))
    groups = x.reshape(2, 3, 2, 2)
    ref = (np.tanh(groups[:, :, 0]) * _np_sigmoid(groups[:, :, 1])).reshape(2, 6)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.all_backends
def test_gate_is_a_deprecated_alias_of_gated_activation():
    x = np.random.normal(size=(2, 12)).astype("float32")
    with pytest.warns(DeprecationWarning, match="gated_activation"):
        out = ops.convert_to_numpy(gate(x, 3))
    np.testing.assert_array_equal(out, ops.convert_to_numpy(gated_activation(x, 3)))


@pytest.mark.all_backends
def test_config_round_trip_and_saving(tmp_path):
    block = GatedPixelCNNBlock(6, 5, "A", color_groups=3, condition_dim=4, name="blk")
    config = block.get_config()
    clone = GatedPixelCNNBlock.from_config(config)
    assert clone.get_config() == config

    x = keras.Input((5, 5, 3))
    y = keras.Input((4,))
    v, h = GatedPixelCNNBlock(6, 5, "A", color_groups=3, condition_dim=4)([x, x, y])
    v, h = GatedPixelCNNBlock(6, 3, "B", color_groups=3, condition_dim=4)([v, h, y])
    model = keras.Model([x, y], [v, h])
    xs = np.random.normal(size=(2, 5, 5, 3)).astype("float32")
    ys = np.random.normal(size=(2, 4)).astype("float32")
    path = str(tmp_path / "gated.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    for a, b in zip(model.predict([xs, ys], verbose=0), loaded.predict([xs, ys], verbose=0)):
        np.testing.assert_array_equal(a, b)
    for w1, w2 in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(w1.numpy(), w2.numpy())


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="kernel_size"):
        GatedPixelCNNBlock(4, 4)
    with pytest.raises(ValueError, match="kernel_size"):
        GatedPixelCNNBlock(4, 1, "A")
    with pytest.raises(ValueError, match="mask_type"):
        GatedPixelCNNBlock(4, 3, "C")
    with pytest.raises(ValueError, match="divisible"):
        GatedPixelCNNBlock(4, 3, color_groups=3)
    x = np.zeros((1, 4, 4, 4), "float32")
    with pytest.raises(ValueError, match="expects 3 inputs"):
        GatedPixelCNNBlock(4, 3, condition_dim=2)([x, x])
    with pytest.raises(ValueError, match="residual"):
        GatedPixelCNNBlock(8, 3, "B")([x, x])
