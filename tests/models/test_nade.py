import math

import keras
import numpy as np
import pytest

from keras_genmodels import models
from keras_genmodels.models import nade as nade_module
from tests._grad import variable_gradients, vjp
from tests.models.test_density_common import assert_autoregressive, jacobian, randomize_weights


def nade_log_prob_loop(x, W, c, V, b):
    """Independent float64 reference: one conditional at a time, h_d recomputed from scratch."""
    x = np.asarray(x, "float64").reshape(len(x), -1)
    W, c, V, b = (np.asarray(t, "float64") for t in (W, c, V, b))
    out = np.zeros(len(x))
    for n in range(len(x)):
        for d in range(x.shape[1]):
            h = 1.0 / (1.0 + np.exp(-(c + x[n, :d] @ W[:d])))
            p1 = 1.0 / (1.0 + np.exp(-(b[d] + V[d] @ h)))
            out[n] += math.log(p1 if x[n, d] == 1 else 1.0 - p1)
    return out


@pytest.mark.all_backends
@pytest.mark.parametrize("implementation", ["fused", "blocked", "cumsum"])
def test_log_prob_matches_numpy_loop(implementation):
    model = randomize_weights(models.NADE((4, 5), hidden_units=7, implementation=implementation),
                              scale=1.0, seed=3)
    x = (np.random.default_rng(0).random((6, 4, 5)) < 0.5).astype("float32")
    expected = nade_log_prob_loop(
        x, *(np.asarray(w) for w in (model.W, model.c, model.V, model.b)))
    np.testing.assert_allclose(model.log_prob(x), expected, rtol=1e-5, atol=1e-4)


@pytest.mark.all_backends
@pytest.mark.parametrize("implementation", ["fused", "blocked", "cumsum"])
def test_autoregressive_by_gradients(implementation):
    model = randomize_weights(models.NADE(7, hidden_units=5, implementation=implementation), seed=1)
    x = np.random.default_rng(2).random(7)
    assert_autoregressive(jacobian(model, x), np.arange(7))


@pytest.mark.all_backends
@pytest.mark.parametrize("implementation", ["fused", "blocked"])
@pytest.mark.parametrize("dim", [7, 16, 30])   # padded to 3 x 3, exact 4 x 4, padded to 6 x 5
def test_fast_paths_match_the_cumsum_reference(dim, implementation):
    """The fast paths equal the reference: logits and every weight gradient (float32, 1e-5)."""
    ref = randomize_weights(models.NADE(dim, hidden_units=6, implementation="cumsum"), seed=4)
    fast = models.NADE(dim, hidden_units=6, implementation=implementation)
    fast.set_weights(ref.get_weights())
    x = (np.random.default_rng(dim).random((5, dim)) < 0.5).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(fast(x)),
                               keras.ops.convert_to_numpy(ref(x)), rtol=1e-5, atol=1e-5)
    grads = [variable_gradients(lambda m=m: -m.log_prob_tensor(keras.ops.convert_to_tensor(x)),
                                m.trainable_variables) for m in (ref, fast)]
    for g_ref, g_fast in zip(*grads):
        np.testing.assert_allclose(g_fast, g_ref, rtol=1e-5, atol=1e-5)


@pytest.mark.all_backends
def test_implementation_choice():
    assert models.NADE(4).get_config()["implementation"] == "auto"
    assert models.NADE(4)._implementation == "fused"
    # The fused gradient is the sigmoid's: another activation falls back / is refused.
    assert models.NADE(4, activation="tanh")._implementation == "blocked"
    with pytest.raises(ValueError, match="activation='sigmoid'"):
        models.NADE(4, activation="tanh", implementation="fused")
    with pytest.raises(ValueError, match="implementation"):
        models.NADE(4, implementation="fast")


@pytest.mark.all_backends
def test_fused_input_gradients_match_the_reference():
    """The fused custom gradient's input part (the prefix sum's transpose) equals autodiff's."""
    ref = randomize_weights(models.NADE(10, hidden_units=4, implementation="cumsum"), seed=5)
    fast = models.NADE(10, hidden_units=4, implementation="fused")
    fast.set_weights(ref.get_weights())
    x = np.random.default_rng(6).random(10)
    np.testing.assert_allclose(jacobian(fast, x), jacobian(ref, x), rtol=1e-5, atol=1e-6)


def test_shapes_and_config():
    model = models.NADE((3, 3, 1), hidden_units=4)
    assert model.event_shape == (3, 3, 1) and model.num_dims == 9
    assert model(np.zeros((2, 3, 3, 1), "float32")).shape == (2, 3, 3, 1)
    assert [tuple(w.shape) for w in model.trainable_weights] == [(9, 4), (4,), (9, 4), (9,)]
    config = model.get_config()
    assert config["input_dim"] == (3, 3, 1) and config["hidden_units"] == 4
    assert models.NADE.from_config(config).get_config() == config
    assert models.NADE(9).event_shape == (9,)


def test_optimizer_state_survives_round_trip(tmp_path):
    model = models.NADE(4, hidden_units=3)
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    x = (np.random.default_rng(0).random((16, 4)) < 0.5).astype("float32")
    model.fit(x, epochs=1, batch_size=8, verbose=0)
    path = str(tmp_path / "nade.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_bad_arguments():
    for bad in (0, -3, (3, 0), "9", 2.5, None, ()):
        with pytest.raises(ValueError, match="input_dim"):
            models.NADE(bad)
    with pytest.raises(ValueError, match="hidden_units"):
        models.NADE(4, hidden_units=0)


def _sigmoid_logits_reference(x, w, v):
    """float64 NumPy: ``sum_h sigmoid(cumsum_d x[:, d] w[d]) v[d]`` from the definition."""
    a = np.cumsum(x[:, :, None] * w[None], axis=1)
    return (v[None] / (1.0 + np.exp(-a))).sum(-1)


@pytest.mark.all_backends
@pytest.mark.parametrize("block,columns", [(3, 4), (4, 9), (10, 2), (28, 256)])
def test_fused_tiles_match_the_definition(block, columns):
    """Every tiling (padded blocks, uneven column groups, one tile) gives the same logits
    and input / weight gradients as float64 NumPy (float32: 1e-5; bfloat16: 3e-2 of the scale)."""
    rng = np.random.default_rng(block * 31 + columns)
    d, h = 10, 9
    x = (rng.random((4, d)) < 0.5).astype("float32")
    w, v = (rng.normal(size=(d, h)).astype("float32") for _ in range(2))
    cot = rng.normal(size=(4, d))
    fn = lambda x, w, v: nade_module._fused_sigmoid_logits(x, w, v, block=block, columns=columns)
    out, grads = vjp(fn, x, w, v, cotangent=cot)
    x64, w64, v64 = (t.astype("float64") for t in (x, w, v))
    np.testing.assert_allclose(out, _sigmoid_logits_reference(x64, w64, v64), rtol=1e-5, atol=1e-5)
    eps = 1e-6   # central differences of the float64 reference, along a random direction each
    for i, g in enumerate(grads):
        direction = rng.normal(size=g.shape)
        args = [x64, w64, v64]
        hi, lo = list(args), list(args)
        hi[i], lo[i] = args[i] + eps * direction, args[i] - eps * direction
        numeric = ((_sigmoid_logits_reference(*hi) - _sigmoid_logits_reference(*lo)) * cot).sum()
        np.testing.assert_allclose((g * direction).sum(), numeric / (2 * eps), rtol=1e-4, atol=1e-4)
    low = lambda x, w, v: fn(*(keras.ops.cast(t, "bfloat16") for t in (x, w, v)))
    out16, grads16 = vjp(low, x, w, v, cotangent=cot)
    np.testing.assert_allclose(out16, out, atol=3e-2 * np.abs(out).max())
    for g16, g in zip(grads16, grads):
        np.testing.assert_allclose(g16, g, atol=3e-2 * np.abs(g).max())
