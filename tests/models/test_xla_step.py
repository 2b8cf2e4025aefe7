"""XLA in the training step on TensorFlow: same updates, data checks kept, chosen by "auto".

XLA drops graph assertions, so a step Keras compiled whole would train on a
bad batch; the models keep their checks outside XLA and compile the rest
(``_backend.step_compilation`` / ``xla_step``), or only the optimizer
updates (``xla_update_step``).
"""

import keras
import numpy as np
import pytest

from keras_genmodels import _backend
from keras_genmodels import models
from tests.models.test_data_errors import FAMILIES
from tests.models.test_data_errors import _state

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                reason="the inner XLA step exists on TensorFlow only")


def _compile(model, jit_compile):
    names = getattr(model, "optimizer_names", ())
    if names:
        model.compile(jit_compile=jit_compile,
                      **{n: keras.optimizers.Adam(1e-2) for n in names})
    else:
        model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=jit_compile)


def _fixed_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """A deterministic stand-in for ``keras.random.normal``: TensorFlow's stateless
    generators draw other numbers under XLA for the same seed."""
    size = int(np.prod(shape))
    values = np.sin(np.arange(1, size + 1, dtype="float32")).reshape(shape)
    return keras.ops.convert_to_tensor(mean + stddev * values, dtype or "float32")


def _twins(name, policy="float32"):
    """Two models of the FAMILIES entry ``name`` with the same weights (built under ``policy``), and its data."""
    keras.mixed_precision.set_global_policy(policy)
    try:
        make, good, _ = FAMILIES[name]
        first, second = make(), make()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    second.set_weights(first.get_weights())
    return first, second, good


@pytest.mark.parametrize("name", ["made", "pixel_cnn", "vae", "gan"])
def test_xla_step_equals_the_plain_step(name, monkeypatch):
    monkeypatch.setattr(keras.random, "normal", _fixed_normal)
    plain, xla, good = _twins(name)
    for model, jit in ((plain, False), (xla, True)):
        _compile(model, jit)
        assert model.xla_step is jit
        assert model.jit_compile is False  # Keras' own whole-step XLA stays off
        model.fit(good, batch_size=4, epochs=2, verbose=0, shuffle=False)
    for a, b in zip(_state(plain), _state(xla)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name,mode", [("nade", "step"), ("pixel_cnn_8bit", "step"),
                                       ("autoencoder", "step"), ("aae", "step"),
                                       ("nade", "update"), ("autoencoder", "update"),
                                       ("aae", "update")])
def test_xla_keeps_the_data_checks(name, mode, monkeypatch):
    """A NaN batch raises and changes nothing through the XLA step and through XLA updates."""
    make, good, _ = FAMILIES[name]
    model = make()
    if mode == "update":
        _update_mode(monkeypatch, model)
    _compile(model, True if mode == "step" else "auto")
    assert model.xla_step is (mode == "step") and model.xla_update is (mode == "update")
    model.fit(good, batch_size=len(good), epochs=1, verbose=0)
    before = _state(model)
    bad = good.copy()
    bad[3].flat[1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.fit(bad, batch_size=len(bad), epochs=1, verbose=0)
    for a, b in zip(before, _state(model)):
        np.testing.assert_array_equal(a, b)


def test_a_layer_xla_cannot_compile_keeps_the_plain_step():
    make, good, _ = FAMILIES["pixel_rnn"]
    model = make()
    with pytest.warns(UserWarning, match="supports_jit"):
        _compile(model, True)
    assert not model.xla_step
    model.fit(good, batch_size=len(good), epochs=1, verbose=0)


def _update_mode(monkeypatch, model):
    """Make "auto" choose XLA updates for ``model``'s class (on a CPU)."""
    monkeypatch.setenv("KERAS_GENMODELS_AUTO_XLA", "1")  # the suite sets 0 (conftest)
    monkeypatch.setattr(type(model), "xla_on_cpu", "update")
    monkeypatch.setattr(_backend._impl, "_on_gpu", lambda: False)


@pytest.mark.parametrize("name", ["pixel_cnn", "vae", "gan", "aae"])
def test_xla_update_equals_the_plain_step(name, monkeypatch):
    plain, fused, good = _twins(name)
    _compile(plain, False)
    _update_mode(monkeypatch, fused)
    _compile(fused, "auto")
    assert fused.xla_update and not fused.xla_step and not plain.xla_update
    for model in (plain, fused):  # the same random draws: only the update is XLA
        model.fit(good, batch_size=4, epochs=2, verbose=0, shuffle=False)
    iterations = [o.iterations.numpy() for o in fused._step_optimizers()]
    assert iterations == [o.iterations.numpy() for o in plain._step_optimizers()]
    assert min(iterations) > 0
    for a, b in zip(_state(plain), _state(fused)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    # one XLA function per optimizer, routed only while the step is traced
    assert len(fused.__dict__["_keras_genmodels_xla_updates"]) == len(iterations)
    assert all("apply_gradients" not in o.__dict__ for o in fused._step_optimizers())


def test_xla_update_under_loss_scaling(monkeypatch):
    """mixed_float16: the LossScaleOptimizer's update (skip on overflow, rescale) runs in XLA too."""
    plain, fused, good = _twins("vae", "mixed_float16")
    _compile(plain, False)
    _update_mode(monkeypatch, fused)
    _compile(fused, "auto")
    assert isinstance(fused.optimizer, keras.optimizers.LossScaleOptimizer) and fused.xla_update
    for model in (plain, fused):
        model.fit(good, batch_size=4, epochs=1, verbose=0, shuffle=False)
    assert float(fused.optimizer.dynamic_scale) == float(plain.optimizer.dynamic_scale)
    for a, b in zip(plain.get_weights(), fused.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("choice", ["always", {"onednn": True}, {"onednn": True, "no_onednn": "x"},
                                    {"onednn": True, "no_onednn": False, "gpu": True}])
def test_xla_on_cpu_must_be_a_known_choice(monkeypatch, choice):
    model = models.MADE(6, hidden_units=(4,), seed=0)
    monkeypatch.setattr(models.MADE, "xla_on_cpu", choice)
    with pytest.raises(ValueError, match="xla_on_cpu"):
        model.compile(optimizer="adam")


@pytest.mark.parametrize("onednn", [True, False])
def test_auto_reads_the_choice_for_the_kernels_in_use(monkeypatch, onednn):
    """A dict ``xla_on_cpu`` is read at whether TensorFlow runs oneDNN's kernels or Eigen's."""
    monkeypatch.setenv("KERAS_GENMODELS_AUTO_XLA", "1")  # the suite sets 0 (conftest)
    monkeypatch.setattr(_backend._impl, "_on_gpu", lambda: False)
    monkeypatch.setattr(_backend._impl, "onednn_enabled", lambda: onednn)
    pixel_cnn = models.PixelCNN((3, 3, 1), filters=4, num_layers=1, kernel_size=3, seed=0)
    gated = models.GatedPixelCNN((3, 3, 1), filters=4, num_layers=1, kernel_size=3, seed=0)
    for model in (pixel_cnn, gated):
        model.compile(optimizer="adam")
    assert pixel_cnn.xla_step is not onednn and not pixel_cnn.xla_update
    assert not gated.xla_step and not gated.xla_update  # the gated network: plain on both
    monkeypatch.setattr(models.MADE, "xla_on_cpu", {"onednn": "update", "no_onednn": False})
    made = models.MADE(6, hidden_units=(4,), seed=0)
    made.compile(optimizer="adam")
    assert made.xla_update is onednn and not made.xla_step
    made.xla_on_cpu = True  # a plain choice set on the model holds on both
    made.compile(optimizer="adam")
    assert made.xla_step


def test_auto_follows_the_models_measured_choice(monkeypatch):
    monkeypatch.setenv("KERAS_GENMODELS_AUTO_XLA", "1")  # the suite sets 0 (conftest)
    assert models.AAE.xla_on_cpu is True
    assert models.VAE.xla_on_cpu == models.MADE.xla_on_cpu == "update"
    assert models.NADE.xla_on_cpu == {"onednn": "update", "no_onednn": False}
    assert models.GAN.xla_on_cpu == {"onednn": "update", "no_onednn": True}
    assert models.PixelCNN.xla_on_cpu == {"onednn": False, "no_onednn": True}
    model = models.MADE(6, hidden_units=(4,), seed=0)
    monkeypatch.setattr(models.MADE, "xla_on_cpu", False)
    model.compile(optimizer="adam")
    assert model.xla_step is _backend._impl._on_gpu()
    monkeypatch.setattr(models.MADE, "xla_on_cpu", True)
    model.compile(optimizer="adam")
    assert model.xla_step
    model.compile(optimizer="adam", jit_compile=False)  # the user's choice wins
    assert not model.xla_step
    with pytest.raises(ValueError, match="jit_compile"):
        model.compile(optimizer="adam", jit_compile="yes")
    monkeypatch.setenv("KERAS_GENMODELS_AUTO_XLA", "0")
    model.compile(optimizer="adam")
    assert not model.xla_step
    model.compile(optimizer="adam", jit_compile=True)  # the variable only affects "auto"
    assert model.xla_step


def test_compile_config_round_trip_keeps_the_request(tmp_path):
    make, good, _ = FAMILIES["made"]
    model = make()
    _compile(model, True)
    model.fit(good, batch_size=len(good), epochs=1, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.compiled and loaded.xla_step
    assert loaded.get_compile_config()["jit_compile"] is True
    loaded.fit(good, batch_size=len(good), epochs=1, verbose=0)


def test_xla_step_under_mixed_bfloat16():
    """bfloat16 compute: XLA and the plain step agree to bfloat16 precision (8 bits of mantissa)."""
    plain, xla, good = _twins("made", "mixed_bfloat16")
    for model, jit in ((plain, False), (xla, True)):
        _compile(model, jit)
        model.fit(good, batch_size=4, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(plain.get_weights(), xla.get_weights()):
        np.testing.assert_allclose(a, b, rtol=2e-2, atol=2e-3)
