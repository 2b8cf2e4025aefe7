"""Presets: ``save_to_preset`` / ``from_preset`` for every model class, integrity and errors.

Tiny models from ``tests/models/test_backends.py`` (one epoch each, so every
weight, the optimizer-free state and the seed state are non-trivial); the
shipped presets are checked against the log-likelihoods their metadata
records for 8 packaged validation images.
"""

import json
import os

import keras
import numpy as np
import pytest

from keras_genmodels import models, presets
from tests.models.test_backends import CASES

pytestmark = pytest.mark.all_backends

# Continued training and .keras saving after from_preset, for one model of each family (the
# .keras round trip of every class is tested in tests/models/test_backends.py).
FIT_FURTHER = ("gan", "aae", "vae", "made", "pixel_cnn")
CLASS_CASES = ["gan", "aae", "vae", "iwae", "autoencoder", "nade", "made", "markov",
               "pixel_cnn", "gated_pixel_cnn", "row_lstm", "diagonal_bilstm"]


def _compile(model):
    if isinstance(model, models.GAN):
        names = ["d_optimizer", "g_optimizer"]
    elif isinstance(model, models.AAE):
        names = ["r_optimizer", "d_optimizer", "g_optimizer"]
    else:
        names = ["optimizer"]
    model.compile(**{n: keras.optimizers.Adam(1e-2) for n in names})


def _trained(name):
    factory, x, y = CASES[name]
    model = factory()
    _compile(model)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    return model, x, y


@pytest.fixture(scope="module")
def trained():
    """``trained(name)``: ``_trained(name)``, built once per module (the tests only read it)."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = _trained(name)
        return cache[name]

    return get


def _without_compile(config):
    if isinstance(config, dict):
        return {k: _without_compile(v) for k, v in config.items() if k != "compile_config"}
    if isinstance(config, (list, tuple)):
        return [_without_compile(v) for v in config]
    return config


def _same_weights(a, b, atol=0.0):
    assert len(a.weights) == len(b.weights)
    for va, vb in zip(a.weights, b.weights):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(va),
                                   keras.ops.convert_to_numpy(vb), atol=atol, err_msg=va.path)


@pytest.mark.parametrize("name", CLASS_CASES)
def test_preset_round_trip(name, tmp_path, trained):
    model, x, y = trained(name)
    meta = model.save_to_preset(str(tmp_path / "p"), metadata={"description": "tiny"})
    assert meta["class_name"] == type(model).__name__
    assert meta["description"] == "tiny"
    assert sorted(os.listdir(tmp_path / "p")) == sorted(
        [presets.CONFIG_FILE, presets.WEIGHTS_FILE, presets.METADATA_FILE])
    import h5py

    with h5py.File(tmp_path / "p" / presets.WEIGHTS_FILE) as f:   # weights only, no optimizer
        assert "optimizer" not in f and "optimizer" not in str(list(f.keys()))
    with open(tmp_path / "p" / presets.CONFIG_FILE) as f:
        assert not json.load(f).get("compile_config")
    restored = type(model).from_preset(str(tmp_path / "p"))
    assert type(restored) is type(model)
    assert _without_compile(restored.get_config()) == _without_compile(model.get_config())
    _same_weights(model, restored)
    if hasattr(model, "log_prob"):
        np.testing.assert_allclose(restored.log_prob(x), model.log_prob(x), rtol=1e-6)
    if name not in FIT_FURTHER:
        return
    # A preset model trains further and saves like any other.
    _compile(restored)
    before = [keras.ops.convert_to_numpy(w).copy() for w in restored.trainable_weights]
    history = restored.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    assert any(not np.array_equal(b, keras.ops.convert_to_numpy(w))
               for b, w in zip(before, restored.trainable_weights))
    restored.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    _same_weights(restored, again)


def test_base_class_loads_subclass_preset_and_other_class_refuses(tmp_path, trained):
    model, _, _ = trained("gated_pixel_cnn")
    model.save_to_preset(str(tmp_path))
    assert isinstance(models.PixelCNN.from_preset(str(tmp_path)), models.GatedPixelCNN)
    with pytest.raises(ValueError, match="is a GatedPixelCNN, not a NADE"):
        models.NADE.from_preset(str(tmp_path))


def test_float16_storage(tmp_path):
    import h5py

    x = CASES["nade"][1]
    model = models.NADE(12, hidden_units=200, seed=0)
    _compile(model)
    model.fit(x, batch_size=16, epochs=1, verbose=0)
    model.save_to_preset(str(tmp_path / "f32"))
    meta = model.save_to_preset(str(tmp_path / "f16"), dtype="float16")
    assert meta["weights_dtype"] == "float16"
    size = lambda d: os.path.getsize(tmp_path / d / presets.WEIGHTS_FILE)  # noqa: E731
    assert size("f16") < 0.8 * size("f32")
    with h5py.File(tmp_path / "f16" / presets.WEIGHTS_FILE) as f:
        dtypes = set()
        f.visititems(lambda n, o: dtypes.add(str(o.dtype)) if isinstance(o, h5py.Dataset)
                     else None)
    assert "float16" in dtypes and "float32" not in dtypes
    restored = models.NADE.from_preset(str(tmp_path / "f16"))
    # Weights are float16-rounded (relative error <= 2^-11), held as float32.
    assert all(w.dtype == "float32" for w in restored.trainable_weights)
    for a, b in zip(model.trainable_weights, restored.trainable_weights):
        a, b = keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b)
        np.testing.assert_allclose(b, a, rtol=2.0 ** -11, atol=1e-7)
        np.testing.assert_array_equal(b, a.astype("float16").astype("float32"))
    np.testing.assert_allclose(restored.log_prob(x), model.log_prob(x), atol=0.05)
    with pytest.raises(ValueError, match="dtype must be None or 'float16'"):
        model.save_to_preset(str(tmp_path / "bad"), dtype="bfloat16")


def test_sha256_mismatch_is_a_clear_error(tmp_path, trained):
    model, _, _ = trained("made")
    model.save_to_preset(str(tmp_path))
    path = tmp_path / presets.WEIGHTS_FILE
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="sha256 .* corrupted or was changed"):
        models.MADE.from_preset(str(tmp_path))


def test_unknown_name_and_missing_files(tmp_path):
    with pytest.raises(ValueError, match=r"Unknown preset 'no_such_preset'.*known presets \["):
        models.NADE.from_preset("no_such_preset")
    with pytest.raises(ValueError, match="not a preset directory: it lacks"):
        models.NADE.from_preset(str(tmp_path))


def test_presets_attribute_lists_exactly_the_class_presets():
    everything = presets.list_presets()
    for cls in (models.NADE, models.MADE, models.VAE, models.PixelCNN, models.GatedPixelCNN,
                models.PixelRNN, models.GAN, models.AAE, models.MarkovAR, models.Autoencoder):
        assert isinstance(cls.presets, dict)
        assert cls.presets == {k: v for k, v in everything.items()
                               if v["class_name"] == cls.__name__}


SHIPPED = sorted(presets.list_presets())


@pytest.mark.parametrize("name", SHIPPED or [pytest.param("none", marks=pytest.mark.skip(
    reason="no preset is shipped"))])
def test_shipped_preset_loads_and_matches_its_metadata(name):
    meta = presets.list_presets()[name]
    cls = getattr(models, meta["class_name"])
    gan, aae = issubclass(cls, models.GAN), issubclass(cls, models.AAE)
    quality = {True: ("frechet_distance", "frechet_distance_keras_io_dcgan",
                      "fd_classifier_accuracy")}.get(gan, ("valid_nll", "nll_estimator"))
    for key in ("description", "cpu_hours", "recipe", "parameter_count", "weights_sha256") + quality:
        assert key in meta, key
    model = cls.from_preset(name)
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == meta["parameter_count"]
    if gan or aae:
        np.testing.assert_allclose(presets.check_values(model), meta["check_values"],
                                   atol=2e-3, rtol=1e-5)
    else:
        np.testing.assert_allclose(presets.check_log_probs(model), meta["check_log_probs"],
                                   atol=2e-3, rtol=1e-5)
    if gan:
        classifier = keras.saving.load_model(
            os.path.join(presets.PRESET_ROOT, name, "fd_classifier.keras"), safe_mode=True)
        images = (np.asarray(model.sample(4, seed=0)) + 1.0) / 2.0
        assert classifier.predict(images, verbose=0).shape == (4, 128)
    with open(os.path.join(presets.PRESET_ROOT, name, presets.METADATA_FILE)) as f:
        assert json.load(f)["weights_sha256"] == presets.sha256_of(
            os.path.join(presets.PRESET_ROOT, name, presets.WEIGHTS_FILE))
