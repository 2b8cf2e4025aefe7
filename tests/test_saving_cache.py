"""Saving and loading weights builds Keras' attribute skip-sets once per process, not per call."""

import keras
import numpy as np
import pytest
from keras.src.optimizers import base_optimizer
from keras.src.saving import saving_lib

import keras_genmodels  # noqa: F401  (installs the cache)
from keras_genmodels import _saving_cache

pytestmark = pytest.mark.all_backends

OBJ_TYPES = ("Operation", "Layer", "Functional", "Sequential", "Metric", "Optimizer", "Loss")


def _compiled_model():
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4), keras.layers.Dense(6)])
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).normal(size=(8, 6)).astype("float32")
    model.fit(x, x, epochs=1, verbose=0)  # the Adam slots exist, as in a checkpoint
    return model


def test_cached_sets_are_the_ones_keras_builds():
    for obj_type in OBJ_TYPES:
        cached = saving_lib.get_attr_skipset(obj_type)
        assert cached == _saving_cache._KERAS_GET_ATTR_SKIPSET(obj_type), obj_type
        assert saving_lib.get_attr_skipset(obj_type) is cached, obj_type


def test_the_cache_survives_clear_session():
    before = saving_lib.get_attr_skipset("Optimizer")
    keras.backend.clear_session()
    assert saving_lib.get_attr_skipset("Optimizer") is before


def test_saving_makes_no_optimizer(tmp_path, monkeypatch):
    # Keras' uncached lookup builds a reference Optimizer (two variables) per save.
    model = _compiled_model()
    path = str(tmp_path / "m.weights.h5")
    model.save_weights(path)
    made = []
    original = base_optimizer.BaseOptimizer.__init__

    def counting_init(self, *args, **kwargs):
        made.append(type(self).__name__)
        original(self, *args, **kwargs)

    monkeypatch.setattr(base_optimizer.BaseOptimizer, "__init__", counting_init)
    for _ in range(3):
        model.save_weights(path, overwrite=True)
        model.load_weights(path)
    assert made == []


def test_weights_and_optimizer_state_round_trip(tmp_path):
    model = _compiled_model()
    path = str(tmp_path / "m.weights.h5")
    model.save_weights(path)
    restored = _compiled_model()
    for v in restored.weights:
        v.assign(np.zeros(v.shape, v.dtype))
    restored.load_weights(path)
    for a, b in zip(model.weights, restored.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    for a, b in zip(model.optimizer.variables, restored.optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


def test_install_is_idempotent():
    _saving_cache.install()
    _saving_cache.install()
    assert saving_lib.get_attr_skipset is _saving_cache._cached_get_attr_skipset or (
        _saving_cache.keras_caches_skipsets())
