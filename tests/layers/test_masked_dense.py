"""MaskedDense and the MADE degree helpers (backend code marked ``all_backends``)."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_genmodels import layers
from keras_genmodels.layers import MaskedDense, degree_mask, made_degrees
from tests import _grad


def test_degree_mask_values():
    np.testing.assert_array_equal(
        degree_mask([1, 2, 3], [1, 2]), [[1, 1], [0, 1], [0, 0]])
    np.testing.assert_array_equal(
        degree_mask([1, 2, 3], [1, 2, 3], strict=True),
        [[0, 1, 1], [0, 0, 1], [0, 0, 0]])
    stack = degree_mask([[1, 2], [2, 1]], [[2, 1], [1, 2]], strict=True)
    assert stack.shape == (2, 2, 2)
    np.testing.assert_array_equal(stack[1], [[0, 0], [0, 1]])


def test_made_degrees_order_and_ranges():
    degs = made_degrees(5, [7, 6], order=[3, 1, 4, 0, 2], rng=np.random.default_rng(1))
    np.testing.assert_array_equal(degs[0], [4, 2, 5, 1, 3])
    for prev, d in zip(degs[:-1], degs[1:]):
        assert d.min() >= prev.min() and d.max() <= 4
    equal = made_degrees(4, [6], hidden_degrees="equal")[1]
    np.testing.assert_array_equal(equal, [1, 1, 2, 2, 3, 3])


@pytest.mark.all_backends
def test_output_matches_numpy_masked_dense():
    rng = np.random.default_rng(0)
    mask = (rng.random((5, 3)) < 0.5).astype("float32")
    layer = MaskedDense(3, mask=mask, activation="tanh", bias_initializer="random_normal")
    x = rng.normal(size=(4, 5)).astype("float32")
    y = ops.convert_to_numpy(layer(x))
    kernel, bias = (ops.convert_to_numpy(w).astype("float64") for w in layer.weights)
    expected = np.tanh(x.astype("float64") @ (kernel * mask) + bias)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    # The kernel variable is never modified: masked entries keep their values.
    assert np.any(ops.convert_to_numpy(layer.kernel)[mask == 0] != 0)
    np.testing.assert_array_equal(ops.convert_to_numpy(layer.kernel), kernel)


@pytest.mark.all_backends
def test_masked_entries_get_zero_gradient():
    mask = np.triu(np.ones((4, 4), "float32"), 1)
    layer = MaskedDense(4, mask=mask)
    x = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    layer.build(x.shape)
    g, = _grad.variable_gradients(lambda: layer(x) ** 2, [layer.kernel])
    assert np.all(g[mask == 0] == 0) and np.all(g[mask == 1] != 0)
    # d sum((x (K * M))^2) / d K = M * x^T (2 x (K * M)), in float64.
    kernel = ops.convert_to_numpy(layer.kernel).astype("float64") * mask
    x64 = x.astype("float64")
    np.testing.assert_allclose(g, mask * (x64.T @ (2 * x64 @ kernel)), rtol=1e-5, atol=1e-6)


@pytest.mark.all_backends
@pytest.mark.parametrize("order", [None, [2, 0, 5, 1, 4, 3]])
def test_made_stack_is_autoregressive(order):
    d = 6
    deg = made_degrees(d, [32, 32], order=order, rng=np.random.default_rng(3))
    x_in = keras.Input((d,))
    h = MaskedDense(32, input_degrees=deg[0], output_degrees=deg[1], activation="tanh")(x_in)
    h = MaskedDense(32, input_degrees=deg[1], output_degrees=deg[2], activation="tanh")(h)
    out = MaskedDense(d, input_degrees=deg[2], output_degrees=deg[0], strict=True)(h)
    model = keras.Model(x_in, out)
    x = np.random.default_rng(0).normal(size=(1, d)).astype("float32")
    jac = _grad.jacobian(model, x).reshape(d, d)
    order = np.arange(d) if order is None else np.asarray(order)
    rank = np.empty(d, int)
    rank[order] = np.arange(d)
    for i in range(d):
        assert np.all(jac[i, rank >= rank[i]] == 0)
        if rank[i] > 0:
            assert np.any(jac[i, rank < rank[i]] != 0)


@pytest.mark.all_backends
def test_mask_stack_and_mask_index():
    masks = np.stack([np.eye(3), 1 - np.eye(3)]).astype("float32")
    layer = MaskedDense(3, mask=masks, use_bias=False, kernel_initializer="ones")
    x = np.array([[1.0, 2.0, 4.0]], "float32")
    np.testing.assert_allclose(ops.convert_to_numpy(layer(x)), [[1, 2, 4]])
    np.testing.assert_allclose(ops.convert_to_numpy(layer(x, mask_index=1)), [[6, 5, 3]])
    np.testing.assert_allclose(
        ops.convert_to_numpy(layer(x, mask_index=ops.convert_to_tensor(1))), [[6, 5, 3]])
    assert layer.num_masks == 2
    with pytest.raises(ValueError, match="mask_index"):
        layer(x, mask_index=2)


@pytest.mark.all_backends
@pytest.mark.parametrize("strict", [False, True])
def test_degree_stack_masks_at_a_tensor_index(strict):
    # A degree-given stack computes each mask from its degrees in the graph:
    # it must equal the NumPy mask of that index (and the explicit-mask layer).
    rng = np.random.default_rng(1)
    din = np.stack([rng.permutation(5) + 1 for _ in range(3)])
    dout = rng.integers(1, 6, size=(3, 7))
    layer = MaskedDense(7, input_degrees=din, output_degrees=dout, strict=strict, use_bias=False)
    explicit = MaskedDense(7, mask=degree_mask(din, dout, strict), use_bias=False)
    x = rng.normal(size=(4, 5)).astype("float32")
    layer.build(x.shape)
    explicit.build(x.shape)
    explicit.kernel.assign(layer.kernel)
    kernel = ops.convert_to_numpy(layer.kernel)
    assert layer.num_masks == 3 and layer.mask.shape == (3, 5, 7)
    for k in range(3):
        want = degree_mask(din[k], dout[k], strict)
        np.testing.assert_array_equal(layer.mask[k], want)
        got = ops.convert_to_numpy(layer.masked_kernel(ops.convert_to_tensor(k, "int32")))
        np.testing.assert_array_equal(got, kernel * want)
        np.testing.assert_allclose(
            ops.convert_to_numpy(layer(x, mask_index=ops.convert_to_tensor(k))),
            ops.convert_to_numpy(explicit(x, mask_index=ops.convert_to_tensor(k))), atol=1e-6)


def test_errors():
    with pytest.raises(ValueError, match="either `mask` or both"):
        MaskedDense(3)
    with pytest.raises(ValueError, match="either `mask` or both"):
        MaskedDense(3, mask=np.ones((2, 3)), input_degrees=[1, 2], output_degrees=[1, 1, 1])
    with pytest.raises(ValueError, match="either `mask` or both"):
        MaskedDense(3, input_degrees=[1, 2])
    with pytest.raises(ValueError, match="only 0 and 1"):
        MaskedDense(3, mask=np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match="units=4"):
        MaskedDense(4, mask=np.ones((2, 3)))
    with pytest.raises(ValueError, match="units"):
        MaskedDense(0, mask=np.ones((2, 0)))
    with pytest.raises(ValueError, match="integers"):
        MaskedDense(2, input_degrees=[1.5, 2], output_degrees=[1, 2])
    with pytest.raises(ValueError, match="shape"):
        MaskedDense(2, mask=np.ones(2))
    with pytest.raises(ValueError, match="expects 2 input features"):
        MaskedDense(3, mask=np.ones((2, 3)))(np.ones((1, 5), "float32"))
    with pytest.raises(ValueError, match="permutation"):
        made_degrees(3, [4], order=[0, 0, 1])
    with pytest.raises(ValueError, match="hidden_degrees"):
        made_degrees(3, [4], hidden_degrees="uniform")


@pytest.mark.all_backends
@pytest.mark.parametrize("kind", ["mask", "degrees"])
def test_config_and_keras_round_trip(kind, tmp_path):
    if kind == "mask":
        kwargs = {"mask": np.tril(np.ones((4, 3)), -1)}
    else:
        kwargs = {"input_degrees": [[1, 2, 3, 4], [4, 3, 2, 1]],
                  "output_degrees": [[1, 2, 3], [3, 1, 2]], "strict": True}
    layer = MaskedDense(3, activation="relu", **kwargs)
    clone = MaskedDense.from_config(layer.get_config())
    np.testing.assert_array_equal(clone.mask, layer.mask)
    assert clone.get_config() == layer.get_config()

    x_in = keras.Input((4,))
    model = keras.Model(x_in, layer(x_in))
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    model.fit(x, np.ones((8, 3), "float32"), epochs=1, verbose=0)   # one fit step
    path = str(tmp_path / "masked_dense.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded.layers[-1], layers.MaskedDense)
    np.testing.assert_array_equal(loaded.layers[-1].mask, layer.mask)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(ops.convert_to_numpy(a), ops.convert_to_numpy(b))
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
