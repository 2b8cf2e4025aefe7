"""Pretrained models: ``Model.presets``, ``Model.from_preset`` and ``model.save_to_preset``.

A preset is a directory in the keras-hub layout:

- ``config.json``: the model's ``keras.saving.serialize_keras_object`` (class,
  config and build config);
- ``model.weights.h5``: the weights (``model.save_weights`` without the
  optimizer; floating-point arrays may be stored as float16 and are cast
  back to the variables' dtype when loaded);
- ``metadata.json``: what the preset is (``class_name``, ``description``,
  ``parameter_count``, the valid NLL and its estimator, CPU-hours, the recipe
  command, library versions) and ``weights_sha256``, which
  :func:`load_preset` checks before loading.

The presets that ship with the package live in this folder (one sub-folder
per name), so they load offline. Every model class lists its own in
``Model.presets`` (a dict name -> metadata).

Example:

>>> import tempfile, keras
>>> from keras_genmodels.models import NADE
>>> model = NADE(4, hidden_units=3, seed=0)
>>> model.build((None, 4))
>>> directory = tempfile.mkdtemp()
>>> meta = model.save_to_preset(directory, metadata={"description": "a tiny NADE"})
>>> restored = NADE.from_preset(directory)
>>> bool(keras.ops.all(restored.log_prob_tensor(keras.ops.ones((1, 4)))
...                    == model.log_prob_tensor(keras.ops.ones((1, 4)))))
True
"""

import datetime
import hashlib
import inspect
import json
import os

import keras
import numpy as np

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
METADATA_FILE = "metadata.json"
PRESET_ROOT = os.path.dirname(os.path.abspath(__file__))

CHECK_STRIDE = 250

__all__ = ["PresetMixin", "check_log_probs", "list_presets", "load_preset", "sample_preset",
           "save_to_preset", "sha256_of"]


def sha256_of(path):
    """Hex sha256 of the file at ``path``.

    Args:
        path: str, a file.

    Returns:
        str, 64 hex digits.

    Example:

    >>> import os, tempfile
    >>> from keras_genmodels.presets import sha256_of
    >>> path = os.path.join(tempfile.mkdtemp(), "empty")
    >>> open(path, "wb").close()
    >>> sha256_of(path)[:16]
    'e3b0c44298fc1c14'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_json(path):
    with open(path) as f:
        return json.load(f)


def list_presets(class_name=None):
    """The presets shipped with the package: a dict name -> metadata.

    Args:
        class_name: str or None; only the presets of that model class
            (``"NADE"``, ``"GatedPixelCNN"``, ...).

    Returns:
        dict, sorted by name; every value is the preset's ``metadata.json``.

    Example:

    >>> from keras_genmodels.presets import list_presets
    >>> isinstance(list_presets("NADE"), dict)
    True
    """
    out = {}
    for name in sorted(os.listdir(PRESET_ROOT)):
        path = os.path.join(PRESET_ROOT, name, METADATA_FILE)
        if not os.path.isfile(path):
            continue
        meta = _read_json(path)
        if class_name is None or meta.get("class_name") == class_name:
            out[name] = meta
    return out


def check_log_probs(model):
    """Deterministic per-image log-likelihoods (nats) of 8 shipped validation images.

    What a preset's metadata records as ``check_log_probs`` and the tests
    compare on every backend. The images are
    ``datasets.load_binarized_mnist_small("valid")[::250]`` (part of the
    package, so the check runs offline). Explicit-density models give their
    exact ``log_prob``. VAE-type models give ``log p(x | z = E[z | x]) -
    KL(q(z | x) || N(0, I))`` (the ELBO with the posterior mean in place of
    its draws): deterministic, so the same on every backend, whose random
    streams differ (the importance-sampled NLL in the metadata is not).

    Args:
        model: a model trained on 28x28 binarized MNIST.

    Returns:
        NumPy ``float64`` array ``(8,)``.

    Example:

    >>> from keras_genmodels.models import MarkovAR
    >>> from keras_genmodels.presets import check_log_probs
    >>> check_log_probs(MarkovAR((28, 28, 1), order=0, seed=0)).shape
    (8,)
    """
    from keras import ops

    from keras_genmodels.datasets import load_binarized_mnist_small
    from keras_genmodels.layers.kl import standard_normal_kl

    x = load_binarized_mnist_small("valid")[::CHECK_STRIDE]
    if hasattr(model, "encode") and hasattr(model, "decode") and hasattr(model, "likelihood"):
        z_mean, z_log_var = model.encode(x)
        values = (model.likelihood.log_prob(x, model.decode(z_mean))
                  - standard_normal_kl(z_mean, z_log_var))
    else:
        values = model.log_prob(x)
    return np.asarray(ops.convert_to_numpy(values), dtype="float64")


def check_values(model):
    """The deterministic values a preset's metadata records to check its weights on load.

    Explicit-density and VAE-type models: :func:`check_log_probs`. AAEs:
    ``log p(x | z = encode(x))`` of the 8 check images. GAN-type
    models (a ``generator`` and a ``discriminator``): the discriminator's
    logits of the 8 check images (scaled to ``[-1, 1]``) followed by the mean
    of the generator's image for 8 fixed latent vectors (NumPy's
    ``default_rng(0)`` normal draws), 16 numbers in all.

    Args:
        model: a model trained on 28x28 MNIST.

    Returns:
        NumPy ``float64`` array.

    Example:

    >>> from keras_genmodels.models import GAN, dcgan_discriminator, dcgan_generator
    >>> from keras_genmodels.presets import check_values
    >>> gan = GAN(dcgan_generator((28, 28, 1), 8, base_filters=4),
    ...           dcgan_discriminator((28, 28, 1), base_filters=4), latent_dim=8)
    >>> check_values(gan).shape
    (16,)
    """
    from keras import ops

    from keras_genmodels.datasets import load_binarized_mnist_small

    if hasattr(model, "prior_sample"):  # AAE: log p(x | z = encode(x)), deterministic
        x = load_binarized_mnist_small("valid")[::CHECK_STRIDE]
        values = model.likelihood.log_prob(x, model.decode(model.encode(x)))
        return np.asarray(ops.convert_to_numpy(values), dtype="float64")
    if not (hasattr(model, "generator") and hasattr(model, "discriminator")):
        return check_log_probs(model)
    x = load_binarized_mnist_small("valid")[::CHECK_STRIDE] * 2.0 - 1.0
    logits = ops.reshape(model.discriminator(x, training=False), (len(x), -1))[:, 0]
    z = np.random.default_rng(0).normal(size=(len(x), model.latent_dim)).astype("float32")
    images = ops.reshape(model.generator(z, training=False), (len(x), -1))
    values = ops.concatenate([logits, ops.mean(images, axis=-1)], axis=0)
    return np.asarray(ops.convert_to_numpy(values), dtype="float64")


def _weight_float16(path):
    """Rewrite a ``.weights.h5`` file with its float32/float64 arrays stored as float16."""
    import h5py

    tmp = path + ".tmp"
    with h5py.File(path, "r") as src, h5py.File(tmp, "w") as dst:
        def copy(name, obj):
            if isinstance(obj, h5py.Group):
                target = dst.require_group(name)
            else:
                data = obj[()]
                if obj.dtype in (np.float32, np.float64):
                    data = data.astype("float16")
                    if not np.all(np.isfinite(data)):
                        raise ValueError(f"weight {name!r} overflows float16; save with "
                                         "dtype=None")
                target = dst.create_dataset(name, data=data)
            target.attrs.update(obj.attrs)

        dst.attrs.update(src.attrs)
        src.visititems(copy)
    os.replace(tmp, path)


def _bare_copy(model):
    """A fresh, uncompiled model of the same config holding ``model``'s weights."""
    config = keras.saving.serialize_keras_object(model)
    config.pop("compile_config", None)   # a preset holds no optimizer: compile it to train further
    copy = keras.saving.deserialize_keras_object(config)
    if len(copy.weights) != len(model.weights):
        raise ValueError(
            f"{type(model).__name__} could not be rebuilt from its config with the same "
            f"weights ({len(copy.weights)} vs {len(model.weights)}); build the model first")
    for target, source in zip(copy.weights, model.weights):
        target.assign(source)
    return copy


def save_to_preset(model, directory, metadata=None, dtype=None):
    """Write ``model`` to ``directory`` as a preset (config, weights, metadata).

    Args:
        model: a built keras-genmodels model.
        directory: str, created if missing; its preset files are overwritten.
        metadata: dict or None, merged into ``metadata.json`` (description,
            valid NLL, recipe, ...).
        dtype: None (store the variables' dtypes) or ``"float16"`` (store
            floating-point weights as float16; halves the size).

    Returns:
        dict, the metadata written (with ``weights_sha256``).

    Raises:
        ValueError: the model is not built, or ``dtype`` is not None/"float16".

    Example:

    >>> import os, tempfile
    >>> from keras_genmodels.models import MADE
    >>> from keras_genmodels.presets import save_to_preset
    >>> directory = tempfile.mkdtemp()
    >>> meta = save_to_preset(MADE(4, hidden_units=(8,), seed=0), directory, dtype="float16")
    >>> sorted(os.listdir(directory)), meta["weights_dtype"]
    (['config.json', 'metadata.json', 'model.weights.h5'], 'float16')
    """
    if dtype not in (None, "float16"):
        raise ValueError(f"dtype must be None or 'float16'. Received: dtype={dtype!r}")
    if not model.built:
        raise ValueError(f"Build {type(model).__name__} (call it on data or fit it) before "
                         "saving it to a preset.")
    os.makedirs(directory, exist_ok=True)
    copy = _bare_copy(model)
    with open(os.path.join(directory, CONFIG_FILE), "w") as f:
        json.dump(keras.saving.serialize_keras_object(copy), f, indent=2)
    weights_path = os.path.join(directory, WEIGHTS_FILE)
    copy.save_weights(weights_path, overwrite=True)
    if dtype == "float16":
        _weight_float16(weights_path)
    from keras_genmodels import __version__

    meta = {
        "class_name": type(model).__name__,
        "description": "",
        "parameter_count": int(sum(int(np.prod(w.shape)) for w in model.trainable_weights)),
        "weights_dtype": dtype or "float32",
        "keras_version": keras.__version__,
        "keras_genmodels_version": __version__,
        "date_saved": datetime.date.today().isoformat(),
    }
    meta.update(metadata or {})
    meta["weights_sha256"] = sha256_of(weights_path)
    with open(os.path.join(directory, METADATA_FILE), "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
    return meta


def resolve_preset(name_or_directory, known, listed=None):
    """The directory of a preset given by name (one of ``known``) or by path.

    Args:
        name_or_directory: str, a preset name or a directory.
        known: the names that are shipped (``list_presets()``).
        listed: the names the error message offers (default ``known``).

    Returns:
        str, the preset's directory.

    Raises:
        ValueError: neither a known name nor a directory; lists the known presets.

    Example:

    >>> import tempfile
    >>> from keras_genmodels.presets import resolve_preset
    >>> directory = tempfile.mkdtemp()
    >>> resolve_preset(directory, {}) == directory
    True
    >>> resolve_preset("no_such_preset", {"nade_binarized_mnist": {}})
    Traceback (most recent call last):
    ...
    ValueError: Unknown preset 'no_such_preset': not a directory and not one of the known presets ['nade_binarized_mnist']
    """
    if isinstance(name_or_directory, str) and name_or_directory in known:
        return os.path.join(PRESET_ROOT, name_or_directory)
    if isinstance(name_or_directory, (str, os.PathLike)) and os.path.isdir(name_or_directory):
        return os.fspath(name_or_directory)
    raise ValueError(
        f"Unknown preset {name_or_directory!r}: not a directory and not one of the known "
        f"presets {sorted(known if listed is None else listed)}")


def load_preset(directory, cls=None):
    """Load the preset in ``directory``; check the weights' sha256 first.

    Args:
        directory: str, a preset directory.
        cls: class or None; the loaded model must be an instance of it.

    Returns:
        the model, built, with the preset's weights (uncompiled).

    Raises:
        ValueError: missing files, weights whose sha256 differs from the
            metadata's, or a model of another class than ``cls``.

    Example:

    >>> import tempfile
    >>> from keras_genmodels.models import NADE
    >>> from keras_genmodels.presets import load_preset, save_to_preset
    >>> directory = tempfile.mkdtemp()
    >>> _ = save_to_preset(NADE(4, hidden_units=3, seed=0), directory)
    >>> type(load_preset(directory, NADE)).__name__
    'NADE'
    """
    paths = {name: os.path.join(directory, name)
             for name in (CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE)}
    missing = [name for name, path in paths.items() if not os.path.isfile(path)]
    if missing:
        raise ValueError(f"{directory!r} is not a preset directory: it lacks {missing}")
    meta = _read_json(paths[METADATA_FILE])
    expected = meta.get("weights_sha256")
    actual = sha256_of(paths[WEIGHTS_FILE])
    if expected != actual:
        raise ValueError(
            f"The weights in {paths[WEIGHTS_FILE]!r} have sha256 {actual}, but the preset's "
            f"metadata records {expected}: the file is corrupted or was changed.")
    config = _read_json(paths[CONFIG_FILE])
    if cls is not None and config.get("class_name") != cls.__name__:
        found = keras.saving.get_registered_object(config.get("registered_name", ""))
        if not (isinstance(found, type) and issubclass(found, cls)):
            raise ValueError(
                f"The preset in {directory!r} is a {config.get('class_name')}, not a "
                f"{cls.__name__}; load it with {config.get('class_name')}.from_preset")
    model = keras.saving.deserialize_keras_object(config, safe_mode=True)
    model.load_weights(paths[WEIGHTS_FILE])
    return model


class _Presets:
    """Class attribute ``presets``: the shipped presets of exactly this class."""

    def __get__(self, instance, owner):
        return list_presets(owner.__name__)


class PresetMixin:
    """``presets``, ``from_preset`` and ``save_to_preset`` for a model class.

    Every model of the package has it (``DensityModel``, ``VAE``,
    ``Autoencoder``, ``AdversarialModel``); ``presets`` lists the shipped
    presets of exactly that class.

    Example:

    >>> import tempfile
    >>> from keras_genmodels.models import GatedPixelCNN, PixelCNN
    >>> model = GatedPixelCNN((4, 4, 1), filters=4, num_layers=1, kernel_size=3, seed=0)
    >>> directory = tempfile.mkdtemp()
    >>> _ = model.save_to_preset(directory)
    >>> type(PixelCNN.from_preset(directory)).__name__   # a base class loads its subclass
    'GatedPixelCNN'
    >>> isinstance(GatedPixelCNN.presets, dict)
    True
    """

    presets = _Presets()

    @classmethod
    def from_preset(cls, preset):
        """Load a pretrained model: a preset name (see ``presets``) or a preset directory.

        Args:
            preset: str, one of ``cls.presets`` or the path of a directory
                written by ``save_to_preset``.

        Returns:
            the model, with the preset's weights; compile it to train further.

        Raises:
            ValueError: unknown name (the message lists the known presets),
                weights whose sha256 does not match, or a preset of another
                model class.
        """
        return load_preset(resolve_preset(preset, list_presets(), cls.presets or None), cls)

    def save_to_preset(self, directory, metadata=None, dtype=None):
        """Save config, weights and metadata to ``directory`` (see :mod:`keras_genmodels.presets`).

        Args:
            directory: str.
            metadata: dict or None, extra metadata (description, valid NLL, ...).
            dtype: None or ``"float16"`` (weight storage).

        Returns:
            dict, the metadata written.
        """
        return save_to_preset(self, directory, metadata, dtype)


def sample_preset(cls, preset, path, num_samples=16, seed=0):
    """Load ``cls.from_preset(preset)``, draw ``num_samples`` images and write them as a PNG grid.

    What the examples' ``--preset NAME`` does.

    Args:
        cls: the model class (``keras_genmodels.models.NADE``, ...), or None for the
            class named in the preset's metadata.
        preset: str, a preset name or directory.
        path: str, the PNG file to write.
        num_samples: int.
        seed: int, sampling seed.

    Returns:
        dict: ``preset``, ``path``, ``load_seconds``, ``sample_seconds`` and the
        preset's ``valid_nll`` / ``nll_estimator`` when its metadata has them.

    Example:

    >>> import os, tempfile
    >>> from keras_genmodels.models import MarkovAR
    >>> from keras_genmodels.presets import sample_preset
    >>> directory = tempfile.mkdtemp()
    >>> _ = MarkovAR((4, 4, 1), order=1, seed=0).save_to_preset(directory)
    >>> out = sample_preset(MarkovAR, directory, os.path.join(directory, "grid.png"),
    ...                     num_samples=4)   # doctest: +ELLIPSIS
    /...: 4 samples in ... s -> .../grid.png
    >>> os.path.isfile(out["path"])
    True
    """
    import time

    from keras_genmodels.callbacks import save_image_grid

    t0 = time.time()
    if cls is None:  # the class the preset names
        from keras_genmodels import models

        cls = getattr(models, _read_json(os.path.join(
            resolve_preset(preset, list_presets()), METADATA_FILE))["class_name"])
    model = cls.from_preset(preset)
    t1 = time.time()
    quiet = {"verbose": 0} if "verbose" in inspect.signature(model.sample).parameters else {}
    samples = np.asarray(keras.ops.convert_to_numpy(model.sample(num_samples, seed=seed, **quiet)))
    t2 = time.time()
    side = int(round(np.sqrt(samples[0].size)))
    # GAN generators draw images in [-1, 1] (tanh), the other models in [0, 1].
    value_range = (-1.0, 1.0) if hasattr(model, "generator") else (0.0, 1.0)
    save_image_grid(samples.reshape(num_samples, side, side, 1), path,
                    ncols=int(np.ceil(np.sqrt(num_samples))), value_range=value_range)
    meta = _read_json(os.path.join(resolve_preset(preset, list_presets()), METADATA_FILE))
    out = {"preset": preset, "path": path, "load_seconds": round(t1 - t0, 2),
           "sample_seconds": round(t2 - t1, 2)}
    out.update({k: meta[k] for k in ("valid_nll", "nll_estimator", "frechet_distance")
                if k in meta})
    print(f"{preset}: {num_samples} samples in {out['sample_seconds']} s -> {path}"
          + (f" (valid NLL {meta['valid_nll']} nats, {meta['nll_estimator']})"
             if "valid_nll" in meta else "")
          + (f" (Frechet distance {meta['frechet_distance']})" if "frechet_distance" in meta
             else ""))
    return out
