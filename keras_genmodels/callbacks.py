"""Training callbacks: sample grids (PNG / TensorBoard) and KL warm-up.

- :class:`SampleGrid` draws ``model.sample(n, seed=...)`` every few epochs and
  writes a PNG image grid (and, optionally, a TensorBoard image summary).
- :class:`KLWarmup` anneals ``model.beta`` (the KL weight of
  ``models.VAE``) linearly from ``start`` to ``end``.
- :func:`make_image_grid` / :func:`save_image_grid` tile a batch of images
  into one picture; PNG files are written with NumPy + zlib (no pillow).
"""

import math
import numbers
import os

import keras
import numpy as np

from keras_genmodels import _png
from keras_genmodels._api import register
from keras_genmodels._validate import check_int


# ------------------------------------------------------------ image grids
def _to_uint8(images, value_range):
    if images.dtype == bool:
        return images.astype(np.uint8) * 255
    if np.issubdtype(images.dtype, np.integer):
        if images.size and (images.min() < 0 or images.max() > 255):
            raise ValueError(
                "Integer images must lie in 0..255. Received values in "
                f"[{images.min()}, {images.max()}]"
            )
        return images.astype(np.uint8)
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(f"Images must be float, integer or bool. Received: dtype={images.dtype}")
    if not np.isfinite(images).all():
        raise ValueError("Images contain NaN or infinite values")
    low, high = value_range
    scaled = (images.astype(np.float64) - low) / (high - low)
    return np.round(np.clip(scaled, 0.0, 1.0) * 255.0).astype(np.uint8)


def make_image_grid(images, ncols=None, padding=1, pad_value=0, value_range=(0.0, 1.0)):
    """Tile a batch of images into one ``uint8`` grid image.

    Args:
        images: array (or tensor) ``(n, h, w)``, ``(n, h, w, 1)`` (grey) or
            ``(n, h, w, 3)`` (RGB). Floats are mapped from ``value_range`` to
            0..255 (clipped, rounded); integers must lie in 0..255; bools map
            to 0/255.
        ncols: int, images per row (default ``ceil(sqrt(n))``).
        padding: int >= 0, pixels between images and around the grid.
        pad_value: int 0..255, colour of the padding and of empty cells.
        value_range: ``(low, high)`` of float images, e.g. ``(-1, 1)`` for
            ``tanh`` outputs.

    Returns:
        ``uint8`` array ``(rows * (h + padding) + padding, ncols * (w +
        padding) + padding, c)`` with ``c`` 1 or 3; image ``i`` sits in row
        ``i // ncols``, column ``i % ncols``.

    Raises:
        ValueError: wrong shape, channel count, value range or arguments.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.callbacks import make_image_grid
    >>> grid = make_image_grid(np.random.rand(16, 28, 28, 1), ncols=4)
    >>> grid.shape, grid.dtype
    ((117, 117, 1), dtype('uint8'))
    """
    images = np.asarray(keras.ops.convert_to_numpy(images))
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or images.shape[0] == 0:
        raise ValueError(
            "images must have shape (n, h, w), (n, h, w, 1) or (n, h, w, 3) with n >= 1. "
            f"Received: shape={images.shape}"
        )
    n, h, w, c = images.shape
    if ncols is None:
        ncols = math.ceil(math.sqrt(n))
    ncols = check_int("ncols", ncols, 1)
    padding = check_int("padding", padding, 0)
    if not 0 <= pad_value <= 255:
        raise ValueError(f"pad_value must lie in 0..255. Received: pad_value={pad_value!r}")
    if len(value_range) != 2 or not value_range[1] > value_range[0]:
        raise ValueError(
            f"value_range must be (low, high) with high > low. Received: value_range={value_range!r}"
        )
    pixels = _to_uint8(images, value_range)
    ncols = min(int(ncols), n)
    nrows = math.ceil(n / ncols)
    grid = np.full(
        (nrows * (h + padding) + padding, ncols * (w + padding) + padding, c),
        pad_value, dtype=np.uint8,
    )
    for i in range(n):
        top = padding + (i // ncols) * (h + padding)
        left = padding + (i % ncols) * (w + padding)
        grid[top:top + h, left:left + w] = pixels[i]
    return grid


def save_image_grid(images, path, ncols=None, padding=1, pad_value=0, value_range=(0.0, 1.0)):
    """Tile ``images`` with :func:`make_image_grid` and write them as a PNG file.

    Creates the parent directory if needed. No pillow dependency.

    Args:
        images: see :func:`make_image_grid`.
        path: str, output ``.png`` path.
        ncols, padding, pad_value, value_range: see :func:`make_image_grid`.

    Returns:
        The ``uint8`` grid array that was written.

    Example:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from keras_genmodels.callbacks import save_image_grid
    >>> path = os.path.join(tempfile.mkdtemp(), "grids", "samples.png")
    >>> grid = save_image_grid(np.random.rand(4, 8, 8), path, ncols=2)
    >>> grid.shape, os.path.exists(path)
    ((19, 19, 1), True)
    """
    grid = make_image_grid(images, ncols, padding, pad_value, value_range)
    directory = os.path.dirname(os.fspath(path))
    if directory:
        os.makedirs(directory, exist_ok=True)
    _png.write_png(path, grid)
    return grid


# -------------------------------------------------------------- callbacks
@register
class SampleGrid(keras.callbacks.Callback):
    """Write a grid of model samples to PNG (and TensorBoard) every few epochs.

    At the end of every ``every``-th epoch it calls
    ``model.sample(num_samples, seed=seed, **sample_kwargs)`` and tiles the
    result with :func:`make_image_grid`. With a fixed ``seed`` the same
    latent draws are decoded each time, so successive grids show the model
    learning. Works with any model whose ``sample(n, seed=...)`` returns
    images ``(n, h, w[, c])`` (or flat vectors, with ``image_shape``).

    Args:
        filepath: str or None, PNG path; formatted with ``epoch`` (1-based,
            like ``ModelCheckpoint``) and the epoch's logs, e.g.
            ``"samples/epoch_{epoch:03d}_loss{loss:.1f}.png"``. Parent
            directories are created.
        num_samples: int >= 1, images per grid.
        every: int >= 1, write after epochs ``every``, ``2 * every``, ...
        seed: int or None, passed to ``model.sample``; an int fixes the draws.
        sample_kwargs: dict or None, extra ``model.sample`` arguments (e.g.
            ``{"mode": "sample"}``).
        log_dir: str or None, TensorBoard log directory: also writes the grid
            as image summary ``"samples"`` at step ``epoch`` (0-based, like
            ``keras.callbacks.TensorBoard``). Needs TensorFlow.
        ncols: int or None, images per row of the grid.
        image_shape: tuple or None, reshape each sample to it (for models
            that sample flat vectors, e.g. ``(28, 28, 1)``).
        value_range: ``(low, high)`` of float samples (``(-1, 1)`` for tanh).

    Attributes:
        paths: list of the PNG files written so far.

    Example:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from keras_genmodels.callbacks import SampleGrid
    >>> from keras_genmodels.models import VAE, mlp_vae_networks
    >>> x = (np.random.rand(16, 8, 8, 1) < 0.5).astype("float32")
    >>> encoder, decoder = mlp_vae_networks((8, 8, 1), latent_dim=2, hidden_units=(16,))
    >>> vae = VAE(encoder, decoder)
    >>> vae.compile(optimizer="adam")
    >>> out = tempfile.mkdtemp()
    >>> grids = SampleGrid(os.path.join(out, "epoch_{epoch:03d}.png"), num_samples=4)
    >>> history = vae.fit(x, epochs=2, batch_size=8, callbacks=[grids], verbose=0)
    >>> [os.path.basename(path) for path in grids.paths]
    ['epoch_001.png', 'epoch_002.png']
    >>> grids.make_grid().shape   # 2 x 2 samples of 8 x 8 pixels, 1 pixel padding
    (19, 19, 1)
    """

    def __init__(self, filepath="samples/epoch_{epoch:03d}.png", num_samples=64, every=1, seed=0,
                 sample_kwargs=None, log_dir=None, ncols=None, image_shape=None,
                 value_range=(0.0, 1.0)):
        super().__init__()
        num_samples = check_int("num_samples", num_samples, 1)
        every = check_int("every", every, 1)
        if seed is not None:
            seed = check_int("seed", seed, 0)
        if filepath is None and log_dir is None:
            raise ValueError("SampleGrid needs a filepath or a log_dir. Received neither.")
        if sample_kwargs is not None and not isinstance(sample_kwargs, dict):
            raise ValueError(
                f"sample_kwargs must be a dict or None. Received: sample_kwargs={sample_kwargs!r}"
            )
        if ncols is not None:
            ncols = check_int("ncols", ncols, 1)
        if len(value_range) != 2 or not value_range[1] > value_range[0]:
            raise ValueError(
                "value_range must be (low, high) with high > low. "
                f"Received: value_range={value_range!r}"
            )
        self.filepath = None if filepath is None else os.fspath(filepath)
        self.num_samples = num_samples
        self.every = every
        self.seed = seed
        self.sample_kwargs = dict(sample_kwargs or {})
        self.log_dir = None if log_dir is None else os.fspath(log_dir)
        self.ncols = ncols
        self.image_shape = None if image_shape is None else tuple(image_shape)
        self.value_range = tuple(value_range)
        self.paths = []
        self._writer = None

    def on_train_begin(self, logs=None):
        if not callable(getattr(self.model, "sample", None)):
            raise ValueError(
                "SampleGrid needs a model with a sample(n, seed=...) method. "
                f"Received a {type(self.model).__name__}"
            )

    def make_grid(self):
        """Draw the samples and return the ``uint8`` grid (without writing it)."""
        images = self.model.sample(self.num_samples, seed=self.seed, **self.sample_kwargs)
        images = np.asarray(keras.ops.convert_to_numpy(images))
        if self.image_shape is not None:
            images = images.reshape((len(images),) + self.image_shape)
        return make_image_grid(images, ncols=self.ncols, value_range=self.value_range)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        grid = self.make_grid()
        if self.filepath is not None:
            path = self.filepath.format(epoch=epoch + 1, **(logs or {}))
            directory = os.path.dirname(path)
            if directory:
                os.makedirs(directory, exist_ok=True)
            _png.write_png(path, grid)
            self.paths.append(path)
        if self.log_dir is not None:
            self._write_summary(grid, epoch)

    def _write_summary(self, grid, step):
        # TensorBoard's image-plugin layout, written with core TF ops (what
        # tf.summary.image does, without needing the tensorboard package):
        # a string tensor [width, height, png] tagged for the "images" plugin.
        import tensorflow as tf

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        height, width = grid.shape[:2]
        tensor = tf.constant([str(width).encode(), str(height).encode(), _png.encode_png(grid)])
        metadata = tf.compat.v1.SummaryMetadata(
            plugin_data=tf.compat.v1.SummaryMetadata.PluginData(plugin_name="images"),
            summary_description="model.sample grid",
        )
        with self._writer.as_default():
            tf.summary.write(tag="samples", tensor=tensor, step=step, metadata=metadata)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def get_config(self):
        return {
            "filepath": self.filepath,
            "num_samples": self.num_samples,
            "every": self.every,
            "seed": self.seed,
            "sample_kwargs": dict(self.sample_kwargs) or None,
            "log_dir": self.log_dir,
            "ncols": self.ncols,
            "image_shape": self.image_shape,
            "value_range": self.value_range,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@register
class KLWarmup(keras.callbacks.Callback):
    """Linear KL warm-up: anneal ``model.beta`` from ``start`` to ``end``.

    ``beta(t) = start + (end - start) * min(t / epochs, 1)`` where ``t`` is
    the epoch index (0-based: the first epoch trains with ``start``, epoch
    ``epochs`` and later with ``end``), or, with ``per_step=True``, the
    fractional epoch ``epoch + batch / steps_per_epoch`` updated before
    every batch. The value is written into the model's ``beta`` variable
    (``models.VAE`` keeps its KL weight there), so the compiled train step
    uses it without retracing, and reported as ``beta`` in the epoch logs
    (``History``).

    Args:
        start: float >= 0, initial KL weight.
        end: float >= 0, final KL weight.
        epochs: int >= 1, length of the warm-up in epochs.
        per_step: bool, update every batch instead of every epoch (needs a
            known number of steps per epoch).

    Raises:
        ValueError: bad arguments; at ``fit`` time, a model without a
            ``beta`` ``keras.Variable``.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.callbacks import KLWarmup
    >>> from keras_genmodels.models import VAE, mlp_vae_networks
    >>> x = (np.random.rand(16, 4) < 0.5).astype("float32")
    >>> encoder, decoder = mlp_vae_networks((4,), latent_dim=2, hidden_units=(8,))
    >>> vae = VAE(encoder, decoder)
    >>> vae.compile(optimizer="adam")
    >>> warmup = KLWarmup(0.0, 1.0, epochs=2)
    >>> history = vae.fit(x, epochs=3, batch_size=8, callbacks=[warmup], verbose=0)
    >>> history.history["beta"]
    [0.0, 0.5, 1.0]
    >>> KLWarmup(0.0, 1.0, epochs=4).value(epoch=1)
    0.25

    References:
        Bowman et al., "Generating Sentences from a Continuous Space", CoNLL 2016.
        Sønderby et al., "Ladder Variational Autoencoders", NeurIPS 2016.
    """

    def __init__(self, start=0.0, end=1.0, epochs=10, per_step=False):
        super().__init__()
        for name, value in (("start", start), ("end", end)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
                raise ValueError(f"{name} must be a float >= 0. Received: {name}={value!r}")
        epochs = check_int("epochs", epochs, 1)
        if not isinstance(per_step, bool):
            raise ValueError(f"per_step must be a bool. Received: per_step={per_step!r}")
        self.start = float(start)
        self.end = float(end)
        self.epochs = epochs
        self.per_step = per_step
        self._steps = None
        self._epoch = 0

    def value(self, epoch, batch=0):
        """The KL weight used at ``batch`` of ``epoch`` (both 0-based)."""
        t = float(epoch)
        if self.per_step:
            t += batch / self._steps
        return self.start + (self.end - self.start) * min(t / self.epochs, 1.0)

    def on_train_begin(self, logs=None):
        beta = getattr(self.model, "beta", None)
        if not isinstance(beta, keras.Variable):
            raise ValueError(
                "KLWarmup needs a model with a `beta` keras.Variable (e.g. "
                f"keras_genmodels.models.VAE). Received a {type(self.model).__name__} "
                f"whose beta is {type(beta).__name__}"
            )
        if self.per_step:
            self._steps = (self.params or {}).get("steps")
            if not self._steps:
                raise ValueError(
                    "KLWarmup(per_step=True) needs the number of steps per epoch: pass "
                    "steps_per_epoch to fit or use data of known length"
                )

    def _set(self, value):
        self.model.beta.assign(value)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._set(self.value(epoch))

    def on_train_batch_begin(self, batch, logs=None):
        if self.per_step:
            self._set(self.value(self._epoch, batch))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["beta"] = float(keras.ops.convert_to_numpy(self.model.beta))

    def get_config(self):
        return {"start": self.start, "end": self.end, "epochs": self.epochs,
                "per_step": self.per_step}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
