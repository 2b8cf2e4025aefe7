"""Every layer on KERAS_BACKEND=jax: TensorFlow parity, NumPy references, causality by jax.grad."""

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest
from keras import ops

from keras_genmodels import layers
from keras_genmodels.kernels import masked_conv as kernel
from keras_genmodels.layers.kl import standard_normal_kl
from tests.jax import _cases

CASES = _cases.layer_cases()


@pytest.fixture(scope="module")
def built_layers():
    """Each case built on JAX: (layer, inputs, JAX outputs)."""
    out = {}
    for case, (factory, make_inputs) in CASES.items():
        inputs = make_inputs(np.random.default_rng(abs(hash(case)) % 2**32))
        layer = factory()
        result = _cases.run_layer(layer, inputs)
        # Non-zero biases so that they are compared too.
        layer.set_weights([w + 0.1 * np.random.default_rng(1).normal(size=w.shape).astype(w.dtype)
                           if w.ndim == 1 else w for w in layer.get_weights()])
        out[case] = (layer, inputs, _cases.run_layer(layer, inputs))
        assert len(result) == len(out[case][2])
    return out


@pytest.fixture(scope="module")
def tf_outputs(built_layers, tf_reference):
    arrays = {}
    for case, (layer, inputs, _) in built_layers.items():
        for i, x in enumerate(inputs if isinstance(inputs, list) else [inputs]):
            arrays[f"layer/{case}/input/{i}"] = x
        for i, w in enumerate(layer.get_weights()):
            arrays[f"layer/{case}/weight/{i}"] = w
    return tf_reference(arrays)


@pytest.mark.parametrize("case", sorted(CASES))
def test_layer_matches_tensorflow_on_the_same_weights(case, built_layers, tf_outputs):
    _, _, jax_out = built_layers[case]
    tf_out = [tf_outputs[f"layer/{case}/out/{i}"] for i in range(len(jax_out))]
    assert len(tf_out) == len(jax_out)
    for a, b in zip(jax_out, tf_out):
        assert a.shape == b.shape
        assert np.all(np.isfinite(a))
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)


def _np_masked_conv(x, kernel_, bias, mask):
    """Float64 'same' convolution with the causal mask multiplied into the kernel."""
    k = (kernel_ * mask).astype("float64")
    kh, kw = k.shape[:2]
    xp = np.pad(x.astype("float64"), ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    h, w = x.shape[1:3]
    out = np.zeros(x.shape[:3] + (k.shape[-1],))
    for di in range(kh):
        for dj in range(kw):
            out += np.einsum("nhwc,co->nhwo", xp[:, di:di + h, dj:dj + w], k[di, dj])
    return out + bias


@pytest.mark.parametrize("case", ["masked_conv_A_reference", "masked_conv_B_fused_xla"])
def test_masked_conv_matches_numpy_float64(case, built_layers):
    layer, x, (out,) = built_layers[case]
    kernel_, bias = layer.get_weights()
    mask = layers.causal_mask(kernel_.shape[:2], kernel_.shape[2], kernel_.shape[3],
                              layer.mask_type, layer.color_groups)
    expected = _np_masked_conv(x, kernel_, bias, ops.convert_to_numpy(mask))
    if layer.activation is keras.activations.tanh:
        expected = np.tanh(expected)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


def test_masked_dense_matches_numpy(built_layers):
    layer, x, (out,) = built_layers["masked_dense"]
    kernel_, bias = layer.get_weights()
    mask = (np.array([1, 2, 3, 1, 2, 3])[None, :] >= np.array([2, 1, 4, 3])[:, None])
    expected = np.maximum(x.astype("float64") @ (kernel_ * mask) + bias, 0.0)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_kl_regularizer_matches_closed_form(built_layers):
    _, (mean, log_var), (m_out, lv_out, loss) = built_layers["kl_regularizer"]
    np.testing.assert_array_equal(m_out, mean)
    np.testing.assert_array_equal(lv_out, log_var)
    kl = 0.5 * np.sum(np.exp(log_var) + mean**2 - 1.0 - log_var, axis=-1)
    np.testing.assert_allclose(loss, 0.5 * kl.mean(), rtol=1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(standard_normal_kl(mean, log_var)), kl,
                               rtol=1e-5)


def test_sampling_reparameterisation_and_seed():
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(4000, 2)).astype("float32")
    log_var = rng.normal(size=(4000, 2)).astype("float32")
    a = ops.convert_to_numpy(layers.Sampling(seed=3)([mean, log_var]))
    b = ops.convert_to_numpy(layers.Sampling(seed=3)([mean, log_var]))
    np.testing.assert_array_equal(a, b)
    eps = (a - mean) / np.exp(0.5 * log_var)
    assert abs(eps.mean()) < 0.05 and abs(eps.std() - 1.0) < 0.05
    layer = layers.Sampling(seed=3)
    first = ops.convert_to_numpy(layer([mean, log_var]))
    assert not np.array_equal(first, ops.convert_to_numpy(layer([mean, log_var])))
    # Under jax.jit with the layer's state passed explicitly (stateless call).
    state = [v.value for v in layer.non_trainable_variables]
    out, _ = jax.jit(lambda s, m, lv: layer.stateless_call([], s, [m, lv]))(state, mean, log_var)
    assert np.all(np.isfinite(np.asarray(out)))


def test_fused_kernel_under_jax_jit_matches_reference_layer():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 6, 5, 3)).astype("float32")
    k = rng.normal(size=(5, 5, 3, 6)).astype("float32")
    b = rng.normal(size=(6,)).astype("float32")
    mask = ops.convert_to_numpy(layers.causal_mask((5, 5), 3, 6, "A", 3))
    expected = _np_masked_conv(x, k, b, mask)
    fn = jax.jit(lambda x_, k_, b_: kernel.masked_conv2d(x_, k_, b_, mask_type="A",
                                                         color_groups=3))
    np.testing.assert_allclose(np.asarray(fn(x, k, b)), expected, rtol=1e-4, atol=1e-4)


H, W = _cases.H, _cases.W


def _allowed(i, j, g, groups, channels, strict_centre=True):
    """Inputs that output (i, j), colour group g may see (earlier pixels, earlier groups)."""
    allowed = np.zeros((H * W, channels), bool)
    allowed[: i * W + j] = True
    per = channels // groups
    allowed[i * W + j, : (g if strict_centre else g + 1) * per] = True
    return allowed.reshape(H, W, channels)


def _gradients(layer, x, targets, output_index=0, two_inputs=False):
    """|d out[t, i, j, chans] / d x[t]| for every target, in one jitted jax.grad.

    Target ``t`` gets its own copy of the input on the batch axis; examples do
    not interact, so the gradient of ``sum_t out[t, i_t, j_t, chans_t]`` with
    respect to copy ``t`` is that target's gradient alone.
    """
    xs = np.repeat(x[:1], len(targets), axis=0)
    trainable = [v.value for v in layer.trainable_variables]
    non_trainable = [v.value for v in layer.non_trainable_variables]

    def output(t):
        out, _ = layer.stateless_call(trainable, non_trainable, [t, t] if two_inputs else t)
        return out[output_index] if isinstance(out, (list, tuple)) else out

    out_shape = jax.eval_shape(output, jax.ShapeDtypeStruct(xs.shape, xs.dtype)).shape
    select = np.zeros(out_shape, "float32")
    for t, (i, j, chans) in enumerate(targets):
        select[t, i, j, chans] = 1.0
    grads = jax.jit(jax.grad(lambda t, w: jnp.sum(output(t) * w)))(xs, select)
    return np.abs(np.asarray(grads))


@pytest.mark.parametrize("case,strict", [
    ("masked_conv_A_reference", True), ("masked_conv_B_fused_xla", False),
    ("row_lstm", False), ("diagonal_bilstm_groups", False)])
def test_causality_by_jax_grad(case, strict, built_layers):
    layer, x, (out,) = built_layers[case]
    groups = getattr(layer, "color_groups", 1)
    per_out = out.shape[-1] // groups
    targets = [(i, j, g, slice(g * per_out, (g + 1) * per_out))
               for i, j in [(0, 0), (2, 1), (H - 1, W - 1), (1, W - 1)] for g in range(groups)]
    grads = _gradients(layer, x, [(i, j, c) for i, j, _, c in targets])
    for grad, (i, j, g, _) in zip(grads, targets):
        allowed = _allowed(i, j, g, groups, x.shape[-1], strict_centre=strict)
        assert np.all(grad[~allowed] == 0.0), (case, i, j, g)
        if i > 0:
            assert grad[i - 1, j].sum() > 0, (case, "the pixel above must be seen")
        if (i, j) == (H - 1, W - 1) and case.startswith("diagonal"):
            assert np.all(grad[: H - 1].sum(-1) > 0), (case, "sees every earlier pixel")


def test_gated_block_causality_by_jax_grad(built_layers):
    layer, (x, _), _ = built_layers["gated_block_A"]
    # The same image feeds both stacks, as in the first block of a PixelCNN.
    targets = [(0, 0, slice(None)), (2, 1, slice(None)), (H - 1, W - 1, slice(None))]
    horizontal = _gradients(layer, x, targets, output_index=1, two_inputs=True)
    vertical = _gradients(layer, x, targets, output_index=0, two_inputs=True)
    for g_h, g_v, (i, j, _) in zip(horizontal, vertical, targets):
        assert np.all(g_h[~_allowed(i, j, 0, 1, x.shape[-1])] == 0.0), (i, j)
        assert np.all(g_v[i:] == 0.0), ("the vertical stack sees only rows above", i, j)
    # It sees the pixel to the left (horizontal stack) and the row above (vertical stack).
    assert horizontal[-1][H - 1, W - 2].sum() > 0 and horizontal[-1][H - 2].sum() > 0
