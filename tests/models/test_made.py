
import keras
import numpy as np
import pytest

from keras_genmodels import models
from tests.models.test_density_common import (
    all_binary_images, assert_autoregressive, jacobian, randomize_weights)


@pytest.mark.all_backends
@pytest.mark.parametrize("kwargs", [
    {},
    {"order": "random", "hidden_units": (32, 32)},
    {"order": [4, 0, 6, 2, 1, 5, 3], "direct_connections": True},
    {"hidden_degrees": "equal", "hidden_units": (14,)},
])
def test_autoregressive_by_gradients(kwargs):
    kwargs = {"hidden_units": (48,), "seed": 0, **kwargs}
    model = randomize_weights(models.MADE(7, **kwargs), seed=1)
    x = np.random.default_rng(2).random(7)
    assert_autoregressive(jacobian(model, x), model.orders[0])


@pytest.mark.all_backends
def test_every_mask_set_is_autoregressive_in_its_own_order():
    model = randomize_weights(
        models.MADE(6, hidden_units=(40,), num_masks=3, order="random", seed=4), seed=0)
    assert len({tuple(o) for o in model.orders}) == 3
    x = np.random.default_rng(0).random(6)
    for k in range(3):
        assert_autoregressive(jacobian(model, x, mask_index=k), model.orders[k])


def test_connectivity_resampling_keeps_order():
    model = models.MADE(5, hidden_units=(8,), num_masks=4, seed=1)
    np.testing.assert_array_equal(model.orders, np.tile(np.arange(5), (4, 1)))
    hidden = model.degrees[1]
    assert len({tuple(h) for h in hidden}) > 1
    fixed = models.MADE(5, hidden_units=(8,), num_masks=3, order="random",
                        resample_connectivity=False, seed=1)
    assert np.all(fixed.degrees[1] == fixed.degrees[1][0])


def test_mask_ensemble_and_training_cycle():
    model = randomize_weights(
        models.MADE((2, 2), hidden_units=(8,), num_masks=3, order="random", seed=5), seed=2)
    x = all_binary_images((2, 2))
    per_mask = np.stack([
        np.asarray(model.likelihood.log_prob(x, model(x, mask_index=k))) for k in range(3)
    ]).astype("float64")
    for lp in per_mask:     # each mask set is a normalised model on its own
        assert np.exp(lp).sum() == pytest.approx(1.0, abs=1e-5)
    expected = np.log(np.exp(per_mask).mean(0))
    np.testing.assert_allclose(model.log_prob(x), expected, rtol=1e-5, atol=1e-5)
    # In training, pass t uses mask set t mod K (the counter advances per pass).
    for step in (0, 1, 2, 3, 4):
        assert int(keras.ops.convert_to_numpy(model.mask_step)) == step
        np.testing.assert_allclose(
            model.log_prob_tensor(x, training=True), per_mask[step % 3], rtol=1e-5, atol=1e-5)
    model.mask_step.assign(7)
    np.testing.assert_allclose(model.log_prob_tensor(x, training=True), per_mask[1],
                               rtol=1e-5, atol=1e-5)


def test_masks_reproducible_from_config():
    model = models.MADE(6, hidden_units=(10,), num_masks=2, order="random")
    clone = models.MADE.from_config(model.get_config())
    np.testing.assert_array_equal(clone.orders, model.orders)
    for a, b in zip(clone.degrees, model.degrees):
        np.testing.assert_array_equal(a, b)
    assert model.get_config()["mask_seed"] is not None


def test_bad_arguments():
    with pytest.raises(ValueError, match="order"):
        models.MADE(4, order="reverse")
    with pytest.raises(ValueError, match="permutation"):
        models.MADE(4, order=[0, 1, 2])
    with pytest.raises(ValueError, match="hidden_units"):
        models.MADE(4, hidden_units=())
    with pytest.raises(ValueError, match="hidden_units"):
        models.MADE(4, hidden_units=(8, 0))
    with pytest.raises(ValueError, match="num_masks"):
        models.MADE(4, num_masks=0)
    with pytest.raises(ValueError, match="identical"):
        models.MADE(4, num_masks=2, hidden_degrees="equal")
    with pytest.raises(ValueError, match="hidden_degrees"):
        models.MADE(4, hidden_degrees="uniform")
