"""Datasets: statically binarized MNIST, grey MNIST, and a small offline subset.

All image loaders return NumPy arrays shaped ``(n, 28, 28, 1)`` with dtype
``float32`` (channels-last, ready for ``keras.Input((28, 28, 1))``):

- :func:`load_binarized_mnist`: the standard *statically* binarized MNIST of
  Larochelle & Murray (2011) -- 50000 train / 10000 valid / 10000 test
  images with values in ``{0, 1}``, the benchmark on which VAE, IWAE, NADE,
  MADE and PixelCNN log-likelihoods are reported.
- :func:`load_mnist`: the grey-level MNIST (``x`` in ``[0, 1]``, labels
  ``y``), optionally binarized.
- :func:`load_binarized_mnist_small`: 10000 train / 2000 valid images of the
  binarized MNIST shipped inside the package (400 KB), so examples and tests
  run without a network.

Where the data comes from, in order:

1. the ``path`` argument: a file (``.npz``, ``.npy`` or the original ``.amat``)
   or a directory holding one;
2. the environment variable ``KERAS_GENMODELS_DATA`` (same forms);
3. a download with ``keras.utils.get_file`` into the Keras cache
   (``~/.keras/datasets``).

Example:

>>> import os, tempfile
>>> import numpy as np
>>> from keras_genmodels.datasets import load_binarized_mnist
>>> from keras_genmodels.datasets import load_binarized_mnist_small
>>> from keras_genmodels.datasets import load_mnist
>>> load_binarized_mnist_small("valid").shape          # shipped: no network
(2000, 28, 28, 1)
>>> # A local copy of the data: here tiny stand-ins for the real files.
>>> directory = tempfile.mkdtemp()
>>> np.savez(os.path.join(directory, "binarized_mnist.npz"),
...          train=np.zeros((3, 28, 28), "uint8"), valid=np.ones((2, 784), "uint8"))
>>> load_binarized_mnist("valid", path=directory).shape
(2, 28, 28, 1)
>>> np.savez(os.path.join(directory, "mnist.npz"),
...          x_test=np.full((2, 28, 28), 255, "uint8"), y_test=np.array([3, 7]))
>>> x, y = load_mnist("test", path=directory)
>>> x.shape, float(x.max()), y.tolist()
((2, 28, 28, 1), 1.0, [3, 7])

References:
    Larochelle & Murray, "The Neural Autoregressive Distribution Estimator",
    AISTATS 2011 (the binarized MNIST splits).
    Salakhutdinov & Murray, "On the Quantitative Analysis of Deep Belief
    Networks", ICML 2008 (the static binarization).
    LeCun, Bottou, Bengio & Haffner, "Gradient-based learning applied to
    document recognition", 1998 (MNIST).
"""

import glob
import importlib.resources
import os

import numpy as np

ENV_VAR = "KERAS_GENMODELS_DATA"

BINARIZED_MNIST_URL = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/"
BINARIZED_MNIST_SPLITS = ("train", "valid", "test")
BINARIZED_MNIST_SIZES = {"train": 50000, "valid": 10000, "test": 10000}
# sha256 of binarized_mnist_{split}.amat (78400000 / 15680000 / 15680000 bytes:
# one line per image, 784 values "0"/"1" separated by spaces). The train and
# valid digests were verified here by regenerating the .amat text from the
# arrays of the standard file (binarized_mnist_train_valid.npz) and hashing it;
# the three digests also agree with the public checksum list of
# tensorflow-datasets for these URLs.
BINARIZED_MNIST_SHA256 = {
    "train": "ad693b29f94c14277b095f5238ddefbbdaaae0939789dd2f4f0205278cee3e4d",
    "valid": "1de3d397c40fe8eeb33dafd4099a1f665ec01e96d9be234aaeeac8a34930e2e2",
    "test": "e6687bfea3f820c174f33b7865140b2a2dd2930ef786f35d45795fc193b5ab2c",
}

MNIST_SPLITS = ("train", "test")
SMALL_SPLITS = ("train", "valid")
SMALL_FILE = "binarized_mnist_small.npz"

_IMAGE_SHAPE = (28, 28)
_NUM_PIXELS = 784


# --------------------------------------------------------------- helpers
def _check_split(split, allowed):
    if split not in allowed:
        raise ValueError(f"split must be one of {allowed}. Received: split={split!r}")


def _as_images(array, source, name):
    """Reshape ``(n, 784)``, ``(n, 28, 28)`` or ``(n, 28, 28, 1)`` to ``(n, 28, 28, 1)``."""
    array = np.asarray(array)
    if array.ndim == 2 and array.shape[1] == _NUM_PIXELS:
        array = array.reshape((-1,) + _IMAGE_SHAPE)
    if array.ndim == 4 and array.shape[1:] == _IMAGE_SHAPE + (1,):
        array = array[..., 0]
    if array.ndim != 3 or array.shape[1:] != _IMAGE_SHAPE:
        raise ValueError(
            f"Array {name!r} in {source} must have shape (n, 28, 28), (n, 784) or "
            f"(n, 28, 28, 1). Received: shape={array.shape}"
        )
    return array[..., None]


def _check_binary(images, source, name):
    if images.dtype == bool:
        return images
    if not ((images == 0) | (images == 1)).all():
        bad = images[(images != 0) & (images != 1)][:5]
        raise ValueError(
            f"Array {name!r} in {source} must hold binary values {{0, 1}}. "
            f"Received values such as {bad.tolist()}"
        )
    return images


def _open_npz(path):
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as err:  # not a zip, truncated, pickled objects...
        raise ValueError(f"Cannot read {path} as an .npz file ({type(err).__name__}: {err})") from err
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"{path} is a single .npy array, not an .npz archive of named arrays")
    return data


def _npz_keys(path):
    with _open_npz(path) as data:
        return set(data.files)


def _load_npz_arrays(path, names):
    """Return the arrays ``names`` of an ``.npz`` file; a clear error if absent."""
    with _open_npz(path) as data:
        missing = [n for n in names if n not in data.files]
        if missing:
            raise ValueError(
                f"{path} does not contain the array(s) {missing}. Expected arrays "
                f"{list(names)}; found {sorted(data.files)}"
            )
        try:
            return [data[n] for n in names]
        except Exception as err:
            raise ValueError(f"Cannot read arrays {list(names)} from {path}: {err}") from err


def parse_amat(path):
    """Parse a binarized-MNIST ``.amat`` file: one image per line, 784 ``0``/``1``.

    Returns:
        ``uint8`` array ``(n, 784)``.

    Raises:
        ValueError: if a line does not hold 784 space-separated values 0/1.

    Example:

    >>> import os, tempfile
    >>> from keras_genmodels.datasets import parse_amat
    >>> path = os.path.join(tempfile.mkdtemp(), "binarized_mnist_valid.amat")
    >>> with open(path, "w") as f:
    ...     _ = f.write(" ".join(["0"] * 784) + "\\n" + " ".join(["1"] * 784) + "\\n")
    >>> pixels = parse_amat(path)
    >>> pixels.shape, pixels.dtype, pixels.sum(axis=1).tolist()
    ((2, 784), dtype('uint8'), [0, 784])
    """
    with open(path, "rb") as f:
        raw = f.read()
    lines = [line for line in raw.split(b"\n") if line.strip()]
    error = ValueError(
        f"{path} is not a binarized-MNIST .amat file: expected lines of 784 "
        "space-separated values 0/1"
    )
    if not lines:
        raise error
    for line in lines:
        if len(line) - line.count(b" ") - line.count(b"\r") - line.count(b"\t") != _NUM_PIXELS:
            raise error
    flat = np.frombuffer(b" ".join(lines), dtype=np.uint8)
    is_digit = (flat != ord(" ")) & (flat != ord("\r")) & (flat != ord("\t"))
    digits = flat[is_digit]
    # Every value is one character "0" or "1", never two characters in a row.
    if not np.isin(digits, (48, 49)).all() or (is_digit[1:] & is_digit[:-1]).any():
        raise error
    return (digits - ord("0")).astype(np.uint8).reshape(len(lines), _NUM_PIXELS)


def _env_path():
    value = os.environ.get(ENV_VAR)
    return value or None


# -------------------------------------------------------- binarized MNIST
def _binarized_from_file(path, split):
    source = f"{path!s}"
    lower = str(path).lower()
    if lower.endswith(".npz"):
        (array,) = _load_npz_arrays(path, [split])
        name = split
    elif lower.endswith(".npy"):
        try:
            array = np.load(path, allow_pickle=False)
        except Exception as err:
            raise ValueError(f"Cannot read {path} as an .npy array: {err}") from err
        name = os.path.basename(str(path))
    elif lower.endswith(".amat"):
        array = parse_amat(path)
        name = os.path.basename(str(path))
    else:
        raise ValueError(
            f"Unsupported file {source}: expected an .npz with array {split!r} "
            "(shape (n, 28, 28) or (n, 784), values 0/1), an .npy or an .amat file"
        )
    return _check_binary(_as_images(array, source, name), source, name)


def _binarized_from_dir(directory, split):
    candidates = [
        os.path.join(directory, f"binarized_mnist_{split}.npy"),
        os.path.join(directory, f"binarized_mnist_{split}.amat"),
    ]
    for candidate in candidates:
        if os.path.isfile(candidate):
            return _binarized_from_file(candidate, split)
    for candidate in sorted(glob.glob(os.path.join(directory, "binarized_mnist*.npz"))):
        if os.path.basename(candidate) == SMALL_FILE:
            continue
        if split in _npz_keys(candidate):
            return _binarized_from_file(candidate, split)
    raise FileNotFoundError(
        f"No binarized MNIST {split!r} split in directory {directory}: looked for "
        f"binarized_mnist_{split}.npy, binarized_mnist_{split}.amat and a "
        f"binarized_mnist*.npz holding an array named {split!r}"
    )


def _binarized_from_path(path, split):
    path = os.fspath(path)
    if os.path.isdir(path):
        return _binarized_from_dir(path, split)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"{path} does not exist. Expected a directory, or an .npz file with an array "
            f"{split!r} of shape (n, 28, 28) and values 0/1, or an .amat/.npy file"
        )
    return _binarized_from_file(path, split)


def _download_binarized_mnist(split, cache_dir=None):
    import keras

    fname = f"binarized_mnist_{split}.amat"
    path = keras.utils.get_file(
        fname=fname,
        origin=BINARIZED_MNIST_URL + fname,
        file_hash=BINARIZED_MNIST_SHA256[split],
        hash_algorithm="sha256",
        cache_dir=cache_dir,
        cache_subdir="datasets/binarized_mnist",
    )
    # Parsing 50000 lines of text takes seconds: keep a binary copy beside it.
    cached = path[: -len(".amat")] + ".npy"
    if os.path.isfile(cached) and os.path.getmtime(cached) >= os.path.getmtime(path):
        return np.load(cached, allow_pickle=False)
    array = parse_amat(path)
    try:
        np.save(cached, array)
    except OSError:
        pass
    return array


def load_binarized_mnist(split="train", path=None, cache_dir=None):
    """Load the statically binarized MNIST of Larochelle & Murray (2011).

    Args:
        split: ``"train"`` (50000 images), ``"valid"`` (10000) or ``"test"``
            (10000).
        path: optional local source: an ``.npz`` file with an array named
            ``split`` (e.g. arrays ``train`` and ``valid`` of shape
            ``(n, 28, 28)``, ``uint8`` 0/1), an ``.amat``/``.npy`` file of that
            split, or a directory holding ``binarized_mnist_{split}.amat``,
            ``binarized_mnist_{split}.npy`` or a ``binarized_mnist*.npz``.
            Default: ``$KERAS_GENMODELS_DATA`` if set, else a download of
            ``binarized_mnist_{split}.amat`` from
            ``http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/``
            into the Keras cache (parsed once, then kept as ``.npy``).
        cache_dir: Keras cache directory for the download (default
            ``~/.keras``).

    Returns:
        ``float32`` array of shape ``(n, 28, 28, 1)`` with values in ``{0, 1}``.

    Raises:
        ValueError: unknown ``split``; a file without the expected array, of
            the wrong shape, or with non-binary values.
        FileNotFoundError: ``path`` (or the directory) holds no such split.

    Example:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from keras_genmodels.datasets import load_binarized_mnist
    >>> path = os.path.join(tempfile.mkdtemp(), "binarized_mnist_train_valid.npz")
    >>> rng = np.random.default_rng(0)
    >>> np.savez(path, train=rng.integers(0, 2, (5, 28, 28), dtype="uint8"),
    ...          valid=rng.integers(0, 2, (3, 28, 28), dtype="uint8"))
    >>> x_valid = load_binarized_mnist("valid", path=path)
    >>> x_valid.shape, x_valid.dtype, sorted(np.unique(x_valid).tolist())
    ((3, 28, 28, 1), dtype('float32'), [0.0, 1.0])
    >>> x_train = load_binarized_mnist("train")  # doctest: +SKIP
    >>> # (skipped: downloads the 78 MB train split into ~/.keras/datasets)
    """
    _check_split(split, BINARIZED_MNIST_SPLITS)
    path = path if path is not None else _env_path()
    if path is not None:
        images = _binarized_from_path(path, split)
    else:
        images = _as_images(_download_binarized_mnist(split, cache_dir), "download", split)
    return images.astype("float32")


def load_binarized_mnist_small(split="train"):
    """A 12000-image subset of the binarized MNIST shipped with the package.

    Provenance: the first 10000 images (file order) of the training split and
    the first 2000 of the validation split of the statically binarized MNIST
    of Larochelle & Murray (2011) (``binarized_mnist_{train,valid}.amat``),
    stored bit-packed in ``keras_genmodels/data/binarized_mnist_small.npz``
    (arrays ``train`` ``(10000, 98)`` and ``valid`` ``(2000, 98)`` of
    ``np.packbits(images.reshape(n, 784), axis=1)``, plus a ``description``
    string). It needs no network, so examples and tests run offline. Numbers
    obtained on it are not comparable with published full-data results.

    Args:
        split: ``"train"`` (10000 images) or ``"valid"`` (2000 images).

    Returns:
        ``float32`` array ``(n, 28, 28, 1)`` with values in ``{0, 1}``.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.datasets import load_binarized_mnist_small
    >>> x_train = load_binarized_mnist_small("train")
    >>> x_train.shape, x_train.dtype, sorted(np.unique(x_train).tolist())
    ((10000, 28, 28, 1), dtype('float32'), [0.0, 1.0])
    """
    _check_split(split, SMALL_SPLITS)
    resource = importlib.resources.files("keras_genmodels").joinpath("data", SMALL_FILE)
    with importlib.resources.as_file(resource) as path:
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"The packaged data file {path} is missing: reinstall keras-genmodels "
                "(it is package data of keras_genmodels/data/)"
            )
        (bits,) = _load_npz_arrays(path, [split])
    images = np.unpackbits(bits, axis=1, count=_NUM_PIXELS)
    return images.reshape((-1,) + _IMAGE_SHAPE + (1,)).astype("float32")


# ------------------------------------------------------------ grey MNIST

def strided_subset(x, n):
    """At most ``n`` examples of ``x`` spread evenly over it: ``x[::ceil(len(x) / n)]``.

    Evaluate on this rather than on ``x[:n]``: a split may be ordered (by
    class, for example), and its first images are then not a sample of it.

    Args:
        x: array-like with a leading example axis.
        n: int or None; None returns ``x`` unchanged.

    Returns:
        ``x[::stride]`` with ``stride = ceil(len(x) / n)`` (``len <= n``).

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.datasets import strided_subset
    >>> strided_subset(np.arange(10), 4)
    array([0, 3, 6, 9])
    """
    if n is None:
        return x
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int or None. Received: n={n!r}")
    return x[:: -(-len(x) // int(n))]


def load_binarized_mnist_train_valid(path=None):
    """Train and valid binarized MNIST: the files at ``path``, else the shipped subset.

    The loader the examples and benchmarks share: with ``path=None`` it needs
    no network (:func:`load_binarized_mnist_small`); with a path it reads the
    full splits through :func:`load_binarized_mnist`.

    Args:
        path: None, or a path accepted by :func:`load_binarized_mnist`
            (an ``.npz`` with ``train``/``valid``, an ``.amat``/``.npy`` file or
            a directory).

    Returns:
        ``(x_train, x_valid, source)``: ``float32`` arrays ``(n, 28, 28, 1)``
        in ``{0, 1}`` and a short description of where they came from.

    Example:

    >>> from keras_genmodels.datasets import load_binarized_mnist_train_valid
    >>> x_train, x_valid, source = load_binarized_mnist_train_valid()
    >>> x_train.shape, x_valid.shape, source
    ((10000, 28, 28, 1), (2000, 28, 28, 1), 'keras_genmodels shipped subset')
    """
    if path is None:
        return (load_binarized_mnist_small("train"), load_binarized_mnist_small("valid"),
                "keras_genmodels shipped subset")
    return (load_binarized_mnist("train", path=path), load_binarized_mnist("valid", path=path),
            str(path))

def _mnist_from_npz(path, split):
    keys = _npz_keys(path)
    if {"x", "y"} <= keys:
        names = ["x", "y"]
    elif {f"x_{split}", f"y_{split}"} <= keys:
        names = [f"x_{split}", f"y_{split}"]
    else:
        raise ValueError(
            f"{path} does not contain MNIST {split!r} data. Expected arrays ['x', 'y'] or "
            f"['x_{split}', 'y_{split}'] (x: (n, 28, 28) uint8 0..255, y: (n,) labels); "
            f"found {sorted(keys)}"
        )
    x, y = _load_npz_arrays(path, names)
    return x, y, names[0]


def _mnist_from_path(path, split):
    path = os.fspath(path)
    if os.path.isdir(path):
        candidates = sorted(glob.glob(os.path.join(path, f"mnist_{split}*.npz")))
        candidates.append(os.path.join(path, "mnist.npz"))
        for candidate in candidates:
            if os.path.isfile(candidate):
                return _mnist_from_path(candidate, split)
        raise FileNotFoundError(
            f"No MNIST {split!r} data in directory {path}: looked for mnist_{split}*.npz "
            f"(arrays x, y) and mnist.npz (arrays x_{split}, y_{split})"
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path} does not exist. Expected an .npz file with arrays x, y (or "
            f"x_{split}, y_{split}) or a directory holding one"
        )
    x, y, name = _mnist_from_npz(path, split)
    return x, y, name, path


def _binarize(x, binarize, seed):
    if binarize is None:
        return x
    if binarize == "stochastic":
        rng = np.random.default_rng(seed)
        return (rng.random(x.shape) < x).astype(x.dtype)
    if isinstance(binarize, (int, float)) and not isinstance(binarize, bool) and 0 < binarize < 1:
        return (x > binarize).astype(x.dtype)
    raise ValueError(
        "binarize must be None, a threshold in (0, 1) or 'stochastic'. "
        f"Received: binarize={binarize!r}"
    )


def load_mnist(split="train", path=None, binarize=None, seed=0):
    """Load the grey-level MNIST digits and labels.

    Args:
        split: ``"train"`` (60000 images) or ``"test"`` (10000).
        path: optional local source: an ``.npz`` with arrays ``x`` (``(n, 28,
            28)`` ``uint8`` 0..255) and ``y`` (``(n,)`` labels), or with
            ``x_{split}``/``y_{split}`` (the layout of Keras' ``mnist.npz``),
            or a directory holding ``mnist_{split}*.npz`` or ``mnist.npz``.
            Default: ``$KERAS_GENMODELS_DATA`` if set, else
            ``keras.datasets.mnist.load_data()`` (download with checksum).
        binarize: ``None`` (grey values in ``[0, 1]``), a float threshold
            ``t`` in ``(0, 1)`` (``x > t``), or ``"stochastic"`` (each pixel
            drawn from Bernoulli(grey value), fixed by ``seed``: one draw of a
            "dynamically" binarized MNIST).
        seed: int, seed of the stochastic binarization.

    Returns:
        ``(x, y)``: ``x`` ``float32`` ``(n, 28, 28, 1)`` in ``[0, 1]``
        (``{0, 1}`` when binarized), ``y`` ``int64`` ``(n,)``.

    Raises:
        ValueError: unknown ``split`` or ``binarize``; a file without the
            expected arrays or with the wrong shapes.
        FileNotFoundError: ``path`` holds no such data.

    Example:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from keras_genmodels.datasets import load_mnist
    >>> path = os.path.join(tempfile.mkdtemp(), "mnist_test_images_labels.npz")
    >>> images = np.zeros((2, 28, 28), "uint8")   # uint8 grey values 0..255
    >>> images[0] = 64
    >>> images[1, :, 14:] = 255
    >>> np.savez(path, x=images, y=np.array([4, 2]))
    >>> x_test, y_test = load_mnist("test", path=path)
    >>> x_test.shape, np.round(x_test[:, 0, ::14, 0], 2).tolist(), y_test.tolist()
    ((2, 28, 28, 1), [[0.25, 0.25], [0.0, 1.0]], [4, 2])
    >>> x_bin, _ = load_mnist("test", path=path, binarize=0.5)   # threshold at 0.5
    >>> x_bin[:, 0, ::14, 0].tolist()
    [[0.0, 0.0], [0.0, 1.0]]
    >>> x_train, y_train = load_mnist("train")  # doctest: +SKIP
    >>> # (skipped: downloads MNIST with keras.datasets.mnist.load_data)
    """
    _check_split(split, MNIST_SPLITS)
    path = path if path is not None else _env_path()
    if path is not None:
        x, y, name, source = _mnist_from_path(path, split)
    else:
        import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        x, y = (x_train, y_train) if split == "train" else (x_test, y_test)
        name, source = f"x_{split}", "keras.datasets.mnist"
    x = _as_images(x, source, name)
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(
            f"The labels in {source} must have shape ({len(x)},) to match the images. "
            f"Received: shape={y.shape}"
        )
    if np.issubdtype(x.dtype, np.integer):
        if x.size and (x.min() < 0 or x.max() > 255):
            raise ValueError(f"Integer images in {source} must lie in 0..255")
        x = x.astype("float32") / 255.0
    else:
        x = x.astype("float32")
        if x.size and (x.min() < 0 or x.max() > 1):
            raise ValueError(f"Float images in {source} must lie in [0, 1]")
    x = _binarize(x, binarize, seed)
    return x, y.astype("int64")
