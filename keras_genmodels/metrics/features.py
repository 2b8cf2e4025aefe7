"""Features for the sample-quality metrics: extraction (streaming over batches) and running statistics.

Part of the sample-quality concern (:mod:`keras_genmodels.metrics.sample_quality`
holds the distances): a feature extractor maps a batch of examples to
``(batch, d)`` feature vectors (InceptionV3's pool layer for FID / KID,
:func:`inception_v3_feature_extractor`, or any Keras model or callable), and
:class:`FeatureStatistics` accumulates their mean and covariance in float64
with ``O(d^2)`` memory.

Example:

>>> import numpy as np
>>> from keras_genmodels.metrics.features import feature_statistics
>>> images = np.random.default_rng(0).uniform(size=(10, 2, 2, 1))
>>> feature_statistics(images, lambda batch: batch.reshape(len(batch), -1), batch_size=4)
FeatureStatistics(count=10, num_features=4)
"""

import keras
import numpy as np
from keras import ops

from keras_genmodels.metrics._checks import as_features as _as_features
from keras_genmodels._validate import check_int


class FeatureStatistics:
    """Running mean and covariance of feature vectors, accumulated in float64.

    Batches are merged with the pairwise update of Chan, Golub & LeVeque
    (numerically stable, unlike accumulating raw second moments), so the
    statistics of 50,000 images need only ``O(d^2)`` memory: feed the
    feature extractor's output batch by batch.

    Args:
        num_features: int or None, the feature dimension ``d``; inferred from
            the first batch when None.

    Attributes:
        count: number of feature vectors seen.
        mean: ``(d,)`` float64 mean.
        covariance: ``(d, d)`` float64 unbiased covariance (``ddof=1``, as
            ``np.cov``).

    Example:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from keras_genmodels.metrics import FeatureStatistics, frechet_distance
    >>> features = np.random.default_rng(0).normal(size=(100, 3))
    >>> stats = FeatureStatistics()
    >>> for start in range(0, 100, 32):               # e.g. extractor outputs, batch by batch
    ...     _ = stats.update(features[start:start + 32])
    >>> stats
    FeatureStatistics(count=100, num_features=3)
    >>> bool(np.allclose(stats.covariance, np.cov(features, rowvar=False)))
    True
    >>> path = os.path.join(tempfile.mkdtemp(), "train_stats.npz")
    >>> stats.save(path)                              # reuse: FeatureStatistics.load(path)
    >>> round(frechet_distance(FeatureStatistics.load(path), features + 1.0), 6)
    3.0

    References:
        Chan, Golub & LeVeque, "Updating Formulae and a Pairwise Algorithm for
        Computing Sample Variances", 1979.
    """

    def __init__(self, num_features=None):
        if num_features is not None:
            num_features = check_int("num_features", num_features)
        self.num_features = num_features
        self.reset()

    def reset(self):
        self.count = 0
        d = self.num_features
        self._mean = None if d is None else np.zeros((d,), np.float64)
        self._comoment = None if d is None else np.zeros((d, d), np.float64)

    def update(self, features):
        """Add a batch of feature vectors ``(batch, d)``; returns ``self``."""
        x = _as_features(features, "features")
        if self.num_features is None:
            self.num_features = x.shape[1]
            self._mean = np.zeros((self.num_features,), np.float64)
            self._comoment = np.zeros((self.num_features, self.num_features), np.float64)
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"FeatureStatistics holds {self.num_features} features; the batch has "
                f"{x.shape[1]}. Received: shape={x.shape}"
            )
        n_b = x.shape[0]
        if n_b == 0:
            return self
        mean_b = x.mean(axis=0)
        centred = x - mean_b
        comoment_b = centred.T @ centred
        n_a = self.count
        n = n_a + n_b
        delta = mean_b - self._mean
        self._mean = self._mean + delta * (n_b / n)
        self._comoment = self._comoment + comoment_b + np.outer(delta, delta) * (n_a * n_b / n)
        self.count = n
        return self

    def merge(self, other):
        """Combine with the statistics of another ``FeatureStatistics``; returns ``self``."""
        if not isinstance(other, FeatureStatistics):
            raise ValueError(f"merge expects a FeatureStatistics. Received: {type(other).__name__}")
        if other.count == 0:
            return self
        if self.count == 0:
            self.num_features = other.num_features
            self._mean = other._mean.copy()
            self._comoment = other._comoment.copy()
            self.count = other.count
            return self
        if other.num_features != self.num_features:
            raise ValueError(
                f"Cannot merge statistics of {other.num_features} features into "
                f"{self.num_features}."
            )
        n_a, n_b = self.count, other.count
        n = n_a + n_b
        delta = other._mean - self._mean
        self._mean = self._mean + delta * (n_b / n)
        self._comoment = self._comoment + other._comoment + np.outer(delta, delta) * (n_a * n_b / n)
        self.count = n
        return self

    def save(self, path):
        """Write the statistics to a ``.npz`` file (e.g. a dataset's reference statistics)."""
        if self.count == 0:
            raise ValueError("FeatureStatistics is empty: nothing to save.")
        np.savez(path, count=np.int64(self.count), mean=self._mean, comoment=self._comoment)

    @classmethod
    def load(cls, path):
        """Read statistics written by :meth:`save`."""
        with np.load(path) as data:
            if set(data.files) != {"count", "mean", "comoment"}:
                raise ValueError(f"{path} is not a FeatureStatistics file. Found: {data.files}")
            stats = cls(int(data["mean"].shape[0]))
            stats.count = int(data["count"])
            stats._mean = data["mean"].astype(np.float64)
            stats._comoment = data["comoment"].astype(np.float64)
        return stats

    @property
    def mean(self):
        if self.count == 0:
            raise ValueError("FeatureStatistics is empty: call update() with features first.")
        return self._mean.copy()

    @property
    def covariance(self):
        if self.count < 2:
            raise ValueError(
                "The covariance needs at least 2 feature vectors. Received: "
                f"count={self.count}"
            )
        return self._comoment / (self.count - 1)

    def __repr__(self):
        return f"FeatureStatistics(count={self.count}, num_features={self.num_features})"


def _iterate_batches(data, batch_size, name):
    """Yield NumPy-convertible batches from an array/tensor or an iterable of batches."""
    if isinstance(data, (np.ndarray, list)) or hasattr(data, "shape"):
        arr = data if hasattr(data, "shape") else np.asarray(data)
        if len(arr.shape) < 1 or arr.shape[0] == 0:
            raise ValueError(f"{name} is empty. Received: shape={tuple(arr.shape)}")
        for start in range(0, arr.shape[0], batch_size):
            yield arr[start:start + batch_size]
        return
    try:
        iterator = iter(data)
    except TypeError:
        raise ValueError(
            f"{name} must be an array of examples or an iterable of batches (e.g. a "
            f"tf.data.Dataset). Received: {type(data).__name__}"
        ) from None
    for batch in iterator:
        if isinstance(batch, (tuple, list)):
            batch = batch[0]  # (x, y) datasets: the images
        yield batch


def _features_of(feature_extractor, batch):
    if isinstance(feature_extractor, keras.Model):
        out = feature_extractor.predict_on_batch(batch)
    elif isinstance(feature_extractor, keras.layers.Layer):
        out = feature_extractor(batch, training=False)
    else:
        out = feature_extractor(batch)
    if isinstance(out, (tuple, list)):
        out = out[0]  # e.g. VAE.encode -> (z_mean, z_log_var)
    out = np.asarray(ops.convert_to_numpy(out), np.float64)
    if out.ndim != 2:
        raise ValueError(
            "The feature extractor must return one feature vector per example, "
            f"shape (batch, d). Received: shape={out.shape}. For a convolutional "
            "network, pool spatially (e.g. InceptionV3(include_top=False, "
            "pooling='avg'))."
        )
    return out


def _check_extractor(feature_extractor):
    if not callable(feature_extractor):
        raise ValueError("feature_extractor must be a Keras model or a callable. "
                         f"Received: {type(feature_extractor).__name__}")


def extract_features(data, feature_extractor, batch_size=50):
    """Run ``feature_extractor`` over ``data`` batch by batch; returns ``(n, d)`` float64.

    Args:
        data: array of examples, or an iterable of batches (a ``tf.data``
            dataset; ``(x, y)`` elements use ``x``).
        feature_extractor: a ``keras.Model`` (run with ``predict_on_batch``),
            a layer, or any callable mapping a batch to ``(batch, d)``
            features; a tuple output uses its first element (so
            ``vae.encode`` gives ``z_mean``).
        batch_size: int, examples per call when ``data`` is an array.

    Returns:
        ``(n, d)`` float64 NumPy array.

    Raises:
        ValueError: for a non-callable extractor, empty data, or an extractor
            that does not return ``(batch, d)``.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.metrics import extract_features
    >>> images = np.zeros((5, 2, 2, 1))
    >>> extract_features(images, lambda batch: batch.reshape(len(batch), -1), batch_size=2).shape
    (5, 4)
    """
    _check_extractor(feature_extractor)
    batch_size = check_int("batch_size", batch_size)
    feats = [_features_of(feature_extractor, b) for b in _iterate_batches(data, batch_size, "data")]
    if not feats:
        raise ValueError("data yielded no batches.")
    return np.concatenate(feats, axis=0)


def feature_statistics(data, feature_extractor, batch_size=50):
    """Streaming :class:`FeatureStatistics` of ``feature_extractor`` over ``data``.

    Only the running mean and covariance are kept (``O(d^2)`` memory), so
    50,000 images of any size fit.

    Args:
        data, feature_extractor, batch_size: as :func:`extract_features`.

    Returns:
        A :class:`FeatureStatistics`.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.metrics import feature_statistics
    >>> images = np.random.default_rng(0).uniform(size=(10, 2, 2, 1))
    >>> feature_statistics(images, lambda batch: batch.reshape(len(batch), -1), batch_size=4)
    FeatureStatistics(count=10, num_features=4)
    """
    _check_extractor(feature_extractor)
    batch_size = check_int("batch_size", batch_size)
    stats = FeatureStatistics()
    for batch in _iterate_batches(data, batch_size, "data"):
        stats.update(_features_of(feature_extractor, batch))
    return stats


def inception_preprocessing(input_shape, image_size, low, high):
    """Grey to RGB, bilinear resize, rescale ``[low, high]`` to ``[-1, 1]``: ``(inputs, outputs)``.

    The preprocessing :func:`inception_v3_feature_extractor` puts in front of
    InceptionV3, as symbolic Keras tensors.

    Args:
        input_shape: ``(H, W, C)`` of the images, ``C`` in {1, 3}.
        image_size: int, the side the images are resized to.
        low, high: floats, the range of the input pixel values.

    Returns:
        ``(images, outputs)``: the ``keras.Input`` of shape ``input_shape`` and
        the preprocessed ``(image_size, image_size, 3)`` tensor, for
        ``keras.Model(images, outputs)``.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_genmodels.metrics.features import inception_preprocessing
    >>> images, outputs = inception_preprocessing((8, 8, 1), 75, 0.0, 255.0)
    >>> prep = keras.Model(images, outputs)
    >>> y = keras.ops.convert_to_numpy(prep(np.full((1, 8, 8, 1), 255.0, "float32")))
    >>> y.shape, bool(np.allclose(y, 1.0, atol=1e-5))
    ((1, 75, 75, 3), True)
    """
    images = keras.Input(input_shape, name="images")
    x = images
    if input_shape[-1] == 1:
        x = keras.layers.Concatenate(axis=-1)([x, x, x])
    x = keras.layers.Resizing(image_size, image_size, interpolation="bilinear")(x)
    x = keras.layers.Rescaling(2.0 / (high - low), offset=-1.0 - 2.0 * low / (high - low))(x)
    return images, x


def inception_v3_feature_extractor(input_shape, weights="imagenet", image_size=299,
                                   input_range=(0.0, 1.0)):
    """InceptionV3 pool-3 (2048-d) features for FID / KID, as a ``keras.Model``.

    Grey images are repeated to RGB, resized bilinearly to ``image_size`` and
    rescaled from ``input_range`` to ``[-1, 1]`` (InceptionV3's
    preprocessing) before ``keras.applications.InceptionV3(include_top=False,
    pooling="avg")``.

    Note: published FIDs use the original TF1 Inception graph; Keras' ImageNet
    weights give close but not identical numbers, so compare FIDs computed
    with the same extractor only.

    Args:
        input_shape: ``(H, W, C)`` of the images, ``C`` in {1, 3}.
        weights: ``"imagenet"`` (downloaded once by Keras), a path to a weights
            file, or None (random weights: only for tests).
        image_size: int >= 75, the side the images are resized to (299 for FID).
        input_range: ``(low, high)`` of the input pixel values.

    Returns:
        A functional ``keras.Model`` mapping ``(batch,) + input_shape`` to
        ``(batch, 2048)``.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.metrics import extract_features, inception_v3_feature_extractor
    >>> # weights="imagenet" for FID (downloaded once by Keras); None keeps this offline.
    >>> extractor = inception_v3_feature_extractor((8, 8, 1), weights=None, image_size=75)
    >>> extractor.output_shape
    (None, 2048)
    >>> images = np.random.default_rng(0).uniform(size=(2, 8, 8, 1)).astype("float32")
    >>> features = extract_features(images, extractor)
    >>> features.shape, bool(np.isfinite(features).all())
    ((2, 2048), True)
    """
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or input_shape[-1] not in (1, 3):
        raise ValueError("input_shape must be (height, width, channels) with 1 or 3 channels. "
                         f"Received: input_shape={input_shape}")
    image_size = check_int("image_size", image_size)
    if image_size < 75:
        raise ValueError(f"InceptionV3 needs image_size >= 75. Received: image_size={image_size}")
    low, high = (float(v) for v in input_range)
    if not high > low:
        raise ValueError(f"input_range must be (low, high) with high > low. "
                         f"Received: input_range={input_range}")
    images, x = inception_preprocessing(input_shape, image_size, low, high)
    base = keras.applications.InceptionV3(
        include_top=False, pooling="avg", weights=weights,
        input_shape=(image_size, image_size, 3),
    )
    return keras.Model(images, base(x), name="inception_v3_features")
